"""Plotly figures: performance comparison, compatibility heatmap, time series, statistical analysis.

Every string that comes from the database goes through `html_text` before it
enters a figure, because Plotly renders labels, hover text and trace names as a
subset of HTML. Each trace carries `meta = {"family", "platform", ...}` so the
dashboard can filter traces without knowing how a figure was built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vt_core.plots import style
from vt_core.plots.data import ChartEntry, FigureData, chart_entries
from vt_core.records import PLATFORMS, STATES
from vt_core.reports import common
from vt_core.reports.common import html_text
from vt_core.reports.matrix import shorten

PERFORMANCE_COMPARISON = "performance-comparison"
COMPATIBILITY_HEATMAP = "compatibility-heatmap"
TIME_SERIES = "time-series"
STATISTICAL_ANALYSIS = "statistical-analysis"
FIGURE_KINDS = (PERFORMANCE_COMPARISON, COMPATIBILITY_HEATMAP, TIME_SERIES, STATISTICAL_ANALYSIS)
TITLES = {
    PERFORMANCE_COMPARISON: "Median latency per model and platform",
    COMPATIBILITY_HEATMAP: "Compatibility matrix",
    TIME_SERIES: "Latency over time",
    STATISTICAL_ANALYSIS: "Median and mean latency with 95% confidence intervals",
}

ROW_HEIGHT_PX = 26
"""Height of one model row in the heatmap."""
FAMILY_PANEL_HEIGHT_PX = 380


def build_figure(kind: str, data: FigureData, theme: str = "light") -> go.Figure:
    """Build the figure `kind` (one of FIGURE_KINDS) from `data`."""
    builders = {
        PERFORMANCE_COMPARISON: performance_comparison,
        COMPATIBILITY_HEATMAP: compatibility_heatmap,
        TIME_SERIES: time_series,
        STATISTICAL_ANALYSIS: statistical_analysis,
    }
    if kind not in builders:
        raise ValueError(f"figure {kind!r} is invalid; use one of {', '.join(FIGURE_KINDS)}")
    return builders[kind](data, style.check_theme(theme))


# -- helpers --------------------------------------------------------------------

def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def families_of(entries: list[ChartEntry]) -> list[str | None]:
    seen: list[str | None] = []
    for entry in entries:
        if entry.family not in seen:
            seen.append(entry.family)
    return seen


def ordered_platforms(names: set[str]) -> list[str]:
    return [p for p in PLATFORMS if p in names] + sorted(names - set(PLATFORMS))


def group_hover(entry: ChartEntry) -> str:
    """Return the escaped hover text of one chart entry: latency figures, runs, n and where it ran."""
    g = entry.group
    lines = [
        f"<b>{html_text(g['model_id'])}</b>",
        f"platform: {html_text(g['platform'])}  device: {html_text(g['device'] or 'default')}",
        f"task: {html_text(g['task'] or 'default')}",
        f"median: {common.fmt_ms(g['median_s'])} ms",
        "median 95% CI: " + (common.fmt_ci_ms(g["median_ci_low_s"], g["median_ci_high_s"]) + " ms"
                             if g["median_ci_low_s"] is not None else "n/a (fewer than 6 samples)"),
        f"mean: {common.fmt_ms(g['mean_s'])} ms",
        "mean 95% CI: " + (common.fmt_ci_ms(g["mean_ci_low_s"], g["mean_ci_high_s"]) + " ms"
                           if g["mean_ci_low_s"] is not None else "n/a (one sample)"),
        f"runs: {g['runs']}",
        f"n (samples): {g['n']}",
        f"weights: {html_text(g['weights_source'] or 'unknown')}  precision: {html_text(g['precision'] or 'f32')}"
        f"  batch: {g['batch_size'] or 1}",
        f"machine: {html_text(g['hostname'] or 'unknown')}",
    ]
    if entry.hidden_groups:
        lines.append(f"{entry.hidden_groups} other device or machine group(s) not shown; see the performance report")
    return "<br>".join(lines)


def no_data_figure(title: str, message: str, theme: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title=dict(text=title), template=style.TEMPLATES[theme], height=300,
        xaxis=dict(visible=False), yaxis=dict(visible=False),
        annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")],
    )
    return figure


def subtitle(data: FigureData) -> str:
    text = f"{html_text(data.db_path)}, generated {common.fmt_time(data.matrix.generated_at)} UTC"
    if data.matrix.has_synthetic:
        text += " · includes synthetic weights (latency representative, outputs not)"
    return f"<span style='font-size:12px'>{text}</span>"


def family_spacing(rows: int) -> float:
    """Return the vertical gap between family panels; Plotly caps it at 1 / (rows - 1)."""
    return 0.08 if rows <= 1 else min(0.08, 0.5 / (rows - 1))


# -- performance comparison -----------------------------------------------------

def performance_comparison(data: FigureData, theme: str) -> go.Figure:
    """Return grouped bars of median latency: one panel per family, one bar colour per platform.

    Error bars show the median's 95% interval; hover adds the mean, its interval,
    the run count and the sample count.
    """
    title = TITLES[PERFORMANCE_COMPARISON]
    entries = chart_entries(data.performance.groups)
    if not entries:
        return no_data_figure(title, "No timed results: no pass result has samples.", theme)

    families = families_of(entries)
    figure = make_subplots(
        rows=len(families), cols=1,
        subplot_titles=[html_text(common.family_label(f)) for f in families],
        vertical_spacing=family_spacing(len(families)),
    )
    legend_shown: set[str] = set()
    for row, family in enumerate(families, start=1):
        mine = [e for e in entries if e.family == family]
        for platform in ordered_platforms({e.platform for e in mine}):
            points = [e for e in mine if e.platform == platform]
            medians = [ms(e.group["median_s"]) for e in points]
            figure.add_trace(
                go.Bar(
                    x=[html_text(e.category) for e in points],
                    y=medians,
                    name=html_text(platform),
                    legendgroup=platform,
                    showlegend=platform not in legend_shown,
                    offsetgroup=platform,
                    marker_color=style.platform_color(platform),
                    error_y=dict(
                        type="data", symmetric=False,
                        array=[_gap(ms(e.group["median_ci_high_s"]), m) for e, m in zip(points, medians)],
                        arrayminus=[_gap(m, ms(e.group["median_ci_low_s"])) for e, m in zip(points, medians)],
                    ),
                    hovertext=[group_hover(e) for e in points],
                    hovertemplate="%{hovertext}<extra></extra>",
                    meta={"family": html_text(common.family_label(family)), "platform": platform},
                ),
                row=row, col=1,
            )
            legend_shown.add(platform)
        figure.update_yaxes(title_text="median latency (ms)", rangemode="tozero", row=row, col=1)

    figure.update_layout(
        title=dict(text=f"{title}<br>{subtitle(data)}"),
        barmode="group",
        template=style.TEMPLATES[theme],
        height=120 + FAMILY_PANEL_HEIGHT_PX * len(families),
        legend=dict(title=dict(text="platform")),
        margin=dict(t=110),
    )
    return figure


def _gap(high: float | None, low: float | None) -> float | None:
    if high is None or low is None:
        return None
    return max(high - low, 0.0)


# -- compatibility heatmap ------------------------------------------------------

def compatibility_heatmap(data: FigureData, theme: str) -> go.Figure:
    """Return the matrix as a heatmap: one panel per family, five colours with glyph and word in each cell."""
    title = TITLES[COMPATIBILITY_HEATMAP]
    families = data.matrix.families()
    row_counts = [len(rows) for _, rows in families]
    figure = make_subplots(
        rows=len(families), cols=1, shared_xaxes=True,
        row_heights=[count / sum(row_counts) for count in row_counts],
        vertical_spacing=min(0.02, family_spacing(len(families))),
    )
    labels_by_state = [common.state_label(s) for s in STATES]
    for index, (family, rows) in enumerate(families, start=1):
        several_tasks = _models_with_several_tasks(rows)
        y_labels = [
            html_text(row.model_id + (f" · {row.task or 'default task'}" if row.model_id in several_tasks else ""))
            for row in rows
        ]
        z = [[style.state_code(row.states[p]) for p in PLATFORMS] for row in rows]
        text = [[common.state_label(row.states[p], row.flagged.get(p, False)) for p in PLATFORMS] for row in rows]
        hover = [[_cell_hover(row, p) for p in PLATFORMS] for row in rows]
        figure.add_trace(
            go.Heatmap(
                z=z, x=list(PLATFORMS), y=y_labels, text=text, texttemplate="%{text}",
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                zmin=-0.5, zmax=len(STATES) - 0.5, colorscale=style.state_colorscale(theme),
                showscale=index == 1, xgap=2, ygap=2,
                colorbar=dict(
                    title=dict(text="state"), tickvals=list(range(len(STATES))), ticktext=labels_by_state,
                    lenmode="pixels", len=220, yanchor="top", y=1.0,
                ),
                name=html_text(common.family_label(family)),
                meta={"family": html_text(common.family_label(family))},
            ),
            row=index, col=1,
        )
        figure.update_yaxes(
            autorange="reversed", title=dict(text=f"<b>{html_text(common.family_label(family))}</b>"),
            row=index, col=1,
        )

    # Platform names label the top of the first panel only; the panels share the x axis.
    figure.update_xaxes(side="top", showticklabels=True, row=1, col=1)
    total_rows = sum(row_counts)
    figure.update_layout(
        title=dict(text=f"{title}<br>{subtitle(data)}"),
        template=style.TEMPLATES[theme],
        height=200 + ROW_HEIGHT_PX * total_rows + 60 * len(families),
        margin=dict(t=140),
    )
    return figure


def _models_with_several_tasks(rows: list[Any]) -> set[str]:
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.model_id] = seen.get(row.model_id, 0) + 1
    return {model for model, count in seen.items() if count > 1}


def _cell_hover(row: Any, platform: str) -> str:
    state = row.states[platform]
    lines = [
        f"<b>{html_text(row.model_id)}</b>",
        f"task: {html_text(row.task or 'default')}",
        f"platform: {html_text(platform)}",
        f"state: {html_text(common.state_label(state, row.flagged.get(platform, False)))}",
    ]
    if platform in row.error_types:
        lines.append(f"error type: {html_text(row.error_types[platform])}")
    if platform in row.error_messages:
        lines.append(f"error: {html_text(shorten(row.error_messages[platform], 160))}")
    if row.flagged.get(platform):
        lines.append("from a mock or simulated legacy run")
    lines.append(f"weights: {html_text(row.weights_label)}")
    lines.append(f"last tested: {common.fmt_time(row.last_tested) or 'never'}")
    return "<br>".join(lines)


# -- time series ----------------------------------------------------------------

def series_models(data: FigureData) -> list[tuple[str | None, str, str | None]]:
    """Return the (family, model, task) of every latency series, in display order."""
    keys = {(p["family"], p["model_id"], p["task"]) for p in data.time_series}
    return sorted(keys, key=lambda k: (k[0] is None, common.family_label(k[0]).lower(), k[1], k[2] or ""))


def model_label(model_id: str, task: str | None) -> str:
    return f"{model_id} · {task}" if task else model_id


def time_series(data: FigureData, theme: str, *, with_menu: bool = True) -> go.Figure:
    """Return latency over time: per model, one line with markers per platform, with a range slider.

    A point is one run's median latency. A series longer than the
    `max_points` of `queries.time_series_points` shows one point per time bucket
    instead: the median of its run medians, with the run count in the hover text.
    Only one model shows at a time. `with_menu` adds a dropdown to switch models;
    its buttons use method `skip` and `MODEL_MENU_SCRIPT` restyles the traces, so the
    file stays small with hundreds of models. Each trace's `meta.model` is the
    index of its model in `series_models`.
    """
    title = TITLES[TIME_SERIES]
    models = series_models(data)
    if not models:
        return no_data_figure(title, "No timed results: no pass result has samples.", theme)
    model_index = {key: i for i, key in enumerate(models)}

    series: dict[tuple, list[dict[str, Any]]] = {}
    for point in data.time_series:
        key = (point["family"], point["model_id"], point["task"], point["platform"], point["settings_key"])
        series.setdefault(key, []).append(point)
    per_platform: dict[tuple, int] = {}
    for family, model_id, task, platform, _ in series:
        per_platform[(family, model_id, task, platform)] = per_platform.get((family, model_id, task, platform), 0) + 1

    traces: list[dict[str, Any]] = []
    ordered = sorted(series, key=lambda k: (model_index[k[:3]], _platform_rank(k[3]), k[4] or ""))
    for key in ordered:
        family, model_id, task, platform, settings_key = key
        points = series[key]
        name = platform
        if per_platform[(family, model_id, task, platform)] > 1:
            name = f"{platform} · {settings_key or 'default settings'}"
        index = model_index[(family, model_id, task)]
        color = style.platform_color(platform)
        traces.append(
            dict(
                type="scatter",
                # numpy arrays skip Plotly's per-element validation and serialize compactly,
                # which matters with hundreds of thousands of points.
                # Milliseconds since the epoch: a date axis reads them as UTC times, and a
                # float64 array travels base64-encoded (Plotly does not encode int64 arrays).
                x=np.array([p["point_time"] for p in points], dtype="datetime64[ms]").astype(np.int64).astype(np.float64),
                y=np.array([p["median_s"] for p in points], dtype=float) * 1000.0,
                customdata=np.array([[p["runs"], p["samples"]] for p in points], dtype=np.int32),
                mode="lines+markers",
                name=html_text(name),
                legendgroup=platform,
                line=dict(color=color),
                marker=dict(color=color, size=7),
                hovertemplate=_series_hover_template(points[0]),
                visible=index == 0,
                meta={"family": html_text(common.family_label(family)), "platform": platform, "model": index},
            )
        )
    # One Figure call validates each trace once; add_trace per trace would validate twice.
    figure = go.Figure(data=traces)

    layout: dict[str, Any] = dict(
        title=dict(text=f"{title}: {html_text(model_label(models[0][1], models[0][2]))}<br>{subtitle(data)}"),
        template=style.TEMPLATES[theme],
        height=560,
        xaxis=dict(title=dict(text="time (UTC)"), type="date", rangeslider=dict(visible=True)),
        yaxis=dict(title=dict(text="median latency per run (ms)"), rangemode="tozero"),
        showlegend=True,
        legend=dict(title=dict(text="platform")),
        margin=dict(t=160 if with_menu and len(models) > 1 else 120),
    )
    if with_menu and len(models) > 1:
        layout["updatemenus"] = [dict(
            type="dropdown", direction="down", x=0.0, xanchor="left", y=1.02, yanchor="bottom", active=0,
            buttons=[
                dict(label=html_text(model_label(model_id, task)), method="skip", args=[index])
                for index, (_, model_id, task) in enumerate(models)
            ],
        )]
    figure.update_layout(**layout)
    return figure


def _platform_rank(platform: str) -> int:
    return PLATFORMS.index(platform) if platform in PLATFORMS else len(PLATFORMS)


def template_text(value: Any) -> str:
    """Return `html_text(value)` with braces as entities, so a name cannot form a `%{...}` hover placeholder."""
    return html_text(value).replace("{", "&#123;").replace("}", "&#125;")


def _series_hover_template(point: dict[str, Any]) -> str:
    """Return the hover template of one series; `customdata` contains [runs, samples] per point."""
    lines = [
        f"<b>{template_text(point['model_id'])}</b>",
        f"platform: {template_text(point['platform'])}  device: {template_text(point['device'] or 'default')}",
        "time: %{x|%Y-%m-%d %H:%M:%S} UTC",
        "median: %{y:.2f} ms (runs: %{customdata[0]})",
        "n (samples): %{customdata[1]}",
        f"weights: {template_text(point['weights_source'] or 'unknown')}",
    ]
    return "<br>".join(lines) + "<extra></extra>"


MODEL_MENU_SCRIPT = """
var gd = document.getElementById('{plot_id}');
var labels = (gd.layout.updatemenus || [{buttons: []}])[0].buttons.map(function (b) { return b.label; });
gd.on('plotly_buttonclicked', function (event) {
  var model = event.button.args[0];
  Plotly.restyle(gd, {visible: gd.data.map(function (t) { return t.meta.model === model; })});
  var title = gd.layout.title.text.split('<br>');
  title[0] = title[0].split(': ')[0] + ': ' + labels[model];
  Plotly.relayout(gd, {'title.text': title.join('<br>')});
});
"""
"""Model switch of the standalone time-series page: Plotly formats `{plot_id}`."""


# -- statistical analysis -------------------------------------------------------

def statistical_analysis(data: FigureData, theme: str) -> go.Figure:
    """Return median (top) and mean (bottom) latency per model and platform with 95% CI error bars.

    Both come from the pooled raw samples of each group; hover shows n.
    """
    title = TITLES[STATISTICAL_ANALYSIS]
    entries = chart_entries(data.performance.groups)
    if not entries:
        return no_data_figure(title, "No timed results: no pass result has samples.", theme)

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=(
            "Median, 95% CI between order statistics (needs at least 6 samples)",
            "Mean, 95% Student t-interval",
        ),
    )
    legend_shown: set[str] = set()
    for family in families_of(entries):
        mine = [e for e in entries if e.family == family]
        for platform in ordered_platforms({e.platform for e in mine}):
            points = [e for e in mine if e.platform == platform]
            _add_statistics_traces(figure, family, platform, points, show_legend=platform not in legend_shown)
            legend_shown.add(platform)
    figure.update_yaxes(title_text="median (ms)", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text="mean (ms)", rangemode="tozero", row=2, col=1)
    figure.update_layout(
        title=dict(text=f"{title}<br>{subtitle(data)}"),
        template=style.TEMPLATES[theme],
        scattermode="group",
        height=760,
        legend=dict(title=dict(text="platform")),
        margin=dict(t=120),
    )
    return figure


def _add_statistics_traces(figure: go.Figure, family: str | None, platform: str, points: list[ChartEntry],
                           *, show_legend: bool) -> None:
    """Add the median trace (row 1) and the mean trace (row 2) of one family and platform."""
    family_text = html_text(common.family_label(family))
    x = [[family_text] * len(points), [html_text(e.category) for e in points]]
    hover = [group_hover(e) for e in points]
    statistics = (("median_s", "median_ci_low_s", "median_ci_high_s"), ("mean_s", "mean_ci_low_s", "mean_ci_high_s"))
    for row, (center, low, high) in enumerate(statistics, start=1):
        values = [ms(e.group[center]) for e in points]
        figure.add_trace(
            go.Scatter(
                x=x, y=values, mode="markers",
                name=html_text(platform), legendgroup=platform, showlegend=show_legend and row == 1,
                offsetgroup=platform,
                marker=dict(color=style.platform_color(platform), size=9, symbol="circle" if row == 1 else "diamond"),
                error_y=dict(
                    type="data", symmetric=False,
                    array=[_gap(ms(e.group[high]), v) for e, v in zip(points, values)],
                    arrayminus=[_gap(v, ms(e.group[low])) for e, v in zip(points, values)],
                ),
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                meta={"family": family_text, "platform": platform, "statistic": center[:-2]},
            ),
            row=row, col=1,
        )
