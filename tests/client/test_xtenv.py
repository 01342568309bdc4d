"""cli.sh's ``XT_WITH_*`` environment becomes ``xtdf`` flags; install writes a runnable cli.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xtdf.client import features, install_cli
from xtdf.client.xtenv import argv_for, main
from xtdf.errors import UsageError


def test_plain_encrypt() -> None:
    assert argv_for("encrypt", "a", "b", "ztdf", {}) == [
        "encrypt",
        "a",
        "-o",
        "b",
        "--format",
        "ztdf",
    ]


def test_encrypt_options() -> None:
    env = {
        "XT_WITH_MIME_TYPE": "text/plain",
        "XT_WITH_ATTRIBUTES": "https://e/attr/a/value/x,https://e/attr/a/value/y",
        "XT_WITH_ASSERTIONS": '[{"id":"a"}]',
        "XT_WITH_ECWRAP": "true",
        "XT_WITH_TARGET_MODE": "4.2.2",
        "XT_WITH_PLAINTEXT_POLICY": "TRUE",
    }
    argv = argv_for("encrypt", "a", "b", "ztdf", env)
    assert argv[6:] == [
        "--ecwrap",
        "--mime-type",
        "text/plain",
        "--attr",
        env["XT_WITH_ATTRIBUTES"],
        "--assertions",
        '[{"id":"a"}]',
        "--plaintext-policy",
        "--target-mode",
        "4.2.2",
    ]


def test_nano_ecdsa_and_target_mode_ignored_for_nano() -> None:
    env = {
        "XT_WITH_ECDSA_BINDING": "true",
        "XT_WITH_TARGET_MODE": "4.2.2",
        "XT_WITH_ECWRAP": "true",
    }
    assert argv_for("encrypt", "a", "b", "nano", env)[4:] == ["--format", "nano", "--ecdsa-binding"]
    assert argv_for("encrypt", "a", "b", "nano", {"XT_WITH_ECDSA_BINDING": "false"})[4:] == [
        "--format",
        "nano",
    ]


def test_full_container_names_are_accepted() -> None:
    assert "--ecwrap" in argv_for("encrypt", "a", "b", "ztdf-ecwrap", {})
    assert "--ecdsa-binding" in argv_for("encrypt", "a", "b", "nano-with-ecdsa", {})


@pytest.mark.parametrize("name", ["XT_WITH_KAS_ALLOWLIST", "XT_WITH_KAS_ALLOW_LIST"])
def test_decrypt_options_and_both_allowlist_spellings(name: str) -> None:
    env = {
        "XT_WITH_ASSERTION_VERIFICATION_KEYS": "/k.json",
        "XT_WITH_VERIFY_ASSERTIONS": "false",
        name: "http://a:1,http://b:2",
        "XT_WITH_IGNORE_KAS_ALLOWLIST": "true",
        "XT_WITH_MIME_TYPE": "ignored/on-decrypt",
    }
    assert argv_for("decrypt", "a", "b", "ztdf", env)[6:] == [
        "--assertion-keys",
        "/k.json",
        "--no-verify-assertions",
        "--kas-allowlist",
        "http://a:1,http://b:2",
        "--ignore-kas-allowlist",
    ]


def test_verify_assertions_true_is_the_default() -> None:
    assert "--no-verify-assertions" not in argv_for(
        "decrypt", "a", "b", "ztdf", {"XT_WITH_VERIFY_ASSERTIONS": "true"}
    )


def test_unknown_format_and_verb() -> None:
    with pytest.raises(UsageError, match="format"):
        argv_for("encrypt", "a", "b", "zip", {})
    with pytest.raises(UsageError, match="command"):
        argv_for("sign", "a", "b", "ztdf", {})


def test_main_supports_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["supports", "ecwrap"], {}) == 0
    assert main(["supports", "obligations"], {}) == 1
    assert main(["supports", "no-such-feature"], {}) == 2
    assert main(["encrypt", "a"], {}) == 2
    assert capsys.readouterr().err.startswith("xtdf: usage")


def test_installed_cli_sh_answers_supports_without_python(tmp_path: Path) -> None:
    script = install_cli.install(tmp_path / "dist" / "main", python="/nonexistent/python")
    assert os.access(script, os.X_OK)
    assert (tmp_path / "dist" / "main" / "fingerprint-paths").read_text().strip().endswith("xtdf")
    for feature, ok in features.FEATURES.items():
        rc = subprocess.run([str(script), "supports", feature], capture_output=True).returncode
        assert rc == (0 if ok else 1), feature
    assert subprocess.run([str(script), "supports", "bogus"], capture_output=True).returncode == 2


def test_installed_cli_sh_reports_usage_errors_in_one_line(tmp_path: Path) -> None:
    import sys

    script = install_cli.install(tmp_path, python=sys.executable)
    result = subprocess.run(
        [str(script), "encrypt", "x", "y", "zip"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "xtdf: unknown format 'zip'; expected one of ztdf, ztdf-ecwrap, nano, nano-with-ecdsa"
    ]


def test_cli_sh_failure_after_teardown_skip_still_reports(tmp_path: Path) -> None:
    """cli.sh ends with os._exit: the message still reaches stderr, the status is kept,
    and a decrypt that fails (a session key already started) writes no output."""
    import sys

    script = install_cli.install(tmp_path / "cli", python=sys.executable)
    src = tmp_path / "not-a-tdf"
    src.write_bytes(b"PK\x03\x04 but not a zip")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(script), "decrypt", str(src), str(out), "ztdf"],
        capture_output=True,
        text=True,
        env={**os.environ, "PLATFORMURL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("xtdf: ") and len(result.stderr.splitlines()) == 1
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    bad_flag = subprocess.run(
        [sys.executable, "-m", "xtdf.client.xtenv", "encrypt", "a", "b", "ztdf"],
        capture_output=True,
        text=True,
        env={**os.environ, "PLATFORMURL": "not a url"},
    )
    assert bad_flag.returncode == 2 and "platform URL must start with" in bad_flag.stderr


def test_session_key_started_early_is_taken_once() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from xtdf.client import sessionkey

    sessionkey.start(ec_session=True)
    first = sessionkey.take(ec_session=True)
    assert isinstance(first.result(), ec.EllipticCurvePrivateKey)
    second = sessionkey.take(ec_session=True)  # nothing left: a new key, never a used one
    assert second is not first
    assert second.result().private_numbers() != first.result().private_numbers()
    sessionkey.start(ec_session=True)
    other_kind = sessionkey.take(ec_session=False)  # the early key was the wrong kind
    assert isinstance(other_kind.result(), rsa.RSAPrivateKey)


@pytest.mark.parametrize("verb", ["encrypt", "decrypt"])
def test_cli_sh_options_are_what_argparse_would_parse(verb: str) -> None:
    """cli.sh skips argparse; the namespace it builds must be the one xtdf's parser gives
    for the equivalent command line, defaults included."""
    import importlib
    from types import SimpleNamespace

    from xtdf.cli.main import build_parser
    from xtdf.client.xtenv import options_for

    env = {
        "XT_WITH_ECWRAP": "true",
        "XT_WITH_ATTRIBUTES": "https://e/attr/a/value/x",
        "XT_WITH_TARGET_MODE": "4.2.2",
        "XT_WITH_KAS_ALLOWLIST": "http://a:1",
        "XT_WITH_VERIFY_ASSERTIONS": "false",
    }
    for fmt, environment in (
        ("ztdf", {}),
        ("ztdf", env),
        ("nano-with-ecdsa", {}),
        ("ztdf-ecwrap", {}),
    ):
        parsed = vars(build_parser(verb).parse_args(argv_for(verb, "a", "b", fmt, environment)))
        parsed.pop("func"), parsed.pop("command")
        module = importlib.import_module(f"xtdf.cli.{verb}_cmd")
        opts = options_for(verb, fmt, environment)
        ours = SimpleNamespace(**{**module.DEFAULTS, **opts, "src": "a", "output": "b"})
        assert vars(ours) == parsed
