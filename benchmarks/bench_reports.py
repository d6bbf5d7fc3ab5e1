"""Time every report, figure and the dashboard on a large generated results database.

Usage:
    python benchmarks/bench_reports.py [--results 1000000] [--samples-per-result 5] [--models 200]
                                       [--static] [--db PATH] [--output-dir DIR]

The database is generated with DuckDB SQL straight into vt-tui's tables (same
schema and migrations as the store), so generation takes seconds, not the hours
that a million `Store.ingest` calls would. Latencies are random around a
per-(model, platform) level; about 85% of results pass, the rest fail, mismatch
or are unavailable. Prints one line per step with its wall time, and the size
of each written file. `--static` adds PNG export of the four figures.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vt_core.records import PLATFORMS
from vt_core.store import Store, schema

FAMILIES = (("clip", "zero-shot-image-classification"), ("blip", "image-to-text"), ("siglip", "zero-shot-image-classification"))
MACHINES = (
    ("bench-a", "box-a", "Xeon 8480", "H100"),
    ("bench-b", "box-b", "EPYC 9654", "MI300X"),
    ("bench-c", "box-c", "Apple M3 Max", "Apple M3 Max"),
)


@contextmanager
def timed(label: str, timings: list[tuple[str, float]]):
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    timings.append((label, elapsed))
    print(f"{label:<44} {elapsed:8.2f} s", flush=True)


def generate(db_path: Path, results: int, samples_per_result: int, models: int) -> None:
    """Fill a new database with `results` results and `samples_per_result` samples each."""
    con = duckdb.connect(str(db_path))
    schema.migrate(con)
    platforms = list(PLATFORMS)
    params = {"results": results, "models": models, "platforms": platforms, "per": samples_per_result}

    con.execute("INSERT INTO machines (machine_id, hostname, cpu, gpu_name, first_seen) VALUES "
                + ", ".join(f"('{m[0]}', '{m[1]}', '{m[2]}', '{m[3]}', TIMESTAMP '2025-01-01')" for m in MACHINES))
    # One row per result: model i % models, platform (i // models) % 7, time spread over a year.
    con.execute(
        """
        CREATE TEMP TABLE gen AS
        SELECT i,
               'r' || i AS id,
               'bench/' || ['clip', 'blip', 'siglip'][1 + (i % $models) % 3] || '-model-' || (i % $models) AS model_id,
               ['clip', 'blip', 'siglip'][1 + (i % $models) % 3] AS family,
               ['zero-shot-image-classification', 'image-to-text', 'zero-shot-image-classification'][1 + (i % $models) % 3] AS task,
               $platforms[1 + (i // $models) % 7] AS platform,
               TIMESTAMP '2025-01-01' + TO_SECONDS(CAST(i AS BIGINT) * 31536000 // $results) AS ts,
               CASE WHEN HASH(i) % 100 < 85 THEN 'pass' WHEN HASH(i) % 100 < 92 THEN 'fail'
                    WHEN HASH(i) % 100 < 96 THEN 'mismatch' ELSE 'unavailable' END AS state,
               ['bench-a', 'bench-b', 'bench-c'][1 + (i // ($models * 7)) % 3] AS machine_id,
               0.005 * (1 + (i % $models) % 17) * (1 + (i // $models) % 7) AS level_s
        FROM range($results) t(i)
        """,
        {k: v for k, v in params.items() if k != "per"},
    )
    con.execute(
        """
        INSERT INTO samples
        SELECT g.id, k AS iteration, g.level_s * (0.9 + 0.2 * RANDOM()) AS latency_s
        FROM gen g, range($per) s(k)
        WHERE g.state IN ('pass', 'mismatch')
        """,
        {"per": samples_per_result},
    )
    con.execute(
        """
        INSERT INTO vision_text_results
        SELECT id, model_id, family, task, platform, ts, state = 'pass',
               CASE state WHEN 'fail' THEN 'runtime_error' WHEN 'mismatch' THEN 'mismatch'
                          WHEN 'unavailable' THEN 'unavailable' END,
               CASE WHEN state IN ('pass', 'mismatch') THEN level_s END, 400 + (i % 97),
               '{}', '{}'
        FROM gen
        """
    )
    con.execute(
        """
        INSERT INTO result_details (result_id, run_id, machine_id, state, model_family, device, weights_source,
                                    precision, batch_size, settings_key, n_samples, mean_s, median_s, p90_s,
                                    peak_rss_mb, error_message, is_mock, is_simulated)
        SELECT g.id, 'run-' || (g.i // 1000), g.machine_id, g.state, g.family, g.platform,
               CASE WHEN g.family = 'blip' THEN 'synthetic' ELSE 'local' END, 'f32', 1,
               g.platform || '|f32|bs1|' || CASE WHEN g.family = 'blip' THEN 'synthetic' ELSE 'local' END,
               COALESCE(s.n, 0), s.mean_s, s.median_s, s.p90_s, 400 + (g.i % 97),
               CASE WHEN g.state = 'fail' THEN 'RuntimeError: generated failure ' || g.i END, FALSE, FALSE
        FROM gen g
        LEFT JOIN (
            SELECT result_id, COUNT(*) AS n, AVG(latency_s) AS mean_s, QUANTILE_CONT(latency_s, 0.5) AS median_s,
                   QUANTILE_CONT(latency_s, 0.9) AS p90_s
            FROM samples GROUP BY result_id
        ) s ON s.result_id = g.id
        """
    )
    con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=1_000_000, help="results to generate (default 1,000,000)")
    parser.add_argument("--samples-per-result", type=int, default=5, help="samples per timed result (default 5)")
    parser.add_argument("--models", type=int, default=200, help="distinct model ids (default 200)")
    parser.add_argument("--db", type=Path, default=None, help="reuse or create this database instead of a temporary one")
    parser.add_argument("--output-dir", type=Path, default=None, help="keep the written files here (default: temporary)")
    parser.add_argument("--static", action="store_true", help="also export the four figures as PNG")
    args = parser.parse_args(argv)

    from vt_core import plots, reports
    from vt_core.plots import figures

    workdir = Path(tempfile.mkdtemp(prefix="vt-bench-"))
    db_path = args.db or workdir / "bench.duckdb"
    output_dir = args.output_dir or workdir / "out"
    output_dir.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []
    try:
        if not db_path.exists():
            with timed(f"generate {args.results:,} results", timings):
                generate(db_path, args.results, args.samples_per_result, args.models)
        store = Store(db_path)
        with store.connect(read_only=True) as con:
            counts = con.execute("SELECT (SELECT COUNT(*) FROM vision_text_results), (SELECT COUNT(*) FROM samples)").fetchone()
        print(f"database {db_path}: {counts[0]:,} results, {counts[1]:,} samples, "
              f"{db_path.stat().st_size / 2**20:.0f} MiB", flush=True)

        with timed("build compatibility matrix", timings):
            matrix = reports.build_matrix(store)
        with timed("write matrix md/json/csv", timings):
            written = reports.write_matrix(matrix, output_dir)
        with timed("build performance report", timings):
            performance = reports.build_performance(store)
        with timed("write performance md/json/csv", timings):
            written += reports.write_performance(performance, output_dir)
        print(f"  {len(matrix.rows)} matrix rows, {len(performance.groups)} performance groups", flush=True)

        with timed("load figure data (matrix, groups, series)", timings):
            data = plots.load_figure_data(store)
        print(f"  {len(data.time_series):,} time-series points", flush=True)
        for kind in figures.FIGURE_KINDS:
            with timed(f"build and write {kind} html", timings):
                written += plots.write_figures(data, output_dir, kinds=[kind])
        with timed("build and write dashboard html", timings):
            written += plots.write_figures(data, output_dir, kinds=[], dashboard=True)
        if args.static:
            with timed("export four figures as png (one Chromium)", timings):
                written += plots.write_figures(data, output_dir, formats=("png",))

        total = sum(seconds for label, seconds in timings if not label.startswith("generate"))
        print(f"{'total, reports and figures':<44} {total:8.2f} s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MiB")
        for path in written:
            print(f"  {path.stat().st_size / 2**20:8.2f} MiB  {path.name}")
    finally:
        # The work folder contains only what no option asked to keep: the generated
        # database without --db, the written files without --output-dir.
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
