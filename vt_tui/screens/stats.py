"""Statistics: latency figures per model x platform, terminal charts, regression flags."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from vt_core.records import PLATFORMS
from vt_tui import glyphs
from vt_tui.data import (
    RegressionFlags,
    StatRow,
    StatsData,
    TimePoint,
    latest_result_id,
    load_regression_flags,
    load_samples,
    load_statistics,
    load_timeline,
)
from vt_tui.screens.base import VtScreen
from vt_tui.widgets.charts import Chart

WIDE = 150
"""Terminal width from which the three charts sit side by side; below it one shows at a time."""
MAX_BAR_MODELS = 6
"""Models drawn in the grouped bar chart; more would be unreadable in a terminal."""
HISTOGRAM_BINS = 20
CHARTS = ("bars", "time", "histogram")


class StatsScreen(VtScreen):
    """Show latency statistics and charts; the charts follow the row under the cursor."""

    SCREEN_NAME = "Stats"
    HELP = (
        "One row per model, platform and settings (device, precision, batch size, weights source). "
        "The figures come from the timed iterations of the row's latest run, or with `p` from all "
        "its pass results pooled: median with the 95% interval of the median (order statistics), "
        "mean with the 95% interval of the mean (Student t), p90, p99, sample standard deviation, "
        "throughput (items per second over the timed loop) and peak memory (worker RSS above its "
        "baseline, median over the results). *Runs* counts the runs whose samples the row uses. A flag marks "
        "a regression that still stands, found by `vt_core.stats.find_regressions`: a step in the "
        "history larger than the threshold (5% by default) that a Mann-Whitney U test on the raw "
        "samples confirms. Charts: median per platform for up to six models, the median over time "
        "of the row under the cursor, and the histogram of its latest run's samples."
    )
    BINDINGS = [
        Binding("b", "chart('bars')", "Bars", tooltip="Median latency per platform, grouped by model"),
        Binding("t", "chart('time')", "Over time", tooltip="Median latency over time of the selected row"),
        Binding("h", "chart('histogram')", "Histogram", tooltip="Samples of the selected row's latest run"),
        Binding("p", "toggle_pooled", "Latest/all", tooltip="Figures from the latest run or from all runs pooled"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="Reload the statistics"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.data: StatsData | None = None
        self.chart = "bars"
        self.pooled = False
        self._flags: RegressionFlags | None = None
        """Regression flags of the current data version; None until detection finishes."""
        self._flags_problem: str | None = None
        self._flags_started = False
        self._wide: bool | None = None
        self._chart_key: tuple[str, str, str | None] | None = None

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="stats-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="stats-note")
        with Horizontal(id="stats-charts"):
            yield Chart(id="chart-bars")
            yield Chart(id="chart-time")
            yield Chart(id="chart-histogram")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#stats-note", Static).update("Loading statistics …")
        self.query_one("#stats-table", DataTable).focus()
        self._layout_charts()

    def load(self) -> None:
        self._flags = None
        self._flags_problem = None
        self._flags_started = False
        self._load_table()

    def _load_flags(self) -> None:
        """Start regression detection; it runs after the table because database reads take turns."""
        self._flags_started = True
        store = self.vt.services.store
        self.load_in_thread(lambda: load_regression_flags(store), self._show_flags, group="regressions",
                            on_problem=self._show_flags_problem)

    def _load_table(self) -> None:
        store = self.vt.services.store
        pooled = self.pooled
        self.load_in_thread(lambda: load_statistics(store, pooled=pooled), self._show)

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        if wide != self._wide:
            self._layout_charts()
            if self.data is not None:
                self._render_table()

    # -- table ---------------------------------------------------------------

    def _show(self, data: StatsData) -> None:
        if self._flags is not None:
            self._apply_flags(data, self._flags)
        elif self._flags_problem is not None:
            data.regressions = self._flags_problem
        self.data = data
        self._render_table()
        self._draw_bars()
        self._follow_cursor()
        if not self._flags_started:
            self._load_flags()

    def _render_table(self) -> None:
        table = self.query_one("#stats-table", DataTable)
        wide = self.size.width >= WIDE
        cursor = table.cursor_row
        table.clear(columns=True)
        if wide:
            columns = ["Model", "Platform", "Runs", "n", "Mean", "95% CI of mean", "Median", "p90", "p99", "Stdev",
                       "Items/s", "Memory", "Flag"]
        else:
            columns = ["Model", "Platform", "n", "Median", "p90", "±95% CI", "Flag"]
        # The line below the table repeats every figure of the row under the cursor, with its
        # settings and the interval of the median, which the columns leave out.
        widths = {"Platform": 8, "Runs": 4, "n": 4, "Mean": 8, "95% CI of mean": 17, "Median": 8, "p90": 8,
                  "p99": 8, "Stdev": 8, "Items/s": 7, "Memory": 8, "±95% CI": 8, "Flag": 12}
        model_width = max(self.size.width - sum(widths[c] + 2 for c in columns if c != "Model") - 5, 14)
        for name in columns:
            table.add_column(name, key=name, width=model_width if name == "Model" else widths[name])

        rows = self.data.rows if self.data else []
        for index, row in enumerate(rows):
            values = _cells(row, model_width)
            table.add_row(*(values[name] for name in columns), key=str(index))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self._update_note()

    def _update_note(self) -> None:
        rows = self.data.rows if self.data else []
        note = Text()
        if not rows:
            note.append("No measured runs yet. Start one with the launcher (2).", style="bold")
        else:
            note.append(f"{len(rows)} group(s) · figures from the {self.data.basis}", style="dim")
            flagged = sum(1 for row in rows if row.regression)
            if flagged:
                note.append(f" · {flagged} regression(s) flagged", style="bold red")
            selected = self._selected()
            if selected is not None:
                note.append("\n")
                note.append_text(_figures(selected))
        if self.data and self.data.regressions == "pending":
            note.append(" · checking for regressions …", style="dim")
        elif self.data and self.data.regressions != "done":
            note.append(f"\n{self.data.regressions}", style="yellow")
        self.query_one("#stats-note", Static).update(note)

    def show_problem(self, message: str) -> None:
        super().show_problem(message)
        self.query_one("#stats-note", Static).update(Text(message, style="bold red"))

    def _show_flags_problem(self, message: str) -> None:
        """Keep the table and show under it why the regression flags are missing."""
        self._flags_problem = message
        if self.data is not None:
            self.data.regressions = message
            self._update_note()

    def _show_flags(self, flags: RegressionFlags) -> None:
        self._flags = flags
        if self.data is not None:
            self._apply_flags(self.data, flags)
            self._render_table()

    @staticmethod
    def _apply_flags(data: StatsData, flags: RegressionFlags) -> None:
        for row in data.rows:
            row.regression = flags.get((row.model_id, row.platform, row.settings_key))
        data.regressions = "done"

    def _selected(self) -> StatRow | None:
        table = self.query_one("#stats-table", DataTable)
        if not self.data or not self.data.rows or not table.row_count:
            return None
        return self.data.rows[min(table.cursor_row, len(self.data.rows) - 1)]

    @on(DataTable.RowHighlighted, "#stats-table")
    def _row_highlighted(self) -> None:
        self._update_note()
        self._follow_cursor()

    # -- charts -----------------------------------------------------------------

    def _layout_charts(self) -> None:
        wide = self.size.width >= WIDE
        self._wide = wide
        for name in CHARTS:
            self.query_one(f"#chart-{name}").display = wide or name == self.chart

    def action_chart(self, name: str) -> None:
        self.chart = name
        self._layout_charts()

    def action_refresh(self) -> None:
        self.reload()

    def action_toggle_pooled(self) -> None:
        self.pooled = not self.pooled
        self._chart_key = None
        self._load_table()

    def _draw_bars(self) -> None:
        plot = self.query_one("#chart-bars", Chart)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        rows = [row for row in (self.data.rows if self.data else []) if row.median_s is not None]
        if not rows:
            _title(plot, "median per platform: no runs")
            plot.refresh()
            return

        models = list(dict.fromkeys(row.model_id for row in rows))
        shown = models[:MAX_BAR_MODELS]
        platforms = [p for p in PLATFORMS if any(r.platform == p for r in rows)]
        series = []
        for model in shown:
            # A model measured under several settings on one platform shows its first row's median.
            medians: dict[str, float] = {}
            for row in rows:
                if row.model_id == model and row.platform not in medians:
                    medians[row.platform] = row.median_s * 1e3
            # A platform without a measured run gets a zero-height bar, which draws nothing.
            series.append([medians.get(p, 0.0) for p in platforms])

        labels = [_short(m) for m in shown]
        if len(series) == 1:
            plt.bar(platforms, series[0], label=labels[0])
        else:
            plt.multiple_bar(platforms, series, labels=labels)
        more = f" ({len(shown)} of {len(models)} models)" if len(models) > len(shown) else ""
        _title(plot, f"median per platform, ms{more}")
        plot.refresh()

    def _follow_cursor(self) -> None:
        row = self._selected()
        if row is None:
            self._draw_time(None, [])
            self._draw_histogram(None, [])
            return
        key = (row.model_id, row.platform, row.settings_key)
        if key == self._chart_key:
            return
        self._chart_key = key
        store = self.vt.services.store

        def fetch() -> tuple[StatRow, list[TimePoint], list[float]]:
            timeline = load_timeline(store, row.model_id, row.platform, row.settings_key)
            result_id = latest_result_id(store, row.model_id, row.platform, row.settings_key)
            samples = load_samples(store, result_id) if result_id else []
            return row, timeline, samples

        self.load_in_thread(fetch, self._draw_row_charts, group="charts")

    def _draw_row_charts(self, data: tuple[StatRow, list[TimePoint], list[float]]) -> None:
        row, timeline, samples = data
        self._draw_time(row, timeline)
        self._draw_histogram(row, samples)

    def _draw_time(self, row: StatRow | None, timeline: list[TimePoint]) -> None:
        plot = self.query_one("#chart-time", Chart)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if row is None or not timeline:
            _title(plot, "median over time: no runs")
        else:
            xs = list(range(1, len(timeline) + 1))
            plt.plot(xs, [point.median_s * 1e3 for point in timeline], marker="dot" if glyphs.ASCII else "hd")
            ticks = sorted({0, len(timeline) // 2, len(timeline) - 1})
            plt.xticks([xs[i] for i in ticks], [timeline[i].timestamp.strftime("%m-%d %H:%M") for i in ticks])
            _title(plot, f"median over {len(timeline)} run(s), ms")
        plot.refresh()

    def _draw_histogram(self, row: StatRow | None, samples: list[float]) -> None:
        plot = self.query_one("#chart-histogram", Chart)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if row is None or not samples:
            _title(plot, "samples: none stored")
        else:
            plt.hist([s * 1e3 for s in samples], bins=HISTOGRAM_BINS)
            _title(plot, f"latest run: {len(samples)} samples, ms")
        plot.refresh()


def _cells(row: StatRow, model_width: int) -> dict[str, object]:
    ci = "—"
    half = "—"
    if row.ci95_low_s is not None and row.ci95_high_s is not None:
        ci = f"{glyphs.seconds(row.ci95_low_s)}–{glyphs.seconds(row.ci95_high_s)}"
        half = "±" + glyphs.seconds((row.ci95_high_s - row.ci95_low_s) / 2)
    median_ci = "—"
    if row.median_ci_low_s is not None and row.median_ci_high_s is not None:
        median_ci = f"{glyphs.seconds(row.median_ci_low_s)}–{glyphs.seconds(row.median_ci_high_s)}"
    flag = Text("")
    if row.regression:
        flag = Text(("! " if glyphs.ASCII else "▲ ") + row.regression, style="bold red")
    return {
        "Model": glyphs.fit_model(row.model_id, model_width),
        "Platform": row.platform, "Settings": row.settings_key or "—", "Runs": str(row.runs or 0),
        "n": str(row.n or 0), "Mean": glyphs.seconds(row.mean_s), "Median": glyphs.seconds(row.median_s),
        "p90": glyphs.seconds(row.p90_s), "p99": glyphs.seconds(row.p99_s), "Stdev": glyphs.seconds(row.stdev_s),
        "95% CI of mean": ci, "±95% CI": half, "Items/s": glyphs.number(row.throughput_per_s),
        "Memory": glyphs.megabytes(row.peak_rss_mb), "Flag": flag,
    }


def _figures(row: StatRow) -> Text:
    """Return every figure of one row on one line, for terminals too narrow for all columns."""
    text = Text()
    text.append(f"{row.model_id} on {row.platform}: ", style="bold")
    ci = "—"
    if row.ci95_low_s is not None and row.ci95_high_s is not None:
        ci = f"{glyphs.seconds(row.ci95_low_s)}–{glyphs.seconds(row.ci95_high_s)}"
    median_ci = "—"
    if row.median_ci_low_s is not None and row.median_ci_high_s is not None:
        median_ci = f"{glyphs.seconds(row.median_ci_low_s)}–{glyphs.seconds(row.median_ci_high_s)}"
    text.append(
        f"median {glyphs.seconds(row.median_s)} (95% CI {median_ci}) · mean {glyphs.seconds(row.mean_s)} "
        f"(95% CI {ci}) · p90 {glyphs.seconds(row.p90_s)} · p99 {glyphs.seconds(row.p99_s)} · "
        f"stdev {glyphs.seconds(row.stdev_s)} · {glyphs.number(row.throughput_per_s)} items/s · "
        f"memory {glyphs.megabytes(row.peak_rss_mb)} · n {row.n or 0} in {row.runs or 0} run(s) · "
        f"settings {row.settings_key or '—'}"
    )
    return text


def _title(plot: Chart, title: str) -> None:
    """Set a chart title cut to the chart's width; plotext drops a title that does not fit."""
    room = max(plot.size.width - 4, 10)
    plot.plt.title(title if len(title) <= room else title[: room - 1] + "…")


def _short(model_id: str) -> str:
    return model_id.rstrip("/").rsplit("/", 1)[-1]
