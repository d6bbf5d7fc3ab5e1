"""Runs of one model on one platform: errors in full, latency statistics, reference comparison."""

from __future__ import annotations

import json

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from vt_tui import glyphs
from vt_tui.data import RunRecord, load_cell_runs
from vt_tui.screens.base import VtScreen


class CellScreen(VtScreen):
    """List the runs of one matrix cell and show the one under the cursor in full."""

    SCREEN_NAME = "Runs"
    HELP = (
        "The newest runs of one model on one platform. The lower pane shows the run under the "
        "cursor: the full error text, latency statistics from its samples (95% CI of the mean, "
        "t-distribution), memory, and the output difference against the PyTorch CPU reference."
    )
    BINDINGS = [Binding("escape", "back", "Back", tooltip="Return to the matrix")]

    def __init__(self, model_id: str, platform: str) -> None:
        super().__init__()
        self.model_id = model_id
        self.platform = platform
        self.records: dict[str, RunRecord] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble((self.model_id, "bold"), " on ", (self.platform, "bold")), id="cell-title")
        yield DataTable(id="cell-runs", cursor_type="row")
        with VerticalScroll(id="cell-detail"):
            yield Static("Loading runs …", id="cell-detail-text")

    def on_mount(self) -> None:
        super().on_mount()
        runs = self.query_one("#cell-runs", DataTable)
        # Fixed widths: the rows arrive from a worker, and auto widths would follow the first rows drawn.
        for label, width in (("When", 19), ("State", 10), ("Error", 18), ("Median", 8), ("n", 4), ("Device", 8),
                             ("Source", 9)):
            runs.add_column(label, key=label, width=width)
        runs.focus()

    def load(self) -> None:
        store = self.vt.services.store
        self.load_in_thread(lambda: load_cell_runs(store, self.model_id, self.platform), self._show)

    def _show(self, records: list[RunRecord]) -> None:
        self.records = {r.result_id: r for r in records}
        runs = self.query_one("#cell-runs", DataTable)
        runs.clear()
        if not records:
            self.query_one("#cell-detail-text", Static).update(
                f"No runs of {self.model_id} on {self.platform} yet: untested."
            )
            return
        for record in records:
            runs.add_row(
                record.timestamp.strftime("%Y-%m-%d %H:%M:%S") if record.timestamp else "—",
                glyphs.result_state_text(record.state, record.flag), record.error_type or "",
                glyphs.seconds(record.median_s),
                str(record.n or 0), record.device or "default", record.weights_source or "—",
                key=record.result_id,
            )
        self._detail(records[0])

    @on(DataTable.RowHighlighted, "#cell-runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        record = self.records.get(event.row_key.value)
        if record is not None:
            self._detail(record)

    def _detail(self, record: RunRecord) -> None:
        self.query_one("#cell-detail-text", Static).update(render_record(record))

    def action_back(self) -> None:
        self.app.pop_screen()


def render_record(record: RunRecord) -> Group:
    """Return the full description of one stored run."""
    parts: list[object] = []
    head = Text()
    head.append_text(glyphs.result_state_text(record.state, record.flag, full=True))
    head.append(f"  result {record.result_id}  run {record.run_id or '—'}", style="dim")
    parts.append(head)
    if record.flag is not None:
        verb = "mocked" if record.flag == "mock" else "simulated"
        parts.append(Text(
            f"The older framework {verb} this result instead of measuring it, so the matrix and "
            "statistics leave it out.", style="magenta",
        ))

    if record.error_type or record.error_message:
        parts.append(Text(f"\nError: {record.error_type or 'unknown'}", style="bold red"))
        parts.append(Text(record.error_message or "(no message)"))

    stats = Table.grid(padding=(0, 2))
    stats.add_column(style="bold")
    stats.add_column()
    stats.add_column(style="bold")
    stats.add_column()
    ci = "—"
    if record.ci95_low_s is not None and record.ci95_high_s is not None:
        ci = f"{glyphs.seconds(record.ci95_low_s)} – {glyphs.seconds(record.ci95_high_s)}"
    stats.add_row("n", str(record.n or 0), "throughput",
                  f"{glyphs.number(record.throughput_per_s)} /s" if record.throughput_per_s else "—")
    stats.add_row("median", glyphs.seconds(record.median_s), "mean", glyphs.seconds(record.mean_s))
    stats.add_row("p90", glyphs.seconds(record.p90_s), "p99", glyphs.seconds(record.p99_s))
    stats.add_row("stdev", glyphs.seconds(record.stdev_s), "95% CI of mean", ci)
    stats.add_row("load", glyphs.seconds(record.load_time_s), "first inference",
                  glyphs.seconds(record.first_inference_s))
    stats.add_row("peak memory", glyphs.megabytes(record.peak_rss_mb), "settings",
                  f"{record.precision or 'f32'}, batch {record.batch_size or 1}")
    parts.append(Text("\nLatency", style="bold underline"))
    parts.append(stats)

    parts.append(Text("\nOutput against the PyTorch CPU reference", style="bold underline"))
    comparison = Table.grid(padding=(0, 2))
    comparison.add_column(style="bold")
    comparison.add_column()
    if record.max_abs_diff is not None:
        comparison.add_row("max abs diff", f"{record.max_abs_diff:.3g}")
    if record.top1_agreement is not None:
        comparison.add_row("top-1 agreement", f"{record.top1_agreement:.1%}")
    if record.tokens_match is not None:
        comparison.add_row("tokens match", "yes" if record.tokens_match else "no")
    for key, value in sorted(record.comparison.items()):
        if key in ("max_abs_diff", "top1_agreement", "tokens_match"):
            continue
        comparison.add_row(key, _short_json(value))
    if comparison.row_count:
        parts.append(comparison)
    else:
        parts.append(Text("no comparison recorded", style="dim"))

    if record.output:
        parts.append(Text("\nOutput", style="bold underline"))
        parts.append(Text(_short_json(record.output, 600)))
    return Group(*parts)


def _short_json(value: object, limit: int = 200) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
