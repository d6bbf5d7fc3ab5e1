"""The performance report: latency statistics per model, platform, task, settings and machine.

A group is every `pass` result that shares model, task, platform, settings key
(device, precision, batch size, weights source) and machine. Mismatching and
failed runs appear in the compatibility matrix, not here. Its statistics come from the pooled per-iteration samples of those
results, aggregated in DuckDB, never from averaging per-run averages. Pass results without samples (legacy imports)
get a separate table of the averages their files reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vt_core.records import PLATFORMS
from vt_core.reports import common, queries
from vt_core.reports.common import fmt_ci_ms, fmt_ms, md_cell
from vt_core.stats.summary import MEAN_CI_METHOD, MEDIAN_CI_METHOD

REFERENCE_PLATFORM = "cpu"
AVERAGING_NOTE = (
    "Per-platform figures: the geometric mean of the group medians on that platform, and the speed-up "
    "versus cpu as the geometric mean of cpu median / platform median over groups measured on both with "
    "the same model, task, precision, batch size, weights source and host. Platforms with different model "
    "sets are compared only through the speed-up column."
)
CI_NOTE = (
    f"Median 95% CI: {MEDIAN_CI_METHOD}; it needs at least 6 samples. Mean 95% CI: {MEAN_CI_METHOD}. "
    "Throughput: items (batch size x samples) per second of timed loop. Peak memory: the largest per-run "
    "peak in the group (torch max allocated on GPUs, else the worker's peak RSS above its post-import "
    "baseline). Only pass results are timed."
)

UNSAMPLED_NOTE = (
    "These pass results carry no per-iteration samples, so the tables above leave their statistics blank. "
    "Results imported from the older framework are of this kind: it stored one average per run, with no "
    "record of iterations, warm-up or load. \"Reported mean\" is the mean of those averages, not measured "
    "by vt-tui; it is blank where the file gave no time."
)


@dataclass
class PlatformRollup:
    platform: str
    groups: int
    models: int
    geomean_median_s: float | None
    speedup_vs_cpu: float | None
    speedup_pairs: int
    weights_sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PerformanceReport:
    db_path: str
    generated_at: Any
    include_flagged: bool
    groups: list[dict[str, Any]]
    excluded_flagged: int = 0

    def families(self) -> list[tuple[str | None, list[dict[str, Any]]]]:
        grouped: dict[str | None, list[dict[str, Any]]] = {}
        for group in self.groups:
            grouped.setdefault(group["family"], []).append(group)
        order = sorted(grouped, key=lambda f: (f is None, common.family_label(f).lower()))
        return [(family, grouped[family]) for family in order]

    def platform_summary(self) -> list[PlatformRollup]:
        """Return one rollup per platform that has timed groups, in `PLATFORMS` order."""
        latest = latest_per_comparison_key(self.groups)
        reference = {key[1:]: g for key, g in latest.items() if key[0] == REFERENCE_PLATFORM}
        rollups = []
        platforms = [p for p in PLATFORMS if any(g["platform"] == p for g in self.groups)]
        platforms += sorted({g["platform"] for g in self.groups} - set(platforms))
        for platform in platforms:
            mine = [g for g in self.groups if g["platform"] == platform]
            medians = [g["median_s"] for g in mine if g["median_s"]]
            ratios = [
                reference[key[1:]]["median_s"] / g["median_s"]
                for key, g in latest.items()
                if key[0] == platform and key[1:] in reference and g["median_s"] and reference[key[1:]]["median_s"]
            ]
            rollups.append(PlatformRollup(
                platform=platform,
                groups=len(mine),
                models=len({(g["model_id"], g["task"]) for g in mine}),
                geomean_median_s=geometric_mean(medians),
                speedup_vs_cpu=geometric_mean(ratios),
                speedup_pairs=len(ratios),
                weights_sources=sorted({g["weights_source"] or "unknown" for g in mine}),
            ))
        return rollups

    @property
    def has_synthetic(self) -> bool:
        return any(g["weights_source"] == "synthetic" for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "performance_report",
            "generated_at": common.iso(self.generated_at),
            "database": self.db_path,
            "include_flagged": self.include_flagged,
            "excluded_flagged_results": self.excluded_flagged,
            "units": {"latency": "seconds", "memory": "MiB (2**20 bytes)", "throughput": "items per second"},
            "averaging": AVERAGING_NOTE,
            "confidence_intervals": CI_NOTE,
            "groups": [
                {**g, "first_run": common.iso(g["first_run"]), "last_run": common.iso(g["last_run"])}
                for g in self.groups
            ],
            "platform_summary": [r.to_dict() for r in self.platform_summary()],
        }


def geometric_mean(values: list[float]) -> float | None:
    positive = [v for v in values if v and v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def latest_per_comparison_key(groups: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """Return, per (platform, model, task, precision, batch size, weights source, host), the group run last.

    Device names differ between platforms (`cuda:0`, `GPU.1`), and one host has a
    machine id per software set, so neither is part of the key. When several
    groups share a key, the one with the newest run represents it.
    """
    latest: dict[tuple, dict[str, Any]] = {}
    for g in groups:
        if not g["median_s"]:
            continue
        key = (g["platform"], g["model_id"], g["task"], g["precision"] or "f32", g["batch_size"],
               g["weights_source"], g["hostname"])
        current = latest.get(key)
        if current is None or common.newer(g["last_run"], current["last_run"]):
            latest[key] = g
    return latest


def build_performance(store: Any, *, include_flagged: bool = False) -> PerformanceReport:
    """Aggregate the timed results of `store` into performance groups.

    Raise EmptyDatabaseError when there is no result at all. A database whose
    results all failed gives a report without groups.
    """
    with store.connect(read_only=True) as con:
        counts = queries.result_counts(con)
        if counts.usable(include_flagged) == 0:
            raise common.EmptyDatabaseError(common.empty_database_message(store.path, counts.flagged))
        groups = queries.performance_groups(con, include_flagged)
    return PerformanceReport(
        db_path=str(store.path),
        generated_at=common.utc_now_seconds(),
        include_flagged=include_flagged,
        groups=groups,
        excluded_flagged=0 if include_flagged else counts.flagged,
    )


# -- rendering ----------------------------------------------------------------

GROUP_HEADER = (
    "Model", "Task", "Platform", "Device", "Precision", "Batch", "Weights", "Machine", "Runs", "Samples",
    "Median ms", "Median 95% CI ms", "Mean ms", "Mean 95% CI ms", "p90 ms", "Throughput /s", "Peak MiB",
)


def machine_label(group: dict[str, Any]) -> str:
    """Return `hostname (cpu; gpu)` for the machine of a group, or `unknown`."""
    details = "; ".join(v for v in (group.get("cpu"), group.get("gpu_name")) if v)
    host = group.get("hostname") or "unknown"
    return f"{host} ({details})" if details else host


def group_cells(group: dict[str, Any]) -> list[str]:
    """Return the plain-text cells of one group, in `GROUP_HEADER` order."""
    throughput = group["throughput_per_s"]
    memory = group["peak_memory_mb"]
    return [
        group["model_id"], group["task"] or "", group["platform"], group["device"] or "",
        group["precision"] or "", str(group["batch_size"] or ""), group["weights_source"] or "unknown",
        machine_label(group), str(group["runs"]), str(group["n"]),
        fmt_ms(group["median_s"]), fmt_ci_ms(group["median_ci_low_s"], group["median_ci_high_s"]),
        fmt_ms(group["mean_s"]), fmt_ci_ms(group["mean_ci_low_s"], group["mean_ci_high_s"]),
        fmt_ms(group["p90_s"]), "" if throughput is None else f"{throughput:.2f}",
        "" if memory is None else f"{memory:.1f}",
    ]


def rollup_cells(rollup: PlatformRollup) -> list[str]:
    if rollup.platform == REFERENCE_PLATFORM:
        speedup = "reference"
    elif rollup.speedup_vs_cpu is None:
        speedup = "n/a"
    else:
        speedup = f"{rollup.speedup_vs_cpu:.2f}x over {rollup.speedup_pairs}"
    return [
        rollup.platform, str(rollup.groups), str(rollup.models), fmt_ms(rollup.geomean_median_s),
        speedup, ", ".join(rollup.weights_sources),
    ]


def render_markdown(report: PerformanceReport) -> str:
    """Return the report as Markdown: the per-platform summary, then one table per family."""
    parts = [
        "# Performance report",
        "",
        f"Database: {md_cell(report.db_path)}  ",
        f"Generated: {common.fmt_time(report.generated_at)} UTC",
        "",
        "## Per-platform summary",
        "",
    ]
    if not report.groups:
        parts.append("No timed results: no stored pass result has samples (failed, mismatching and unavailable runs are not timed).")
        parts.append("")
    else:
        header = ("Platform", "Groups", "Models", "Geo-mean median ms", "Speed-up vs cpu", "Weights")
        rows = [[md_cell(c) for c in rollup_cells(r)] for r in report.platform_summary()]
        parts.append(common.markdown_table(header, rows, ["l", "r", "r", "r", "r", "l"]))
        parts.append("")
        parts.append(AVERAGING_NOTE)
        parts.append("")

    align = ["l"] * 8 + ["r"] * 9
    for family, groups in report.families():
        parts.append(f"## {md_cell(common.family_label(family))}")
        parts.append("")
        body = [[md_cell(c) for c in group_cells(g)] for g in groups]
        parts.append(common.markdown_table(GROUP_HEADER, body, align))
        parts.append("")

    unsampled = [g for g in report.groups if g["runs_without_samples"]]
    if unsampled:
        parts.extend(["## Results without samples", "", UNSAMPLED_NOTE, ""])
        header = ("Model", "Task", "Platform", "Weights", "Machine", "Runs without samples", "Reported mean ms")
        body = [
            [md_cell(c) for c in (g["model_id"], g["task"] or "", g["platform"], g["weights_source"] or "unknown",
                                  machine_label(g), str(g["runs_without_samples"]), fmt_ms(g["unsampled_mean_s"]))]
            for g in unsampled
        ]
        parts.append(common.markdown_table(header, body, ["l"] * 5 + ["r", "r"]))
        parts.append("")

    notes = [CI_NOTE]
    if report.has_synthetic:
        notes.append(
            "Rows with weights `synthetic` ran with random weights in the real architecture: their latency "
            "and memory are representative, and they are listed apart from real weights, never pooled with them."
        )
    if report.excluded_flagged:
        notes.append(
            f"{report.excluded_flagged} result(s) from mock or simulated runs are excluded; "
            "`--include-flagged` shows them."
        )
    parts.append("Notes:")
    parts.append("")
    parts.extend(f"- {note}" for note in notes)
    parts.append("")
    return "\n".join(parts)


CSV_FIELDS = (
    "family", "model_id", "task", "platform", "device", "precision", "batch_size", "weights_source",
    "settings_key", "machine_id", "hostname", "cpu", "gpu_name", "runs", "n", "median_s",
    "median_ci_low_s", "median_ci_high_s", "median_ci_coverage", "mean_s", "mean_ci_low_s", "mean_ci_high_s", "p90_s", "stdev_s",
    "throughput_per_s", "peak_memory_mb", "first_run", "last_run", "runs_without_samples", "unsampled_mean_s",
)


def render_csv(report: PerformanceReport) -> str:
    """Return one CSV row per group; latencies in seconds, memory in MiB."""
    rows = []
    for group in report.groups:
        row = []
        for name in CSV_FIELDS:
            value = group[name]
            if name in ("first_run", "last_run"):
                value = common.iso(value)
            row.append("" if value is None else value)
        rows.append(row)
    return common.csv_string(CSV_FIELDS, rows)


def write_performance(report: PerformanceReport, output_dir: Path) -> list[Path]:
    """Write the report as Markdown, JSON and CSV under one new unique name; return the paths."""
    stem = common.unique_stem(output_dir, "performance-report", ("md", "json", "csv"))
    return [
        common.atomic_write_text(output_dir / f"{stem}.md", render_markdown(report)),
        common.atomic_write_text(output_dir / f"{stem}.json", common.json_string(report.to_dict())),
        common.atomic_write_text(output_dir / f"{stem}.csv", render_csv(report)),
    ]
