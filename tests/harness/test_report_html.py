"""The HTML report rendered from a grid: self-contained, escaped, changes first, every
cell linked to its tests, and the charts drawn from the run's statistics."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from xtdf.harness import grid, html_report
from xtdf.harness.grid import CellKey, TestResult

HOSTILE = "<script>alert('x')</script> & \"quoted\""
DATA = {
    "wall_seconds": 12.5,
    "cache": {
        "total": {"hits": 5, "misses": 2, "produced": 2, "distinct_keys": 2},
        "workers": {
            "gw0": {"hits": 3, "misses": 1, "waits": 0, "produced": 1, "keys": ["a"]},
            "gw1": {"hits": 2, "misses": 1, "waits": 1, "produced": 1, "keys": ["b"]},
        },
    },
    "time": {
        "seconds": {
            "sdk:encrypt:py@main": 2.0,
            "sdk:decrypt:py@main": 3.0,
            "sdk:decrypt:js@2.0.0": 1.5,
            "sdk:supports:js@2.0.0": 0.25,
            "platform:start": 1.0,
        },
        "calls": {"sdk:encrypt:py@main": 2},
        "sdk_seconds": 6.75,
        "platform_seconds": 1.0,
        "worker_seconds": 25.0,
        "workers": 2,
        "overhead_share": 0.69,
    },
}
META = {"command": "pytest -n 2", "directory": "/x/xtest", "finished": "now"}


class Page(HTMLParser):
    """Every element's tag and attributes, and the text under each id'd element."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_by_id: dict[str, list[str]] = {}
        self._open: list[str | None] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag not in ("meta", "br", "input", "rect", "img", "link"):
            self._open.append(a.get("id"))
            if a.get("id"):
                self.text_by_id[a["id"]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("meta", "br", "input", "rect", "img", "link") and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for i in self._open:
            if i:
                self.text_by_id[i].append(data)

    def text(self, id_: str) -> str:
        return " ".join("".join(self.text_by_id[id_]).split())


def result(name: str, outcome: str, enc: str, dec: str, **kw: object) -> TestResult:
    key = CellKey(kw.pop("platform", "embedded"), "ztdf", enc, dec)  # type: ignore[arg-type]
    return TestResult(f"test_m.py::{name}[{enc}-{dec}]", outcome, key=key, **kw)  # type: ignore[arg-type]


def sample() -> grid.Matrix:
    now = [
        result("rt", "passed", "py@main", "py@main", duration=0.5),
        result(
            "rt",
            "failed",
            "py@main",
            "js@2.0.0",
            duration=1.25,
            reason=HOSTILE,
            output="--- stderr ---\njs said: bad manifest",
        ),
        result(
            "rt",
            "xfailed",
            "js@2.0.0",
            "py@main",
            reason="js cannot parse kid",
            output="SdkError: js decrypt exited 1",
        ),
        result("rt", "passed", "js@2.0.0", "js@2.0.0", platform="go"),
        TestResult("test_nano.py::test_magic", "passed"),
    ]
    previous = {now[1].nodeid: "passed", now[2].nodeid: "xfailed"}
    return grid.build(now, previous)


@pytest.fixture
def page(tmp_path: Path) -> tuple[str, Page]:
    out = tmp_path / "report.html"
    html_report.write(out, sample(), DATA, META)
    text = out.read_text()
    return text, Page(text)


def test_report_is_one_file_with_no_external_reference(page: tuple[str, Page]) -> None:
    text, p = page
    tags = {t for t, _ in p.elements}
    assert "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not [a for t, a in p.elements if "src" in a], "no element loads anything"
    hrefs = [a["href"] for t, a in p.elements if "href" in a]
    assert hrefs and all(h.startswith("#") for h in hrefs), hrefs
    assert "http://" not in text.replace("http://localhost", "") and "https://" not in text
    assert "@import" not in text and "url(" not in text


def test_arbitrary_text_is_escaped(page: tuple[str, Page]) -> None:
    text, _ = page
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quoted&#34;" in text
    assert text.count("<script>") == 1  # the report's own few lines


def test_changed_cells_come_first_and_link_to_their_tests(page: tuple[str, Page]) -> None:
    _, p = page
    order = [a["id"] for _, a in p.elements if a.get("id") in ("changes", "grids")]
    assert order == ["changes", "grids"]
    assert p.text("changed-cells") == (
        "py@main -> js@2.0.0 [ztdf]: 1/1 → 0/1 F1 rt[py@main-js@2.0.0]: passed → failed"
    )
    (link,) = [
        a
        for t, a in p.elements
        if t == "a" and a.get("data-cell") and "cell" not in a.get("class", "")
    ]
    cell = next(
        a
        for t, a in p.elements
        if t == "a" and a.get("href") == link["href"] and "cell" in a.get("class", "").split()
    )
    assert "changed" in cell["class"].split() and "st-failed" in cell["class"].split()


def test_every_cell_opens_a_list_of_its_tests(page: tuple[str, Page]) -> None:
    _, p = page
    cells = [a for t, a in p.elements if t == "a" and "cell" in a.get("class", "").split()]
    assert len(cells) == 4
    details = {a["id"] for t, a in p.elements if "cell-detail" in a.get("class", "")}
    assert {c["href"][1:] for c in cells} == details
    failed = next(c["href"][1:] for c in cells if "st-failed" in c["class"])
    text = p.text(failed)
    assert "rt[py@main-js@2.0.0]" in text and "failed" in text and "1.25" in text
    assert "<script>alert('x')</script>" in text  # the reason, as text
    assert "js said: bad manifest" in text  # the SDK's output
    xfailed = next(c["href"][1:] for c in cells if "st-xfailed" in c["class"])
    assert "js cannot parse kid" in p.text(xfailed)
    assert "SdkError: js decrypt exited 1" in p.text(xfailed)


def test_grids_per_platform_and_tests_outside_the_matrix(page: tuple[str, Page]) -> None:
    _, p = page
    grids = [
        a["data-container"] for t, a in p.elements if t == "table" and "grid" in a.get("class", "")
    ]
    assert grids == ["ztdf", "ztdf"]
    assert "Platform: embedded" in p.text("grids") and "Platform: go" in p.text("grids")
    assert "test_nano.py::test_magic" in p.text("others")


def test_charts_are_inline_svg_from_the_stats(page: tuple[str, Page]) -> None:
    _, p = page
    assert [a["aria-label"] for t, a in p.elements if t == "svg"] == [
        "cache hits, misses and waits per worker",
        "seconds per SDK and verb",
    ]
    cache = p.text("cache")
    # one bar per SDK, its segments titled by verb, its total at its end
    assert "js@2.0.0 decrypt: 1.50 s" in cache and "js@2.0.0 supports: 0.25 s" in cache
    assert "py@main encrypt: 2.00 s" in cache and "1.8 s" in cache and "5.0 s" in cache
    assert "gw1" in cache and "6.75 s in SDK processes" in cache


def test_bar_chart_scales_to_the_longest_bar() -> None:
    chart = html_report.bar_chart([("a", {"x": 1.0, "y": 1.0}), ("b", {"x": 4.0})], ["x", "y"])
    a, b = chart["bars"]
    assert [s["w"] for s in b["segments"]] == [420.0]
    assert [s["w"] for s in a["segments"]] == [105.0, 105.0]
    assert a["segments"][1]["x"] == a["segments"][0]["x"] + 105.0
    assert html_report.sdk_timing({"time": {"seconds": {"platform:start": 1}}}) is None


def test_a_report_path_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.mkdir()  # a directory where the file should go
    with pytest.raises(OSError):
        html_report.write(target, sample(), DATA, META)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
