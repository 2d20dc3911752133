"""Shared helpers for the end-to-end tests: run the real binary on a study in
a temporary folder and read the results straight from its SQLite database."""
import json
import os
import re
import signal
import socket
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
# The build folder: the generated Python client sits in its python/ folder.
BINARY_DIR = os.path.abspath(os.environ.get("VERNIER_BINARY_DIR") or os.path.dirname(VERNIER))
PYTHON_CLIENT_DIR = os.path.join(BINARY_DIR, "python")
if PYTHON_CLIENT_DIR not in sys.path:
    sys.path.insert(0, PYTHON_CLIENT_DIR)

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


def child_env(env=None, unset=()):
    """This process's environment plus `env`, without the variables in `unset`."""
    merged = {**os.environ, **(env or {})}
    for name in unset:
        merged.pop(name, None)
    return merged


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

    def vernier(self, *args, timeout=300, env=None, unset=()):
        """Runs vernier to its end; `env` adds to the environment its workers inherit,
        `unset` names variables to leave out of it."""
        return subprocess.run([VERNIER, *args], cwd=self.path, capture_output=True,
                              text=True, timeout=timeout, env=child_env(env, unset))

    def start(self, *args, env=None, unset=()):
        return subprocess.Popen([VERNIER, *args], cwd=self.path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=child_env(env, unset))

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


def free_port():
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_pids(pids):
    """SIGKILLs the process groups (workers lead their own) and processes in `pids`."""
    for pid in pids:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class Server:
    """A `vernier serve` process on a free loopback port, its output in files.

    Keeps the database, so a killed server can be started again on it."""

    def __init__(self, workspace, *args, db=None, env=None):
        self.workspace = workspace
        self.args = args
        self.db = db or workspace.db
        self.env = env
        self.process = None
        self.address = None
        self.starts = 0

    def start(self, timeout=30):
        """Starts the server and waits until it serves; retries another port if
        the one picked was taken meanwhile."""
        for _ in range(3):
            self.starts += 1
            port = free_port()
            self.address = f"127.0.0.1:{port}"
            base = os.path.join(self.workspace.path, f"serve-{port}")
            self.out_path, self.err_path = base + ".out", base + ".err"
            with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
                # The dashboard on a free port too, unless a test picks one.
                http = [] if "--http" in self.args else ["--http", "127.0.0.1:0"]
                self.process = subprocess.Popen(
                    [VERNIER, "serve", "--db", self.db, "--grpc", self.address, *http,
                     *self.args],
                    cwd=self.workspace.path, stdout=out, stderr=err, env=child_env(self.env))
            serving = wait_until(
                lambda: "vernier serving gRPC on" in self.output()
                or self.process.poll() is not None, timeout=timeout)
            if serving and self.process.poll() is None:
                return self
            self.process.kill()
            self.process.wait()
            if "cannot listen" not in self.errors():
                break
        raise AssertionError(f"vernier serve did not start:\n{self.errors()}")

    def output(self):
        with open(self.out_path) as f:
            return f.read()

    @property
    def http_url(self):
        """The dashboard's address as the server printed it: http://HOST:PORT/"""
        match = re.search(r"dashboard on (http://\S+/)", self.output())
        assert match, f"no dashboard address in:\n{self.output()}"
        return match.group(1)

    def errors(self):
        with open(self.err_path) as f:
            return f.read()

    def cli(self, *args, timeout=120):
        """A client subcommand against this server, e.g. cli("ls", "--json")."""
        return self.workspace.vernier(*args, "--server", self.address, timeout=timeout)

    def json(self, *args):
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def kill(self):
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL if it has not ended within `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def start_server(workspace):
    """start_server(*serve_args, db=None) starts `vernier serve` in the workspace;
    every server started is stopped, and the workers it left are killed, at the end."""
    servers = []

    def start(*args, **kwargs):
        server = Server(workspace, *args, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop(timeout=15)
    kill_pids(workspace.worker_pids())


def study_rows(db_path):
    """Study name -> state, straight from the database."""
    with sqlite3.connect(db_path) as db:
        return dict(db.execute("SELECT name, state FROM studies").fetchall())


def measurement_rows(db_path, trial_id=None):
    """(trial_id, step, metric, value) rows, optionally of one trial."""
    query = "SELECT trial_id, step, metric, value FROM measurements"
    args = ()
    if trial_id is not None:
        query += " WHERE trial_id = ?"
        args = (trial_id,)
    with sqlite3.connect(db_path) as db:
        return db.execute(query + " ORDER BY trial_id, step, metric", args).fetchall()


def trial_protos(db_path, study=None):
    """The vernier.v1.Trial messages stored, in (study, number) order."""
    from vernier.v1 import study_pb2
    query = ("SELECT t.proto FROM trials t JOIN studies s ON s.id = t.study_id"
             + (" WHERE s.name = ?" if study else "") + " ORDER BY t.study_id, t.number")
    with sqlite3.connect(db_path) as db:
        rows = db.execute(query, (study,) if study else ()).fetchall()
    return [study_pb2.Trial.FromString(blob) for (blob,) in rows]
