"""The Java lane's adapter (``sdk/java/cli.sh.in``): how each ``XT_WITH_*`` option and test.env
variable becomes an argument of xtdf's Java command line, and what is refused.

The template is rendered here as ``sdk/java/install.sh`` renders it, with a stand-in ``java``
that records its arguments and writes the ``--output`` file, so these tests need no JDK and
check the mapping exactly. The flag sets are those ``help COMMAND`` lists for the 0.7.3 build
(``test_installed_flags_match`` checks that against a real install), and, for a later release
that has them, the flags upstream's Java command line added (the adapter passes them through).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import lane_missing
from tests.sdk_adapters.conftest import ROOT, run_logged

TEMPLATE = ROOT / "sdk" / "java" / "cli.sh.in"
INSTALLED = ROOT / "sdk" / "java" / "dist" / "0.7.3"

#: `help COMMAND` of the 0.7.3 build, as install.sh collects them
FLAGS_073 = {
    "ENCRYPT": "--attr --autoconfigure --file --kas-url --metadata --mime-type --output "
    "--with-assertions",
    "DECRYPT": "--file --output --with-assertion-verification-keys",
    "ENCRYPTNANO": "--attr --file --kas-url --metadata --output",
    "DECRYPTNANO": "--file --output",
}
#: a later release with upstream's later flags (0.9.0's command line and nano's ECDSA flag)
FLAGS_LATER = {
    "ENCRYPT": FLAGS_073["ENCRYPT"] + " --encap-key-type --with-target-mode",
    "DECRYPT": FLAGS_073["DECRYPT"] + " --ignore-kas-allowlist --kas-allowlist "
    "--rewrap-key-type --with-assertion-verification-disabled",
    "ENCRYPTNANO": FLAGS_073["ENCRYPTNANO"] + " --ecdsa-binding --policy-type",
    "DECRYPTNANO": FLAGS_073["DECRYPTNANO"] + " --ignore-kas-allowlist --kas-allowlist",
}

FAKE_JAVA = """#!/usr/bin/env bash
# stands in for java: records argv (one JSON list a line) and writes --output
printf '%s\\0' "$@" >>"$FAKE_LOG"
printf '\\n' >>"$FAKE_LOG"
out=
for a in "$@"; do case $a in --output=*) out=${a#--output=} ;; esac; done
[[ -n ${FAKE_FAIL:-} ]] && { [[ -n $out ]] && echo partial >"$out"; echo "boom" >&2; exit 1; }
[[ -n $out ]] && printf 'ciphertext' >"$out"
exit 0
"""


class Rendered:
    """cli.sh.in rendered into a directory, with the stand-in java."""

    def __init__(self, root: Path, flags: dict[str, str], spec: str = "4.2.2") -> None:
        self.dir = root
        root.mkdir(parents=True, exist_ok=True)
        java = root / "fake-java"
        java.write_text(FAKE_JAVA)
        java.chmod(0o755)
        self.log = root / "argv.log"
        text = TEMPLATE.read_text()
        subs = {
            "@VERSION@": "0.7.3",
            "@SPEC@": spec,
            "@JAVA@": str(java),
            "@JVM_OPTS@": "-Xshare:auto",
            "@CDS@": "0",
            **{f"@FLAGS_{k}@": v for k, v in flags.items()},
        }
        for k, v in subs.items():
            text = text.replace(k, v)
        assert not re.search(r"@[A-Z_]+@", text), (
            "a placeholder install.sh fills is not filled here"
        )
        self.cli = root / "cli.sh"
        self.cli.write_text(text)
        self.cli.chmod(0o755)
        (root / "supports.tsv").write_text("hexless\t1\tfrom --version\nnano\t0\tfrom help\n")
        (root / "cmdline.jar").write_bytes(b"")

    def run(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_logged(self.cli, self.log, args, env)

    def argv(self) -> list[list[str]]:
        """The java invocations, each without the JVM options and the -jar JAR prefix."""
        if not self.log.exists():
            return []
        calls = []
        for line in self.log.read_bytes().split(b"\n"):
            if not line:
                continue
            argv = line.decode().split("\0")[:-1]
            jar = argv.index("-jar")
            calls.append(argv[jar + 2 :])
        return calls


@pytest.fixture
def cli(tmp_path: Path) -> Rendered:
    return Rendered(tmp_path / "dist", FLAGS_073)


@pytest.fixture
def later(tmp_path: Path) -> Rendered:
    return Rendered(tmp_path / "dist-later", FLAGS_LATER, spec="4.3.0")


def _only_call(r: Rendered) -> list[str]:
    calls = r.argv()
    assert len(calls) == 1, calls
    return calls[0]


def _without_io(argv: list[str]) -> list[str]:
    return [a for a in argv if not a.startswith(("--file=", "--output="))]


def test_defaults_are_upstreams_test_env(cli: Rendered, src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "ct.tdf"
    result = cli.run("encrypt", src, dst, "ztdf")
    assert result.returncode == 0, result.stderr
    argv = _only_call(cli)
    assert _without_io(argv) == [
        "--client-id=opentdf",
        "--client-secret=secret",
        "--platform-endpoint=localhost:8080",
        "--plaintext",
        "encrypt",
        "--kas-url=http://localhost:8080/kas",
    ]
    assert f"--file={src}" in argv
    assert dst.read_text() == "ciphertext"
    # the JVM wrote beside DST, and the adapter renamed the file onto DST
    (out,) = [a.removeprefix("--output=") for a in argv if a.startswith("--output=")]
    assert Path(out).parent == dst.parent and not Path(out).exists()


def test_platform_variables(cli: Rendered, src: Path, tmp_path: Path) -> None:
    env = {
        "PLATFORMURL": "http://127.0.0.1:9999",
        "CLIENTID": "someone",
        "CLIENTSECRET": "s3cret",
        "KCFULLURL": "http://127.0.0.1:1/auth/realms/opentdf",
    }
    assert cli.run("encrypt", src, tmp_path / "a", "ztdf", env=env).returncode == 0
    assert _without_io(_only_call(cli)) == [
        "--client-id=someone",
        "--client-secret=s3cret",
        "--platform-endpoint=127.0.0.1:9999",
        "--plaintext",
        "encrypt",
        "--kas-url=http://127.0.0.1:9999/kas",
    ]
    env |= {"KASURL": "http://127.0.0.1:8181/kas", "PLATFORMENDPOINT": "platform:1234"}
    assert cli.run("encrypt", src, tmp_path / "b", "ztdf", env=env).returncode == 0
    argv = _only_call(cli)
    assert "--platform-endpoint=platform:1234" in argv
    assert "--kas-url=http://127.0.0.1:8181/kas" in argv
    # TLS: no --plaintext
    env = {"PLATFORMURL": "https://platform.example:8443"}
    assert cli.run("decrypt", src, tmp_path / "c", "ztdf", env=env).returncode == 0
    assert _without_io(_only_call(cli))[:4] == [
        "--client-id=opentdf",
        "--client-secret=secret",
        "--platform-endpoint=platform.example:8443",
        "decrypt",
    ]


@pytest.mark.parametrize(
    ("verb", "fmt", "command"),
    [
        ("encrypt", "ztdf", "encrypt"),
        ("decrypt", "ztdf", "decrypt"),
        ("encrypt", "nano", "encryptnano"),
        ("decrypt", "nano", "decryptnano"),
    ],
)
def test_format_selects_the_command(
    cli: Rendered, src: Path, tmp_path: Path, verb: str, fmt: str, command: str
) -> None:
    assert cli.run(verb, src, tmp_path / "out", fmt).returncode == 0
    argv = _only_call(cli)
    assert argv[4] == command
    assert ("--kas-url=http://localhost:8080/kas" in argv) == (verb == "encrypt")


#: (verb, fmt, environment, the arguments it must add) for the 0.7.3 flags
MAPPED = [
    ("encrypt", "ztdf", {"XT_WITH_MIME_TYPE": "text/csv"}, ["--mime-type=text/csv"]),
    ("encrypt", "nano", {"XT_WITH_MIME_TYPE": "text/plain"}, []),
    (
        "encrypt",
        "ztdf",
        {"XT_WITH_ATTRIBUTES": "https://a.io/attr/x/value/1,https://a.io/attr/x/value/2"},
        ["--attr=https://a.io/attr/x/value/1,https://a.io/attr/x/value/2"],
    ),
    (
        "encrypt",
        "nano",
        {"XT_WITH_ATTRIBUTES": "https://a.io/attr/x/value/1"},
        ["--attr=https://a.io/attr/x/value/1"],
    ),
    (
        "encrypt",
        "ztdf",
        {"XT_WITH_ASSERTIONS": '[{"id":"a1"}]'},
        ['--with-assertions=[{"id":"a1"}]'],
    ),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_ASSERTION_VERIFICATION_KEYS": "/k.json"},
        ["--with-assertion-verification-keys=/k.json"],
    ),
    # it always verifies, so "true" is what it does anyway
    ("decrypt", "ztdf", {"XT_WITH_VERIFY_ASSERTIONS": "true"}, []),
    # the 0.7.3 layout is the hex-encoded one: any target below 4.3
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.2.2"}, []),
    ("encrypt", "nano", {"XT_WITH_TARGET_MODE": "4.3.0"}, []),
    # no allowlist in this SDK: it asks any KAS a TDF names, which is what "ignore" means
    ("decrypt", "ztdf", {"XT_WITH_IGNORE_KAS_ALLOWLIST": "true"}, []),
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "false", "XT_WITH_PLAINTEXT_POLICY": "false"}, []),
]


@pytest.mark.parametrize(("verb", "fmt", "env", "added"), MAPPED)
def test_option_mapping(
    cli: Rendered,
    src: Path,
    tmp_path: Path,
    verb: str,
    fmt: str,
    env: dict[str, str],
    added: list[str],
) -> None:
    result = cli.run(verb, src, tmp_path / "out", fmt, env=env)
    assert result.returncode == 0, result.stderr
    baseline = 6 if verb == "encrypt" else 5
    assert _without_io(_only_call(cli))[baseline:] == added


#: (verb, fmt, environment, text of the one-line refusal) for the 0.7.3 flags
REFUSED = [
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, "XT_WITH_ECWRAP"),
    ("decrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, "XT_WITH_ECWRAP"),
    ("encrypt", "nano", {"XT_WITH_ECDSA_BINDING": "true"}, "XT_WITH_ECDSA_BINDING"),
    ("encrypt", "nano", {"XT_WITH_PLAINTEXT_POLICY": "true"}, "XT_WITH_PLAINTEXT_POLICY"),
    ("encrypt", "nano", {"XT_WITH_MIME_TYPE": "text/csv"}, "XT_WITH_MIME_TYPE=text/csv"),
    ("encrypt", "nano", {"XT_WITH_ASSERTIONS": "[]"}, "XT_WITH_ASSERTIONS"),
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.3.0"}, "XT_WITH_TARGET_MODE=4.3.0"),
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "four"}, "not a version"),
    ("decrypt", "ztdf", {"XT_WITH_VERIFY_ASSERTIONS": "false"}, "XT_WITH_VERIFY_ASSERTIONS=false"),
    (
        "decrypt",
        "nano",
        {"XT_WITH_ASSERTION_VERIFICATION_KEYS": "/k.json"},
        "XT_WITH_ASSERTION_VERIFICATION_KEYS",
    ),
    ("decrypt", "ztdf", {"XT_WITH_KAS_ALLOWLIST": "http://x/kas"}, "XT_WITH_KAS_ALLOWLIST"),
    ("decrypt", "ztdf", {"XT_WITH_KAS_ALLOW_LIST": "http://x/kas"}, "XT_WITH_KAS_ALLOWLIST"),
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "maybe"}, "expected true or false"),
    ("sign", "ztdf", {}, "unknown command 'sign'"),
    ("encrypt", "zip", {}, "unknown format 'zip'"),
]


@pytest.mark.parametrize(("verb", "fmt", "env", "message"), REFUSED)
def test_option_it_cannot_honour_fails_before_the_jvm(
    cli: Rendered,
    src: Path,
    tmp_path: Path,
    verb: str,
    fmt: str,
    env: dict[str, str],
    message: str,
) -> None:
    dst = tmp_path / "out"
    result = cli.run(verb, src, dst, fmt, env=env)
    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line and "java@0.7.3" in line
    assert cli.argv() == [], "the JVM must not have been started"
    assert not dst.exists()


#: a later release's flags: the options the 0.7.3 build refuses reach the command line
LATER = [
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, ["--encap-key-type=ec:secp256r1"]),
    ("decrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, ["--rewrap-key-type=ec:secp256r1"]),
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.2.2"}, ["--with-target-mode=4.2.2"]),
    ("encrypt", "nano", {"XT_WITH_ECDSA_BINDING": "true"}, ["--ecdsa-binding"]),
    ("encrypt", "nano", {"XT_WITH_PLAINTEXT_POLICY": "true"}, ["--policy-type=plaintext"]),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_VERIFY_ASSERTIONS": "false"},
        ["--with-assertion-verification-disabled"],
    ),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_KAS_ALLOWLIST": "http://a/kas,http://b/kas"},
        ["--kas-allowlist=http://a/kas,http://b/kas"],
    ),
    ("decrypt", "nano", {"XT_WITH_IGNORE_KAS_ALLOWLIST": "true"}, ["--ignore-kas-allowlist=true"]),
]


@pytest.mark.parametrize(("verb", "fmt", "env", "added"), LATER)
def test_later_flags_pass_through(
    later: Rendered,
    src: Path,
    tmp_path: Path,
    verb: str,
    fmt: str,
    env: dict[str, str],
    added: list[str],
) -> None:
    result = later.run(verb, src, tmp_path / "out", fmt, env=env)
    assert result.returncode == 0, result.stderr
    baseline = 6 if verb == "encrypt" else 5
    assert _without_io(_only_call(later))[baseline:] == added


def test_failure_leaves_no_dst_and_passes_the_status(
    cli: Rendered, src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "out.tdf"
    result = cli.run("encrypt", src, dst, "ztdf", env={"FAKE_FAIL": "1"})
    assert result.returncode == 1
    assert result.stderr.strip() == "boom"
    assert not dst.exists()
    assert [p.name for p in dst.parent.iterdir() if p.name.startswith(".out.tdf")] == []


def test_supports_reads_the_install_table(cli: Rendered) -> None:
    assert cli.run("supports", "nano").returncode == 0
    assert cli.run("supports", "hexless").returncode == 1
    unknown = cli.run("supports", "no-such-feature")
    assert unknown.returncode == 2 and "unknown feature" in unknown.stderr
    assert cli.argv() == []


# -- against a real install (make sdks-java) -------------------------------------------------


def _installed() -> Path:
    cli_sh = INSTALLED / "cli.sh"
    if not os.access(cli_sh, os.X_OK):
        lane_missing(f"java@0.7.3 not installed ({cli_sh} absent): run `make sdks-java`")
    return cli_sh


def test_installed_flags_match() -> None:
    """The flag sets above are what the installed build's help lists."""
    text = _installed().read_text()
    for key, flags in FLAGS_073.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"flags_{key.lower()}="))
        assert line.split("=", 1)[1].strip("' ").split() == flags.split(), key


#: what install.sh derives for 0.7.3 (docs/compat.md, "Java lane")
EXPECTED_073 = {
    "autoconfigure": 0,
    "ns_grants": 0,
    "assertions": 0,
    "assertion_verification": 1,
    "kasallowlist": 1,
    "key_management": 1,
    "ecwrap": 1,
    "hexless": 1,
    "hexaflexible": 1,
    "connectrpc": 1,
    "nano": 0,
    "nano_ecdsa": 1,
    "nano_policymode_plaintext": 1,
    "attribute_traversal": 1,
    "better-messages-2024": 2,
    "no-such-feature": 2,
}


def test_installed_supports() -> None:
    cli_sh = _installed()
    got = {
        f: subprocess.run([str(cli_sh), "supports", f], capture_output=True).returncode
        for f in EXPECTED_073
    }
    assert got == EXPECTED_073


def test_installed_version_and_digest() -> None:
    _installed()
    version = json.loads((INSTALLED / "version.json").read_text())
    assert version["version"] == "0.7.3"
    assert version["tdfSpecVersion"] == "4.2.2"
    import hashlib

    digest = hashlib.sha256((INSTALLED / "cmdline.jar").read_bytes()).hexdigest()
    assert (INSTALLED / "cmdline.jar.sha256").read_text().strip() == digest
