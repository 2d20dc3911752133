"""Early stopping through `vernier run` with real worker processes: the rule
stops hopeless trials, a worker that obeys exits cleanly, one that keeps
reporting is killed after the grace period, and the study counts them right."""
import json
import os
import textwrap

from conftest import STOPPED, SUCCEEDED, measurement_rows, trial_protos

# Trial 1 and 4 are good (score 0.9 + step / 1000); trial 2 is bad and exits
# once a report answers should_stop; trial 3 is bad and keeps reporting. Each
# bad trial writes told-<number>.json with the step and wall time of the first
# report that answered should_stop.
PUSH_PY = textwrap.dedent("""
    import json, os, time
    import vernier
    trial = vernier.current_trial()
    number = trial.number
    role = {2: "obey", 3: "ignore"}.get(number, "good")
    base = 0.9 if role == "good" else 0.2
    told = False
    for step in range(1, 401):
        answer = trial.report(step, {"score": base + step / 1000}).should_stop
        if answer and not told:
            told = True
            with open(f"told-{number}.json", "w") as f:
                json.dump({"step": step, "time": time.time()}, f)
        if answer and role == "obey":
            raise SystemExit(0)
        if role == "good" and step == 10:
            break
        time.sleep(0.02 if role == "good" else 0.05)
    trial.complete({"score": base + 0.01})
""")

# Prints `step=N score=V` lines: trials 1 and 3 are good, 2 and 4 bad.
STDOUT_PY = textwrap.dedent("""
    import os, time
    number = int(os.environ["VERNIER_TRIAL_NUMBER"])
    base = 0.9 if number in (1, 3) else 0.2
    for step in range(1, 10):
        print(f"step={step} score={base + step / 1000}", flush=True)
        time.sleep(0.2)
    print(f"score={base + 0.01}")
""")


def study(name, script, collector, early_stopping, max_trials=4):
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
algorithm: {{name: random, seed: 5}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials:
  max: {max_trials}
  parallel: 1
  stop_grace: 1s
worker:
  command: ["/usr/bin/python3", "{script}"]
  metrics: {{collector: {collector}}}
early_stopping: {early_stopping}
"""


def write(workspace, name, text):
    with open(os.path.join(workspace.path, name), "w") as f:
        f.write(text)


def told(workspace, number):
    with open(os.path.join(workspace.path, f"told-{number}.json")) as f:
        return json.load(f)


def end_seconds(trial):
    return trial.end_time.seconds + trial.end_time.nanos / 1e9


def steps_of(workspace, trial):
    return sorted({step for _, step, _, _ in measurement_rows(workspace.db, trial.id)})


def test_push_workers_that_obey_exit_and_others_are_killed_after_the_grace(workspace):
    write(workspace, "push.py", PUSH_PY)
    workspace.write_study(study(
        "es-push", "push.py", "push",
        "{name: median, settings: {min_trials: 1, start_step: 2}}"))
    result = workspace.vernier("run", "study.yaml", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    trials = {t.number: t for t in trial_protos(workspace.db)}
    assert [trials[n].state for n in (1, 2, 3, 4)] == [SUCCEEDED, STOPPED, STOPPED, SUCCEEDED]

    # Both bad trials were judged at step 2 and told so by the answer to that
    # very report; each keeps the best value it reached by then.
    for number in (2, 3):
        trial = trials[number]
        assert trial.early_stop.rule == "median"
        assert trial.early_stop.step == 2
        assert told(workspace, number)["step"] == 2
        assert abs(trial.objective - 0.202) < 1e-9
        assert trial.state_message.startswith("stopped early by median at step 2: best 0.202")

    obeyed, ignored = trials[2], trials[3]
    # The obedient worker exited by itself, right after the report.
    assert obeyed.HasField("exit_code") and obeyed.exit_code == 0
    assert not obeyed.HasField("exit_signal")
    assert steps_of(workspace, obeyed) == [1, 2]
    # The other kept reporting until SIGTERM came, no sooner than the grace.
    assert ignored.exit_signal == 15
    assert len(steps_of(workspace, ignored)) > 2
    assert end_seconds(ignored) - told(workspace, 3)["time"] >= 0.9

    # The study ran all four, and only completed trials compete for best.
    assert workspace.study_state() == 2  # DONE
    assert "2 succeeded, 0 failed, 2 stopped" in result.stdout
    assert "stopped early by median: 2 trials (at step 2: #2 #3)" in result.stdout
    best = workspace.json("best")
    assert best["number"] in (1, 4)
    table = workspace.vernier("trials").stdout
    assert table.count("stopped early by median at step 2") == 2
    as_json = {t["number"]: t for t in workspace.json("trials")}
    assert as_json[3]["earlyStop"]["rule"] == "median"
    assert as_json[3]["earlyStop"]["step"] == "2"  # int64 in JSON


def test_stdout_workers_are_stopped_by_the_executor_at_once(workspace):
    write(workspace, "print.py", STDOUT_PY)
    workspace.write_study(study(
        "es-stdout", "print.py", "stdout",
        "{name: asha, settings: {min_step: 1, max_step: 9, reduction_factor: 3}}"))
    result = workspace.vernier("run", "study.yaml", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    trials = {t.number: t for t in trial_protos(workspace.db)}
    assert [trials[n].state for n in (1, 2, 3, 4)] == [SUCCEEDED, STOPPED, SUCCEEDED, STOPPED]
    for number in (2, 4):
        trial = trials[number]
        assert trial.early_stop.rule == "asha"
        assert trial.early_stop.step == 1
        # A printing worker cannot hear should_stop: SIGTERM came at once,
        # long before it would have printed its nine steps.
        assert trial.exit_signal == 15
        assert steps_of(workspace, trial)[-1] < 9
    assert abs(trials[1].objective - 0.91) < 1e-9
    assert "stopped early by asha: 2 trials (at step 1: #2 #4)" in result.stdout


def test_a_rule_on_a_study_without_steps_is_refused(workspace):
    workspace.write_study("""name: es-none
objective: {metric: score, goal: maximize}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 2}
worker: {kind: none}
early_stopping: {name: asha, settings: {max_step: 9}}
""")
    result = workspace.vernier("validate", "study.yaml")
    assert result.returncode != 0
    assert "early_stopping: needs intermediate measurements" in result.stderr + result.stdout
