"""The refusal matcher: each SDK's recorded wording, and how a refusal cell is judged.

The wordings were recorded from real runs of the matrix (``xtdf/harness/wordings.py``);
these tests pin that every recorded example still reads as its class, that the signs of a
crash, a usage error or a connection failure beat any refusal wording, and, through real
``cli.sh`` processes, that a refusal cell fails on each of those and on released output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xtdf.harness.refusals import Failure, Refusal, RefusalMismatch, classify, wording
from xtdf.harness.sdks import SDK, SdkError, discover
from xtdf.harness.wordings import FAILURES, WORDINGS

REFUSAL_EXAMPLES = [
    pytest.param(name, cls, pat.example, id=f"{name}-{cls.name}-{i}")
    for name, w in WORDINGS.items()
    for cls, pats in w.refusals.items()
    for i, pat in enumerate(pats)
]
FAILURE_EXAMPLES = [
    pytest.param(failure, pat.example, id=f"{failure.name}-{i}")
    for failure, pats in FAILURES.items()
    for i, pat in enumerate(pats)
]


@pytest.mark.parametrize(("sdk", "cls", "example"), REFUSAL_EXAMPLES)
def test_every_recorded_example_reads_as_its_class(sdk: str, cls: Refusal, example: str) -> None:
    verdict = classify(sdk, example)
    assert verdict.failure is None, verdict
    assert cls in verdict.refusals


@pytest.mark.parametrize(("failure", "example"), FAILURE_EXAMPLES)
@pytest.mark.parametrize("sdk", sorted(WORDINGS))
def test_failure_signs_are_never_refusals(sdk: str, failure: Failure, example: str) -> None:
    assert classify(sdk, example).failure is failure


def test_crash_beats_refusal_wording() -> None:
    py_crash = (
        "Traceback (most recent call last):\n  File 'x.py', line 1\n"
        "xtdf: tamper detected: segment 0 integrity check failed"
    )
    assert classify("py", py_crash).failure is Failure.CRASH
    go_crash = "[tamper detected] tdf: issue verifying root signature\npanic: runtime error"
    assert classify("go", go_crash).failure is Failure.CRASH
    js_crash = "[CRITICAL] TypeError: Cannot read properties of undefined ManifestIntegrityError"
    assert classify("js", js_crash).failure is Failure.CRASH


def test_otdf_python_refusals_are_read_from_the_traceback_end() -> None:
    """otdf-python reports every refusal as a traceback: the last exception decides."""
    refused = "Traceback (most recent call last):\n  ...\ncryptography.exceptions.InvalidTag\n"
    assert classify("otdf-python", refused).refusals == {Refusal.TAMPER}
    bug = "Traceback (most recent call last):\n  ...\nTypeError: unexpected keyword 'x'\n"
    assert classify("otdf-python", bug).failure is Failure.CRASH


def test_a_connection_failure_is_not_a_refusal_even_beside_refusal_words() -> None:
    out = (
        "[tamper detected] tdf: rewrap failed: dial tcp 127.0.0.1:8080: connect: connection refused"
    )
    assert classify("go", out).failure is Failure.CONNECTION


def test_kas_answers_are_told_apart() -> None:
    bad_request = "rpc error: code = InvalidArgument desc = bad request"
    key_missing = "rpc error: code = InvalidArgument desc = key not found"
    forbidden = "rpc error: code = PermissionDenied desc = forbidden"
    assert classify("otdf-python", bad_request).refusals == {Refusal.TAMPER}
    assert classify("otdf-python", key_missing).refusals == {Refusal.KEY_NOT_FOUND}
    assert classify("go", forbidden).refusals == {Refusal.NOT_ENTITLED}
    assert Refusal.TAMPER not in classify("go", key_missing).refusals


def test_unrecorded_wording_matches_nothing() -> None:
    verdict = classify("go", "ERROR    Failed to decrypt file: something new")
    assert verdict.failure is None and not verdict.refusals


def test_an_unknown_sdk_gets_every_recorded_pattern() -> None:
    merged = wording("somebody-else")
    assert classify("somebody-else", "ManifestIntegrityError: x").refusals == {Refusal.TAMPER}
    assert len(merged.refusals[Refusal.TAMPER]) == sum(
        len(w.refusals.get(Refusal.TAMPER, ())) for w in WORDINGS.values()
    )


# -- the cell's judgement, through real processes ------------------------------------------

SCRIPT = """#!/usr/bin/env bash
# a cli.sh that says what the test asks (SAY) on stderr, may write DST, exits with RC
case $1 in supports) exit 0 ;; esac
if [[ -n $WRITE ]]; then printf %s "$WRITE" > "$3"; fi
printf '%s\\n' "$SAY" >&2
exit "${RC:-1}"
"""


def _sdk(tmp_path: Path, name: str) -> SDK:
    dist = tmp_path / "sdks" / name / "dist" / "1.0"
    dist.mkdir(parents=True)
    cli = dist / "cli.sh"
    cli.write_text(SCRIPT)
    cli.chmod(0o755)
    (found,) = discover(tmp_path / "sdks")
    return found


@pytest.fixture
def go(tmp_path: Path) -> SDK:
    """Named ``go`` so that otdfctl's recorded wording applies."""
    return _sdk(tmp_path, "go")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "ct.tdf"
    src.write_bytes(b"ciphertext")
    return src, tmp_path / "rt.txt"


GO_TAMPER = (
    "ERROR    Failed to decrypt file: reader.WriteTo failed: [tamper detected] tdf: issue "
    "verifying root signature"
)


def _say(monkeypatch: pytest.MonkeyPatch, say: str, rc: int = 1, write: str = "") -> None:
    monkeypatch.setenv("SAY", say)
    monkeypatch.setenv("RC", str(rc))
    monkeypatch.setenv("WRITE", write)


def test_the_expected_refusal_passes(
    go: SDK, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _say(monkeypatch, GO_TAMPER)
    go.decrypt(*files, "ztdf", expect_error=Refusal.TAMPER)


@pytest.mark.parametrize(
    ("say", "reads_as"),
    [
        ("panic: runtime error: index out of range\ngoroutine 1 [running]:", "a crash"),
        ("Error: unknown flag: --kas-allowlist\nUsage:\n  otdfctl decrypt", "a usage error"),
        (
            "ERROR    Failed to decrypt file: dial tcp 127.0.0.1:8080: connect: connection refused",
            "a connection failure",
        ),
        ("tdf: rewrap request 403: kao unwrap failed: permission_denied: x", "class not entitled"),
        ("ERROR    Failed to decrypt file: something nobody recorded", "no wording recorded"),
    ],
    ids=["crash", "usage", "connection", "other-class", "unrecorded"],
)
def test_anything_else_fails_the_cell(
    go: SDK, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, say: str, reads_as: str
) -> None:
    _say(monkeypatch, say)
    with pytest.raises(RefusalMismatch, match="expected to refuse") as err:
        go.decrypt(*files, "ztdf", expect_error=Refusal.TAMPER)
    assert reads_as in str(err.value)
    assert isinstance(err.value.__cause__, SdkError)  # the report shows the whole output
    assert say.splitlines()[0] in err.value.__cause__.stderr


def test_released_output_fails_even_a_right_refusal(
    go: SDK, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _say(monkeypatch, GO_TAMPER, write="the plaintext")
    with pytest.raises(RefusalMismatch, match=r"left 13 bytes .*no plaintext may be released"):
        go.decrypt(*files, "ztdf", expect_error=Refusal.TAMPER)


def test_an_empty_output_file_is_not_a_release(
    go: SDK, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _say(monkeypatch, GO_TAMPER)
    files[1].write_bytes(b"")
    go.decrypt(*files, "ztdf", expect_error=Refusal.TAMPER)


def test_success_fails_the_cell_and_names_what_was_written(
    go: SDK, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _say(monkeypatch, "", rc=0, write="the plaintext")
    with pytest.raises(RefusalMismatch, match=r"succeeded but was expected to fail.*13 bytes"):
        go.decrypt(*files, "ztdf", expect_error=Refusal.TAMPER)


def test_an_unobserved_class_says_why_it_was_never_recorded(
    tmp_path: Path, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    js = _sdk(tmp_path, "js")
    _say(monkeypatch, "[CRITICAL] kas url is not allowed KasAllowlistError: x")
    with pytest.raises(RefusalMismatch, match="never observed for js: it does not claim"):
        js.decrypt(*files, "ztdf", expect_error=Refusal.KAS_NOT_ALLOWED)


def test_expect_error_must_name_a_class(go: SDK, files: tuple[Path, Path]) -> None:
    with pytest.raises(TypeError, match="must name a Refusal"):
        go.decrypt(*files, "ztdf", expect_error=True)  # type: ignore[arg-type]
