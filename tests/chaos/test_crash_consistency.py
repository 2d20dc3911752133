"""Crash consistency: `vernier serve` SIGKILLed at seeded random moments of a
study with real workers, and restarted each time.

Each kill lands in one phase, chosen by a seeded generator, by watching the
database and the workers' acknowledgement logs:
  resume      while the restarted server is still starting and resuming
  suggestion  just after new trial rows appear
  launch      just after a trial's row turns RUNNING for a new attempt
  reports     while workers report, after a random share of a second
  completion  just after a worker's FinishTrial was acknowledged
After every kill, the workers of the killed server must die with it (they
run under PR_SET_PDEATHSIG) before the server is started again. At the end:
the study is DONE with exactly trials.max trials numbered 1..max, every
acknowledged measurement and every acknowledged completion is in the
database, no worker runs, and SQLite's integrity_check is ok.

CI runs 25 kills; --long runs 200 (see conftest.py).
"""
import glob
import os
import random
import sqlite3
import subprocess
import textwrap
import time

from e2e_support import SUCCEEDED, VERNIER, child_env, free_port, trial_protos, wait_until

PHASES = ("resume", "suggestion", "launch", "reports", "completion")

# Reports STEPS steps, STEP_SECONDS apart, then completes with a value that
# names its trial and attempt. Each acknowledged call is appended, as one
# whole line, to acks/ID-ATTEMPT.log: "m ID STEP VALUE" for a measurement,
# "f ID ATTEMPT VALUE" for the completion. An attempt numbers its steps from
# 1000 * attempt, so a re-run never overwrites an earlier attempt's step.
TRIAL_PY = textwrap.dedent("""
    import os, time
    import vernier
    trial = vernier.current_trial()
    attempt = trial.proto.attempt
    log = os.open(f"acks/{trial.id}-{attempt}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    for i in range(int(os.environ["STEPS"])):
        step = 1000 * attempt + i
        value = step + trial.id / 1000
        trial.report(step, {"score": value})
        os.write(log, f"m {trial.id} {step} {value!r}\\n".encode())
        time.sleep(float(os.environ["STEP_SECONDS"]))
    final = trial.id * 10 + attempt
    trial.complete({"score": float(final)})
    os.write(log, f"f {trial.id} {attempt} {float(final)!r}\\n".encode())
""")


def study_yaml(max_trials, parallel, steps):
    return f"""name: chaos
objective: {{metric: score, goal: maximize}}
algorithm: {{name: random, seed: 5}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials: {{max: {max_trials}, parallel: {parallel}}}
worker:
  command: ["/usr/bin/python3", "chaos_trial.py"]
  metrics: {{collector: push}}
  env: {{STEPS: "{steps}", STEP_SECONDS: "0.04"}}
"""


class Chaos:
    """One workspace: the study, the server process of the moment, and what
    the database and the ack logs say."""

    def __init__(self, path):
        self.path = path
        self.db = os.path.join(path, "vernier.db")
        self.trial_script = os.path.join(path, "chaos_trial.py")
        self.process = None
        self.address = None
        self.starts = 0
        os.makedirs(os.path.join(path, "acks"))
        with open(self.trial_script, "w") as f:
            f.write(TRIAL_PY)

    def spawn(self):
        """Starts `vernier serve` on the database without waiting for it."""
        self.starts += 1
        self.address = f"127.0.0.1:{free_port()}"
        with open(os.path.join(self.path, f"serve-{self.starts}.err"), "w") as err, \
                open(os.path.join(self.path, f"serve-{self.starts}.out"), "w") as out:
            self.process = subprocess.Popen(
                [VERNIER, "serve", "--db", self.db, "--grpc", self.address,
                 "--http", "127.0.0.1:0"],
                cwd=self.path, stdout=out, stderr=err, env=child_env())

    def serving(self):
        with open(os.path.join(self.path, f"serve-{self.starts}.out")) as f:
            return "vernier serving gRPC on" in f.read()

    def errors(self):
        with open(os.path.join(self.path, f"serve-{self.starts}.err")) as f:
            return f.read()

    def start(self):
        """Starts the server and waits until it serves."""
        self.spawn()
        assert wait_until(lambda: self.serving() or self.process.poll() is not None,
                          timeout=30), "vernier serve did not start"
        assert self.process.poll() is None, self.errors()

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def query(self, sql):
        """Rows of `sql` on a read-only connection; [] while the file is not
        there or is busy."""
        if not os.path.exists(self.db):
            return []
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as db:
                return db.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []

    def trial_count(self):
        rows = self.query("SELECT COUNT(*) FROM trials")
        return rows[0][0] if rows else 0

    def running_trials(self):
        return {trial_id for (trial_id,) in self.query("SELECT id FROM trials WHERE state = 2")}

    def study_state(self):
        rows = self.query("SELECT state FROM studies WHERE name = 'chaos'")
        return rows[0][0] if rows else None

    def ack_lines(self):
        lines = []
        for name in glob.glob(os.path.join(self.path, "acks", "*.log")):
            with open(name) as f:
                # A line cut by a kill is not whole: not acknowledged.
                lines += [line.split() for line in f if line.endswith("\n")]
        return lines

    def workers(self):
        """Pids of running trial programs of this workspace, found in /proc."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and any(arg.endswith(b"chaos_trial.py") for arg in argv) \
                    and os.path.realpath(f"/proc/{entry}/cwd") == os.path.realpath(self.path):
                pids.append(int(entry))
        return pids


def wait_for_phase(chaos, phase, rng):
    """Blocks until the server is in `phase` (or 10 s passed: the phase may not
    come, e.g. once the study is done), then a seeded random while longer.
    Returns whether the phase was seen."""
    if phase == "resume":
        time.sleep(rng.uniform(0.0, 0.6))
        return True
    if not wait_until(chaos.serving, timeout=30):
        return False
    count, running = chaos.trial_count(), chaos.running_trials()
    acks = chaos.ack_lines()
    finals = sum(1 for line in acks if line[0] == "f")
    if phase == "suggestion":
        seen = wait_until(lambda: chaos.trial_count() > count, timeout=10, interval=0.005)
        delay = rng.uniform(0.0, 0.05)
    elif phase == "launch":
        seen = wait_until(lambda: chaos.running_trials() - running, timeout=10, interval=0.005)
        delay = rng.uniform(0.0, 0.2)
    elif phase == "reports":
        seen = wait_until(lambda: len(chaos.ack_lines()) > len(acks), timeout=10, interval=0.01)
        delay = rng.uniform(0.0, 0.8)
    else:
        seen = wait_until(lambda: sum(1 for line in chaos.ack_lines() if line[0] == "f") > finals,
                          timeout=10, interval=0.005)
        delay = rng.uniform(0.0, 0.03)
    time.sleep(delay)
    return seen


def test_sigkill_at_seeded_moments(tmp_path, long_run, chaos_seed):
    kills = 200 if long_run else 25
    # Enough trials that the study is still running at the last kill (about
    # one trial ends per kill); `active_at_kill` shows it.
    max_trials = 320 if long_run else 40
    chaos = Chaos(str(tmp_path))
    with open(os.path.join(chaos.path, "study.yaml"), "w") as f:
        f.write(study_yaml(max_trials, parallel=3, steps=12))
    rng = random.Random(chaos_seed)
    seen = {phase: 0 for phase in PHASES}
    active_at_kill = 0
    try:
        chaos.start()
        submit = subprocess.run([VERNIER, "submit", "study.yaml", "--server", chaos.address],
                                cwd=chaos.path, capture_output=True, text=True, timeout=60)
        assert submit.returncode == 0, submit.stderr
        for kill in range(kills):
            phase = rng.choice(PHASES)
            if wait_for_phase(chaos, phase, rng):
                seen[phase] += 1
            before = chaos.workers()
            active_at_kill += chaos.study_state() == 1
            chaos.kill()
            # Workers die with the server that started them.
            assert wait_until(lambda: not chaos.workers(), timeout=10), (
                f"kill {kill} ({phase}): workers {chaos.workers()} outlived the server "
                f"(running at the kill: {before})")
            chaos.spawn()
        assert wait_until(chaos.serving, timeout=30), chaos.errors()
        assert wait_until(lambda: chaos.study_state() != 1, timeout=300, interval=0.2), \
            "the study did not finish after the last restart"
        assert chaos.process.poll() is None, chaos.errors()
    finally:
        chaos.stop()
    print(f"seed {chaos_seed}: {kills} kills, {active_at_kill} while the study was active, "
          f"phases seen {seen}")

    assert chaos.study_state() == 2  # DONE
    assert not chaos.workers()
    assert chaos.query("PRAGMA integrity_check") == [("ok",)]

    trials = trial_protos(chaos.db, "chaos")
    assert [t.number for t in trials] == list(range(1, max_trials + 1)), \
        "trials missing or duplicated"
    assert len({t.id for t in trials}) == max_trials
    assert all(t.state == SUCCEEDED for t in trials), [(t.number, t.state) for t in trials]
    by_id = {t.id: (t.attempt, t.objective) for t in trials}

    stored = {(trial_id, step): value for trial_id, step, value in chaos.query(
        "SELECT trial_id, step, value FROM measurements WHERE metric = 'score'")}
    acks = chaos.ack_lines()
    measured = {(int(t), int(s)): float(v) for kind, t, s, v in acks if kind == "m"}
    lost = {key: value for key, value in measured.items() if stored.get(key) != value}
    assert not lost, f"{len(lost)} of {len(measured)} acknowledged measurements lost: " \
        f"{sorted(lost.items())[:10]}"
    # An acknowledged completion is the trial's result: the trial is not run
    # again after it, and its objective is the completed value.
    completed = [(int(t), int(a), float(v)) for kind, t, a, v in acks if kind == "f"]
    assert len({t for t, _, _ in completed}) == len(completed), "a trial completed twice"
    for trial_id, attempt, value in completed:
        assert by_id[trial_id] == (attempt, value), (trial_id, by_id[trial_id], attempt, value)
    # Every trial's result is the completion of its last attempt (whose ack
    # may have been cut off from its log by the kill).
    assert all(objective == trial_id * 10 + attempt
               for trial_id, (attempt, objective) in by_id.items()), by_id
