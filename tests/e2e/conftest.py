"""Shared helpers for the end-to-end tests: run the real binary on a study in
a temporary folder and read the results straight from its SQLite database."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

VERNIER = os.path.abspath(os.environ.get("VERNIER_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "vernier"))
SOURCE_DIR = os.path.abspath(os.environ.get("VERNIER_SOURCE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", ".."))

# Trial states as stored in the trials.state column (Trial.State in the proto).
PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED, INFEASIBLE = 1, 2, 3, 4, 5, 6

# A training script: objective = -(x - 0.3)^2 - (k == "b") / 10, printed with
# intermediate steps; sleeps so runs overlap; honours FAIL_IF_X_BELOW.
TRAIN_PY = textwrap.dedent("""
    import os, sys, time
    x = float(sys.argv[1]); k = sys.argv[2]
    open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w").close()
    if x < float(os.environ.get("FAIL_IF_X_BELOW", "-1")):
        print("x too small", file=sys.stderr)
        sys.exit(3)
    value = -(x - 0.3) ** 2 - (0.1 if k == "b" else 0.0)
    for step in range(1, 4):
        print(f"step={step} score={value * (4 - step):.6f}", flush=True)
        time.sleep(float(os.environ.get("STEP_SECONDS", "0.05")))
    print(f"score={value:.9f} extra=1.5")
""")


def study_yaml(name="e2e", max_trials=6, parallel=2, extra_trials=(), algorithm="random",
               env=None):
    """A study of train.py; `extra_trials` are more `key: value` lines under trials."""
    env_lines = "".join(f'\n    {k}: "{v}"' for k, v in (env or {}).items())
    trial_lines = "".join(f"\n  {line}" for line in extra_trials)
    return f"""name: {name}
objective:
  metric: score
  goal: maximize
  additional_metrics: [extra]
algorithm: {{name: {algorithm}, seed: 11}}
parameters:
  - {{name: x, type: double, min: 0, max: 1, grid_points: 3}}
  - {{name: k, type: categorical, values: [a, b]}}
trials:
  max: {max_trials}
  parallel: {parallel}{trial_lines}
worker:
  command: ["/usr/bin/python3", "train.py", "${{params.x}}", "${{params.k}}"]
  env:
    PID_DIR: "pids"{env_lines}
"""


class Workspace:
    def __init__(self, path):
        self.path = path
        self.db = os.path.join(path, "vernier.db")
        os.makedirs(os.path.join(path, "pids"), exist_ok=True)
        with open(os.path.join(path, "train.py"), "w") as f:
            f.write(TRAIN_PY)

    def write_study(self, text, name="study.yaml"):
        path = os.path.join(self.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def vernier(self, *args, timeout=300, env=None):
        """Runs vernier to its end; `env` adds to the environment its workers inherit."""
        return subprocess.run([VERNIER, *args], cwd=self.path, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **(env or {})})

    def start(self, *args, env=None):
        return subprocess.Popen([VERNIER, *args], cwd=self.path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})

    def trials(self):
        """Rows (number, state, objective) straight from the database."""
        with sqlite3.connect(self.db) as db:
            return db.execute(
                "SELECT number, state, objective FROM trials ORDER BY number").fetchall()

    def study_state(self):
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT state FROM studies").fetchone()[0]

    def json(self, *args):
        result = self.vernier(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def worker_pids(self):
        return [int(p) for p in os.listdir(os.path.join(self.path, "pids"))]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, timeout=60, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def workspace(tmp_path):
    return Workspace(str(tmp_path))
