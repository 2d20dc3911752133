#!/usr/bin/python3
"""Optuna's side of bench/ingest: trial.report throughput into RDBStorage.

N processes each take a trial of one shared study stored in SQLite
(RDBStorage, sqlite:///PATH) and call trial.report(value, step) in a loop,
every process starting at the same moment, for a warm-up and then a measured
window. Each report is one committed transaction, as Optuna always does it.
Prints one JSON object on its last line of stdout:

  {"optuna": "3.1.0", "processes": 64, "seconds": 10.0, "window_reports": ...,
   "rate": ..., "p50_ms": ..., "p95_ms": ..., "p99_ms": ..., "errors": ...,
   "reported": ..., "stored": ..., "verified": true}

`stored` counts the rows of trial_intermediate_values afterwards; `verified`
says that every report that returned is among them.
"""

import argparse
import json
import math
import multiprocessing
import os
import sqlite3
import sys
import time
import warnings


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def worker(url, study_name, barrier, warmup, seconds, results):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    # Each process has its own engine: SQLAlchemy engines do not survive fork.
    # A long busy timeout makes writers queue on SQLite's lock instead of
    # failing with "database is locked".
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 120}}
    )
    study = optuna.load_study(study_name=study_name, storage=storage)
    trial = study.ask()
    barrier.wait()
    start = time.monotonic()
    window_start = start + warmup
    window_end = window_start + seconds
    step = 0
    reported = 0
    errors = 0
    window_reports = 0
    latencies = []
    while True:
        before = time.monotonic()
        if before >= window_end:
            break
        try:
            trial.report(1.0 / (step + 1), step)
            reported += 1
        except Exception:  # Optuna wraps SQLite errors in its own types.
            errors += 1
        after = time.monotonic()
        if window_start <= after < window_end:
            window_reports += 1
            latencies.append(after - before)
        step += 1
    results.put(
        {
            "trial_id": trial._trial_id,
            "reported": reported,
            "errors": errors,
            "window_reports": window_reports,
            "latencies": latencies,
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--db", required=True, help="SQLite file (replaced)")
    args = parser.parse_args()

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.remove(args.db + suffix)
        except FileNotFoundError:
            pass
    url = "sqlite:///" + os.path.abspath(args.db)
    study_name = "optuna-ingest-bench"
    storage = optuna.storages.RDBStorage(url)
    optuna.create_study(study_name=study_name, storage=storage)
    storage.engine.dispose()
    del storage

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(args.processes)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(url, study_name, barrier, args.warmup, args.seconds, results),
        )
        for _ in range(args.processes)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()

    latencies = sorted(l for o in outcomes for l in o["latencies"])
    window_reports = sum(o["window_reports"] for o in outcomes)
    reported = {o["trial_id"]: o["reported"] for o in outcomes}
    with sqlite3.connect(args.db) as db:
        stored = dict(
            db.execute(
                "SELECT trial_id, COUNT(*) FROM trial_intermediate_values "
                "GROUP BY trial_id"
            ).fetchall()
        )
    print(
        json.dumps(
            {
                "optuna": optuna.__version__,
                "processes": args.processes,
                "seconds": args.seconds,
                "window_reports": window_reports,
                "rate": window_reports / args.seconds,
                "p50_ms": percentile(latencies, 50) * 1e3,
                "p95_ms": percentile(latencies, 95) * 1e3,
                "p99_ms": percentile(latencies, 99) * 1e3,
                "errors": sum(o["errors"] for o in outcomes),
                "reported": sum(reported.values()),
                "stored": sum(stored.values()),
                "verified": all(
                    stored.get(trial, 0) >= count for trial, count in reported.items()
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
