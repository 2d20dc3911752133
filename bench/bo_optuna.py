#!/usr/bin/python3
"""Optuna's side of bench/bo_quality and bench/bo_latency (python3-optuna 3.1).

quality: runs Optuna's TPE sampler (default, or multivariate=True) on one test
function for each seed and prints one JSON line:
  {"optuna": "3.1.0", "function": "branin", "sampler": "tpe",
   "best": [[best after budget b for b in budgets] for each seed]}
latency: times one trial (ask, suggest every parameter, tell) of TPE after n
trials in d dimensions and prints one JSON line:
  {"optuna": "3.1.0", "latency": [{"d": 2, "n": 50, "p50_ms": ..., "p95_ms": ...}]}

The test functions are the same as bench/bo_functions.h: same bounds, same
known minima.
"""

import argparse
import json
import math
import random
import time
import warnings


def branin(x):
    x1, x2 = x
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j] * 1e-4) ** 2 for j in range(6))
        total += HARTMANN_ALPHA[i] * math.exp(-inner)
    return -total


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x) / d
    s2 = sum(math.cos(2 * math.pi * v) for v in x) / d
    return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e


# name: (function, bounds, minimum)
FUNCTIONS = {
    "branin": (branin, [(-5, 10), (0, 15)], 0.397887357729738),
    "hartmann6": (hartmann6, [(0, 1)] * 6, -3.32236801141551),
    "rosenbrock4": (rosenbrock, [(-5, 10)] * 4, 0.0),
    "ackley5": (ackley, [(-32.768, 32.768)] * 5, 0.0),
}


def sampler_for(name, seed):
    import optuna
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe_mv":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    raise SystemExit(f"unknown sampler {name}")


def quality(args):
    import optuna
    function, bounds, _ = FUNCTIONS[args.function]
    budgets = [int(b) for b in args.budgets.split(",")]
    results = []
    for seed in range(args.seeds):
        study = optuna.create_study(sampler=sampler_for(args.sampler, seed))

        def objective(trial):
            x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)]
            return function(x)

        study.optimize(objective, n_trials=max(budgets))
        values = [t.value for t in study.trials]
        results.append([min(values[:b]) for b in budgets])
    print(json.dumps({"optuna": optuna.__version__, "function": args.function,
                      "sampler": args.sampler, "best": results}))


def percentile(sorted_values, p):
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency(args):
    import optuna
    rows = []
    for d in [int(v) for v in args.dims.split(",")]:
        for n in [int(v) for v in args.sizes.split(",")]:
            rng = random.Random(n * 100 + d)
            distributions = {f"x{i}": optuna.distributions.FloatDistribution(0, 1)
                             for i in range(d)}
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
            trials = []
            for _ in range(n):
                params = {name: rng.random() for name in distributions}
                value = sum(math.sin(7 * v) for v in params.values())
                trials.append(optuna.trial.create_trial(
                    params=params, distributions=distributions, value=value))
            study.add_trials(trials)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                trial = study.ask()
                value = sum(math.sin(7 * trial.suggest_float(f"x{i}", 0, 1)) for i in range(d))
                study.tell(trial, value)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            rows.append({"d": d, "n": n, "p50_ms": percentile(times, 50),
                         "p95_ms": percentile(times, 95)})
    print(json.dumps({"optuna": optuna.__version__, "latency": rows}))


def main():
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--function", choices=sorted(FUNCTIONS), required=True)
    q.add_argument("--sampler", choices=["tpe", "tpe_mv"], required=True)
    q.add_argument("--seeds", type=int, default=20)
    q.add_argument("--budgets", default="50,100,200")
    q.set_defaults(run=quality)
    l = sub.add_parser("latency")
    l.add_argument("--dims", default="2,6,10,20")
    l.add_argument("--sizes", default="50,100,200,500,1000")
    l.add_argument("--repeats", type=int, default=10)
    l.set_defaults(run=latency)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
