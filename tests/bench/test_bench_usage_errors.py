"""Wrong options to the benchmarks are usage errors naming what is wrong, before any
platform starts or any result file is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xtdf.bench import __main__ as bench_all
from xtdf.bench import cli, kas, matrix


@pytest.mark.parametrize(
    ("main", "argv", "fragment"),
    [
        (cli.main, ["--sdks", "no-such-sdk"], "no SDK matches no-such-sdk; valid:"),
        (cli.main, ["--repeat", "0"], "--repeat must be at least 1"),
        (kas.main, ["--clients", "0"], "--clients needs numbers >= 1"),
        (kas.main, ["--clients", "eight"], "expected comma-separated whole numbers"),
        (kas.main, ["--transport", "grpc"], "invalid choice: 'grpc'"),
        (matrix.main, ["--workers", "two"], "--workers: expected -n values"),
        (bench_all.main, ["--only", "matrix,speed"], "unknown section(s) speed"),
        (bench_all.main, ["--matrix-workers", "2,two"], "--matrix-workers: expected -n values"),
        (matrix.main, ["--platform", "keycloak"], "invalid choice: 'keycloak'"),
    ],
)
def test_bad_option_is_a_usage_error(
    main: Callable[[list[str]], int],
    argv: list[str],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert fragment in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "a refused run must write nothing"
