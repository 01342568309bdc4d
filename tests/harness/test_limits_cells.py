"""Known SDK limits and cell selection: which cells xfail, skip or run, and why.

``make xtest`` is the only other caller of these; a limit that stopped matching would turn
its strict xfail into a failure there, but one that matched too much would hide a broken
cell. These pin both directions, through real pytest runs (pytester) and real ``cli.sh``
processes answering ``supports``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xtdf.harness import limits
from xtdf.harness.cells import (
    CONTAINER_FEATURES,
    require,
    require_container,
    select_target_mode,
    skip_unless_in_focus,
)
from xtdf.harness.options import CONTAINERS
from xtdf.harness.sdks import SDK, discover

pytest_plugins = ["pytester"]

#: every scope a cell in xtest/ asks the limits about
SCOPES = {
    "roundtrip",
    "multi_kas",
    "mime_type",
    "allowlist",
    "nano_policy",
    "nano_policy:plaintext",
    "nano_policy:encrypted",
    *(
        f"tamper:{how}"
        for how in (
            "policy",
            "policy-binding",
            "segment-hash",
            "root-signature",
            "segment-size",
            "payload-byte",
            "payload-truncated",
        )
    ),
}
SDK_NAMES = {"py", "otdf-python", "js", "go", "gosdk", "java"}


def sdk(name: str, version: str = "1") -> SDK:
    return SDK(name, version, Path("/nonexistent") / name / "cli.sh")


PY, OTDF, JS, GO, JAVA = (sdk(n) for n in ("py", "otdf-python", "js", "go", "java"))


@pytest.mark.parametrize("limit", limits.LIMITS, ids=lambda lim: lim.reason[:40])
def test_every_limit_names_real_scopes_sdks_and_containers(limit: limits.Limit) -> None:
    """A typo in a limit would make it match nothing, silently."""
    assert limit.scopes <= SCOPES, limit.scopes - SCOPES
    assert {limit.encrypt, limit.decrypt} - {None} <= SDK_NAMES
    assert limit.containers is None or limit.containers <= set(CONTAINERS)
    assert len(limit.reason) > 40, "a limit names the SDK and what it cannot do"


def test_applies_needs_every_filter_to_match() -> None:
    lim = limits.Limit(
        frozenset({"roundtrip"}), "r", encrypt="js", decrypt="py", containers=limits.NANO
    )
    assert lim.applies("roundtrip", JS, PY, "nano")
    assert not lim.applies("multi_kas", JS, PY, "nano")
    assert not lim.applies("roundtrip", PY, PY, "nano")
    assert not lim.applies("roundtrip", JS, GO, "nano")
    assert not lim.applies("roundtrip", JS, PY, "ztdf")
    assert not lim.applies("roundtrip", None, PY, "nano"), "a named encryptor must be present"
    anyone = limits.Limit(frozenset({"mime_type"}), "r", encrypt="js")
    assert anyone.applies("mime_type", JS, None, "ztdf")


@pytest.mark.parametrize(
    ("scope", "enc", "dec", "container", "says"),
    [
        ("tamper:root-signature", PY, OTDF, "ztdf", "does not check the manifest's root"),
        ("roundtrip", OTDF, PY, "nano", "'e1'"),
        ("roundtrip", PY, JS, "nano-with-ecdsa", "key identifier"),
        ("roundtrip", JS, OTDF, "ztdf", "schemaVersion"),
        ("allowlist", GO, OTDF, "ztdf", "adds --kas-allowlist entries"),
        ("mime_type", JS, None, "ztdf", "mime type"),
    ],
)
def test_known_cells_find_their_limit(
    scope: str, enc: SDK, dec: SDK | None, container: str, says: str
) -> None:
    found = limits.find(scope, enc, dec, container)
    assert found is not None and says in found.reason


@pytest.mark.parametrize(
    ("scope", "enc", "dec", "container"),
    [
        ("tamper:root-signature", PY, OTDF, "nano"),  # nano has no root signature
        ("tamper:payload-byte", PY, OTDF, "ztdf"),  # AES-GCM tags are checked
        ("roundtrip", PY, PY, "ztdf"),
        ("roundtrip", OTDF, PY, "ztdf"),
        ("roundtrip", GO, GO, "nano"),
    ],
)
def test_cells_without_a_limit_find_none(scope: str, enc: SDK, dec: SDK, container: str) -> None:
    assert limits.find(scope, enc, dec, container) is None


def test_xfail_is_strict_and_skip_names_the_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pathlib import Path
        from xtdf.harness import limits
        from xtdf.harness.sdks import SDK

        OTDF, PY = SDK("otdf-python", "0.11.0", Path("a")), SDK("py", "main", Path("b"))

        def test_known_and_failing(request):
            limits.xfail_if_known(request, "tamper:root-signature", PY, OTDF)
            assert False

        def test_known_but_passing(request):
            limits.xfail_if_known(request, "tamper:root-signature", PY, OTDF)

        def test_not_known(request):
            limits.xfail_if_known(request, "tamper:root-signature", PY, PY)

        def test_refusal_on_an_unusable_cell():
            limits.skip_if_unusable("roundtrip", OTDF, PY, "nano")

        def test_refusal_on_a_cell_an_extra_scope_rules_out():
            limits.skip_if_unusable("roundtrip", PY, OTDF, "ztdf", "multi_kas")
        """
    )
    result = pytester.runpytest_inprocess("-rxXs", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, xfailed=1, skipped=2)
    result.stdout.fnmatch_lines(["*test_known_but_passing*", "*XPASS(strict)*root signature*"])
    result.stdout.fnmatch_lines(["*a refusal would prove nothing: otdf-python*'e1'*"])
    result.stdout.fnmatch_lines(["*a refusal would prove nothing: otdf-python's default KAS*"])


# -- cells: real cli.sh processes answering ``supports`` -----------------------------------

SUPPORTS = """#!/usr/bin/env bash
# answers `supports` from the YES and NO lists; anything else is unknown (2)
[[ $1 == supports ]] || exit 3
[[ -n $CALLS ]] && echo "$2" >> "$CALLS"
for f in $YES; do [[ $f == "$2" ]] && exit 0; done
for f in $NO; do [[ $f == "$2" ]] && exit 1; done
exit 2
"""


def make_sdk(root: Path, name: str, yes: str, no: str = "") -> SDK:
    """An SDK whose cli.sh says yes to ``yes`` and no to ``no`` (baked into the script)."""
    dist = root / "sdks" / name / "dist" / "1.0"
    dist.mkdir(parents=True)
    cli = dist / "cli.sh"
    cli.write_text(SUPPORTS.replace("$YES", yes).replace("$NO", no or "-"))
    cli.chmod(0o755)
    (found,) = (s for s in discover(root / "sdks") if s.name == name)
    return found


@pytest.fixture
def sdks(tmp_path: Path) -> dict[str, SDK]:
    # names unique per test: answers are remembered per SDK (name@version) for the process
    tag = tmp_path.name
    return {
        "all": make_sdk(tmp_path, f"all-{tag}", "ecwrap nano nano_ecdsa hexless"),
        "old": make_sdk(tmp_path, f"old-{tag}", "-"),
        "no": make_sdk(tmp_path, f"no-{tag}", "-", "ecwrap nano nano_ecdsa hexless"),
    }


def _skipped(fn: object, *args: object) -> str | None:
    try:
        fn(*args)  # type: ignore[operator]
    except pytest.skip.Exception as exc:
        return str(exc)
    return None


def test_require_container_follows_the_answers(sdks: dict[str, SDK]) -> None:
    full, old, no = sdks["all"], sdks["old"], sdks["no"]
    for container in CONTAINERS:
        assert _skipped(require_container, full, container) is None
        assert _skipped(require_container, no, "ztdf") is None
    assert "does not support nano (needed for nano)" in (
        _skipped(require_container, no, "nano") or ""
    )
    # an SDK that predates the nano probe reads nano, as every upstream SDK does
    assert _skipped(require_container, old, "nano") is None
    for container in ("ztdf-ecwrap", "nano-with-ecdsa"):
        feature = CONTAINER_FEATURES[container]
        assert f"does not support {feature}" in (_skipped(require_container, old, container) or "")


def test_require_and_focus(sdks: dict[str, SDK]) -> None:
    full, no = sdks["all"], sdks["no"]
    assert _skipped(require, full, "hexless") is None
    assert f"{no} does not support hexless" == _skipped(require, no, "hexless")
    assert _skipped(skip_unless_in_focus, {full}, full, no) is None
    assert _skipped(skip_unless_in_focus, {full}, no, no) == "no SDK of this cell is in --focus"


def test_target_mode_is_the_newest_both_sides_speak(sdks: dict[str, SDK]) -> None:
    full, old = sdks["all"], sdks["old"]
    assert select_target_mode(full, full) == "4.3.0"
    assert select_target_mode(full, old) == "4.2.2"
    assert select_target_mode(old, full) == "4.2.2"


def test_answers_are_asked_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))
    one = make_sdk(tmp_path, f"once-{tmp_path.name}", "hexless")
    assert [one.supports("hexless") for _ in range(3)] == [True, True, True]
    assert one.answer("nano") == 2
    assert calls.read_text().split() == ["hexless", "nano"]


# -- platform limits: an SDK that one platform refuses in some roles -------------------------


@pytest.mark.parametrize(
    ("platform", "enc", "dec", "module", "blocked"),
    [
        ("go", "py", "gosdk", "test_tdfs", True),  # it decrypts: always refused there
        ("go", "gosdk", "py", "test_abac", True),  # it encrypts with attributes
        ("go", "gosdk", "py", "test_policytypes", True),
        ("go", "gosdk", "py", "test_tdfs", False),  # no attributes: the Go KAS key is public
        ("go", "gosdk", None, "test_tdfs", False),
        ("go", "py", "go", "test_tdfs", False),  # otdfctl is another lane
        ("xtdf", "gosdk", "gosdk", "test_abac", False),  # ours accepts its DPoP proofs
    ],
)
def test_the_gosdk_platform_limit_blocks_exactly_its_roles(
    platform: str, enc: str, dec: str | None, module: str, blocked: bool
) -> None:
    got = limits.platform_limit(platform, sdk(enc), dec and sdk(dec), module)
    assert (got is not None) is blocked
    if blocked:
        assert "Go SDK 0.36.0" in got.reason and "Go platform v0.13.0" in got.reason


def test_platform_limits_are_marked_strict_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_abac="""
import pytest
from pathlib import Path
from xtdf.harness.sdks import SDK

def sdk(n):
    return SDK(n, "1.0.0", Path("/nonexistent"))

@pytest.mark.parametrize("encrypt_sdk", [sdk("gosdk"), sdk("py")], ids=str)
def test_cell(encrypt_sdk):
    assert encrypt_sdk.name != "gosdk"
"""
    )
    pytester.makeconftest(
        """
from xtdf.harness import limits
def pytest_collection_modifyitems(items):
    limits.mark_platform_limits("go", items)
"""
    )
    result = pytester.runpytest("-p", "no:xdist", "-p", "no:cacheprovider", "-rxX")
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*XFAIL*gosdk*Go platform v0.13.0*"])
