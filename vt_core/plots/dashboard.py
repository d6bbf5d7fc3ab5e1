"""The dashboard: every figure on one self-contained HTML page with family, platform and model filters.

The page embeds plotly.js once, draws the four figures, and a short inline
script restyles trace visibility from each trace's `meta` (family, platform,
model index) when a filter changes. The heatmap has no platform traces, so only
the family filter applies to it.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.io as pio

from vt_core.plots import figures, style
from vt_core.plots.data import FigureData
from vt_core.records import PLATFORMS
from vt_core.reports import common
from vt_core.reports.common import html_text
from vt_core.reports.matrix import FAILURE_HEADER, failure_rows, summary_cells, summary_header

FAILURE_ROWS_SHOWN = 200

PLOT_CONFIG = {"displaylogo": False, "responsive": True}

FILTER_SCRIPT = """
(function () {
  function readJson(id) { return JSON.parse(document.getElementById(id).textContent); }
  var families = readJson('vt-families');
  var models = readJson('vt-models');
  var familySelect = document.getElementById('vt-family');
  var modelSelect = document.getElementById('vt-model');
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name="vt-platform"]'));

  function plots() { return Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot')); }

  function fillModels() {
    var family = familySelect.value === '' ? null : families[Number(familySelect.value)];
    var current = modelSelect.value;
    while (modelSelect.firstChild) { modelSelect.removeChild(modelSelect.firstChild); }
    models.forEach(function (m) {
      if (family !== null && m.family !== family) { return; }
      var option = document.createElement('option');
      option.value = String(m.index);
      option.textContent = m.label;
      modelSelect.appendChild(option);
    });
    if (Array.prototype.some.call(modelSelect.options, function (o) { return o.value === current; })) {
      modelSelect.value = current;
    }
  }

  function apply() {
    var family = familySelect.value === '' ? null : families[Number(familySelect.value)];
    var model = modelSelect.value === '' ? -1 : Number(modelSelect.value);
    var platforms = {};
    boxes.forEach(function (box) { platforms[box.value] = box.checked; });
    plots().forEach(function (gd) {
      if (!gd.data || gd.data.length === 0) { return; }
      var visible = gd.data.map(function (trace) {
        var meta = trace.meta || {};
        if (family !== null && meta.family !== undefined && meta.family !== family) { return false; }
        if (meta.platform !== undefined && platforms[meta.platform] === false) { return false; }
        if (meta.model !== undefined && meta.model !== model) { return false; }
        return true;
      });
      Plotly.restyle(gd, {visible: visible});
    });
  }

  familySelect.addEventListener('change', function () { fillModels(); apply(); });
  modelSelect.addEventListener('change', apply);
  boxes.forEach(function (box) { box.addEventListener('change', apply); });
  window.addEventListener('load', function () {
    fillModels();
    apply();
    window.vtDashboardReady = true;
  });
})();
"""


def json_island(element_id: str, value: Any) -> str:
    """Return a `<script type="application/json">` block; `<`, `>` and `&` are escaped so no data can end the block."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def failures_section(data: FigureData) -> str:
    """Return the table of fail and mismatch cells with their error text, at most FAILURE_ROWS_SHOWN rows."""
    rows = failure_rows(data.matrix)
    if not rows:
        return ""
    head = "".join(f"<th>{html_text(h)}</th>" for h in FAILURE_HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in cells) + "</tr>" for cells in rows[:FAILURE_ROWS_SHOWN]
    )
    more = ""
    if len(rows) > FAILURE_ROWS_SHOWN:
        more = f'<p class="muted">{len(rows) - FAILURE_ROWS_SHOWN} more in the compatibility matrix report.</p>'
    return (
        '<section id="section-failures"><h2>Failures and mismatches</h2>'
        f'<table class="failures"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}</section>'
    )


def dashboard_html(data: FigureData, theme: str = "light") -> str:
    """Return the full dashboard page."""
    from plotly.offline import get_plotlyjs

    theme = style.check_theme(theme)
    colors = style.PAGE_COLORS[theme]
    built = {
        kind: (figures.time_series(data, theme, with_menu=False) if kind == figures.TIME_SERIES
               else figures.build_figure(kind, data, theme))
        for kind in figures.FIGURE_KINDS
    }
    families = [html_text(common.family_label(family)) for family, _ in data.matrix.families()]
    models = [
        {"index": index, "family": html_text(common.family_label(family)), "label": figures.model_label(model_id, task)}
        for index, (family, model_id, task) in enumerate(figures.series_models(data))
    ]

    family_options = ['<option value="">all families</option>'] + [
        f'<option value="{index}">{label}</option>' for index, label in enumerate(families)
    ]
    platform_boxes = [
        f'<label><input type="checkbox" name="vt-platform" value="{p}" checked> '
        f'<span class="swatch" style="background:{style.platform_color(p)}"></span>{p}</label>'
        for p in PLATFORMS
    ]
    summary = data.matrix.summary()
    summary_rows = "".join(
        "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in summary_cells(p, s)) + "</tr>"
        for p, s in summary.items()
    )
    summary_head = "".join(f"<th>{html_text(h)}</th>" for h in summary_header())
    notes = []
    if data.matrix.has_synthetic:
        notes.append("Some results ran with synthetic weights (real architecture, random weights): "
                     "latency and memory are representative, outputs are not.")
    if data.matrix.excluded_flagged:
        notes.append(f"{data.matrix.excluded_flagged} result(s) from mock or simulated runs are excluded.")

    sections = [failures_section(data)]
    for kind in figures.FIGURE_KINDS:
        div = pio.to_html(built[kind], full_html=False, include_plotlyjs=False, div_id=f"vt-{kind}",
                          config=PLOT_CONFIG)
        extra = ""
        if kind == figures.TIME_SERIES:
            extra = '<p class="controls"><label>model <select id="vt-model"></select></label></p>'
        sections.append(f'<section id="section-{kind}"><h2>{html_text(figures.TITLES[kind])}</h2>{extra}{div}</section>')

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vt-tui dashboard</title>
<style>
body {{ background: {colors['background']}; color: {colors['text']}; font-family: system-ui, sans-serif; margin: 1.5rem; }}
.muted {{ color: {colors['muted']}; }}
.controls {{ background: {colors['panel']}; padding: 0.6rem 0.8rem; border-radius: 6px; }}
.controls label {{ margin-right: 1rem; white-space: nowrap; }}
.swatch {{ display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; border-radius: 2px; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; }}
td, th {{ padding: 0.2rem 0.7rem; border-bottom: 1px solid {colors['muted']}; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
table.failures td, table.failures th {{ text-align: left; }}
section {{ margin-top: 1.5rem; }}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<h1>vt-tui dashboard</h1>
<p class="muted">Database {html_text(data.db_path)} · generated {common.fmt_time(data.matrix.generated_at)} UTC ·
{len(data.matrix.rows)} model/task rows · {len(data.performance.groups)} timed groups</p>
{''.join(f'<p>{html_text(n)}</p>' for n in notes)}
<table><thead><tr>{summary_head}</tr></thead><tbody>{summary_rows}</tbody></table>
<p class="muted">{html_text("Tested = pass + mismatch + fail; pass rate = pass / tested.")}</p>
<div class="controls" id="vt-filters">
<label>family <select id="vt-family">{''.join(family_options)}</select></label>
{''.join(platform_boxes)}
<span class="muted">(the platform filter does not apply to the heatmap)</span>
</div>
{''.join(sections)}
{json_island('vt-families', families)}
{json_island('vt-models', models)}
<script type="text/javascript">{FILTER_SCRIPT}</script>
</body>
</html>
"""
