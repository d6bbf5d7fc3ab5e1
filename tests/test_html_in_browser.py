"""Open every HTML figure and the dashboard in headless Chromium and check what renders.

The pages load from file:// URLs with no network, which also proves they are
self-contained (plotly.js embedded).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reports_fixtures import CLIP, EVIL, EVIL_ERROR, build_known_db
from vt_core import plots
from vt_core.plots import figures
from vt_core.records import PLATFORMS

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
PLOTS_RENDERED = "n => { const p = document.querySelectorAll('.js-plotly-plot'); " \
                 "return p.length >= n && Array.from(p).every(gd => gd._fullLayout); }"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Return {kind: path} of every figure and the dashboard written as HTML."""
    folder = tmp_path_factory.mktemp("html")
    known = build_known_db(folder)
    data = plots.load_figure_data(known.store)
    written = plots.write_figures(data, folder / "out", dashboard=True)
    return {path.name.split("-2")[0]: path for path in written}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS,
        )
        yield context
        context.close()


class LoadedPage:
    """A page opened from a file with every console error, page error and network request recorded."""

    def __init__(self, context, path: Path, plot_count: int) -> None:
        self.errors: list[str] = []
        self.remote_requests: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: None if request.url.startswith(("file:", "data:", "blob:"))
                     else self.remote_requests.append(request.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_function(PLOTS_RENDERED, arg=plot_count, timeout=30_000)

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def trace_names(self) -> list[list[str]]:
        return self.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                             ".map(gd => gd.data.map(t => t.name))")


@pytest.fixture()
def open_page(browser):
    opened: list[LoadedPage] = []

    def _open(path: Path, plot_count: int = 1) -> LoadedPage:
        loaded = LoadedPage(browser, path, plot_count)
        opened.append(loaded)
        return loaded

    yield _open
    for loaded in opened:
        loaded.page.close()


@pytest.mark.parametrize("kind", [*figures.FIGURE_KINDS, "dashboard"])
def test_page_renders_cleanly(pages, open_page, kind):
    expected_plots = len(figures.FIGURE_KINDS) if kind == "dashboard" else 1

    loaded = open_page(pages[kind], expected_plots)

    assert loaded.errors == []
    assert loaded.remote_requests == []
    assert loaded.evaluate("() => document.querySelectorAll('.js-plotly-plot').length") == expected_plots
    assert loaded.evaluate("() => document.querySelectorAll('.plot-container').length") == expected_plots
    assert loaded.evaluate("() => typeof window.__vtInjected") == "undefined"


@pytest.mark.parametrize("kind", [figures.PERFORMANCE_COMPARISON, figures.STATISTICAL_ANALYSIS, figures.TIME_SERIES])
def test_traces_named_by_platform(pages, open_page, kind):
    loaded = open_page(pages[kind])

    names = loaded.trace_names()[0]
    assert names
    assert set(names) <= set(PLATFORMS)
    assert {"cpu", "rocm", "openvino", "webnn"} <= set(names)


def test_heatmap_shows_markup_as_text(pages, open_page):
    loaded = open_page(pages[figures.COMPATIBILITY_HEATMAP])

    labels = loaded.evaluate("() => Array.from(document.querySelectorAll('g.yaxislayer-above text')).map(e => e.textContent)")
    assert EVIL in labels
    assert CLIP in labels
    injected = "() => Array.from(document.scripts).filter(s => s.textContent.trim().startsWith('window.__vt')).length"
    assert loaded.evaluate(injected) == 0
    cells = loaded.evaluate("() => Array.from(document.querySelectorAll('.heatmaplayer text')).map(e => e.textContent)")
    assert "✓ pass" in cells
    assert "⊘ unavailable" in cells


def test_heatmap_hover_shows_error_as_text(pages, open_page):
    loaded = open_page(pages[figures.COMPATIBILITY_HEATMAP])

    # Plotly draws hover labels for real pointer events only, so move the mouse onto the cell.
    position = loaded.evaluate(
        """() => {
            const gd = document.querySelector('.js-plotly-plot');
            const trace = gd.data.find(t => t.y.some(label => label.includes('vtInjected')));
            const row = trace.y.findIndex(label => label.includes('vtInjected'));
            const xaxis = gd._fullLayout['xaxis' + (trace.xaxis || 'x').slice(1)];
            const yaxis = gd._fullLayout['yaxis' + (trace.yaxis || 'y').slice(1)];
            const box = gd.getBoundingClientRect();
            return {x: box.left + xaxis._offset + xaxis.l2p(0), y: box.top + yaxis._offset + yaxis.l2p(row)};
        }"""
    )
    loaded.page.mouse.move(position["x"], position["y"])
    loaded.page.wait_for_function("() => document.querySelector('.hoverlayer').textContent.length > 0")
    hover = loaded.evaluate("() => document.querySelector('.hoverlayer').textContent")

    assert EVIL in hover
    assert EVIL_ERROR in hover
    assert loaded.evaluate("() => typeof window.__vtInjected") == "undefined"
    assert loaded.evaluate("() => document.querySelectorAll('.hoverlayer img, .hoverlayer script').length") == 0


def test_time_series_menu_switches_model(pages, open_page):
    loaded = open_page(pages[figures.TIME_SERIES])

    state = loaded.evaluate(
        """() => {
            const gd = document.querySelector('.js-plotly-plot');
            const target = gd.layout.updatemenus[0].buttons.findIndex(b => b.label.startsWith('openai/'));
            gd.emit('plotly_buttonclicked', {button: gd.layout.updatemenus[0].buttons[target]});
            return {
                target: target,
                shown: gd.data.filter(t => t.visible === true).map(t => t.meta.model),
                names: gd.data.filter(t => t.visible === true).map(t => t.name),
                title: gd.layout.title.text,
            };
        }"""
    )
    assert state["shown"] and set(state["shown"]) == {state["target"]}
    assert sorted(state["names"]) == ["cpu", "openvino", "rocm"]
    assert state["title"].startswith(f"Latency over time: {CLIP}")


def test_dashboard_filters(pages, open_page):
    loaded = open_page(pages["dashboard"], len(figures.FIGURE_KINDS))
    loaded.page.wait_for_function("() => window.vtDashboardReady === true")

    loaded.page.select_option("#vt-family", label="BLIP")
    families = loaded.evaluate(
        """() => {
            const gd = document.getElementById('vt-performance-comparison');
            return gd.data.filter(t => t.visible !== false).map(t => t.meta.family);
        }"""
    )
    assert families == ["BLIP"]

    loaded.page.select_option("#vt-family", value="")
    loaded.page.uncheck('input[name="vt-platform"][value="cpu"]')
    platforms = loaded.evaluate(
        """() => {
            const gd = document.getElementById('vt-statistical-analysis');
            return gd.data.filter(t => t.visible !== false).map(t => t.meta.platform);
        }"""
    )
    assert platforms
    assert "cpu" not in platforms
    assert loaded.errors == []


def test_dashboard_model_select(pages, open_page):
    loaded = open_page(pages["dashboard"], len(figures.FIGURE_KINDS))
    loaded.page.wait_for_function("() => window.vtDashboardReady === true")

    options = loaded.evaluate("() => Array.from(document.querySelectorAll('#vt-model option')).map(o => o.textContent)")
    assert any(option.startswith(EVIL) for option in options)
    loaded.page.select_option("#vt-model", label=next(o for o in options if o.startswith(CLIP)))
    names = loaded.evaluate(
        """() => {
            const gd = document.getElementById('vt-time-series');
            return gd.data.filter(t => t.visible !== false).map(t => t.name);
        }"""
    )
    assert sorted(names) == ["cpu", "openvino", "rocm"]


def test_dashboard_failure_table_is_text(pages, open_page):
    loaded = open_page(pages["dashboard"], len(figures.FIGURE_KINDS))

    cells = loaded.evaluate("() => Array.from(document.querySelectorAll('table.failures td')).map(e => e.textContent)")
    assert EVIL in cells
    assert EVIL_ERROR in cells
    assert loaded.evaluate("() => document.querySelectorAll('table.failures img').length") == 0
    assert loaded.evaluate("() => typeof window.__vtInjected") == "undefined"


def test_chromium_is_the_system_browser():
    assert shutil.which("chromium") == CHROMIUM or Path(CHROMIUM).exists()


def test_time_series_hover_shows_utc_time(pages, open_page):
    loaded = open_page(pages[figures.TIME_SERIES])

    # The first visible trace's first point; x contains milliseconds since the epoch.
    position = loaded.evaluate(
        """() => {
            const gd = document.querySelector('.js-plotly-plot');
            const trace = gd._fullData.find(t => t.visible === true);
            const box = gd.getBoundingClientRect();
            const xaxis = gd._fullLayout.xaxis, yaxis = gd._fullLayout.yaxis;
            return {x: box.left + xaxis._offset + xaxis.l2p(trace.x[0]), y: box.top + yaxis._offset + yaxis.l2p(trace.y[0])};
        }"""
    )
    loaded.page.mouse.move(position["x"], position["y"])
    loaded.page.wait_for_function("() => document.querySelector('.hoverlayer').textContent.length > 0")
    hover = loaded.evaluate("() => document.querySelector('.hoverlayer').textContent")

    assert "time: 2025-03-0" in hover
    assert "UTC" in hover
    assert "n (samples): " in hover
