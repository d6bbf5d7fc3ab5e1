"""Plotly figures, their export and the `vt-tui viz` command, on a database with known results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports_fixtures import BLIP, CLIP, EVIL, EVIL_ERROR, SIGLIP, build_known_db
from vt_core import plots, reports
from vt_core.cli import UsageError, viz
from vt_core.plots import figures, style
from vt_core.plots.dashboard import dashboard_html
from vt_core.records import PLATFORMS, STATES
from vt_core.reports import queries


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    return build_known_db(tmp_path_factory.mktemp("plots"))


@pytest.fixture(scope="module")
def data(known):
    return plots.load_figure_data(known.store)


def viz_main(argv: list[str]) -> int:
    """Run `vt-tui ARGV` through the real command line."""
    from vt_core.cli import main

    return main(argv)


def traces_of(figure, family_label):
    return [t for t in figure.data if t.meta and t.meta.get("family") == family_label]


def group_of(data, model_id, platform):
    return next(g for g in data.performance.groups if g["model_id"] == model_id and g["platform"] == platform)


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from all_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from all_strings(item)


# -- figures --------------------------------------------------------------------

def test_performance_comparison_traces(data):
    figure = figures.build_figure(figures.PERFORMANCE_COMPARISON, data)

    clip = traces_of(figure, "CLIP")
    assert [t.name for t in clip] == ["cpu", "rocm", "openvino", "webnn"]
    assert [t.marker.color for t in clip] == [style.PLATFORM_COLORS[p] for p in ("cpu", "rocm", "openvino", "webnn")]
    assert [t.name for t in traces_of(figure, "BLIP")] == ["cpu"]
    assert [t.name for t in traces_of(figure, "siglip")] == ["cpu"]
    assert [t.name for t in figure.data if t.showlegend] == ["cpu", "rocm", "openvino", "webnn"]
    assert figure.layout.barmode == "group"


def test_performance_comparison_values(data, known):
    figure = figures.build_figure(figures.PERFORMANCE_COMPARISON, data)
    cpu = traces_of(figure, "CLIP")[0]
    group = group_of(data, CLIP, "cpu")

    assert cpu.x == (CLIP,)
    assert cpu.y[0] == pytest.approx(np.median(known.samples[(CLIP, "cpu")]) * 1000)
    assert cpu.error_y.array[0] == pytest.approx((group["median_ci_high_s"] - group["median_s"]) * 1000)
    assert cpu.error_y.arrayminus[0] == pytest.approx((group["median_s"] - group["median_ci_low_s"]) * 1000)
    assert "runs: 2" in cpu.hovertext[0]
    assert "median 95% CI:" in cpu.hovertext[0]


def test_heatmap_states(data):
    figure = figures.build_figure(figures.COMPATIBILITY_HEATMAP, data)
    clip = traces_of(figure, "CLIP")[0]
    row = list(clip.y).index(CLIP)

    assert list(clip.x) == list(PLATFORMS)
    assert list(clip.z[row]) == [STATES.index(s) for s in ("pass", "fail", "pass", "untested", "mismatch",
                                                          "unavailable", "untested")]
    assert clip.text[row][1] == "✗ fail"
    assert clip.text[row][5] == "⊘ unavailable"
    assert "error type: out_of_memory" in clip.hovertext[row][1]
    assert [t.name for t in figure.data] == ["BLIP", "CLIP", "siglip"]


def test_heatmap_escapes_model_and_error(data):
    figure = figures.build_figure(figures.COMPATIBILITY_HEATMAP, data)
    clip = traces_of(figure, "CLIP")[0]
    row = [i for i, label in enumerate(clip.y) if "vtInjected" in label][0]

    assert clip.y[row] == "&lt;script&gt;window.__vtInjected=1&lt;/script&gt;|evil*"
    assert "&lt;img src=x onerror=&#34;window.__vtInjected=2&#34;&gt;" in clip.hovertext[row][0]


def test_statistical_analysis_intervals(data, known):
    figure = figures.build_figure(figures.STATISTICAL_ANALYSIS, data)
    clip = traces_of(figure, "CLIP")
    median_cpu = next(t for t in clip if t.name == "cpu" and t.meta["statistic"] == "median")
    mean_cpu = next(t for t in clip if t.name == "cpu" and t.meta["statistic"] == "mean")
    samples = np.array(known.samples[(CLIP, "cpu")])
    group = group_of(data, CLIP, "cpu")

    assert median_cpu.y[0] == pytest.approx(np.median(samples) * 1000)
    assert mean_cpu.y[0] == pytest.approx(samples.mean() * 1000)
    assert mean_cpu.error_y.array[0] == pytest.approx((group["mean_ci_high_s"] - group["mean_s"]) * 1000)
    assert "n (samples): 22" in median_cpu.hovertext[0]
    assert figure.layout.scattermode == "group"


def test_statistical_analysis_small_n_has_no_bar(data):
    figure = figures.build_figure(figures.STATISTICAL_ANALYSIS, data)
    rocm = next(t for t in traces_of(figure, "CLIP") if t.name == "rocm" and t.meta["statistic"] == "median")

    assert rocm.error_y.array[0] is None
    assert "fewer than 6 samples" in rocm.hovertext[0]


def test_time_series_one_point_per_run(data, known):
    figure = figures.build_figure(figures.TIME_SERIES, data)
    models = figures.series_models(data)
    clip_index = next(i for i, (_, model_id, _) in enumerate(models) if model_id == CLIP)
    clip = [t for t in figure.data if t.meta["model"] == clip_index]
    cpu = next(t for t in clip if t.name == "cpu")
    first_run = known.samples[(CLIP, "cpu")][:10]

    assert sorted(t.name for t in clip) == ["cpu", "openvino", "rocm"]
    assert len(cpu.x) == 2
    assert cpu.y[0] == pytest.approx(np.median(first_run) * 1000)
    assert cpu.mode == "lines+markers"
    assert figure.layout.xaxis.rangeslider.visible is True
    assert [t.visible for t in figure.data].count(True) == len([t for t in figure.data if t.meta["model"] == 0])
    assert len(figure.layout.updatemenus[0].buttons) == len(models)


def test_time_series_buckets_long_series(known):
    with known.store.connect(read_only=True) as con:
        points = queries.time_series_points(con, False, max_points=1)

    cpu = [p for p in points if p["model_id"] == CLIP and p["platform"] == "cpu"]
    assert len(cpu) == 1
    assert cpu[0]["runs"] == 2
    assert cpu[0]["samples"] == 22


@pytest.mark.parametrize("kind", figures.FIGURE_KINDS)
def test_figures_carry_no_raw_markup(data, kind):
    figure = figures.build_figure(kind, data)

    for text in all_strings(figure.to_plotly_json()):
        assert "<script" not in text
        assert "<img" not in text


def test_figures_dark_theme(data):
    figure = figures.build_figure(figures.COMPATIBILITY_HEATMAP, data, theme="dark")

    assert figure.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
    with pytest.raises(ValueError, match="theme 'neon' is invalid"):
        figures.build_figure(figures.COMPATIBILITY_HEATMAP, data, theme="neon")


def test_dashboard_page(data):
    page = dashboard_html(data)

    for kind in figures.FIGURE_KINDS:
        assert f'id="vt-{kind}"' in page
    assert "<script>window.__vtInjected" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;window.__vtInjected=1&lt;/script&gt;|evil*" in page
    assert '<option value="0">BLIP</option>' in page
    assert page.count('<input type="checkbox" name="vt-platform"') == len(PLATFORMS)
    assert "Failures and mismatches" in page


# -- writing files -------------------------------------------------------------

def test_write_figures_html(data, tmp_path):
    written = plots.write_figures(data, tmp_path, dashboard=True)

    assert len(written) == 5
    assert all(p.suffix == ".html" and p.exists() for p in written)
    text = written[0].read_text()
    assert "<script src=" not in text  # plotly.js is embedded, nothing loads from a CDN
    assert "plotly.js v" in text


def test_write_figures_rejects_unknown_format(data, tmp_path):
    with pytest.raises(ValueError, match="export format 'gif' is invalid"):
        plots.write_figures(data, tmp_path, formats=("gif",))


@pytest.mark.browser
def test_png_export_size(data, tmp_path):
    written = plots.write_figures(data, tmp_path, kinds=[figures.COMPATIBILITY_HEATMAP, figures.TIME_SERIES],
                                  formats=("png",))

    assert [p.suffix for p in written] == [".png", ".png"]
    for path, kind in zip(written, [figures.COMPATIBILITY_HEATMAP, figures.TIME_SERIES]):
        expected_height = figures.build_figure(kind, data).layout.height
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (style.STATIC_WIDTH_PX, expected_height)
    assert not list(tmp_path.glob(".vt-export-*"))


@pytest.mark.browser
def test_svg_and_pdf_export(data, tmp_path):
    written = plots.write_figures(data, tmp_path, kinds=[figures.PERFORMANCE_COMPARISON], formats=("svg", "pdf"))

    svg, pdf = written
    assert svg.read_text().lstrip().startswith("<svg")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_static_export_without_browser(data, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))

    with pytest.raises(plots.ExportError, match="no-such-chromium") as caught:
        plots.write_figures(data, tmp_path, kinds=[figures.TIME_SERIES], formats=("html", "png"))

    assert [p.suffix for p in caught.value.written] == [".html"]
    assert caught.value.written[0].exists()


@pytest.mark.browser
def test_export_all_writes_full_set(known, tmp_path):
    written = reports.export_all(known.store, tmp_path / "export")

    names = sorted(p.name.split("-2")[0] + p.suffix for p in written)
    assert names == sorted([
        "compatibility-matrix.md", "compatibility-matrix.json", "compatibility-matrix.csv",
        "performance-report.md", "performance-report.json", "performance-report.csv",
        *(f"{kind}{ext}" for kind in figures.FIGURE_KINDS for ext in (".html", ".png")),
        "dashboard.html",
    ])
    assert all(p.exists() for p in written)


# -- the viz command -----------------------------------------------------------------

def test_viz_all_html(known, tmp_path, capsys):
    status = viz_main(["viz", "--all", "--db", str(known.store.path), "--output-dir", str(tmp_path)])

    out = capsys.readouterr().out.split()
    assert status == 0
    assert len(out) == 5
    assert sorted(Path(p).name.split("-2")[0] for p in out) == sorted([*figures.FIGURE_KINDS, "dashboard"])


def test_viz_one_figure_dark(known, tmp_path, capsys):
    status = viz_main(["viz", "--compatibility-heatmap", "--theme", "dark", "--db", str(known.store.path),
                       "--output-dir", str(tmp_path)])

    out = capsys.readouterr().out.split()
    assert status == 0
    assert len(out) == 1
    assert '"template":{"data"' in Path(out[0]).read_text()
    assert "rgb(17,17,17)" in Path(out[0]).read_text()


def test_viz_browser_without_display(known, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(viz.sys, "platform", "linux")

    status = viz_main(["viz", "--dashboard", "--browser", "--db", str(known.store.path), "--output-dir", str(tmp_path)])

    captured = capsys.readouterr()
    assert status == 0
    assert "no display ($DISPLAY unset); open these files in a browser:" in captured.err
    assert captured.out.strip() in captured.err


def test_viz_empty_database(tmp_path, capsys):
    db = tmp_path / "empty.duckdb"

    status = viz_main(["viz", "--all", "--db", str(db), "--output-dir", str(tmp_path / "out")])

    assert status == 1
    assert f"no results in DB {db}; run `vt-tui run ...` or import with `vt-tui db --import-results DIR`" in (
        capsys.readouterr().err
    )


def test_viz_unknown_option(capsys):
    with pytest.raises(SystemExit) as caught:
        viz_main(["viz", "--all", "--bogus"])

    assert caught.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_viz_bad_theme(capsys):
    with pytest.raises(SystemExit):
        viz_main(["viz", "--all", "--theme", "neon"])

    assert "invalid choice: 'neon'" in capsys.readouterr().err


def test_viz_without_figure(known, capsys):
    status = viz_main(["viz", "--db", str(known.store.path)])

    assert status == 2
    assert "vt-tui: error: no figure selected; add one or more of --performance-comparison" in capsys.readouterr().err


def test_viz_bad_export_format(known, capsys):
    status = viz_main(["viz", "--all", "--export-format", "html,gif", "--db", str(known.store.path)])

    assert status == 2
    assert "--export-format 'gif' is invalid; use one or more of html, png, svg, pdf" in capsys.readouterr().err


def test_viz_selection_raises_usage_error():
    args = argparse.Namespace(all=False, dashboard=False, **{flag: False for flag in viz.FIGURE_FLAGS})

    with pytest.raises(UsageError, match="no figure selected"):
        viz.selected_figures(args)


def test_viz_json_of_models_is_escaped(data):
    page = dashboard_html(data)
    island = page.split('id="vt-models">', 1)[1].split("</script>", 1)[0]

    models = json.loads(island)
    assert any(m["label"].startswith(EVIL) for m in models)
    assert "<" not in island
    assert {m["label"].split(" · ")[0] for m in models} >= {CLIP, BLIP, SIGLIP}
    assert EVIL_ERROR not in page


def test_viz_loads_no_model_library(known, tmp_path):
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from vt_core.cli import main\n"
        f"status = main(['viz', '--all', '--db', {str(known.store.path)!r}, '--output-dir', {str(tmp_path)!r}])\n"
        "print('LOADED', status, sorted(m for m in ('torch', 'transformers', 'openvino', 'textual') if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)

    assert "LOADED 0 []" in completed.stdout, completed.stderr
