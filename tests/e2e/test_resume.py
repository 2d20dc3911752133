"""Interrupting `vernier run` (SIGKILL, Ctrl-C) and running it again."""
import signal

from conftest import PENDING, SUCCEEDED, alive, study_yaml, wait_until


def running_trials(workspace):
    try:
        return sum(1 for _, state, _ in workspace.trials() if state == 2)
    except Exception:  # the database may not exist yet
        return 0


def finished_trials(workspace):
    try:
        return sum(1 for _, state, _ in workspace.trials() if state == SUCCEEDED)
    except Exception:
        return 0


def test_sigkill_midway_then_resume_finishes_exactly_max_trials(workspace):
    workspace.write_study(study_yaml(max_trials=8, parallel=2))
    run = workspace.start("run", "study.yaml", env={"STEP_SECONDS": "0.4"})
    assert wait_until(lambda: finished_trials(workspace) >= 2 and running_trials(workspace) == 2)
    run.kill()
    run.wait()
    pids_before = workspace.worker_pids()
    # Workers of the killed run do not outlive it.
    assert wait_until(lambda: not any(alive(p) for p in pids_before), timeout=10)

    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0, result.stderr
    assert "resuming study e2e" in result.stdout
    trials = workspace.trials()
    assert [number for number, _, _ in trials] == list(range(1, 9))
    assert all(state == SUCCEEDED for _, state, _ in trials)
    assert not any(alive(p) for p in workspace.worker_pids())
    # The two trials the kill interrupted ran again as their second attempt.
    attempts = sorted(t.get("attempt", 0) for t in workspace.json("trials"))
    assert attempts == [1] * 6 + [2, 2]


def test_ctrl_c_stops_cleanly_and_resumes(workspace):
    workspace.write_study(study_yaml(max_trials=6, parallel=2))
    run = workspace.start("run", "study.yaml", env={"STEP_SECONDS": "30"})
    assert wait_until(lambda: running_trials(workspace) == 2)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "study e2e: stopped" in out
    assert workspace.study_state() == 4  # STOPPED
    assert [state for _, state, _ in workspace.trials()] == [PENDING, PENDING]
    assert not any(alive(p) for p in workspace.worker_pids())

    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0, result.stderr
    trials = workspace.trials()
    assert len(trials) == 6
    assert all(state == SUCCEEDED for _, state, _ in trials)
    assert workspace.study_state() == 2  # DONE


def test_changed_spec_is_refused(workspace):
    workspace.write_study(study_yaml(max_trials=2))
    assert workspace.vernier("run", "study.yaml").returncode == 0
    workspace.write_study(study_yaml(max_trials=3))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 2
    assert "different spec" in result.stderr
    assert len(workspace.trials()) == 2


def test_finished_study_reports_itself(workspace):
    workspace.write_study(study_yaml(max_trials=2))
    assert workspace.vernier("run", "study.yaml").returncode == 0
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0
    assert "already ended" in result.stdout
    assert len(workspace.trials()) == 2
