"""How the harness drives a ``cli.sh`` (``xtdf.harness.sdks``): the arguments and the
``XT_WITH_*`` variables each option becomes, as upstream's harness sends them; ``supports``
answers asked once; the failure report; the installation fingerprint the cache keys on;
discovery and selection. The script is a real process that records what it was given."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from xtdf.harness import sdks
from xtdf.harness.sdks import SDK, SdkError, base_container, discover, select, valid_names

RECORDER = """#!/usr/bin/env bash
# writes its arguments and XT_WITH_* environment to $RECORD, one JSON document per call
python3 - "$@" <<'PY'
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("XT_WITH_")}
with open(os.environ["RECORD"], "a") as fh:
    fh.write(json.dumps({"args": sys.argv[1:], "env": env}) + "\\n")
PY
case $1 in
  supports)
    case $2 in yes) exit 0 ;; no) exit 1 ;; odd) exit 7 ;; *) exit 2 ;; esac ;;
  encrypt|decrypt) cp "$2" "$3" ;;
esac
"""


@pytest.fixture
def sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SDK:
    dist = tmp_path / "sdks" / "rec" / "dist" / "2.1"
    dist.mkdir(parents=True)
    cli = dist / "cli.sh"
    cli.write_text(RECORDER)
    cli.chmod(0o755)
    monkeypatch.setenv("RECORD", str(tmp_path / "record.jsonl"))
    for name in [k for k in os.environ if k.startswith("XT_WITH_")]:
        monkeypatch.delenv(name)
    (found,) = discover(tmp_path / "sdks")
    return found


def calls(tmp_path: Path) -> list[dict]:
    path = tmp_path / "record.jsonl"
    out = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return out


@pytest.fixture
def pt(tmp_path: Path) -> Path:
    path = tmp_path / "pt.txt"
    path.write_bytes(b"hello")
    return path


def test_identity(sdk: SDK) -> None:
    assert (sdk.name, sdk.version, str(sdk), sdk.id) == ("rec", "2.1", "rec@2.1", "rec@2.1")
    assert sdk == SDK("rec", "2.1", Path("/elsewhere"))  # the path is not its identity


def test_encrypt_defaults_send_no_options(sdk: SDK, pt: Path, tmp_path: Path) -> None:
    sdk.encrypt(pt, tmp_path / "ct")
    assert calls(tmp_path) == [
        {"args": ["encrypt", str(pt), str(tmp_path / "ct"), "ztdf"], "env": {}}
    ]
    assert (tmp_path / "ct").read_bytes() == b"hello"


def test_every_encrypt_option(sdk: SDK, pt: Path, tmp_path: Path) -> None:
    ct = tmp_path / "ct"
    sdk.encrypt(
        pt,
        ct,
        mime_type="text/plain",
        container="ztdf-ecwrap",
        attr_values=["https://a/attr/x/value/1", "https://a/attr/x/value/2"],
        assert_value="assertions.json",
        policy_mode="plaintext",
        target_mode="4.2.2",
    )
    (call,) = calls(tmp_path)
    assert call["args"] == ["encrypt", str(pt), str(ct), "ztdf"]
    assert call["env"] == {
        "XT_WITH_MIME_TYPE": "text/plain",
        "XT_WITH_ATTRIBUTES": "https://a/attr/x/value/1,https://a/attr/x/value/2",
        "XT_WITH_ASSERTIONS": "assertions.json",
        "XT_WITH_TARGET_MODE": "4.2.2",
        "XT_WITH_ECWRAP": "true",
        "XT_WITH_PLAINTEXT_POLICY": "true",
    }


def test_nano_containers(sdk: SDK, pt: Path, tmp_path: Path) -> None:
    sdk.encrypt(pt, tmp_path / "ct", container="nano-with-ecdsa", target_mode="4.3.0")
    (call,) = calls(tmp_path)
    # no target mode for NanoTDF: it has none
    assert call["args"][-1] == "nano" and call["env"] == {"XT_WITH_ECDSA_BINDING": "true"}
    sdk.encrypt(pt, tmp_path / "ct", container="nano", policy_mode="encrypted", attr_values=[])
    assert calls(tmp_path)[0]["env"] == {}


def test_every_decrypt_option(sdk: SDK, pt: Path, tmp_path: Path) -> None:
    rt = tmp_path / "rt"
    sdk.decrypt(pt, rt)
    assert calls(tmp_path) == [{"args": ["decrypt", str(pt), str(rt), "ztdf"], "env": {}}]
    sdk.decrypt(
        pt,
        rt,
        container="nano",
        assert_keys="keys.json",
        verify_assertions=False,
        ecwrap=True,
        kasallowlist="http://a,http://b",
        ignore_kas_allowlist=True,
    )
    (call,) = calls(tmp_path)
    assert call["args"] == ["decrypt", str(pt), str(rt), "nano"]
    assert call["env"] == {
        "XT_WITH_ASSERTION_VERIFICATION_KEYS": "keys.json",
        "XT_WITH_VERIFY_ASSERTIONS": "false",
        "XT_WITH_ECWRAP": "true",
        "XT_WITH_KAS_ALLOWLIST": "http://a,http://b",
        "XT_WITH_KAS_ALLOW_LIST": "http://a,http://b",
        "XT_WITH_IGNORE_KAS_ALLOWLIST": "true",
    }
    sdk.decrypt(pt, rt, container="ztdf-ecwrap")
    assert calls(tmp_path)[0]["env"] == {"XT_WITH_ECWRAP": "true"}


def test_unknown_container_and_refusal_class_are_usage_errors(
    sdk: SDK, pt: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"^unknown container 'zip'; valid: ztdf, "):
        sdk.encrypt(pt, tmp_path / "ct", container="zip")
    with pytest.raises(ValueError, match=r"^unknown container 'zip'"):
        sdk.decrypt(pt, tmp_path / "rt", container="zip")
    with pytest.raises(TypeError, match=r"^expect_error must name a Refusal, not 'tamper'$"):
        sdk.decrypt(pt, tmp_path / "rt", expect_error="tamper")  # type: ignore[arg-type]
    assert calls(tmp_path) == []  # nothing ran


def test_base_container() -> None:
    assert [base_container(c) for c in ("ztdf", "ztdf-ecwrap", "nano", "nano-with-ecdsa")] == [
        "ztdf",
        "ztdf",
        "nano",
        "nano",
    ]


def test_supports_is_asked_once_per_feature(sdk: SDK, tmp_path: Path) -> None:
    sdks._ANSWERS.clear()
    assert sdk.supports("yes") and sdk.answer("yes") == 0
    assert not sdk.supports("no") and sdk.answer("no") == 1
    assert sdk.answer("maybe") == 2 and not sdk.supports("maybe")
    assert [c["args"] for c in calls(tmp_path)] == [
        ["supports", "yes"],
        ["supports", "no"],
        ["supports", "maybe"],
    ]
    with pytest.raises(SdkError, match=r"^rec@2\.1 supports odd exited 7: "):
        sdk.answer("odd")
    calls(tmp_path)
    with pytest.raises(SdkError):
        sdk.answer("odd")  # a failure is not remembered
    assert len(calls(tmp_path)) == 1


def test_the_failure_report_keeps_the_last_five_lines(tmp_path: Path) -> None:
    import subprocess

    sdk = SDK("x", "1", tmp_path / "cli.sh")
    err = "\n".join(f"line {i}" for i in range(8)) + "\n"
    result = subprocess.CompletedProcess([], 3, b"out\n", err.encode())
    e = SdkError(sdk, "decrypt", result)
    assert str(e) == "x@1 decrypt exited 3: line 3 | line 4 | line 5 | line 6 | line 7"
    assert (e.returncode, e.stdout, e.stderr) == (3, "out\n", err)
    quiet = SdkError(sdk, "encrypt", subprocess.CompletedProcess([], 1, b"only stdout\n", b"  \n"))
    assert str(quiet) == "x@1 encrypt exited 1: only stdout"
    bad = SdkError(sdk, "encrypt", subprocess.CompletedProcess([], 1, b"\xff\n", b""))
    assert str(bad) == "x@1 encrypt exited 1: \ufffd"


def test_a_failing_run_raises_with_its_output(tmp_path: Path, pt: Path) -> None:
    dist = tmp_path / "s" / "bad" / "dist" / "1"
    dist.mkdir(parents=True)
    (dist / "cli.sh").write_text("#!/bin/sh\necho 'no such kas' >&2\nexit 4\n")
    (dist / "cli.sh").chmod(0o755)
    (bad,) = discover(tmp_path / "s")
    with pytest.raises(SdkError) as exc:
        bad.encrypt(pt, tmp_path / "ct")
    assert str(exc.value) == "bad@1 encrypt exited 4: no such kas"


def test_the_fingerprint_follows_the_installation(sdk: SDK, tmp_path: Path) -> None:
    dist = sdk.path.parent
    first = sdk.fingerprint()
    assert first == sdk.fingerprint() and len(first) == 64
    (dist / "__pycache__").mkdir()
    (dist / "__pycache__" / "x.pyc").write_bytes(b"1")
    (dist / ".git").mkdir()
    (dist / ".git" / "HEAD").write_bytes(b"1")
    assert sdk.fingerprint() == first  # caches and VCS data are not the installation
    (dist / "lib.jar").write_bytes(b"v1")
    second = sdk.fingerprint()
    assert second != first
    (dist / "lib.jar").write_bytes(b"v2")  # same size, new mtime
    os.utime(dist / "lib.jar", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert sdk.fingerprint() != second
    third = sdk.fingerprint()
    (dist / "lib.jar").rename(dist / "lib2.jar")  # same bytes and time, new name
    assert sdk.fingerprint() != third


def test_fingerprint_paths_add_source_trees(sdk: SDK, tmp_path: Path) -> None:
    src = tmp_path / "source"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("a = 1\n")
    before = sdk.fingerprint()
    (sdk.path.parent / "fingerprint-paths").write_text(f"\n  {src}  \n\n")
    listed = sdk.fingerprint()
    assert listed != before
    (src / "pkg" / "a.py").write_text("a = 22\n")
    assert sdk.fingerprint() != listed
    (src / "pkg" / "__pycache__").mkdir()
    changed = sdk.fingerprint()
    (src / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"x")
    assert sdk.fingerprint() == changed


def test_discovery_and_selection(tmp_path: Path) -> None:
    root = tmp_path / "sdk"
    for name, version, mode in (
        ("go", "0.21.0", 0o755),
        ("go", "main", 0o755),
        ("js", "2.0", 0o644),
        ("py", "main", 0o755),
    ):
        dist = root / name / "dist" / version
        dist.mkdir(parents=True)
        (dist / "cli.sh").write_text("#!/bin/sh\n")
        (dist / "cli.sh").chmod(mode)
    (root / "go" / "dist" / "notes.txt").write_text("not a version")
    found = discover(root)
    assert [str(s) for s in found] == ["go@0.21.0", "go@main", "py@main"]
    assert found[0].path == root / "go" / "dist" / "0.21.0" / "cli.sh"
    assert [str(s) for s in select(found, ["go"])] == ["go@0.21.0", "go@main"]
    assert [str(s) for s in select(found, ["go@main", "py"])] == ["go@main", "py@main"]
    assert select(found, ["java"]) == []
    assert valid_names(found) == ["go", "py", "go@0.21.0", "go@main", "py@main"]


def test_a_listed_tree_adds_to_the_dist_directory_and_a_dangling_link_ends_nothing(
    sdk: SDK, tmp_path: Path
) -> None:
    dist = sdk.path.parent
    src = tmp_path / "source"
    src.mkdir()
    (dist / "fingerprint-paths").write_text(f"{src}\n")
    (dist / "a-gone").symlink_to(tmp_path / "nowhere")  # sorts first, cannot be stat'ed
    before = sdk.fingerprint()
    (dist / "b.jar").write_bytes(b"v1")  # the dist directory still counts beside the list
    after = sdk.fingerprint()
    assert after != before
    (dist / "b.jar").write_bytes(b"v22")  # and so does every file after the dangling link
    assert sdk.fingerprint() != after
