"""The HTML report in a real browser: headless Chromium (Debian's package, driven by
Playwright) opens the file a real run wrote, finds the grids, and clicks cells open.

``make test`` installs Chromium (``make browser``); the test skips, saying so, only where
there is no browser to drive. ``XTDF_CHROMIUM`` names another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.test_plugin import BETA_CLI, MATRIX

#: one worker builds the report and starts the browser once for both tests (make test's
#: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("report-browser")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (make test installs it)"
)


def _chromium() -> str:
    for candidate in (os.environ.get("XTDF_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no Chromium to drive (make browser installs Debian's chromium package)")
    return found


def _run(project: Path, *args: str, **env: str) -> str:
    """One run of the suite's plugin over the project, in its own process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "XTDF_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=project,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a real second run in which one cell broke, so it has changes."""
    project = tmp_path_factory.mktemp("matrix")
    (project / "pyproject.toml").write_text("[project]\nname='p'\n")
    for name, version in (("alpha", "v1"), ("alpha", "v2"), ("beta", "main")):
        cli = project / "sdk" / name / "dist" / version / "cli.sh"
        cli.parent.mkdir(parents=True)
        cli.write_text(BETA_CLI if name == "beta" else "#!/bin/sh\nexit 2\n")
        cli.chmod(0o755)
    (project / "conftest.py").write_text('pytest_plugins = ["xtdf.harness.plugin"]\n')
    (project / "test_m.py").write_text(MATRIX)
    args = ("--sdks=alpha@v1 alpha@v2 beta", "--containers=ztdf,nano")
    out = _run(project, *args)
    assert "15 passed, 2 skipped, 2 xfailed" in out, out
    out = _run(project, *args, XTDF_TEST_BREAK="1")
    assert "2 failed, 13 passed, 2 skipped, 2 xfailed" in out, out
    return project / ".xtdf" / "report.html"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=_chromium())
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, report: Path):
    pg = browser.new_page()
    fetched: list[str] = []
    pg.on("request", lambda r: fetched.append(r.url))
    pg.goto(report.as_uri())
    pg.wait_for_load_state("load")
    assert fetched == [report.as_uri()], f"the report fetched more than itself: {fetched}"
    yield pg
    pg.close()


def test_grids_are_there_and_a_cell_opens_its_tests(page) -> None:
    grids = page.locator("table.grid")
    assert [grids.nth(i).get_attribute("data-container") for i in range(grids.count())] == [
        "ztdf",
        "nano",
    ]
    ztdf = grids.first
    headers = ztdf.locator("thead th").all_inner_texts()
    assert [" ".join(h.split()) for h in headers[1:]] == ["alpha v1", "alpha v2", "beta main"]
    assert page.locator(".cell-detail:visible").count() == 0  # nothing open until a click

    # the known limit: alpha@v2 -> beta@main, one strict xfail
    cell = ztdf.locator("tbody tr").nth(1).locator("a.cell").nth(2)
    assert " ".join(cell.inner_text().split()) == "0/1 x1"
    cell.click()
    pane = page.locator(".cell-detail:visible")
    assert pane.count() == 1
    assert pane.locator("h3").inner_text() == "alpha@v2 -> beta@main [ztdf]"
    rows = pane.locator("tr.test")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-outcome") == "xfailed"
    assert "alpha@v2 writes no kid" in rows.first.inner_text()
    assert "selected" in (cell.get_attribute("class") or "").split()

    # another cell replaces it
    other = ztdf.locator("tbody tr").nth(0).locator("a.cell").nth(0)
    other.click()
    assert page.locator(".cell-detail:visible").count() == 1
    assert page.locator(".cell-detail:visible h3").inner_text() == "alpha@v1 -> alpha@v1 [ztdf]"
    assert "selected" not in (cell.get_attribute("class") or "").split()


def test_changed_cells_are_listed_first_and_open_with_the_sdk_output(page) -> None:
    changes = page.locator("#changed-cells > li > a")
    assert changes.all_inner_texts() == [
        "alpha@v1 -> beta@main [ztdf]",
        "alpha@v1 -> beta@main [nano]",
    ]
    assert page.locator("a.cell.changed").count() == 2
    # the change list comes before the grids on the page
    first_change = changes.first.bounding_box()
    first_grid = page.locator("table.grid").first.bounding_box()
    assert first_change is not None and first_grid is not None
    assert first_change["y"] < first_grid["y"]

    changes.first.click()
    pane = page.locator(".cell-detail:visible")
    assert pane.locator("h3").inner_text() == "alpha@v1 -> beta@main [ztdf]"
    assert "changed, was 1/1" in pane.inner_text()
    row = pane.locator("tr.test").first
    assert row.get_attribute("data-outcome") == "failed"
    assert "was passed" in row.inner_text()
    output = pane.locator("tr.output pre")
    assert output.is_visible()  # a failure's output is open without another click
    assert "beta: manifest rejected (<b>bold</b>)" in output.inner_text()
