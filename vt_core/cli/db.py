"""`vt-tui db`: inspect, report on, import into and merge results databases."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "db", help="list models, build reports, import and merge results",
        description="Work with the results database. Exactly one action per call.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    actions.add_argument("--list-models", action="store_true",
                         help="list catalog models and models found locally, with their latest states")
    actions.add_argument("--generate-matrix", action="store_true",
                         help="write the compatibility matrix as Markdown, JSON and CSV and print the Markdown")
    actions.add_argument("--performance-report", action="store_true",
                         help="write the performance report as Markdown, JSON and CSV")
    actions.add_argument("--import-results", metavar="DIR",
                         help="import result files of the older test framework from DIR")
    actions.add_argument("--export", metavar="DIR", help="write results, runs, machines and samples as Parquet")
    actions.add_argument("--merge", metavar="PATH",
                         help="merge another vt-tui database file or a Parquet export folder into this one")
    actions.add_argument("--ingest-spool", action="store_true",
                         help="write results still waiting in the spool into the database")
    parser.add_argument("--db", default=None, metavar="PATH",
                        help="results database (default: VT_DB, else the user data directory)")
    parser.add_argument("--output-dir", default=None, metavar="DIR",
                        help="folder for written reports (default: the reports folder in the user data directory)")
    parser.add_argument("--recursive", action="store_true", help="with --import-results: also read subfolders")
    parser.add_argument("--include-flagged", action="store_true",
                        help="include mock and simulated results imported from the older framework")
    parser.add_argument("--model-dir", action="append", default=[], metavar="DIR",
                        help="with --list-models: also list models in DIR; repeat for several")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables where supported")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list_models:
        return list_models(args)
    if args.ingest_spool:
        return ingest_spool(args)
    if args.generate_matrix:
        from vt_core.reports import cli_generate_matrix

        return cli_generate_matrix(args)
    if args.performance_report:
        from vt_core.reports import cli_performance_report

        return cli_performance_report(args)
    if args.import_results:
        from vt_core.store.legacy import cli_import_results

        return cli_import_results(args)
    if args.export:
        from vt_core.store.exchange import cli_export

        return cli_export(args)
    if args.merge:
        from vt_core.store.exchange import cli_merge

        return cli_merge(args)
    return 2


def ingest_spool(args: argparse.Namespace) -> int:
    from vt_core.store import DatabaseLockedError, Store

    store = Store(args.db)
    try:
        status = store.ingest_spool()
    except DatabaseLockedError as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    print(f"ingested {status.ingested} result(s), {status.already_stored} already stored, "
          f"{status.pending} still pending")
    if status.message:
        print(status.message, file=sys.stderr)
    return 1 if status.pending else 0


def list_models(args: argparse.Namespace) -> int:
    import json

    from vt_core import catalog
    from vt_core.store import Store

    entries = catalog.list_models(extra_dirs=args.model_dir)
    matrix = Store(args.db).matrix(include_flagged=args.include_flagged)
    rows = []
    for entry in entries:
        model_id = entry.model_id
        states = matrix.get(model_id, {}).get("states", {})
        rows.append({
            "model_id": model_id,
            "family": entry.family,
            "task": entry.task,
            "sources": list(entry.sources),
            "parameter_count": entry.parameter_count,
            "states": states,
        })
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        print()
        return 0

    from vt_core.records import PLATFORMS

    header = f"{'model':<44} {'family':<7} {'params':>7}  {'sources':<22} " + " ".join(f"{p:<11}" for p in PLATFORMS)
    print(header)
    for row in rows:
        params = _format_count(row["parameter_count"])
        sources = ",".join(row["sources"]) or "-"
        cells = " ".join(f"{row['states'].get(p, 'untested'):<11}" for p in PLATFORMS)
        print(f"{row['model_id'][:44]:<44} {row['family'] or '-':<7} {params:>7}  {sources[:22]:<22} {cells}")
    return 0


def _format_count(count: int | None) -> str:
    if not count:
        return "-"
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    if count >= 1e6:
        return f"{count / 1e6:.0f}M"
    return f"{count / 1e3:.0f}K"
