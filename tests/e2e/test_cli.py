"""`vernier validate`, `ls`, `trials` and `best` as a user types them."""
import os

from conftest import SOURCE_DIR, study_yaml


def test_validate_lists_every_problem_with_positions(workspace):
    workspace.write_study("""\
name: Bad_Name
objective: {metric: score, goal: up}
parameters:
  - {name: x, type: double, min: 5, max: 3}
  - {name: x, type: int, min: 1, max: 4}
trials: {max: 0, parallel: 0, max_runtime: 10}
worker: {command: ["run", "${params.nope}"], colour: red}
""")
    result = workspace.vernier("validate", "study.yaml")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    for expected in ("study.yaml:1:", "name:",
                     "study.yaml:2:", "objective.goal:",
                     "study.yaml:4:", "parameters[0].max: must be greater than min",
                     "study.yaml:5:", "parameters[1].name:",
                     "study.yaml:6:", "trials.max:", "trials.parallel:", "trials.max_runtime:",
                     "study.yaml:7:", "worker.command[1]:", "worker.colour:"):
        assert any(expected in line for line in lines), (expected, result.stderr)
    assert not os.path.exists(workspace.db)


def test_run_refuses_an_invalid_study_and_writes_nothing(workspace):
    workspace.write_study("name: x\n")
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 2
    assert "objective" in result.stderr
    assert not os.path.exists(workspace.db)


def test_examples_are_valid(workspace):
    for example in ("quickstart", "grid"):
        path = os.path.join(SOURCE_DIR, "examples", example, "study.yaml")
        result = workspace.vernier("validate", path)
        assert result.returncode == 0, result.stderr


def test_tables_and_json(workspace):
    workspace.write_study(study_yaml(name="first", max_trials=2))
    assert workspace.vernier("run", "study.yaml").returncode == 0
    ls = workspace.vernier("ls")
    assert ls.returncode == 0
    assert ls.stdout.splitlines()[0].split()[:3] == ["STUDY", "STATE", "DONE"]
    assert "first" in ls.stdout and "2/2" in ls.stdout

    trials = workspace.vernier("trials")
    header = trials.stdout.splitlines()[0].split()
    assert header[:5] == ["#", "STATE", "score", "x", "k"]
    assert len(trials.stdout.splitlines()) == 4

    studies = workspace.json("ls")
    assert [s["name"] for s in studies] == ["first"]
    assert studies[0]["spec"]["trials"]["max"] == 2

    # With two studies the name is needed.
    workspace.write_study(study_yaml(name="second", max_trials=1), "second.yaml")
    assert workspace.vernier("run", "second.yaml").returncode == 0
    result = workspace.vernier("trials")
    assert result.returncode == 2
    assert "name one: first, second" in result.stderr
    assert len(workspace.json("trials", "second")) == 1
    assert workspace.vernier("best", "nosuch").returncode == 2


def test_missing_database_is_a_clear_error(workspace):
    result = workspace.vernier("ls", "--db", "nowhere.db")
    assert result.returncode == 2
    assert "no database at nowhere.db" in result.stderr
