"""`vt-tui stats`: group statistics, regressions and correlations of the results database.

`--regressions` is meant for CI: it exits 1 when a regression is found, 0 when
none is, 2 on invalid input (including a database file that does not exist)
and 3 when the database cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_READ_FAILED = 3

DATE_FORMATS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "stats",
        help="latency statistics, regression detection and correlations",
        description="Compute statistics of the results database. --summary (the default) prints the median "
        "with its order-statistic 95% CI and the mean with its t-interval per model, platform and settings. "
        "--regressions finds latency and memory steps over each series' runs (optimal partitioning, then a change over the "
        "threshold that a Mann-Whitney U test confirms) and pass-to-fail changes. --correlations relates "
        "latency, memory, batch size, model size, platform and passing.",
        epilog="Exit status with --regressions: 0 none found, 1 regression found, 2 invalid input, "
        "3 database not readable.",
    )
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--summary", action="store_true",
                         help="print statistics per model, platform and settings (the default)")
    actions.add_argument("--regressions", action="store_true",
                         help="print regressions that still stand and exit 1 when there is one")
    actions.add_argument("--correlations", action="store_true",
                         help="print correlation coefficients with their p-values")

    parser.add_argument("--db", default=None, metavar="PATH",
                        help="results database (default: $VT_DB, else the user data directory)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    parser.add_argument("--since", type=parse_since, default=None, metavar="DATE",
                        help=f"with --regressions: report only changes that began at or after DATE, {DATE_FORMATS}")
    parser.add_argument("--threshold", type=relative_value, default=None, metavar="FRACTION",
                        help="with --regressions: minimum relative change of median latency (default 0.05 = 5%%)")
    parser.add_argument("--alpha", type=significance_level, default=None, metavar="LEVEL",
                        help="with --regressions: significance level of the two-sided Mann-Whitney U test "
                        "(default 0.05)")
    parser.add_argument("--memory-threshold", type=relative_value, default=None, metavar="FRACTION",
                        help="with --regressions: minimum relative change of peak memory (default 0.10 = 10%%)")
    parser.add_argument("--memory-min-change", type=non_negative_float, default=None, metavar="MIB",
                        help="with --regressions: minimum absolute change of peak memory in MiB (default 2)")
    parser.add_argument("--include-improvements", action="store_true",
                        help="with --regressions: also list improvements (they never change the exit status)")
    parser.add_argument("--include-resolved", action="store_true",
                        help="with --regressions: also list regressions a later run undid "
                        "(they never change the exit status)")

    parser.add_argument("--latest-only", action="store_true",
                        help="with --summary: use only the newest run of each group instead of all its runs")
    parser.add_argument("--confidence", type=confidence_level, default=0.95, metavar="LEVEL",
                        help="with --summary: confidence level of the intervals (default 0.95)")

    parser.add_argument("--per-platform", action="store_true",
                        help="with --correlations: also correlate within each platform")
    parser.add_argument("--include-flagged", action="store_true",
                        help="include results from mock or simulated runs of the older framework")
    parser.set_defaults(handler=run)
    return parser


# -- argument types -----------------------------------------------------------

def parse_since(value: str) -> dt.datetime:
    """Parse a `--since` value as naive UTC; a date means its midnight."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {value!r}; expected {DATE_FORMATS}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def relative_value(value: str) -> float:
    number = _float(value, "relative change")
    if number < 0:
        raise argparse.ArgumentTypeError(f"invalid relative change {value!r}; use zero or more, such as 0.05 for 5%")
    return number


def significance_level(value: str) -> float:
    number = _float(value, "significance level")
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"invalid significance level {value!r}; use a value between 0 and 1")
    return number


def confidence_level(value: str) -> float:
    number = _float(value, "confidence level")
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"invalid confidence level {value!r}; use a value between 0 and 1")
    return number


def non_negative_float(value: str) -> float:
    number = _float(value, "number")
    if number < 0:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}; use zero or more")
    return number


def _float(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what} {value!r}; expected a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"invalid {what} {value!r}; expected a finite number")
    return number


# -- handler ------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    import duckdb

    from vt_core.cli import UsageError
    from vt_core.store import DatabaseLockedError, Store

    store = Store(args.db)
    if not store.path.exists():
        raise UsageError(
            f"database {store.path} not found; pass the file with --db PATH or set VT_DB, "
            f"or store results first with `vt-tui run`"
        )
    _check_options(args)

    try:
        if args.regressions:
            return print_regressions(store, args)
        if args.correlations:
            return print_correlations(store, args)
        return print_summary(store, args)
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return EXIT_READ_FAILED
    except duckdb.Error as error:
        print(f"vt-tui: error: reading {store.path} failed: {error}", file=sys.stderr)
        return EXIT_READ_FAILED


def _check_options(args: argparse.Namespace) -> None:
    """Raise UsageError for options that belong to another action, so a typo never goes unnoticed."""
    from vt_core.cli import UsageError

    regression_only = ("since", "threshold", "alpha", "memory_threshold", "memory_min_change")
    flags = {
        "regressions": [*(f"--{n.replace('_', '-')}" for n in regression_only if getattr(args, n) is not None),
                        *(f"--{n.replace('_', '-')}" for n in ("include_improvements", "include_resolved")
                          if getattr(args, n))],
        "summary": ["--latest-only"] if args.latest_only else [],
        "correlations": ["--per-platform"] if args.per_platform else [],
    }
    action = "summary"
    if args.regressions:
        action = "regressions"
    elif args.correlations:
        action = "correlations"
    for owner, used in flags.items():
        if owner != action and used:
            raise UsageError(f"{', '.join(used)} applies only with --{owner}; add --{owner} or drop the option")


def print_regressions(store: Any, args: argparse.Namespace) -> int:
    from vt_core import stats

    settings = {
        "threshold": stats.DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        "alpha": stats.DEFAULT_ALPHA if args.alpha is None else args.alpha,
        "memory_threshold": stats.DEFAULT_MEMORY_THRESHOLD if args.memory_threshold is None
        else args.memory_threshold,
        "memory_min_change_mb": stats.DEFAULT_MEMORY_MIN_CHANGE_MB if args.memory_min_change is None
        else args.memory_min_change,
    }
    found = stats.find_regressions(
        store, since=args.since, **settings, include_improvements=args.include_improvements,
        include_resolved=args.include_resolved, include_flagged=args.include_flagged,
    )
    failing = [r for r in found if r.direction == stats.REGRESSION and r.still_open]

    if args.json:
        _print_json({
            "database": str(store.path),
            "since": args.since,
            **settings,
            "regression_count": len(failing),
            "changes": [dataclasses.asdict(r) for r in found],
            "methods": {"change": stats.CHANGE_TEST_METHOD, "steps": stats.STEP_METHOD},
        })
    else:
        print(format_regressions(found))
        since = f" since {args.since.isoformat(sep=' ')}" if args.since else ""
        print(
            f"\n{len(failing)} regression(s) found{since}: latency threshold {settings['threshold']:.1%}, "
            f"memory threshold {settings['memory_threshold']:.1%} and {settings['memory_min_change_mb']:g} MiB, "
            f"Mann-Whitney U at alpha {settings['alpha']:g}."
        )
    return EXIT_REGRESSION if failing else EXIT_OK


def print_summary(store: Any, args: argparse.Namespace) -> int:
    from vt_core import stats

    groups = stats.group_statistics(
        store, args.include_flagged, latest_only=args.latest_only, confidence=args.confidence,
    )
    basis = "newest run of each group" if args.latest_only else "all runs of each group, pooled"
    if args.json:
        _print_json({
            "database": str(store.path),
            "basis": basis,
            "confidence": args.confidence,
            "groups": [dataclasses.asdict(g) for g in groups],
            "methods": {
                "median_ci": stats.MEDIAN_CI_METHOD, "mean_ci": stats.MEAN_CI_METHOD,
                "percentiles": stats.PERCENTILE_METHOD,
            },
        })
        return EXIT_OK

    print(format_summary(groups, args.confidence))
    print(f"\nSamples: {basis}, pass results only. Median CI: {stats.MEDIAN_CI_METHOD}. "
          f"Mean CI: {stats.MEAN_CI_METHOD}.")
    return EXIT_OK


def print_correlations(store: Any, args: argparse.Namespace) -> int:
    from vt_core import stats

    found = stats.correlations(store, args.include_flagged, per_platform=args.per_platform)
    if args.json:
        _print_json({
            "database": str(store.path),
            "correlations": [dataclasses.asdict(c) for c in found],
            "methods": stats.CORRELATION_METHODS,
        })
        return EXIT_OK

    print(format_correlations(found))
    print("\nMethods:")
    for name, text in stats.CORRELATION_METHODS.items():
        print(f"  {name}: {text}")
    return EXIT_OK


# -- formatting ---------------------------------------------------------------

def format_regressions(found: Sequence[Any]) -> str:
    """Return a text table of regressions, one line each, or a line saying there are none."""
    if not found:
        return "No regressions found."
    rows = []
    for item in found:
        if item.kind == "state":
            before, after, change = item.before_state, item.after_state, ""
        elif item.unit == "s":
            before, after = format_seconds(item.before), format_seconds(item.after)
            change = f"{item.relative_change:+.1%}"
        else:
            before, after = f"{item.before:.1f} MiB", f"{item.after:.1f} MiB"
            change = f"{item.relative_change:+.1%}"
        status = item.direction if item.still_open else f"{item.direction} (undone)"
        rows.append([
            status, item.kind if item.kind != "memory" else item.metric, item.model_id, item.platform,
            item.settings_key, change, before, after, _format_p(item.p_value),
            item.timestamp.isoformat(sep=" ", timespec="minutes") if item.timestamp else "-",
            item.run_id or item.result_id,
        ])
    header = ["DIRECTION", "KIND", "MODEL", "PLATFORM", "SETTINGS", "CHANGE", "BEFORE", "AFTER", "P",
              "BEGAN (UTC)", "RUN"]
    return format_table(header, rows)


def format_summary(groups: Sequence[Any], confidence: float) -> str:
    """Return a text table of group statistics, or a line saying there are none."""
    if not groups:
        return "No pass results with latency samples."
    level = f"{confidence:.0%}"
    rows = []
    for g in groups:
        median_ci = "-"
        if g.median_ci_low_s is not None:
            median_ci = f"{format_seconds(g.median_ci_low_s)} - {format_seconds(g.median_ci_high_s)}"
        mean = format_seconds(g.mean_s)
        if g.mean_ci_low_s is not None:
            mean += f" +/- {format_seconds((g.mean_ci_high_s - g.mean_ci_low_s) / 2)}"
        memory = g.torch_max_allocated_mb if g.torch_max_allocated_mb is not None else g.peak_rss_mb
        rows.append([
            g.model_id, g.platform, g.settings_key, str(g.run_count), str(g.n), format_seconds(g.median_s),
            median_ci, mean, format_seconds(g.p90_s), format_seconds(g.p99_s),
            f"{g.cv:.1%}" if g.cv is not None else "-",
            f"{memory:.0f} MiB" if memory is not None else "-",
        ])
    header = ["MODEL", "PLATFORM", "SETTINGS", "RUNS", "N", "MEDIAN", f"{level} CI OF MEDIAN",
              f"MEAN +/- {level} CI", "P90", "P99", "CV", "MEMORY"]
    return format_table(header, rows)


def format_correlations(found: Sequence[Any]) -> str:
    """Return a text table of correlations, or a line saying there is too little data."""
    if not found:
        return "Too few results for any correlation (each needs 3 complete rows and no constant column)."
    rows = [
        [c.x, c.y, c.method, c.scope, f"{c.coefficient:+.3f}", _format_p(c.p_value), str(c.n)]
        for c in found
    ]
    return format_table(["X", "Y", "METHOD", "SCOPE", "COEFFICIENT", "P", "N"], rows)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return left-aligned columns separated by two spaces."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in (header, *rows)]
    return "\n".join(lines)


def format_seconds(value: float | None) -> str:
    """Return a latency with a unit that keeps three significant digits: us, ms or s."""
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.3g} us"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def _format_p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _print_json(payload: dict[str, Any]) -> None:
    print(json.dumps(_jsonable(payload), indent=2))


def _jsonable(value: Any) -> Any:
    """Return `value` with datetimes as ISO strings and non-finite floats as null, so any JSON parser reads it."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
