"""Every matrix test whose outcome differs between a run on xtdf's platform and one on
OpenTDF's Go platform, and why.

Input: the two runs' stats JSONs (``--stats-json``; each keeps every test's outcome, reason
and cell). Each difference is matched against ``EXPLAINED``: a known difference of the Go
release we pin, with the test in ``tests/`` that pins it. What matches nothing is listed as
unexplained: the goal is none. Printed for the terminal and written as a section of
``docs/compat.md`` (between markers, so the rest of the file is left alone)::

    python -m xtdf.harness.platform_diff XTDF.json GO.json [--compat-md docs/compat.md]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xtdf.harness.limits import GO_SDK_HTU_SKEW, PLATFORM_LIMITS

BEGIN = "<!-- go-platform-diff:begin (python -m xtdf.harness.platform_diff) -->"
END = "<!-- go-platform-diff:end -->"


@dataclass(frozen=True)
class Explanation:
    """One known difference: tests whose node id matches ``pattern`` and whose outcome on
    the Go platform is one of ``go_outcomes``."""

    name: str
    pattern: str
    go_outcomes: tuple[str, ...]
    why: str
    pinned_by: str

    def matches(self, nodeid: str, go_outcome: str) -> bool:
        return go_outcome in self.go_outcomes and re.search(self.pattern, nodeid) is not None


EXPLAINED: tuple[Explanation, ...] = (
    Explanation(
        name="NanoTDF",
        pattern=r"nano|\.ntdf",
        go_outcomes=("failed", "error"),
        why=(
            "service v0.13.0 removed NanoTDF from the KAS (its CHANGELOG: 'remove nanotdf "
            "support', #3013): every rewrap request is handled as ZTDF, so a NanoTDF key "
            "access object is answered invalid_argument 'invalid request'. xtdf's KAS still "
            "rewraps NanoTDF, as the Go platform did before that release and as the SDKs in "
            "the matrix still write it; not changed: the pinned Go release is the only one "
            "the proxy serves, and it is not the last word on NanoTDF"
        ),
        pinned_by="tests/go_platform/test_go_platform_smoke.py::test_go_kas_refuses_nanotdf",
    ),
    Explanation(
        name="legacy KAS grants",
        pattern=(
            r"test_key_routing_and_entitlement\[.*(grant|not-entitled)"
            r"|test_policy_types\[.*-(and|or|hierarchy)-"
        ),
        go_outcomes=("failed", "error"),
        why=(
            "service v0.13.0 answers every Assign...KeyAccessServer... call (the legacy "
            "namespace, attribute and value grants) unimplemented, 'this compatibility stub "
            "will be removed entirely in the following release': grants gave way to key "
            "mappings. The suite's layout then has no grant, so these cells' keys go to the "
            "default KAS instead of the granted one (test_policy_types' attributes are "
            "routed by grants too). xtdf's platform keeps the grants, which "
            "older Go platforms and the SDKs' autoconfigure still use; the key-mapping cells "
            "(test_mapped_keys) pass on both"
        ),
        pinned_by=(
            "tests/go_platform/test_go_platform_smoke.py::test_go_platform_has_no_legacy_kas_grants"
        ),
    ),
    Explanation(
        name="Go SDK 0.36.0 against Go platform v0.13.0",
        pattern="|".join(
            limit.id_pattern for limit in PLATFORM_LIMITS if GO_SDK_HTU_SKEW in limit.reason
        ),
        go_outcomes=("xfailed",),
        why=(
            "upstream version skew, not ours: the Go SDK 0.36.0 (lane gosdk, and otdfctl "
            "0.30.0, built on it: sdk/go/go.mk) puts the whole "
            "request URL in its DPoP proofs' htu, as RFC 9449 says; service v0.13.0 compares "
            "a Connect call's htu with the procedure path alone and answers "
            "'unauthenticated'. Every cell where that SDK decrypts, or encrypts with "
            "attributes, is a strict xfail on the Go platform (harness/limits.py, "
            "PLATFORM_LIMITS). xtdf's platform accepts both forms, so the older SDKs' path "
            "and the newer SDKs' URL both pass"
        ),
        pinned_by=(
            "tests/go_platform/test_go_platform_smoke.py::test_ztdf_round_trip_through_the_go_kas"
            "[gosdk@0.36.0] and [go@0.30.0] (strict xfails); tests/platform/test_server_auth.py::"
            "test_path_only_htu_is_accepted_like_go (ours takes both htu forms)"
        ),
    ),
    Explanation(
        name="base key (not run on the Go platform)",
        pattern=r"test_abac\.py::test_base_key\[",
        go_outcomes=("skipped",),
        why=(
            "not a platform difference: the base-key cells run on a second platform of their "
            "own (a base key on the suite's platform would reroute every other cell), which "
            "the harness starts only as xtdf's; against the Go platform they skip with that "
            "reason"
        ),
        pinned_by="src/xtdf/harness/plugin.py::base_key_platform (the skip and its reason)",
    ),
)


@dataclass(frozen=True)
class Difference:
    nodeid: str
    cell: str
    ours: str
    go: str
    go_reason: str
    explanation: Explanation | None


def _tests(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise SystemExit(f"platform_diff: {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SystemExit(f"platform_diff: {path}: not JSON: {exc}") from None
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, dict) or not tests:
        raise SystemExit(f"platform_diff: {path}: no tests (not a stats JSON of a matrix run)")
    return tests


def _cell(rec: dict[str, Any]) -> str:
    axes = [str(rec[a]) for a in ("encrypt", "decrypt") if rec.get(a)]
    cell = " -> ".join(axes) or "-"
    return cell + (f" [{rec['container']}]" if rec.get("container") else "")


def _reason(rec: dict[str, Any]) -> str:
    text = str(rec.get("reason") or rec.get("output") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def compare(
    ours: dict[str, dict[str, Any]], go: dict[str, dict[str, Any]]
) -> tuple[list[Difference], list[str], list[str]]:
    """Differences among the tests both runs ran; then the node ids only one of them ran."""
    diffs = []
    for nodeid in sorted(set(ours) & set(go)):
        a, b = ours[nodeid].get("outcome"), go[nodeid].get("outcome")
        if a == b:
            continue
        go_outcome = str(b)
        why = next((e for e in EXPLAINED if e.matches(nodeid, go_outcome)), None)
        diffs.append(
            Difference(nodeid, _cell(go[nodeid]), str(a), go_outcome, _reason(go[nodeid]), why)
        )
    return diffs, sorted(set(ours) - set(go)), sorted(set(go) - set(ours))


def render_text(diffs: list[Difference], only_ours: list[str], only_go: list[str]) -> str:
    unexplained = [d for d in diffs if d.explanation is None]
    out = [
        f"xtdf platform vs Go platform: {len(diffs)} test(s) differ, {len(unexplained)} unexplained"
    ]
    by_name = Counter(d.explanation.name for d in diffs if d.explanation is not None)
    for name, n in sorted(by_name.items()):
        out.append(f"  explained ({name}): {n}")
    for d in unexplained:
        out.append(f"  UNEXPLAINED {d.nodeid}: xtdf {d.ours}, go {d.go} {d.go_reason}".rstrip())
    if only_ours or only_go:
        out.append(f"  ran on one platform only: xtdf {len(only_ours)}, go {len(only_go)}")
    return "\n".join(out)


def _outcomes(values: Any) -> str:
    return ", ".join(f"{n} {o}" for o, n in sorted(Counter(values).items()))


def render_md(diffs: list[Difference], only_ours: list[str], only_go: list[str]) -> str:
    unexplained = [d for d in diffs if d.explanation is None]
    lines = [
        BEGIN,
        "",
        "### Differences between the two platforms",
        "",
        "Regenerated by `make xtest PLATFORM=go` (`python -m xtdf.harness.platform_diff`): "
        "every matrix test whose outcome on OpenTDF's Go platform (service v0.13.0, "
        "`make platform-go`) differs from its outcome on xtdf's platform, same SDKs and "
        "cache. "
        f"**{len(diffs)} differ, {len(unexplained)} unexplained.**",
        "",
    ]
    for e in EXPLAINED:
        mine = [d for d in diffs if d.explanation is e]
        if not mine:
            continue
        cells = Counter(d.cell for d in mine)
        lines += [
            f"**{e.name}** ({len(mine)} tests in {len(cells)} cells; on xtdf's platform "
            f"{_outcomes(d.ours for d in mine)}, on Go's {_outcomes(d.go for d in mine)}). "
            f"{e.why[0].upper()}{e.why[1:]}. Pinned by `{e.pinned_by}`.",
            "",
            "| cell | tests |",
            "|---|---|",
            *(f"| `{c}` | {n} |" for c, n in sorted(cells.items())),
            "",
        ]
    if unexplained:
        lines += ["**Unexplained**", "", "| test | xtdf | Go | Go's reason |", "|---|---|---|---|"]
        lines += [
            f"| `{d.nodeid}` | {d.ours} | {d.go} | {d.go_reason.replace('|', '/')} |"
            for d in unexplained
        ]
        lines.append("")
    if only_ours or only_go:
        lines += [
            f"Tests run on one platform only: {len(only_ours)} on xtdf's, {len(only_go)} on "
            "the Go platform's (the other run was narrower or was cut short).",
            "",
        ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def update(path: Path, section: str) -> None:
    """Replace the marked section of ``path`` (append it, under a heading, if absent)."""
    text = path.read_text() if path.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n## Go platform\n\n" + section
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.harness.platform_diff")
    p.add_argument("ours", type=Path, help="stats JSON of the run on xtdf's platform")
    p.add_argument("go", type=Path, help="stats JSON of the run on the Go platform")
    p.add_argument("--compat-md", type=Path, help="rewrite the Go platform section here")
    args = p.parse_args(argv)
    diffs, only_ours, only_go = compare(_tests(args.ours), _tests(args.go))
    sys.stdout.write(render_text(diffs, only_ours, only_go) + "\n")
    if args.compat_md:
        update(args.compat_md, render_md(diffs, only_ours, only_go))
        sys.stdout.write(f"wrote the Go platform section of {args.compat_md}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
