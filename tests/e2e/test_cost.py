"""GPUs held exclusively and the cost limit, with real processes."""
import json
import os
import textwrap
import time

from conftest import STOPPED, SUCCEEDED, wait_until
from dashboard_util import api

# Records the GPUs it was given and when it held them, then sleeps.
HOLD_PY = textwrap.dedent("""
    import json, os, sys, time
    start = time.time()
    time.sleep(float(sys.argv[1]))
    with open(os.path.join("held", f"{os.getpid()}.json"), "w") as f:
        json.dump({"gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                   "study": os.environ["VERNIER_STUDY"],
                   "start": start, "end": time.time()}, f)
    print(f"score={float(sys.argv[2])}")
""")

BUDGET_STUDY = """name: {name}
labels: {{team: {team}}}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials:
  max: {max_trials}
  parallel: 2
  stop_grace: 1s{runtime}
worker:
  command: ["/usr/bin/python3", "hold.py", "{seconds}", "${{params.x}}"]
  pricing: {{instance_hour: 3600}}   # 1.00 per second
budget: {{max_cost: {max_cost}, currency: EUR, on_exhausted: {mode}}}
"""


def gpu_study(name, gpus_per_trial, gpus="[0, 1, 2, 3]", trials=4, parallel=3):
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials: {{max: {trials}, parallel: {parallel}}}
worker:
  command: ["/usr/bin/python3", "hold.py", "0.4", "${{params.x}}"]
  gpus_per_trial: {gpus_per_trial}
  gpus: {gpus}
"""


def add_hold_script(workspace):
    os.makedirs(os.path.join(workspace.path, "held"), exist_ok=True)
    with open(os.path.join(workspace.path, "hold.py"), "w") as f:
        f.write(HOLD_PY)


def holdings(workspace):
    folder = os.path.join(workspace.path, "held")
    return [json.load(open(os.path.join(folder, name))) for name in os.listdir(folder)]


def test_no_two_running_trials_share_a_gpu_across_studies(workspace, start_server):
    add_hold_script(workspace)
    server = start_server()
    workspace.write_study(gpu_study("one-gpu", 1), "one.yaml")
    workspace.write_study(gpu_study("two-gpus", 2), "two.yaml")
    for name in ("one.yaml", "two.yaml"):
        assert server.cli("submit", name).returncode == 0
    assert wait_until(lambda: all(s["state"] == "DONE" for s in server.json("ls"))
                      and len(server.json("ls")) == 2, timeout=120)

    held = holdings(workspace)
    assert len(held) == 8
    intervals = {}
    for record in held:
        gpus = record["gpus"].split(",")
        assert len(gpus) == (1 if record["study"] == "one-gpu" else 2)
        for gpu in gpus:
            assert gpu in {"0", "1", "2", "3"}
            intervals.setdefault(gpu, []).append((record["start"], record["end"]))
    for gpu, spans in intervals.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"GPU {gpu} was held by two trials at once"
    # Three trials of one GPU each cannot all have run at once with the
    # two-GPU study's: trials queued, and every one still ran.
    for study in ("one-gpu", "two-gpus"):
        trials = server.json("trials", study)
        assert all(t["state"] == "SUCCEEDED" for t in trials)
        assert all(len(t["gpus"]) == (1 if study == "one-gpu" else 2) for t in trials)
        # The dashboard's plot columns carry them, for its timeline by GPU.
        status, columns = api(server.http_url, f"studies/{study}/columns")
        assert status == 200, columns
        by_number = sorted(trials, key=lambda t: t["number"])
        assert columns["gpus"] == [",".join(t["gpus"]) for t in by_number], columns


def test_gpus_auto_reads_nvidia_smi(workspace):
    add_hold_script(workspace)
    bin_dir = os.path.join(workspace.path, "bin")
    os.makedirs(bin_dir)
    smi = os.path.join(bin_dir, "nvidia-smi")
    with open(smi, "w") as f:
        f.write("#!/bin/sh\ncat <<'OUT'\n"
                "0, GPU-5c2b7a4e-3f0d-8a1b-6c9e-0d1f2a3b4c5d, NVIDIA A100-SXM4-40GB\n"
                "1, GPU-7e8f9a0b-1c2d-3e4f-5a6b-7c8d9e0f1a2b, NVIDIA A100-SXM4-40GB\n"
                "OUT\n")
    os.chmod(smi, 0o755)
    workspace.write_study(gpu_study("auto", 1, gpus="auto", trials=3, parallel=2))
    result = workspace.vernier("run", "study.yaml",
                               env={"PATH": bin_dir + ":" + os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    assert {record["gpus"] for record in holdings(workspace)} <= {"0", "1"}
    assert len(holdings(workspace)) == 3


def test_gpus_on_a_machine_without_any_is_refused_with_the_reason(workspace):
    add_hold_script(workspace)
    workspace.write_study(gpu_study("nogpu", 1, gpus="auto"))
    result = workspace.vernier("run", "study.yaml", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "worker.gpus_per_trial: this machine has no GPU" in result.stderr
    assert not os.path.exists(workspace.db) or workspace.trials() == []


def costs(workspace):
    return [t.get("cost", 0.0) for t in workspace.json("trials")]


def test_with_max_runtime_the_study_never_spends_more_than_its_budget(workspace):
    add_hold_script(workspace)
    workspace.write_study(BUDGET_STUDY.format(
        name="capped", team="fraud", max_trials=20, seconds=0.5, max_cost=8,
        mode="stop", runtime="\n  max_runtime: 2s"))
    result = workspace.vernier("run", "study.yaml")
    assert result.returncode == 0, result.stderr
    study = workspace.json("show")
    assert study["endReason"] == "BUDGET_EXHAUSTED"
    assert "budget exhausted" in study["stateMessage"]
    spent = sum(costs(workspace))
    assert 0 < spent <= 8.0
    # Each trial may cost 3.00 (2 s + 1 s of grace): 8.00 carries two at once
    # and then fewer, never one the budget could not finish.
    trials = workspace.json("trials")
    assert 2 <= len(trials) < 20
    assert all(t["state"] == "SUCCEEDED" for t in trials)


def test_without_max_runtime_running_trials_stop_at_the_limit(workspace):
    add_hold_script(workspace)
    workspace.write_study(BUDGET_STUDY.format(
        name="stopped", team="fraud", max_trials=6, seconds=30, max_cost=6,
        mode="stop", runtime=""))
    result = workspace.vernier("run", "study.yaml", timeout=120)
    assert result.returncode == 0, result.stderr
    study = workspace.json("show")
    assert study["endReason"] == "BUDGET_EXHAUSTED"
    trials = workspace.json("trials")
    assert [t["state"] for t in trials] == ["STOPPED", "STOPPED"]
    assert all("budget exhausted" in t["stateMessage"] for t in trials)
    # Two trials burn 2.00 a second; the stop comes early enough for their
    # grace, so the overshoot stays within one tick (2.00).
    assert sum(costs(workspace)) <= 6.0 + 2.0


def test_drain_lets_running_trials_finish(workspace):
    add_hold_script(workspace)
    workspace.write_study(BUDGET_STUDY.format(
        name="drained", team="ads", max_trials=6, seconds=3, max_cost=2,
        mode="drain", runtime=""))
    result = workspace.vernier("run", "study.yaml", timeout=120)
    assert result.returncode == 0, result.stderr
    assert workspace.json("show")["endReason"] == "BUDGET_EXHAUSTED"
    trials = workspace.json("trials")
    assert [t["state"] for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    assert sum(costs(workspace)) > 2.0  # they finished past the limit


def test_cost_by_label_sums_the_trials_records(workspace):
    add_hold_script(workspace)
    for name, team in (("first", "fraud"), ("second", "fraud"), ("third", "ads")):
        workspace.write_study(BUDGET_STUDY.format(
            name=name, team=team, max_trials=2, seconds=0.2, max_cost=100,
            mode="stop", runtime=""), f"{name}.yaml")
        assert workspace.vernier("run", f"{name}.yaml").returncode == 0
    by_study = {name: sum(t.get("cost", 0.0)
                          for t in workspace.json("trials", name))
                for name in ("first", "second", "third")}
    rows = workspace.json("cost", "--by", "team")
    totals = {row["team"]: row for row in rows}
    assert abs(totals["fraud"]["cost"] - by_study["first"] - by_study["second"]) < 1e-6
    assert abs(totals["ads"]["cost"] - by_study["third"]) < 1e-6
    assert totals["fraud"]["studies"] == 2 and totals["fraud"]["trials"] == 4
    assert totals["fraud"]["currency"] == "EUR"
    table = workspace.vernier("cost", "--by", "team").stdout
    assert "TEAM" in table and "fraud" in table and "EUR" in table
    assert workspace.vernier("cost", "--since", "soon").returncode == 2


# Records each attempt: when it started and when it ended, stopped or not.
ATTEMPT_PY = textwrap.dedent("""
    import json, os, signal, sys, time
    start = time.time()
    path = os.path.join("attempts", f"{os.getpid()}.json")
    def record(outcome):
        with open(path, "w") as f:
            json.dump({"trial": int(os.environ["VERNIER_TRIAL_NUMBER"]),
                       "start": start, "end": time.time(), "outcome": outcome}, f)
    def stopped(signum, frame):
        record("stopped")
        sys.exit(143)
    signal.signal(signal.SIGTERM, stopped)
    time.sleep(float(sys.argv[1]))
    record("finished")
    print(f"score={float(sys.argv[2])}")
""")


def test_cost_survives_a_server_restart_without_double_counting(workspace, start_server):
    os.makedirs(os.path.join(workspace.path, "attempts"))
    with open(os.path.join(workspace.path, "attempt.py"), "w") as f:
        f.write(ATTEMPT_PY)
    workspace.write_study(BUDGET_STUDY.format(
        name="restarted", team="fraud", max_trials=4, seconds=2.5, max_cost=1000,
        mode="stop", runtime="").replace("hold.py", "attempt.py"))
    server = start_server()
    assert server.cli("submit", "study.yaml").returncode == 0
    # Stop the server while two trials are a second into their run.
    assert wait_until(lambda: len([t for t in server.json("trials", "restarted")
                                   if t["state"] == "RUNNING"]) == 2, timeout=30)
    time.sleep(1.0)
    server.stop()
    interrupted = [json.load(open(os.path.join(workspace.path, "attempts", name)))
                   for name in os.listdir(os.path.join(workspace.path, "attempts"))]
    assert sorted(a["outcome"] for a in interrupted) == ["stopped", "stopped"]

    server = start_server()
    assert wait_until(lambda: server.json("show", "restarted")["state"] == "DONE",
                      timeout=120)
    trials = server.json("trials", "restarted")
    assert [t["state"] for t in trials] == ["SUCCEEDED"] * 4

    # Each trial's cost (1.00 a second) is the time its attempts held their
    # worker by their own records: the interrupted attempt counts once, and
    # the time the server was down not at all.
    attempts = [json.load(open(os.path.join(workspace.path, "attempts", name)))
                for name in os.listdir(os.path.join(workspace.path, "attempts"))]
    held = {}
    for attempt in attempts:
        held[attempt["trial"]] = held.get(attempt["trial"], 0.0) + attempt["end"] - attempt["start"]
    assert sorted(held) == [1, 2, 3, 4]
    assert sum(1 for a in attempts if a["outcome"] == "stopped") == 2
    for trial in trials:
        runs = sum(1 for a in attempts if a["trial"] == trial["number"])
        # The server counts from before the interpreter starts until after it
        # exits: at most half a second more per attempt, never less.
        assert held[trial["number"]] <= trial["cost"] <= held[trial["number"]] + 0.5 * runs, \
            (trial["number"], trial["cost"], held[trial["number"]])
    [row] = server.json("cost", "--by", "study")
    assert abs(row["cost"] - sum(t["cost"] for t in trials)) < 1e-6


def test_server_caps_running_trials_overall_and_per_label(workspace, start_server):
    add_hold_script(workspace)
    for name, team in (("fraud-a", "fraud"), ("fraud-b", "fraud"), ("ads", "ads")):
        workspace.write_study(f"""name: {name}
labels: {{team: {team}}}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials: {{max: 3, parallel: 3}}
worker:
  command: ["/usr/bin/python3", "hold.py", "1.5", "${{params.x}}"]
""", f"{name}.yaml")
    server = start_server("--max-running-trials", "2", "--max-running-per", "team=1")
    for name in ("fraud-a", "fraud-b", "ads"):
        assert server.cli("submit", f"{name}.yaml").returncode == 0

    def waiting_messages():
        return [t.get("stateMessage", "") for name in ("fraud-a", "fraud-b", "ads")
                for t in server.json("trials", name) if t["state"] == "PENDING"]

    # Trials beyond a cap wait visibly, saying which cap holds them.
    assert wait_until(lambda: any("--max-running-per" in m and "team=fraud" in m
                                  for m in waiting_messages()), timeout=30)
    assert wait_until(lambda: all(s["state"] == "DONE" for s in server.json("ls"))
                      and len(server.json("ls")) == 3, timeout=120)

    held = holdings(workspace)
    assert len(held) == 9

    def most_at_once(records):
        events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
        now = peak = 0
        for _, change in events:
            now += change
            peak = max(peak, now)
        return peak

    assert most_at_once(held) == 2
    assert most_at_once([r for r in held if r["study"].startswith("fraud")]) == 1
    refused = workspace.vernier("serve", "--max-running-per", "team")
    assert refused.returncode == 2
    assert "--max-running-per: 'team' is not LABEL=N" in refused.stderr
