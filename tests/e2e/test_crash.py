"""A server killed with SIGKILL while its trials report: every acknowledged
measurement survives, no worker outlives it, and the restarted server finishes
the study."""
import glob
import os
import textwrap
import time

from conftest import SUCCEEDED, alive, measurement_rows, study_rows, trial_protos, wait_until

TRIALS = 16
STEPS = 300

# Reports STEPS steps as fast as it can and appends each acknowledged
# (trial id, step, value) to acks/ID-ATTEMPT.log. An attempt numbers its steps
# from 1000 * attempt, so a re-run never re-reports a step of an earlier one.
REPORT_PY = textwrap.dedent(f"""
    import os
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    trial = vernier.current_trial()
    attempt = trial.proto.attempt
    assert attempt >= 1, attempt
    log = os.open(f"acks/{{trial.id}}-{{attempt}}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    for i in range({STEPS}):
        step = 1000 * attempt + i
        trial.report(step, {{"score": float(i)}})
        os.write(log, f"{{trial.id}} {{step}} {{i}}\\n".encode())
    trial.complete({{"score": float(attempt)}})
""")

STUDY = f"""name: crash
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials: {{max: {TRIALS}, parallel: {TRIALS}}}
worker:
  command: ["/usr/bin/python3", "report.py"]
  metrics: {{collector: push}}
"""


def acknowledged(path):
    """(trial_id, step) -> value of every acknowledged report; a line cut by the
    kill is not whole and is skipped."""
    acks = {}
    for name in glob.glob(os.path.join(path, "acks", "*.log")):
        with open(name) as f:
            for line in f:
                fields = line.split()
                if line.endswith("\n") and len(fields) == 3:
                    acks[(int(fields[0]), int(fields[1]))] = float(fields[2])
    return acks


def trials_reporting(path):
    return len({os.path.basename(n).split("-")[0]
                for n in glob.glob(os.path.join(path, "acks", "*.log"))
                if os.path.getsize(n) > 0})


def test_sigkill_while_sixteen_trials_report(workspace, start_server):
    os.makedirs(os.path.join(workspace.path, "acks"))
    with open(os.path.join(workspace.path, "report.py"), "w") as f:
        f.write(REPORT_PY)
    workspace.write_study(STUDY)
    server = start_server()
    assert server.cli("submit", "study.yaml").returncode == 0

    # Kill once most trials report, about 2 s in.
    assert wait_until(lambda: trials_reporting(workspace.path) >= TRIALS * 3 // 4, timeout=30)
    time.sleep(0.5)
    server.kill()
    before_kill = acknowledged(workspace.path)
    pids_before = workspace.worker_pids()
    assert len(before_kill) > 0 and len(pids_before) >= TRIALS * 3 // 4

    restarted = start_server()
    assert wait_until(lambda: not any(alive(pid) for pid in pids_before), timeout=10)
    assert wait_until(lambda: study_rows(workspace.db)["crash"] != 1, timeout=60, interval=0.2)
    assert study_rows(workspace.db)["crash"] == 2  # DONE
    assert "vernier serving gRPC" in restarted.output()

    stored = {(trial_id, step): value
              for trial_id, step, metric, value in measurement_rows(workspace.db)}
    lost = {key: value for key, value in before_kill.items() if stored.get(key) != value}
    assert not lost, f"{len(lost)} of {len(before_kill)} acknowledged reports lost"

    trials = trial_protos(workspace.db, "crash")
    assert len(trials) == TRIALS
    assert all(t.state == SUCCEEDED for t in trials)
    # Interrupted trials ran again as their second attempt, under the same id,
    # and their first attempt's measurements stayed.
    rerun = [t for t in trials if t.attempt == 2]
    assert rerun, "the kill interrupted no trial"
    assert all(t.attempt in (1, 2) for t in trials)
    for t in rerun:
        steps = {step for trial_id, step in stored if trial_id == t.id}
        assert {2000 + i for i in range(STEPS)} <= steps
        assert t.objective == 2.0
    assert acknowledged(workspace.path).keys() <= stored.keys()
