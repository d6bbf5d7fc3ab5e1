"""Time group_statistics, find_regressions and correlations on a large generated database.

The database is written straight with DuckDB SQL, because Store.ingest
inserts result by result. It contains `--results` pass results spread over
series of `--runs` runs each (model x platform, one settings key), with
`--samples` lognormal latencies per result (sigma 5%). One series in
`--step-every` gets a 20% latency step, which the regression pass must find.

Run: python benchmarks/stats_scale.py [--results 1000000] [--samples 30] [--runs 50] [--keep PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from vt_core.records import PLATFORMS
from vt_core.stats import correlations, find_regressions, group_statistics
from vt_core.store import Store

FILL_SQL = """
INSERT INTO vision_text_results
SELECT 'r' || i, 'model-' || (i // $runs) // 7, 'clip', 'zero-shot-image-classification',
       list_extract($platforms, ((i // $runs) % 7 + 1)::INTEGER),
       TIMESTAMP '2025-01-01' + INTERVAL (i % $runs) HOUR, TRUE, NULL, NULL, 500.0, '{}', '{}'
FROM range($results) t(i);

INSERT INTO result_details (result_id, run_id, state, device, precision, batch_size, settings_key, n_samples,
                            peak_rss_mb, parameter_count)
SELECT 'r' || i, 'run-' || (i % $runs), 'pass', 'default', 'f32', 1, 'default|f32|bs1|synthetic', $samples,
       500.0 + random(), 1000000 * (1 + (i // $runs) // 7 % 50)
FROM range($results) t(i);

INSERT INTO samples
SELECT 'r' || i, k,
       0.01 * (1 + (i // $runs) // 7 % 50)
       * CASE WHEN (i // $runs) % $step_every = 0 AND i % $runs >= $runs * 2 // 3 THEN 1.2 ELSE 1.0 END
       * exp(0.05 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
FROM range($results) t(i), range($samples) s(k);

UPDATE result_details SET median_s = m.median_s
FROM (SELECT result_id, MEDIAN(latency_s) AS median_s FROM samples GROUP BY result_id) m
WHERE result_details.result_id = m.result_id;
"""


def build(path: Path, results: int, samples: int, runs: int, step_every: int) -> None:
    store = Store(path)
    with store.connect() as con:
        parameters = {"results": results, "samples": samples, "runs": runs, "step_every": step_every,
                      "platforms": list(PLATFORMS)}
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                used = {k: v for k, v in parameters.items() if f"${k}" in statement}
                con.execute(statement, used)


def timed(label: str, action):
    """Run `action`; print its wall time and the CPU time of all this process's threads."""
    start, cpu = time.perf_counter(), time.process_time()
    value = action()
    print(f"{label:<26} wall {time.perf_counter() - start:7.1f} s   cpu {time.process_time() - cpu:7.1f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=30, help="samples per result (default 30)")
    parser.add_argument("--runs", type=int, default=50, help="runs per series (default 50)")
    parser.add_argument("--step-every", type=int, default=20,
                        help="one series in this many gets a 20%% step two thirds of the way (default 20)")
    parser.add_argument("--keep", type=Path, default=None, help="write the database here and keep it")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory()
    path = args.keep or Path(folder.name) / "scale.duckdb"
    if not path.exists():
        timed(f"build {args.results:,} results", lambda: build(path, args.results, args.samples, args.runs,
                                                                args.step_every))
    print(f"database: {path} ({os.path.getsize(path) / 2**20:,.0f} MiB), cpu count {os.cpu_count()}")

    store = Store(path)
    series = args.results // args.runs
    groups = timed("group_statistics", lambda: group_statistics(store))
    latest = timed("  latest_only", lambda: group_statistics(store, latest_only=True))
    found = timed("find_regressions", lambda: find_regressions(store))
    pairs = timed("correlations", lambda: correlations(store))

    injected = len(range(0, series, args.step_every))
    step_run = f"run-{args.runs * 2 // 3}"
    latency = [r for r in found if r.kind == "latency"]
    at_step = sum(r.run_id == step_run for r in latency)
    print(f"groups {len(groups):,} (latest-only {len(latest):,}), series {series:,}, correlations {len(pairs)}")
    print(f"latency regressions at the injected run: {at_step:,} of {injected:,}; elsewhere: "
          f"{len(latency) - at_step:,}; memory and state changes: {len(found) - len(latency):,}")
    folder.cleanup()


if __name__ == "__main__":
    main()
