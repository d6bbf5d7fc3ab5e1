"""Measure legacy import and database merge rates.

1. Writes N generated result files of the older framework (four layouts: results
   by method, flat CLIP keys, browser result, hardware test) into a temporary
   folder, imports them with `import_results`, then imports the folder again.
2. Builds a vt-tui database of M results (with details, three samples each, two
   machines) in DuckDB SQL and merges it into the database of step 1, twice.
3. Exports the merged database to Parquet and merges the export into an empty one.

Prints files/s and results/s for each step. The generated figures are benchmark
input only; they never leave the temporary folder.

    python benchmarks/bench_import_merge.py               # 10,000 files, 1,000,000 results
    python benchmarks/bench_import_merge.py --files 500 --results 50000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from vt_core.store import Store
from vt_core.store.exchange import export_parquet, merge
from vt_core.store.legacy import import_results

PLATFORMS = ("cpu", "cuda", "openvino")


def write_legacy_files(folder: Path, count: int, seed: int = 0) -> None:
    """Write `count` result files in the older framework's layouts, cycling through four of them."""
    rng = random.Random(seed)
    writers = (_results_by_method, _flat_clip, _web_result, _hardware_test)
    for index in range(count):
        model = f"bench-org/clip-variant-{index % 200}"
        epoch = 1_740_000_000 + index * 37
        document = writers[index % len(writers)](rng, model, epoch)
        (folder / f"result_{index:05d}.json").write_text(json.dumps(document), encoding="utf-8")


def _results_by_method(rng: random.Random, model: str, epoch: float) -> dict:
    results, performance = {}, {}
    for device in ("cpu", "cuda"):
        for kind in ("pipeline", "from_pretrained"):
            avg = rng.uniform(0.005, 0.5)
            key = f"{kind}_{device}"
            results[key] = {
                "model": model, "device": device, "task": "zero-shot-image-classification", "class": "CLIPModel",
                f"{kind}_success": rng.random() > 0.1, f"{kind}_avg_time": avg,
                f"{kind}_min_time": avg * rng.uniform(0.7, 0.95), f"{kind}_max_time": avg * rng.uniform(1.05, 1.4),
                f"{kind}_load_time": rng.uniform(0.5, 10), f"{kind}_error_type": "none",
            }
            performance[key] = {"avg_time": avg, "num_runs": 3}
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return {"results": results, "performance": performance, "hardware": {"cpu": True, "cuda": True},
            "metadata": {"model": model, "task": "zero-shot-image-classification", "timestamp": iso}}


def _flat_clip(rng: random.Random, model: str, epoch: float) -> dict:
    document: dict = {"init": "Success"}
    for platform in PLATFORMS:
        document[f"{platform}_init"] = "Success (REAL)"
        document[f"{platform}_similarity_example"] = {
            "output": rng.uniform(-1, 1), "timestamp": epoch, "implementation_type": "REAL",
            "performance": {"inference_time": rng.uniform(0.002, 0.2)},
        }
    document["apple_tests"] = "Apple Silicon not available"
    document["metadata"] = {"timestamp": epoch, "test_model": model, "torch_version": "2.6.0"}
    return document


def _web_result(rng: random.Random, model: str, epoch: float) -> dict:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return {
        "model_key": "clip", "model_name": model, "platform": rng.choice(("webgpu", "webnn")), "status": "success",
        "timestamp": iso, "implementation_type": "REAL_WEBGPU", "is_simulation": False,
        "platform_support": {"available": True, "simulated": False},
        "metrics": {"inference_time_ms": rng.uniform(5, 200), "load_time_ms": rng.uniform(100, 900)},
    }


def _hardware_test(rng: random.Random, model: str, epoch: float) -> dict:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return {
        "results": {"cpu": {"init": "Success", "execution_time": rng.uniform(0.05, 2.0),
                            "implementation_type": "REAL_CPU", "success": True}},
        "metadata": {"model_id": model, "model_config": {"class": "CLIPModel"}, "timestamp": iso},
    }


def build_results_database(path: Path, count: int) -> None:
    """Create a vt-tui database with `count` results, their details, 3 samples each and 2 machines, in SQL."""
    store = Store(path)
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("""
            INSERT INTO machines (machine_id, hostname, os, cpu, details, first_seen)
            VALUES ('bench-machine-a', 'host-a', 'Linux', 'cpu a', '{}', TIMESTAMP '2026-01-01'),
                   ('bench-machine-b', 'host-b', 'Linux', 'cpu b', '{}', TIMESTAMP '2026-01-01')
        """)
        con.execute("""
            INSERT INTO runs SELECT 'bench-run-' || i, TIMESTAMP '2026-01-01' + to_hours(i),
                   TIMESTAMP '2026-01-01' + to_hours(i) + INTERVAL 30 MINUTE, 'bench', '{}', 10000
            FROM range(100) t(i)
        """)
        con.execute(f"""
            INSERT INTO vision_text_results
            SELECT 'bench-' || i, 'bench/model-' || (i % 1000), 'clip', 'zero-shot-image-classification',
                   ['cpu', 'cuda', 'rocm', 'mps', 'openvino', 'webgpu', 'webnn'][(i % 7) + 1],
                   TIMESTAMP '2026-01-01' + to_seconds(i), i % 11 <> 0,
                   CASE WHEN i % 11 = 0 THEN 'runtime_error' END, 0.01 + (i % 97) / 1000.0, 100 + i % 50,
                   '{{"statistics": {{}}}}', '{{"state": "pass"}}'
            FROM range({count}) t(i)
        """)
        con.execute(f"""
            INSERT INTO result_details (result_id, run_id, machine_id, state, model_family, architecture, device,
                                        weights_source, precision, batch_size, settings_key, n_samples, mean_s,
                                        is_mock, is_simulated, phase_times)
            SELECT 'bench-' || i, 'bench-run-' || (i % 100), CASE WHEN i % 2 = 0 THEN 'bench-machine-a'
                   ELSE 'bench-machine-b' END, CASE WHEN i % 11 = 0 THEN 'fail' ELSE 'pass' END, 'clip',
                   'CLIPModel', 'default', 'synthetic', 'f32', 1, 'default|f32|bs1|synthetic', 3,
                   0.01 + (i % 97) / 1000.0, FALSE, FALSE, '{{}}'
            FROM range({count}) t(i)
        """)
        con.execute(f"""
            INSERT INTO samples SELECT 'bench-' || i, j, 0.01 + (i % 97) / 1000.0 + j / 10000.0
            FROM range({count}) t(i), range(3) u(j)
        """)
        con.execute("COMMIT")


def timed(label: str, unit: str, count_of, action) -> object:
    """Run `action`, print its count, wall time, rate and this process's CPU time, and return its outcome."""
    started, cpu_started = time.perf_counter(), time.process_time()
    outcome = action()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    count = count_of(outcome)
    # CPU time shows how much of the wall time other processes on a shared machine took.
    print(f"{label:<44} {count:>9} {unit:<8} {seconds:8.2f} s wall {cpu_seconds:8.2f} s cpu "
          f"{count / seconds:>10.0f} {unit}/s", flush=True)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="legacy result files to generate and import")
    parser.add_argument("--results", type=int, default=1_000_000, help="results in the database to merge")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vt-bench-"))
    try:
        legacy_dir = work / "legacy"
        legacy_dir.mkdir()
        started = time.perf_counter()
        write_legacy_files(legacy_dir, args.files)
        print(f"generated {args.files} legacy files in {time.perf_counter() - started:.1f} s", flush=True)

        target = Store(work / "target.duckdb")
        report = timed("import legacy files (first time)", "files", lambda r: len(r.files),
                       lambda: import_results(target, legacy_dir))
        print(f"  -> {report.rows} result rows, {report.count('failed')} failed, {report.count('skipped')} skipped")
        report = timed("import the same folder again", "files", lambda r: len(r.files),
                       lambda: import_results(target, legacy_dir))
        print(f"  -> {report.rows} new rows")

        source_path = work / "source.duckdb"
        started = time.perf_counter()
        build_results_database(source_path, args.results)
        print(f"built a database of {args.results} results in {time.perf_counter() - started:.1f} s", flush=True)

        def merged(report):
            return report.added.get("vision_text_results", 0) + report.already_present

        timed("merge database into the imported one", "results", merged, lambda: merge(target, source_path))
        again = timed("merge the same database again", "results", merged, lambda: merge(target, source_path))
        print(f"  -> {again.added.get('vision_text_results', 0)} new results the second time")

        export_dir = work / "export"
        timed("export the merged database to Parquet", "results",
              lambda m: m["tables"]["vision_text_results"]["rows"], lambda: export_parquet(target, export_dir))
        timed("merge the Parquet export into an empty db", "results", merged,
              lambda: merge(Store(work / "fresh.duckdb"), export_dir))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
