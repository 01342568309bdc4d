"""Judging a refusal: did the SDK refuse for the reason the cell provoked, releasing nothing?

A non-zero exit proves little on its own: a crash, a usage error or an unreachable KAS also
exit non-zero. So a refusal cell names the :class:`Refusal` it expects, and
:func:`check` reads the SDK's output with that SDK's recorded wording
(:mod:`xtdf.harness.wordings`): failure signs first (a crash, a usage error, a connection
failure fail the cell whatever else was printed), then the expected class. Output that
matches neither fails too, showing what the SDK said, so a new wording is recorded on
purpose rather than accepted by accident. Whatever the wording, no plaintext may be left
behind: the output file must be absent or empty.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xtdf.harness.wordings import FAILURES, WORDINGS, Failure, Pattern, Refusal, Wording

if TYPE_CHECKING:
    from xtdf.harness.sdks import SDK

__all__ = ["Failure", "Refusal", "RefusalMismatch", "Verdict", "check", "classify", "wording"]


class RefusalMismatch(AssertionError):
    """A refusal cell whose SDK succeeded, failed for another reason, or released data."""


@dataclass(frozen=True)
class Verdict:
    """What the output says: the failure sign or the refusal classes it matches."""

    failure: Failure | None
    refusals: frozenset[Refusal]
    #: the example of the first pattern that decided, for messages
    evidence: str = ""

    def describe(self) -> str:
        if self.failure is not None:
            return f"a {self.failure}"
        if self.refusals:
            return "a refusal of class " + ", ".join(sorted(self.refusals))
        return "no wording recorded for this SDK"


def wording(sdk_name: str) -> Wording:
    """The SDK's recorded wording; an SDK nobody recorded gets every SDK's patterns."""
    known = WORDINGS.get(sdk_name)
    if known is not None:
        return known
    merged: dict[Refusal, tuple[Pattern, ...]] = {}
    crash: tuple[Pattern, ...] = ()
    for w in WORDINGS.values():
        crash += w.crash
        for cls, pats in w.refusals.items():
            merged[cls] = merged.get(cls, ()) + pats
    return Wording(merged, crash, note=f"{sdk_name}: no wording recorded; every SDK's patterns")


def classify(sdk_name: str, output: str) -> Verdict:
    """Read one SDK's output: a failure sign wins over any refusal wording."""
    w = wording(sdk_name)
    for pat in w.crash:
        if pat.search(output):
            return Verdict(Failure.CRASH, frozenset(), pat.example)
    for failure, pats in FAILURES.items():
        for pat in pats:
            if pat.search(output):
                return Verdict(failure, frozenset(), pat.example)
    found = {
        cls: next((pat for pat in pats if pat.search(output)), None)
        for cls, pats in w.refusals.items()
    }
    matched = {cls: pat for cls, pat in found.items() if pat is not None}
    evidence = next(iter(matched.values())).example if matched else ""
    return Verdict(None, frozenset(matched), evidence)


def check(
    sdk: SDK,
    verb: str,
    expected: Refusal,
    result: subprocess.CompletedProcess[bytes],
    output_file: Path | None,
) -> Verdict:
    """Pass (return the verdict) only for the expected refusal with nothing released.

    Raises :class:`RefusalMismatch` otherwise, chained to an ``SdkError`` carrying the whole
    output so the report shows what the SDK said.
    """
    from xtdf.harness.sdks import SdkError  # sdks imports this module

    name = sdk.name
    released = _released(output_file)
    if result.returncode == 0:
        raise RefusalMismatch(
            f"{sdk} {verb} succeeded but was expected to fail ({expected}){released}"
        )
    stdout = result.stdout.decode(errors="replace")
    stderr = result.stderr.decode(errors="replace")
    verdict = classify(name, stderr + "\n" + stdout)
    cause = SdkError(sdk, verb, result)
    if released:
        raise RefusalMismatch(f"{sdk} {verb} exited {result.returncode}{released}") from cause
    if verdict.failure is not None or expected not in verdict.refusals:
        hint = ""
        if verdict.failure is None and not verdict.refusals:
            unobserved = wording(name).unobserved.get(expected)
            if unobserved:
                hint = f" (never observed for {name}: {unobserved})"
            else:
                hint = (
                    f"; if this is a {expected} refusal, record its wording for {name!r} in "
                    "xtdf/harness/wordings.py"
                )
        raise RefusalMismatch(
            f"{sdk} {verb} was expected to refuse ({expected}) but its output reads as "
            f"{verdict.describe()}{hint}: {_tail(stderr, stdout)}"
        ) from cause
    return verdict


def _released(path: Path | None) -> str:
    """'' when nothing is there; otherwise what was left, for the message."""
    if path is None or not path.exists():
        return ""
    if not path.is_file():
        return f", and left {path} behind: no output may be left"
    size = path.stat().st_size
    if size == 0:
        return ""
    return f", and left {size} bytes in {path}: no plaintext may be released"


def _tail(stderr: str, stdout: str, lines: int = 5) -> str:
    text = stderr.strip() or stdout.strip() or "(no output)"
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())
