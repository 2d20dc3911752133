"""bench/early_stopping: what early stopping saves, and what it costs.

Runs the same synthetic study (trainer.py: learning curves that cross) with
no stopping, the median rule and ASHA, each as real trials of `vernier run`
(local executor, Python client, 2 workers), for several seeds, and prints for
each method: trial-steps consumed, wall time, and the best final objective
found (completed trials only, as Vernier ranks them). See bench/README.md.

Usage:
  /usr/bin/python3 bench/early_stopping/run.py [--vernier build/vernier] [--quick]
"""
import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SUCCEEDED, STOPPED = 3, 5

RULES = {
    "none": "",
    "median": "early_stopping: {name: median, settings: {min_trials: 5, start_step: 3}}\n",
    "asha": ("early_stopping: {name: asha, settings: "
             "{min_step: 3, max_step: %(max_step)d, reduction_factor: 3}}\n"),
}


def study_yaml(method, seed, args):
    return f"""name: es-{method}-{seed}
objective: {{metric: accuracy, goal: maximize}}
algorithm: {{name: random, seed: {seed}}}
parameters:
  - {{name: lr, type: double, min: 0.001, max: 1, scale: log}}
  - {{name: reg, type: double, min: 0, max: 1}}
trials:
  max: {args.trials}
  parallel: 2
  stop_grace: 5s
worker:
  command: ["/usr/bin/python3", "{os.path.join(HERE, 'trainer.py')}",
            "{args.max_step}", "{args.step_seconds}"]
  metrics: {{collector: push}}
""" + RULES[method] % {"max_step": args.max_step}


def run_once(method, seed, args):
    """One study to its end: (trial-steps, wall seconds, best final, stopped)."""
    with tempfile.TemporaryDirectory(prefix=f"vernier-es-{method}-") as folder:
        with open(os.path.join(folder, "study.yaml"), "w") as f:
            f.write(study_yaml(method, seed, args))
        started = time.monotonic()
        result = subprocess.run([args.vernier, "run", "study.yaml"], cwd=folder,
                                capture_output=True, text=True)
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"{method} seed {seed}: vernier run failed:\n{result.stderr}")
        with sqlite3.connect(os.path.join(folder, "vernier.db")) as db:
            steps = db.execute(
                "SELECT COUNT(*) FROM (SELECT DISTINCT trial_id, step FROM measurements)"
            ).fetchone()[0]
            best = db.execute("SELECT MAX(objective) FROM trials WHERE state = ?",
                              (SUCCEEDED,)).fetchone()[0]
            stopped = db.execute("SELECT COUNT(*) FROM trials WHERE state = ?",
                                 (STOPPED,)).fetchone()[0]
    return steps, wall, best, stopped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vernier", default=os.path.join(REPO, "build", "vernier"))
    parser.add_argument("--quick", action="store_true",
                        help="3 seeds of 16 trials instead of 10 of 40")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--trials", type=int)
    parser.add_argument("--max-step", type=int, default=27)
    parser.add_argument("--step-seconds", type=float, default=0.02)
    args = parser.parse_args()
    args.seeds = args.seeds or (3 if args.quick else 10)
    args.trials = args.trials or (16 if args.quick else 40)

    methods = list(RULES)
    runs = {method: [] for method in methods}
    for seed in range(1, args.seeds + 1):
        for method in methods:
            runs[method].append(run_once(method, seed, args))
            steps, wall, best, stopped = runs[method][-1]
            print(f"seed {seed:2d} {method:6s} steps {steps:5d}  wall {wall:6.1f} s  "
                  f"best {best:.4f}  stopped {stopped}", flush=True)

    base_steps = statistics.mean(r[0] for r in runs["none"])
    base_best = statistics.mean(r[2] for r in runs["none"])
    print(f"\n{args.seeds} seeds x {args.trials} trials, max_step {args.max_step}, "
          f"{args.step_seconds * 1000:.0f} ms per step, 2 workers\n")
    print("| method | trial-steps | of no stopping | wall time | best final (mean) "
          "| of no stopping | worst seed | trials stopped |")
    print("|---|---|---|---|---|---|---|---|")
    for method in methods:
        steps = statistics.mean(r[0] for r in runs[method])
        wall = statistics.mean(r[1] for r in runs[method])
        best = statistics.mean(r[2] for r in runs[method])
        ratios = [r[2] / b[2] for r, b in zip(runs[method], runs["none"])]
        stopped = statistics.mean(r[3] for r in runs[method])
        print(f"| {method} | {steps:.0f} | {steps / base_steps:.0%} | {wall:.1f} s "
              f"| {best:.4f} | {best / base_best:.2%} | {min(ratios):.2%} "
              f"| {stopped:.1f} |")
    asha_steps = statistics.mean(r[0] for r in runs["asha"]) / base_steps
    asha_best = statistics.mean(r[2] for r in runs["asha"]) / base_best
    met = asha_steps <= 0.40 and asha_best >= 0.98
    print(f"\nTarget (ASHA: best final within 2% of no stopping's, at most 40% of its "
          f"trial-steps): {asha_best:.2%} of the best at {asha_steps:.0%} of the steps: "
          f"{'MET' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
