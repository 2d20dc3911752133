"""The Python and C++ clients report real trials of `vernier run` (metrics
collector push), asserted from the database."""
import json
import os
import signal
import sqlite3
import textwrap

from conftest import (BINARY_DIR, PENDING, SUCCEEDED, alive, measurement_rows, wait_until)

# Reports `steps` intermediate values through the Python client, then completes
# with score = 10 * x. Needs no PYTHONPATH: the executor adds the bundled client.
# The int parameter n, when the study has it, must arrive as an int.
PUSH_PY = textwrap.dedent("""
    import os, sys
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    trial = vernier.current_trial()
    x = trial.params["x"]
    assert float(os.environ["VERNIER_PARAM_x"]) == x
    if "n" in trial.params:
        n = trial.params["n"]
        assert type(n) is int and str(n) == os.environ["VERNIER_PARAM_n"], n
    for step in range(1, int(sys.argv[1]) + 1):
        trial.report(step, {"score": x * step, "extra": step + 0.5})
    trial.complete({"score": 10 * x, "extra": 1.5})
""")

# Reports every 50 ms, ignoring SIGTERM, and appends what each report answered to
# answers-ID; exits once told to stop.
STUBBORN_PY = textwrap.dedent("""
    import json, os, signal, time
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    signal.signal(signal.SIGTERM, lambda *_: None)
    trial = vernier.current_trial()
    path = f"answers-{trial.id}"
    for step in range(1, 1200):
        answer = trial.report(step, {"score": step}).should_stop
        with open(path, "a") as f:
            f.write(json.dumps([step, answer]) + "\\n")
        if answer:
            break
        time.sleep(0.05)
""")


def push_study(name, command, max_trials=3, parallel=2, extra_trials=(), params=None):
    trial_lines = "".join(f"\n  {line}" for line in extra_trials)
    params = params or ["{name: x, type: double, min: 0.1, max: 1}"]
    param_lines = "".join(f"\n  - {p}" for p in params)
    return f"""name: {name}
objective:
  metric: score
  goal: maximize
  additional_metrics: [extra]
algorithm: {{name: random, seed: 5}}
parameters:{param_lines}
trials:
  max: {max_trials}
  parallel: {parallel}{trial_lines}
worker:
  command: {json.dumps(command)}
  metrics:
    collector: push
"""


def trial_rows(workspace):
    """(id, number, state, objective) of every trial."""
    with sqlite3.connect(workspace.db) as db:
        return db.execute(
            "SELECT id, number, state, objective FROM trials ORDER BY number").fetchall()


def test_python_client_reports_steps_and_final_result(workspace):
    with open(os.path.join(workspace.path, "push.py"), "w") as f:
        f.write(PUSH_PY)
    workspace.write_study(push_study(
        "py-push", ["/usr/bin/python3", "push.py", "4"], params=[
            "{name: x, type: double, min: 0.1, max: 1}",
            "{name: n, type: int, min: 1, max: 64}",
        ]))
    result = workspace.vernier("run", "study.yaml", timeout=120, unset=("PYTHONPATH",))
    assert result.returncode == 0, result.stdout + result.stderr

    trials = workspace.json("trials")
    assert len(trials) == 3
    for trial in trials:
        assert trial["state"] == "SUCCEEDED", trial
        x = trial["parameters"]["x"]
        # The objective is what complete() sent, not the last report (4 * x).
        assert abs(trial["objective"] - 10 * x) < 1e-9
        assert trial["finalMetrics"]["extra"] == 1.5
        rows = measurement_rows(workspace.db, int(trial["id"]))
        assert [(step, metric) for _, step, metric, _ in rows] == [
            (step, metric) for step in range(1, 5) for metric in ("extra", "score")]
        for _, step, metric, value in rows:
            expected = x * step if metric == "score" else step + 0.5
            assert abs(value - expected) < 1e-9, (step, metric, value)
    assert workspace.study_state() == 2  # DONE


def test_cpp_client_example_trainer(workspace):
    trainer = os.path.join(BINARY_DIR, "examples", "cpp-trainer", "cpp-trainer")
    assert os.access(trainer, os.X_OK), f"build the example first: {trainer}"
    workspace.write_study(push_study(
        "cpp-push", [trainer], max_trials=3, params=[
            "{name: lr, type: double, min: 0.001, max: 0.05, scale: log}",
            "{name: momentum, type: double, min: 0, max: 0.5}",
            "{name: batch_size, type: discrete, values: [32, 64]}",
        ]).replace("metric: score\n  goal: maximize\n  additional_metrics: [extra]",
                   "metric: loss\n  goal: minimize"))
    result = workspace.vernier("run", "study.yaml", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    trials = trial_rows(workspace)
    assert len(trials) == 3
    for trial_id, _, state, objective in trials:
        assert state == SUCCEEDED
        rows = measurement_rows(workspace.db, trial_id)
        # Ten epochs, one loss each; the trainer completes with the last one.
        assert [(step, metric) for _, step, metric, _ in rows] == [
            (epoch, "loss") for epoch in range(1, 11)]
        assert objective == rows[-1][3]
        assert 0 <= objective < rows[0][3]  # training lowered the loss


def test_reporting_after_ctrl_c_learns_should_stop(workspace):
    with open(os.path.join(workspace.path, "stubborn.py"), "w") as f:
        f.write(STUBBORN_PY)
    workspace.write_study(push_study(
        "stubborn", ["/usr/bin/python3", "stubborn.py"], max_trials=2, parallel=1,
        extra_trials=["stop_grace: 20s"]))
    run = workspace.start("run", "study.yaml")
    try:
        assert wait_until(lambda: any(name.startswith("answers-")
                                      for name in os.listdir(workspace.path)), timeout=30)
        answers_file = next(os.path.join(workspace.path, name)
                            for name in os.listdir(workspace.path)
                            if name.startswith("answers-"))
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out + err
    with open(answers_file) as f:
        answers = [json.loads(line) for line in f]
    # Told to go on before the stop, then told to stop, and it stopped well
    # before the 20 s grace would have had it killed.
    assert answers[0] == [1, False]
    assert answers[-1][1] is True
    assert [answer for _, answer in answers].count(True) == 1
    assert workspace.study_state() == 4  # STOPPED
    assert [state for _, _, state, _ in trial_rows(workspace)] == [PENDING]
    assert not any(alive(pid) for pid in workspace.worker_pids())
