"""`vernier run` on small real studies, asserted from the database."""
import os
import shutil

from conftest import FAILED, SUCCEEDED, SOURCE_DIR, study_yaml


def test_random_study_runs_to_the_end(workspace):
    workspace.write_study(study_yaml(max_trials=6))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0, result.stdout + result.stderr

    trials = workspace.trials()
    assert len(trials) == 6
    assert all(state == SUCCEEDED for _, state, _ in trials)
    assert workspace.study_state() == 2  # DONE

    best = workspace.json("best")
    assert best["objective"] == max(objective for _, _, objective in trials)
    assert best["finalMetrics"]["extra"] == 1.5
    assert best["exitCode"] == 0
    assert os.path.exists(best["logPath"])
    assert "study e2e: done" in result.stdout
    assert f"best: trial {best['number']}" in result.stdout


def test_intermediate_steps_and_parameters_are_recorded(workspace):
    workspace.write_study(study_yaml(max_trials=2, parallel=1))
    assert workspace.vernier("run", "study.yaml").returncode == 0
    trials = workspace.json("trials")
    assert len(trials) == 2
    for trial in trials:
        x, k = trial["parameters"]["x"], trial["parameters"]["k"]
        assert 0 <= x <= 1 and k in ("a", "b")
        expected = -(x - 0.3) ** 2 - (0.1 if k == "b" else 0.0)
        assert abs(trial["objective"] - expected) < 1e-6
        assert trial["startTime"] and trial["endTime"]
    import sqlite3
    with sqlite3.connect(workspace.db) as db:
        steps = db.execute("SELECT DISTINCT step FROM measurements ORDER BY step").fetchall()
    assert steps == [(1,), (2,), (3,)]


def test_grid_visits_every_point_once_and_ends(workspace):
    workspace.write_study(study_yaml(max_trials=50, algorithm="grid", parallel=2))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0, result.stderr
    trials = workspace.json("trials")
    points = {(t["parameters"]["x"], t["parameters"]["k"]) for t in trials}
    assert len(trials) == 6 and len(points) == 6
    assert "search space is used up" in result.stdout


def test_too_many_failures_fail_the_study(workspace):
    workspace.write_study(study_yaml(max_trials=8, parallel=1, extra_trials=["max_failed: 1"],
                                     env={"FAIL_IF_X_BELOW": "2"}))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 1
    trials = workspace.trials()
    assert [state for _, state, _ in trials] == [FAILED, FAILED]
    failed = workspace.json("trials")[0]
    assert failed["stateMessage"] == "exited with code 3"
    assert "x too small" in failed["logTail"]
    assert "failed" in result.stdout


def test_max_runtime_fails_a_slow_trial(workspace):
    workspace.write_study(study_yaml(max_trials=1, extra_trials=["max_runtime: 1s", "stop_grace: 200ms"],
                                     env={"STEP_SECONDS": "30"}))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0
    trial = workspace.json("trials")[0]
    assert trial["state"] == "FAILED"
    assert "max_runtime" in trial["stateMessage"]


def test_quickstart_example_runs(workspace):
    example = os.path.join(SOURCE_DIR, "examples", "quickstart")
    for name in ("study.yaml", "train.py"):
        shutil.copy(os.path.join(example, name), workspace.path)
    result = workspace.vernier("run", "study.yaml", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = workspace.trials()
    assert len(trials) == 20
    succeeded = [objective for _, state, objective in trials if state == SUCCEEDED]
    assert len(succeeded) >= 17
    # An RBF SVM on digits reaches well above 95% with a reasonable C and gamma.
    assert max(succeeded) > 0.95
