"""The Go lanes' adapter (``sdk/go/cli.sh.in``): one template renders ``cli.sh`` for otdfctl
(lane ``go``) and for xtdf's own CLI on the Go SDK (lane ``gosdk``, ``sdk/gosdk``), whose
flags mirror otdfctl's.

The template is rendered as ``sdk/go/install.sh`` renders it, beside a stand-in binary that
records its arguments and writes ``--out``, so the option mapping is checked exactly without
a Go toolchain. The tests at the end run the real ``xtdf-go-cli`` of ``make sdks-gosdk``:
its version report, the flags it lists, and that bad usage fails before any connection and
leaves no output.
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

TEMPLATE = ROOT / "sdk" / "go" / "cli.sh.in"
GOSDK = ROOT / "sdk" / "gosdk" / "dist" / "0.36.0"

FAKE_TOOL = """#!/usr/bin/env bash
# stands in for the Go CLI: records argv (NUL-separated, one call a line) and writes --out
printf '%s\\0' "$@" >>"$FAKE_LOG"
printf '\\n' >>"$FAKE_LOG"
out=
while (($#)); do [[ $1 == --out ]] && out=$2; shift; done
[[ -n ${FAKE_FAIL:-} ]] && { echo partial >"$out"; echo "boom" >&2; exit 1; }
printf 'ciphertext' >"$out"
"""


#: every feature the adapter asks for, answered yes unless a test says otherwise
_ALL_YES = [
    "assertions",
    "assertion_verification",
    "kasallowlist",
    "ecwrap",
    "hexaflexible",
    "nano",
    "nano_ecdsa",
    "nano_policymode_plaintext",
]


class Rendered:
    def __init__(self, root: Path, lane: str, tool: str, no: tuple[str, ...] = ()) -> None:
        root.mkdir(parents=True)
        text = TEMPLATE.read_text()
        for k, v in {
            "@VERSION@": "9.9.9",
            "@MODULE@": "example/module",
            "@TOOL@": tool,
            "@LANE@": lane,
        }.items():
            text = text.replace(k, v)
        assert not re.search(r"@[A-Z_]+@", text), "a placeholder install.sh fills is left"
        self.cli = root / "cli.sh"
        self.cli.write_text(text)
        self.cli.chmod(0o755)
        (root / tool).write_text(FAKE_TOOL)
        (root / tool).chmod(0o755)
        rows = [f"{f}\t{1 if f in no else 0}\ttest\n" for f in _ALL_YES]
        (root / "supports.tsv").write_text("".join(rows))
        self.log = root / "argv.log"

    def run(self, *args: str | Path, env: dict[str, str] | None = None):
        return run_logged(self.cli, self.log, args, env)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [
            line.decode().split("\0")[:-1] for line in self.log.read_bytes().split(b"\n") if line
        ]


LANES = [("go", "otdfctl"), ("gosdk", "xtdf-go-cli")]


@pytest.fixture(params=LANES, ids=[lane for lane, _ in LANES])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Rendered:
    lane, tool = request.param
    return Rendered(tmp_path / "dist", lane, tool)


def _only_call(r: Rendered) -> list[str]:
    calls = r.calls()
    assert len(calls) == 1, calls
    return calls[0]


def _options(argv: list[str]) -> list[str]:
    """argv after the verb, without the credentials, the log level, --out and the input."""
    out, i = [], 1
    while i < len(argv):
        if argv[i] in ("--with-client-creds", "--log-level", "--out"):
            i += 2
            continue
        if argv[i] == "--":
            break
        out.append(argv[i])
        i += 1
    return out


def test_defaults_are_upstreams_test_env(cli: Rendered, src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "ct.tdf"
    result = cli.run("encrypt", src, dst, "ztdf")
    assert result.returncode == 0, result.stderr
    argv = _only_call(cli)
    assert argv[0] == "encrypt"
    creds = argv[argv.index("--with-client-creds") + 1]
    assert json.loads(creds) == {"clientId": "opentdf", "clientSecret": "secret"}
    assert _options(argv) == [
        "--host",
        "http://localhost:8080",
        "--tdf-type",
        "ztdf",
        "--kas-url-path",
        "/kas",
    ]
    assert argv[-2:] == ["--", "/dev/fd/3"]
    assert dst.read_text() == "ciphertext"


MAPPED = [
    ("encrypt", "ztdf", {"XT_WITH_MIME_TYPE": "text/csv"}, ["--mime-type", "text/csv"]),
    (
        "encrypt",
        "ztdf",
        {"XT_WITH_ATTRIBUTES": "https://a/attr/b/value/c"},
        ["--attr", "https://a/attr/b/value/c"],
    ),
    ("encrypt", "ztdf", {"XT_WITH_ASSERTIONS": "[]"}, ["--with-assertions", "[]"]),
    ("encrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, ["--wrapping-key-algorithm", "ec:secp256r1"]),
    ("encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.2.2"}, ["--target-mode", "4.2.2"]),
    ("encrypt", "nano", {"XT_WITH_ECDSA_BINDING": "true"}, ["--ecdsa-binding"]),
    ("encrypt", "nano", {"XT_WITH_PLAINTEXT_POLICY": "true"}, ["--policy-mode", "plaintext"]),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_ASSERTION_VERIFICATION_KEYS": "/k.json"},
        ["--with-assertion-verification-keys", "/k.json"],
    ),
    ("decrypt", "ztdf", {"XT_WITH_VERIFY_ASSERTIONS": "false"}, ["--no-verify-assertions"]),
    ("decrypt", "ztdf", {"XT_WITH_ECWRAP": "true"}, ["--session-key-algorithm", "ec:secp256r1"]),
    (
        "decrypt",
        "ztdf",
        {"XT_WITH_KAS_ALLOWLIST": "http://a/kas,http://b/kas"},
        ["--kas-allowlist", "http://a/kas,http://b/kas"],
    ),
    ("decrypt", "ztdf", {"XT_WITH_IGNORE_KAS_ALLOWLIST": "true"}, ["--kas-allowlist", "*"]),
]


@pytest.mark.parametrize(("verb", "fmt", "env", "added"), MAPPED)
def test_option_mapping(
    cli: Rendered, src: Path, tmp_path: Path, verb: str, fmt: str, env: dict, added: list
) -> None:
    result = cli.run(verb, src, tmp_path / "out", fmt, env=env)
    assert result.returncode == 0, result.stderr
    base = 4 if verb == "encrypt" else 0  # encrypt adds --tdf-type and --kas-url-path
    assert _options(_only_call(cli))[2 + base :] == added


def test_kas_on_another_origin_is_refused_before_the_client(
    cli: Rendered, src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "ct.tdf"
    result = cli.run("encrypt", src, dst, "ztdf", env={"KASURL": "http://elsewhere:9/kas"})
    assert result.returncode == 3
    assert "is not on PLATFORMURL's origin" in result.stderr
    assert cli.calls() == [] and not dst.exists()


@pytest.mark.parametrize(
    ("feature", "verb", "fmt", "env", "message"),
    [
        ("nano_ecdsa", "encrypt", "nano", {"XT_WITH_ECDSA_BINDING": "1"}, "XT_WITH_ECDSA_BINDING"),
        ("ecwrap", "encrypt", "ztdf", {"XT_WITH_ECWRAP": "1"}, "XT_WITH_ECWRAP"),
        ("hexaflexible", "encrypt", "ztdf", {"XT_WITH_TARGET_MODE": "4.2.2"}, "the manifest"),
        ("kasallowlist", "decrypt", "ztdf", {"XT_WITH_KAS_ALLOWLIST": "http://a/kas"}, "allowlist"),
    ],
)
def test_what_the_build_lacks_is_refused_with_its_name(
    tmp_path: Path, src: Path, feature: str, verb: str, fmt: str, env: dict, message: str
) -> None:
    r = Rendered(tmp_path / "dist", "gosdk", "xtdf-go-cli", no=(feature,))
    dst = tmp_path / "out"
    result = r.run(verb, src, dst, fmt, env=env)
    assert result.returncode == 3, result
    assert result.stderr.startswith("gosdk@9.9.9 cli.sh: ") and message in result.stderr
    assert "xtdf-go-cli 9.9.9 has no way to" in result.stderr or "applies to" in result.stderr
    assert r.calls() == [] and not dst.exists()


@pytest.mark.parametrize("verb", ["encrypt", "decrypt"])
def test_a_build_without_nanotdf_refuses_nano_before_the_tool(
    tmp_path: Path, src: Path, verb: str
) -> None:
    r = Rendered(tmp_path / "dist", "go", "otdfctl", no=("nano",))
    dst = tmp_path / "out"
    result = r.run(verb, src, dst, "nano")
    assert result.returncode == 3, result
    assert result.stderr == (
        f"go@9.9.9 cli.sh: {verb} nano: otdfctl 9.9.9 has no NanoTDF "
        "(cli.sh supports nano answers no)\n"
    )
    assert r.calls() == [] and not dst.exists()
    assert r.run(verb, src, dst, "ztdf").returncode == 0  # ztdf still goes through


def test_failure_leaves_no_dst_and_passes_the_status(
    cli: Rendered, src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "out.tdf"
    result = cli.run("encrypt", src, dst, "ztdf", env={"FAKE_FAIL": "1"})
    assert result.returncode == 1 and result.stderr.strip() == "boom"
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tdf")] == []


# -- the real xtdf-go-cli (make sdks-gosdk) --------------------------------------------------


def _installed() -> Path:
    binary = GOSDK / "xtdf-go-cli"
    if not os.access(binary, os.X_OK):
        lane_missing(f"gosdk@0.36.0 not installed ({binary} absent): run `make sdks-gosdk`")
    return binary


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_installed()), *map(str, args)], capture_output=True, text=True, timeout=30
    )


def test_version_names_the_go_sdk_it_was_built_on() -> None:
    v = json.loads(_run("--version", "--json").stdout)
    assert v["sdk_version"] == "0.36.0" == v["version"]
    assert v["schema_version"] == "4.3.0"
    assert {"dpop", "connectrpc"} <= set(v["supported_features"])
    digest = subprocess.run(
        ["sha256sum", str(_installed())], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert (GOSDK / "xtdf-go-cli.sha256").read_text().strip() == digest


def test_help_lists_the_otdfctl_flags_the_adapter_passes() -> None:
    enc, dec = _run("help", "encrypt").stdout, _run("help", "decrypt").stdout
    for flag in (
        "--host",
        "--with-client-creds",
        "--tdf-type",
        "--kas-url-path",
        "--mime-type",
        "--attr",
        "--with-assertions",
        "--wrapping-key-algorithm",
        "--target-mode",
    ):
        assert f"  {flag}\t" in enc, flag
    for flag in (
        "--with-assertion-verification-keys",
        "--no-verify-assertions",
        "--session-key-algorithm",
        "--kas-allowlist",
    ):
        assert f"  {flag}\t" in dec, flag


def test_installed_supports_say_ztdf_only() -> None:
    _installed()
    cli_sh = GOSDK / "cli.sh"
    got = {
        f: subprocess.run([str(cli_sh), "supports", f], capture_output=True).returncode
        for f in (
            "nano",
            "nano_ecdsa",
            "assertions",
            "assertion_verification",
            "ecwrap",
            "hexaflexible",
            "kasallowlist",
            "key_management",
            "dpop",
        )
    }
    assert got == {
        "nano": 1,
        "nano_ecdsa": 1,
        "assertions": 0,
        "assertion_verification": 0,
        "ecwrap": 0,
        "hexaflexible": 0,
        "kasallowlist": 0,
        "key_management": 0,
        "dpop": 0,
    }


CREDS = '{"clientId":"opentdf","clientSecret":"secret"}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tdf-type", "nano"], '--tdf-type "nano": this SDK writes only ztdf'),
        (["--wrapping-key-algorithm", "rsa:1024"], '--wrapping-key-algorithm "rsa:1024"'),
        (["--with-assertions", "/nonexistent.json"], "--with-assertions: not JSON and not a"),
        (["--with-assertions", '[{"id":"a"}]'], "needs id, type, scope and appliesToState"),
        (
            [
                "--with-assertions",
                '[{"id":"a","type":"handling","scope":"tdo",'
                '"appliesToState":"encrypted","signingKey":{"alg":"RS256","key":"x"}}]',
            ],
            "RS256 key is not PEM",
        ),
        (["--nope"], "flag provided but not defined: -nope"),
    ],
)
def test_bad_usage_fails_before_connecting_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    src = tmp_path / "plain.txt"
    src.write_text("x")
    out = tmp_path / "out.tdf"
    # port 9 on loopback: nothing listens, so reaching the network would read "refused"
    result = _run(
        "encrypt",
        "--host",
        "http://127.0.0.1:9",
        "--with-client-creds",
        CREDS,
        "--out",
        out,
        *args,
        src,
    )
    assert result.returncode == 2, result
    assert "usage error" in result.stderr and message in result.stderr, result.stderr
    assert "connection refused" not in result.stderr
    assert list(tmp_path.iterdir()) == [src]


def test_unreachable_platform_is_named_and_leaves_no_output(tmp_path: Path) -> None:
    src = tmp_path / "plain.txt"
    src.write_text("x")
    out = tmp_path / "out.tdf"
    result = _run(
        "encrypt", "--host", "http://127.0.0.1:9", "--with-client-creds", CREDS, "--out", out, src
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("xtdf-go-cli@0.36.0: error: connecting to")
    assert "connection refused" in result.stderr
    assert list(tmp_path.iterdir()) == [src]
