"""The compatibility matrix: the current state of every model on the seven platforms.

One row per (model, task), one table per model family, platforms in
`records.PLATFORMS` order. A cell contains the state of the newest pass, mismatch or
fail result of that model on that platform, else `unavailable` when the platform
was only ever absent, else `untested`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vt_core.records import FAIL, MISMATCH, PASS, PLATFORMS, STATES, UNAVAILABLE, UNTESTED
from vt_core.reports import common, queries
from vt_core.reports.common import md_cell

TESTED_STATES = (PASS, MISMATCH, FAIL)
TESTED_DEFINITION = (
    "tested = pass + mismatch + fail; unavailable and untested cells are not tested. "
    "Pass rate = pass / tested."
)
SYNTHETIC_NOTE = (
    "synthetic: the model ran with random weights in its real architecture. Latency and memory are "
    "representative; outputs are not."
)
FLAGGED_NOTE = "†: the state comes from a mock or simulated run of the older framework."


@dataclass
class MatrixRow:
    model_id: str
    task: str | None
    family: str | None
    states: dict[str, str] = field(default_factory=lambda: {p: UNTESTED for p in PLATFORMS})
    flagged: dict[str, bool] = field(default_factory=dict)
    """Platforms whose state comes from a mock or simulated legacy run."""
    error_types: dict[str, str] = field(default_factory=dict)
    error_messages: dict[str, str] = field(default_factory=dict)
    last_tested: Any = None
    """Newest timestamp among the row's pass, mismatch and fail cells."""
    weights_sources: set[str] = field(default_factory=set)

    @property
    def weights_label(self) -> str:
        sources = sorted(self.weights_sources)
        if not sources:
            return "unknown"
        if len(sources) > 1:
            return "mixed: " + ", ".join(sources)
        return sources[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "task": self.task,
            "family": self.family,
            "states": dict(self.states),
            "flagged_platforms": sorted(p for p, v in self.flagged.items() if v),
            "error_types": dict(self.error_types),
            "error_messages": dict(self.error_messages),
            "last_tested": common.iso(self.last_tested),
            "weights_sources": sorted(self.weights_sources),
        }


@dataclass
class PlatformSummary:
    counts: dict[str, int]

    @property
    def tested(self) -> int:
        return sum(self.counts[s] for s in TESTED_STATES)

    @property
    def passed(self) -> int:
        return self.counts[PASS]

    @property
    def pass_rate_percent(self) -> float | None:
        return 100.0 * self.passed / self.tested if self.tested else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "tested": self.tested,
            "pass_rate_percent": self.pass_rate_percent,
        }


@dataclass
class MatrixReport:
    db_path: str
    generated_at: Any
    include_flagged: bool
    rows: list[MatrixRow]
    excluded_flagged: int = 0
    """Stored results left out because they come from mock or simulated runs."""
    other_platforms: list[str] = field(default_factory=list)

    def families(self) -> list[tuple[str | None, list[MatrixRow]]]:
        """Return rows grouped by family, families and rows in display order."""
        grouped: dict[str | None, list[MatrixRow]] = {}
        for row in self.rows:
            grouped.setdefault(row.family, []).append(row)
        order = sorted(grouped, key=lambda f: (f is None, common.family_label(f).lower()))
        return [(family, sorted(grouped[family], key=lambda r: (r.model_id, r.task or ""))) for family in order]

    def summary(self, rows: list[MatrixRow] | None = None) -> dict[str, PlatformSummary]:
        rows = self.rows if rows is None else rows
        result = {}
        for platform in PLATFORMS:
            counts = Counter(row.states[platform] for row in rows)
            result[platform] = PlatformSummary({state: counts.get(state, 0) for state in STATES})
        return result

    @property
    def has_synthetic(self) -> bool:
        return any("synthetic" in row.weights_sources for row in self.rows)

    @property
    def has_flagged(self) -> bool:
        return any(any(row.flagged.values()) for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        sources = Counter(source for row in self.rows for source in row.weights_sources)
        return {
            "kind": "compatibility_matrix",
            "generated_at": common.iso(self.generated_at),
            "database": self.db_path,
            "include_flagged": self.include_flagged,
            "excluded_flagged_results": self.excluded_flagged,
            "platforms": list(PLATFORMS),
            "states": list(STATES),
            "tested_definition": TESTED_DEFINITION,
            "families": [
                {
                    "family": family,
                    "label": common.family_label(family),
                    "rows": [row.to_dict() for row in rows],
                    "summary": {p: s.to_dict() for p, s in self.summary(rows).items()},
                }
                for family, rows in self.families()
            ],
            "summary": {p: s.to_dict() for p, s in self.summary().items()},
            "weights_sources": dict(sorted(sources.items())),
            "other_platforms": self.other_platforms,
        }


def build_matrix(store: Any, *, include_flagged: bool = False) -> MatrixReport:
    """Read the current state of every (model, task, platform) from `store`.

    Raise EmptyDatabaseError when there is no result to show.
    """
    with store.connect(read_only=True) as con:
        counts = queries.result_counts(con)
        if counts.usable(include_flagged) == 0:
            raise common.EmptyDatabaseError(common.empty_database_message(store.path, counts.flagged))
        cells = queries.matrix_cells(con, include_flagged)
        others = queries.other_platform_names(con)

    rows: dict[tuple[str, str], MatrixRow] = {}
    for model_id, task, platform, state, family, timestamp, weights_source, error_type, error_message, flagged in cells:
        row = rows.get((model_id, task))
        if row is None:
            row = rows[(model_id, task)] = MatrixRow(model_id=model_id, task=queries.none_if_empty(task), family=family)
        row.family = row.family or family
        if platform not in row.states:
            continue
        row.states[platform] = state
        row.flagged[platform] = bool(flagged)
        if error_type and state != PASS:
            row.error_types[platform] = error_type
        if error_message and state in (MISMATCH, FAIL):
            row.error_messages[platform] = error_message
        if state in TESTED_STATES:
            if weights_source:
                row.weights_sources.add(weights_source)
            if timestamp is not None and (row.last_tested is None or timestamp > row.last_tested):
                row.last_tested = timestamp

    return MatrixReport(
        db_path=str(store.path),
        generated_at=common.utc_now_seconds(),
        include_flagged=include_flagged,
        rows=list(rows.values()),
        excluded_flagged=0 if include_flagged else counts.flagged,
        other_platforms=others,
    )


# -- rendering ----------------------------------------------------------------

MATRIX_HEADER = ("Model", "Task", *PLATFORMS, "Last Tested", "Weights")


def row_cells(row: MatrixRow) -> list[str]:
    """Return the plain-text cells of one matrix row, in `MATRIX_HEADER` order."""
    return [
        row.model_id,
        row.task or "",
        *(common.state_label(row.states[p], row.flagged.get(p, False)) for p in PLATFORMS),
        common.fmt_time(row.last_tested),
        row.weights_label,
    ]


def summary_header() -> tuple[str, ...]:
    return ("Platform", "Passed / tested", "Pass rate", "Mismatch", "Fail", "Unavailable", "Untested")


def summary_cells(platform: str, summary: PlatformSummary) -> list[str]:
    rate = summary.pass_rate_percent
    return [
        platform,
        f"{summary.passed} / {summary.tested}",
        "n/a" if rate is None else f"{rate:.1f}%",
        str(summary.counts[MISMATCH]),
        str(summary.counts[FAIL]),
        str(summary.counts[UNAVAILABLE]),
        str(summary.counts[UNTESTED]),
    ]


FAILURE_HEADER = ("Model", "Task", "Platform", "State", "Error type", "Error")
ERROR_TEXT_LIMIT = 300
"""Characters of an error message shown in a table; the JSON report keeps the whole text."""


def shorten(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_rows(report: MatrixReport) -> list[list[str]]:
    """Return the plain-text cells of every fail and mismatch cell: model, task, platform, state, error type, error."""
    rows = []
    for _, family_rows in report.families():
        for row in family_rows:
            for platform in PLATFORMS:
                if row.states[platform] in (FAIL, MISMATCH):
                    rows.append([
                        row.model_id, row.task or "", platform, row.states[platform],
                        row.error_types.get(platform, ""), shorten(row.error_messages.get(platform, "")),
                    ])
    return rows


def render_markdown(report: MatrixReport) -> str:
    """Return the matrix as Markdown: one table per family, the platform summary and the notes."""
    parts = [
        "# Compatibility matrix",
        "",
        f"Database: {md_cell(report.db_path)}  ",
        f"Generated: {common.fmt_time(report.generated_at)} UTC  ",
        "States: " + ", ".join(common.state_label(s) for s in STATES),
        "",
    ]
    align = ["l", "l", *["c"] * len(PLATFORMS), "l", "l"]
    for family, rows in report.families():
        parts.append(f"## {md_cell(common.family_label(family))}")
        parts.append("")
        body = [[md_cell(c) for c in row_cells(row)] for row in rows]
        parts.append(common.markdown_table(MATRIX_HEADER, body, align))
        parts.append("")

    failures = failure_rows(report)
    if failures:
        parts.append("## Failures and mismatches")
        parts.append("")
        body = [[md_cell(c) for c in cells] for cells in failures]
        parts.append(common.markdown_table(FAILURE_HEADER, body))
        parts.append("")

    parts.append("## Summary")
    parts.append("")
    parts.append(f"{len(report.rows)} model/task rows. {TESTED_DEFINITION}")
    parts.append("")
    summary_rows = [summary_cells(p, s) for p, s in report.summary().items()]
    parts.append(common.markdown_table(summary_header(), summary_rows, ["l", "r", "r", "r", "r", "r", "r"]))
    parts.append("")

    notes = []
    if report.has_synthetic:
        notes.append(SYNTHETIC_NOTE)
    if report.has_flagged:
        notes.append(FLAGGED_NOTE)
    if report.excluded_flagged:
        notes.append(
            f"{report.excluded_flagged} result(s) from mock or simulated runs are excluded; "
            "`--include-flagged` shows them."
        )
    if report.other_platforms:
        notes.append(
            "Results on platforms outside the seven columns are not shown: "
            + ", ".join(md_cell(p) for p in report.other_platforms) + "."
        )
    if notes:
        parts.append("Notes:")
        parts.append("")
        parts.extend(f"- {note}" for note in notes)
        parts.append("")
    return "\n".join(parts)


def render_csv(report: MatrixReport) -> str:
    """Return one CSV row per (model, task) with the family, the platform states and the weights source."""
    header = ["family", "model_id", "task", *PLATFORMS, "last_tested", "weights_sources", "flagged_platforms"]
    rows = []
    for family, family_rows in report.families():
        for row in family_rows:
            rows.append([
                common.family_label(family), row.model_id, row.task or "",
                *(row.states[p] for p in PLATFORMS),
                common.iso(row.last_tested) or "",
                ";".join(sorted(row.weights_sources)),
                ";".join(sorted(p for p, v in row.flagged.items() if v)),
            ])
    return common.csv_string(header, rows)


def write_matrix(report: MatrixReport, output_dir: Path) -> list[Path]:
    """Write the matrix as Markdown, JSON and CSV under one new unique name; return the paths."""
    stem = common.unique_stem(output_dir, "compatibility-matrix", ("md", "json", "csv"))
    return [
        common.atomic_write_text(output_dir / f"{stem}.md", render_markdown(report)),
        common.atomic_write_text(output_dir / f"{stem}.json", common.json_string(report.to_dict())),
        common.atomic_write_text(output_dir / f"{stem}.csv", render_csv(report)),
    ]
