"""The static HTML leaderboard page: escaped, self-contained, and rendered by a real headless browser.

The browser tests load the pages from disk in Debian's Chromium (``apt-get install -y chromium``;
``.ci/run`` installs it when missing). Without Chromium they are skipped, saying how to install it;
with ``NAS_HARNESS_REQUIRE_BROWSER=1`` (``.ci/run`` exports it) they fail instead, so CI never skips them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from nas_harness.cli import main
from nas_harness.report.cells import format_cell
from nas_harness.report.page import png_size, render_index, render_study_page
from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers.boards import EVIL_LABEL, publish_toy_board
from tests.helpers.studies import TOY_PLUGINS, toy_config

CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"
#: set to 1 where the browser tests must run (CI): a missing Chromium then fails them instead of skipping
REQUIRE_BROWSER = "NAS_HARNESS_REQUIRE_BROWSER"
ROOT = Path(__file__).resolve().parents[1]
#: a laptop screen: the page must fit it without scrolling sideways
LAPTOP_WIDTH = 1280

#: appended to a copy of a page: reports what the browser rendered into a <pre id="probe"> (the page has no script)
SAMPLES = 256
PROBE = """<script>
const SAMPLES = SAMPLES_VALUE;
window.addEventListener("load", () => {
  const root = document.documentElement;
  const width = () => ({scroll: root.scrollWidth, client: root.clientWidth, inner: window.innerWidth});
  const closed = width();  // as a reader first sees it: the full tables folded away in <details>
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const opened = width();
  const images = [...document.images].map((img) => {
    let pixels = [];
    try {  // the decoded pixels at SAMPLES evenly spaced positions (row-major), RGBA
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d"); ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const step = Math.floor(canvas.width * canvas.height / SAMPLES);
      for (let k = 0; k < SAMPLES; k++) pixels.push([...data.slice(4 * k * step, 4 * k * step + 4)]);
    } catch (e) { pixels = String(e); }
    const box = img.getBoundingClientRect();
    return {figure: img.closest("figure") ? img.closest("figure").id : "", complete: img.complete,
            width: img.naturalWidth, height: img.naturalHeight, shown_width: box.width, pixels: pixels};
  });
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    id: t.id, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0, shown_width: t.getBoundingClientRect().width,
  }));
  const probe = document.createElement("pre");
  probe.id = "probe";
  const bars = [...document.querySelectorAll("#leaderboard tbody tr")].map((tr) => tr.querySelectorAll("svg").length);
  probe.textContent = JSON.stringify({images, tables, bars, closed, opened, scripts: document.scripts.length,
                                      title: document.title});
  document.body.appendChild(probe);
});
</script>""".replace("SAMPLES_VALUE", str(SAMPLES))


def browser_required() -> bool:
    """Whether :data:`REQUIRE_BROWSER` says the browser tests must run ('1'/'true'/'yes'; unset, '' or '0': no)."""
    value = os.environ.get(REQUIRE_BROWSER, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    pytest.fail(f"{REQUIRE_BROWSER}={os.environ[REQUIRE_BROWSER]!r}; expected 1 (browser tests must run) or 0")


def find_chromium() -> str:
    """The Chromium binary; when it is not installed the browser tests are skipped with the install hint,
    or fail where :func:`browser_required` (CI)."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    message = (
        "Chromium is not installed: the HTML leaderboard page is checked in a real headless browser. "
        f"Install it with `{CHROMIUM_INSTALL}` (Debian/Ubuntu, as root; .ci/run does this when it is missing)."
    )
    if browser_required():
        pytest.fail(f"{message} {REQUIRE_BROWSER}=1 requires it.")
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def test_missing_chromium_skips_the_browser_tests_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for value in (None, "", "0"):
        if value is None:
            monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
        else:
            monkeypatch.setenv(REQUIRE_BROWSER, value)
        with pytest.raises(pytest.skip.Exception, match=re.escape(CHROMIUM_INSTALL)):
            find_chromium()


def test_missing_chromium_fails_the_browser_tests_where_they_are_required(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    with pytest.raises(pytest.fail.Exception, match=re.escape(CHROMIUM_INSTALL)):
        find_chromium()
    monkeypatch.setenv(REQUIRE_BROWSER, "maybe")
    with pytest.raises(pytest.fail.Exception, match="NAS_HARNESS_REQUIRE_BROWSER='maybe'; expected 1"):
        find_chromium()
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/chromium")
    assert find_chromium() == "/usr/bin/chromium"  # installed: no decision to make


def test_ci_requires_the_browser_tests_before_running_them():
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert f"export {REQUIRE_BROWSER}=1" in lines
    assert lines.index(f"export {REQUIRE_BROWSER}=1") < lines.index("python -m pytest")


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after Chromium loaded it from disk (headless, no network) in a laptop-sized window."""
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         f"--window-size={LAPTOP_WIDTH},800", "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    assert "<body" in done.stdout, f"chromium printed no DOM; stderr: {done.stderr[-2000:]}"
    return done.stdout


class Tables(HTMLParser):
    """Cell texts of every table in a document: {table id: [[cell, ...], ...]} (body rows only)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def probe(chromium: str, page: Path, tmp_path: Path) -> dict:
    """Load a copy of ``page`` (beside it, so relative links still work) with the probe script appended."""
    copy = page.with_name("probe-" + page.name)
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        dom = dump_dom(chromium, copy, tmp_path / "profile")
    finally:
        copy.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found, "the probe did not run: the page did not finish loading"
    return json.loads(unescape(found.group(1)))


def file_pixels(path: Path) -> list[list[int]]:
    """The pixels the probe samples, decoded from the PNG file with Pillow."""
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    step = rgba.width * rgba.height // SAMPLES
    return [list(rgba.getpixel(((k * step) % rgba.width, (k * step) // rgba.width))) for k in range(SAMPLES)]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    return publish_toy_board(tmp_path_factory.mktemp("html"))


# -- in the browser ------------------------------------------------------------------------
def test_browser_renders_the_tables_with_the_published_numbers(chromium, board, tmp_path):
    _, folder = board
    dom = dump_dom(chromium, folder / "index.html", tmp_path / "profile")
    rendered = parse_tables(dom)["estimators"]
    published = pd.read_csv(folder / "estimators.csv", keep_default_na=False, na_values=[""], dtype={"estimator": str})
    assert len(rendered) == len(published) == 4
    columns = list(published.columns)
    for column in ("estimator", "kendall_tau", "tau_ci_low", "n_archs", "failures"):
        shown = [row[columns.index(column)] for row in rendered]
        assert shown == [format_cell(v) for v in published[column].tolist()], column
    assert {r[columns.index("estimator")] for r in rendered} == {"toy.good", "toy.inverse", "toy.nan", EVIL_LABEL}
    assert not math.isnan(float(rendered[0][columns.index("kendall_tau")]))
    provenance = dict(parse_tables(dom)["provenance"])
    assert provenance["study"] == "toy" and provenance["seeds"] == "[0, 1]"


def test_browser_decodes_and_shows_every_plot(chromium, board, tmp_path):
    _, folder = board
    report = probe(chromium, folder / "index.html", tmp_path)
    images = {img["figure"]: img for img in report["images"]}
    assert set(images) == {"plot-tradeoff", "plot-scatter", "plot-tau_history"}, report["images"]
    for name, img in images.items():
        path = folder / f"{name.removeprefix('plot-')}.png"
        assert img["complete"] and (img["width"], img["height"]) == png_size(path.read_bytes()), img
        assert img["shown_width"] > 100, img  # laid out on the page, not collapsed
        expected = file_pixels(path)
        assert len({tuple(p) for p in expected}) > 1, f"{path} is blank"
        assert img["pixels"] == expected, f"{name}: the browser's pixels are not the plot file's"
    tables = {t["id"]: t for t in report["tables"]}
    assert tables["leaderboard"]["rows"] == 4 and tables["leaderboard"]["shown_width"] > 100
    assert tables["estimators"]["rows"] == 4 and tables["estimators"]["shown_width"] > 100  # its <details> opened
    # the only script is the probe: the malicious label stayed text, it did not become markup
    assert report["scripts"] == 1 and report["title"] != "pwned", report


def test_browser_renders_the_index_of_study_pages(chromium, board, tmp_path):
    _, folder = board
    other = folder.parent / "a<b>&c"
    other.mkdir()
    (other / "index.html").write_text("<!DOCTYPE html><html><body>other</body></html>")
    index = folder.parent / "index.html"
    try:
        index.write_text(render_index(folder.parent), encoding="utf-8")
        dom = dump_dom(chromium, index, tmp_path / "profile")
    finally:
        shutil.rmtree(other)
        index.write_text(render_index(folder.parent), encoding="utf-8")
    rows = parse_tables(dom)["studies"]
    assert [r[0] for r in rows] == ["a<b>&c", "toy"]
    assert rows[1][1:3] == ["toy.bench", "4"]
    links = re.findall(r'href="([^"]+)"', dom)
    assert links == ["a%3Cb%3E%26c/index.html", "toy/index.html"]  # relative links, quoted as URLs


@pytest.fixture(scope="module")
def judged_board(tmp_path_factory):
    """A toy board judged against a reference, with a long label: what the compact table must fit."""
    tmp_path = tmp_path_factory.mktemp("judged")
    estimators = [
        {"name": "toy.tunable", "label": "ref", "options": {"noise": 30.0}},
        {"name": "toy.tunable", "label": "better", "options": {"noise": 25.0}},
        {"name": "toy.tunable", "label": "worse", "options": {"noise": 35.0}},
        {"name": "toy.good", "label": "toy.good-" + "with-a-very-long-label-" * 6},
        {"name": "toy.nan"},
    ]
    cfg = toy_config(tmp_path, estimators, seeds=[0, 1], sample_size=40, bootstrap=200, reference="ref")
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)
    return Path(cfg.leaderboard_dir) / cfg.name


def test_browser_compact_table_matches_the_csv_and_the_page_fits_a_laptop_screen(chromium, judged_board, tmp_path):
    folder = judged_board
    dom = dump_dom(chromium, folder / "index.html", tmp_path / "profile")
    compact = parse_tables(dom)["leaderboard"]
    published = pd.read_csv(folder / "estimators.csv", keep_default_na=False, na_values=[""], dtype={"estimator": str})
    assert [row[0] for row in compact] == published.estimator.tolist()  # the same rows, best tau first
    assert [row[1] for row in compact] == [format_cell(v) for v in published.kendall_tau]
    bounds = zip(published.tau_ci_low, published.tau_ci_high, strict=True)
    assert [row[2] for row in compact] == [f"{format_cell(lo)} to {format_cell(hi)}" for lo, hi in bounds]
    verdicts = dict(zip(published.estimator, published.vs_reference.fillna(""), strict=True))
    assert {row[0]: row[4] for row in compact} == verdicts
    assert verdicts["ref"] == "" and verdicts["better"] == "beats" and verdicts["worse"] == "worse"
    assert [row[5] for row in compact] == [format_cell(v) for v in published.spearman]
    assert [row[7] for row in compact] == [format_cell(v) for v in published.failures]
    full = parse_tables(dom)["estimators"]  # every column is still on the page, folded away
    assert len(full) == len(published) and len(full[0]) == len(published.columns)
    assert '<details id="estimators-all">' in dom

    report = probe(chromium, folder / "index.html", tmp_path)
    assert report["closed"]["inner"] == LAPTOP_WIDTH, report["closed"]
    for state in ("closed", "opened"):  # no horizontal scroll, also with the full table unfolded
        assert report[state]["scroll"] <= report[state]["client"], (state, report[state])
    tables = {t["id"]: t for t in report["tables"]}
    assert 100 < tables["leaderboard"]["shown_width"] <= report["closed"]["client"]
    assert report["bars"] == [1] * len(published)  # one interval bar per row


# -- the page's text -----------------------------------------------------------------------
def test_malicious_labels_are_escaped_everywhere():
    evil = '<script>alert("x")</script>'
    frame = pd.DataFrame([{"estimator": evil, "kendall_tau": 0.5, "note": "a & b"}])
    html = render_study_page(
        f"study {evil}",
        {"estimators": frame, f"searchers{evil}": frame},
        {"plugins": {evil: "1.0"}, "config": evil},
        plot_errors={evil: f"ValueError: {evil}"},
        downloads=[f'x"{evil}.csv'],
    )
    assert "<script" not in html
    assert html.count("&lt;script&gt;") >= 7
    assert "a &amp; b" in html
    assert parse_tables(html)["estimators"][0][:2] == [evil, "0.5"]  # the text a reader sees is the label itself


def test_page_is_self_contained_and_written_by_default(board):
    _, folder = board
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources, "no images or links found"
    for source in sources:  # images inline, links only to the leaderboard's own files
        assert source.startswith("data:image/png;base64,") or not re.match(r"[a-z]+:", source), source
    assert sum(s.startswith("data:image/png") for s in sources) == 3
    assert "estimators.csv" in sources and "../index.html" in sources
    assert "toy/index.html" in (folder.parent / "index.html").read_text(encoding="utf-8")


def test_cli_leaderboard_html_writes_the_page_of_a_stored_study(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(
        f"""
[study]
name = "cli-page"
sample_size = 12
bootstrap = 20
output = "{tmp_path / "run"}"
leaderboard_dir = "{tmp_path / "boards"}"

[benchmark]
name = "nb201.digits"

[[estimators]]
name = "baselines.random"
""",
        encoding="utf-8",
    )
    assert main(["run", str(config), "--no-progress", "--no-plots"]) == 0
    assert not list((tmp_path / "boards" / "cli-page").glob("*.png"))
    assert main(["leaderboard", str(tmp_path / "run"), "--html", "--out", str(tmp_path / "published")]) == 0
    page = tmp_path / "published" / "cli-page" / "index.html"
    assert page.is_file() and (tmp_path / "published" / "index.html").is_file()
    assert "baselines.random" in page.read_text(encoding="utf-8")
    assert {p.name for p in page.parent.glob("*.png")} == {"tradeoff.png", "scatter.png"}
    assert f"wrote {page}" in capsys.readouterr().err
