"""How the harness judges one SDK process: real ``cli.sh`` scripts that succeed, fail or
write output, so a refusal cell can only pass when the SDK really refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xtdf.harness.refusals import Refusal, RefusalMismatch
from xtdf.harness.sdks import SDK, SdkError, discover

SCRIPT = """#!/usr/bin/env bash
# a cli.sh whose outcome the test chooses: OUTCOME=ok writes DST, OUTCOME=refuse fails
case $1 in
  supports) exit 0 ;;
esac
if [[ $OUTCOME == ok ]]; then cp "$2" "$3"; exit 0; fi
echo "tamper detected: policy binding mismatch" >&2
exit 1
"""


@pytest.fixture
def sdk(tmp_path: Path) -> SDK:
    dist = tmp_path / "sdks" / "fake" / "dist" / "1.0"
    dist.mkdir(parents=True)
    cli = dist / "cli.sh"
    cli.write_text(SCRIPT)
    cli.chmod(0o755)
    (found,) = discover(tmp_path / "sdks")
    return found


def files(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "ct.tdf"
    src.write_bytes(b"ciphertext")
    return src, tmp_path / "rt.txt"


def test_expected_refusal_that_succeeded_fails_the_cell(
    sdk: SDK, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTCOME", "ok")
    src, dst = files(tmp_path)
    with pytest.raises(RefusalMismatch, match="succeeded but was expected to fail"):
        sdk.decrypt(src, dst, "ztdf", expect_error=Refusal.TAMPER)


def test_expected_refusal_passes_and_another_class_carries_the_sdk_output(
    sdk: SDK, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTCOME", "refuse")
    src, dst = files(tmp_path)
    sdk.decrypt(src, dst, "ztdf", expect_error=Refusal.TAMPER)
    assert not dst.exists()
    with pytest.raises(RefusalMismatch, match="expected to refuse") as err:
        sdk.decrypt(src, dst, "ztdf", expect_error=Refusal.NOT_ENTITLED)
    cause = err.value.__cause__
    assert isinstance(cause, SdkError) and cause.returncode == 1
    assert "policy binding mismatch" in cause.stderr


def test_unexpected_failure_raises_and_success_does_not(
    sdk: SDK, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = files(tmp_path)
    monkeypatch.setenv("OUTCOME", "refuse")
    with pytest.raises(SdkError):
        sdk.decrypt(src, dst, "ztdf")
    monkeypatch.setenv("OUTCOME", "ok")
    sdk.decrypt(src, dst, "ztdf")
    assert dst.read_bytes() == b"ciphertext"


def test_discover_skips_scripts_that_are_not_executable(tmp_path: Path) -> None:
    dist = tmp_path / "sdks" / "plain" / "dist" / "2.0"
    dist.mkdir(parents=True)
    (dist / "cli.sh").write_text(SCRIPT)
    os.chmod(dist / "cli.sh", 0o644)
    assert discover(tmp_path / "sdks") == []


LEAKY = """#!/usr/bin/env bash
# a cli.sh that writes its output and then reports a tamper refusal: a leak
case $1 in
  supports) exit 0 ;;
esac
printf 'plaintext!' >"$3"
echo "tamper detected: policy binding mismatch" >&2
exit 1
"""


def test_a_refusal_that_left_output_behind_names_the_verb_and_the_file(
    sdk: SDK, tmp_path: Path
) -> None:
    sdk.path.write_text(LEAKY)
    src, dst = files(tmp_path)
    with pytest.raises(RefusalMismatch) as err:
        sdk.decrypt(src, dst, "ztdf", expect_error=Refusal.TAMPER)
    assert str(err.value).startswith(
        f"fake@1.0 decrypt exited 1, and left 10 bytes in {dst}: no plaintext may be released"
    )
    ct = tmp_path / "out.tdf"
    with pytest.raises(RefusalMismatch) as err:
        sdk.encrypt(src, ct, expect_error=Refusal.TAMPER)
    assert str(err.value).startswith(f"fake@1.0 encrypt exited 1, and left 10 bytes in {ct}")


def test_each_call_is_timed_under_its_verb_and_sdk(
    sdk: SDK, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xtdf.harness import timing

    timing.restart()
    monkeypatch.setenv("OUTCOME", "ok")
    src, dst = files(tmp_path)
    sdk.decrypt(src, dst, "ztdf")
    sdk.encrypt(src, tmp_path / "out.tdf")
    sdk.answer("a-feature-asked-once")
    assert timing.CLOCK.calls == {
        "sdk:decrypt:fake@1.0": 1,
        "sdk:encrypt:fake@1.0": 1,
        "sdk:supports:fake@1.0": 1,
    }


def test_output_that_is_not_utf8_is_kept_readable(sdk: SDK, tmp_path: Path) -> None:
    sdk.path.write_text("#!/usr/bin/env bash\nprintf 'bad \\xff byte' >&2\nexit 3\n")
    src, dst = files(tmp_path)
    with pytest.raises(SdkError) as err:
        sdk.decrypt(src, dst, "ztdf")
    assert err.value.stderr == "bad \ufffd byte" and err.value.returncode == 3
    assert str(err.value) == "fake@1.0 decrypt exited 3: bad \ufffd byte"
