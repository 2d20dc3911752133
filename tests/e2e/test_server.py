"""`vernier serve` with real clients: submit, stop, ask/tell, an algorithm
plug-in, and the requests it must refuse, asserted from the database."""
import json
import math
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import textwrap

import grpc
import pytest

import vernier
from vernier.v1 import service_pb2, service_pb2_grpc, study_pb2

from conftest import (INFEASIBLE, PENDING, PYTHON_CLIENT_DIR, RUNNING, SOURCE_DIR, SUCCEEDED,
                      alive, child_env, kill_pids, measurement_rows, study_rows, study_yaml,
                      trial_protos, wait_until)

# Study.State as stored in studies.state.
ACTIVE, DONE, STUDY_FAILED, STOPPED = 1, 2, 3, 4

# A push trial: three reports, then complete with score = x.
PUSH_PY = textwrap.dedent("""
    import os
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    trial = vernier.current_trial(retry=vernier.RetryPolicy(deadline=5))
    for step in range(1, 4):
        trial.report(step, {"score": trial.params["x"] * step})
    trial.complete({"score": trial.params["x"]})
""")

# A push trial that writes its id and token to tokens/NUMBER.json, then waits
# for a file release-ID before completing with score = x.
HOLD_PY = textwrap.dedent("""
    import json, os, time
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    trial_id = os.environ["VERNIER_TRIAL_ID"]
    with open(os.path.join("tokens", os.environ["VERNIER_TRIAL_NUMBER"] + ".tmp"), "w") as f:
        json.dump({"id": int(trial_id), "token": os.environ["VERNIER_TOKEN"]}, f)
    os.rename(os.path.join("tokens", os.environ["VERNIER_TRIAL_NUMBER"] + ".tmp"),
              os.path.join("tokens", os.environ["VERNIER_TRIAL_NUMBER"] + ".json"))
    deadline = time.monotonic() + 60
    while not os.path.exists(f"release-{trial_id}") and time.monotonic() < deadline:
        time.sleep(0.05)
    trial = vernier.current_trial()
    trial.complete({"score": trial.params["x"]})
""")


def push_study(name, script, max_trials=2, parallel=2):
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: double, min: 0.1, max: 1}}
trials: {{max: {max_trials}, parallel: {parallel}, stop_grace: 5s}}
worker:
  command: ["/usr/bin/python3", "{script}"]
  metrics: {{collector: push}}
"""


def write(workspace, name, text):
    path = os.path.join(workspace.path, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def trial_states(db_path, study):
    with sqlite3.connect(db_path) as db:
        return [state for (state,) in db.execute(
            "SELECT t.state FROM trials t JOIN studies s ON s.id = t.study_id "
            "WHERE s.name = ? ORDER BY t.number", (study,))]


def study_states(server):
    return {s["name"]: s["state"] for s in server.json("ls")}


def test_two_submitted_studies_both_finish(workspace, start_server):
    server = start_server()
    workspace.write_study(study_yaml(name="alpha", max_trials=4), "alpha.yaml")
    workspace.write_study(study_yaml(name="beta", max_trials=4), "beta.yaml")
    for name in ("alpha", "beta"):
        result = server.cli("submit", f"{name}.yaml")
        assert result.returncode == 0, result.stderr
        assert f"submitted study {name}" in result.stdout
    assert wait_until(lambda: study_states(server) == {"alpha": "DONE", "beta": "DONE"},
                      timeout=60, interval=0.2), study_states(server)
    assert study_rows(workspace.db) == {"alpha": DONE, "beta": DONE}
    for name in ("alpha", "beta"):
        assert trial_states(workspace.db, name) == [SUCCEEDED] * 4


def test_stop_one_study_while_its_trials_run(workspace, start_server):
    server = start_server()
    # The slow study lives in its own folder, so its workers' pids are its own.
    slow_dir = os.path.join(workspace.path, "slow")
    os.makedirs(os.path.join(slow_dir, "pids"))
    shutil.copy(os.path.join(workspace.path, "train.py"), slow_dir)
    write(workspace, "slow/study.yaml",
          study_yaml(name="slow", max_trials=4, parallel=2, env={"STEP_SECONDS": "30"}))
    workspace.write_study(study_yaml(name="fast", max_trials=6, parallel=1,
                                     env={"STEP_SECONDS": "0.15"}), "fast.yaml")
    slow_pids = lambda: [int(p) for p in os.listdir(os.path.join(slow_dir, "pids"))]
    try:
        assert server.cli("submit", "slow/study.yaml").returncode == 0
        assert server.cli("submit", "fast.yaml").returncode == 0
        assert wait_until(lambda: len(slow_pids()) == 2 and workspace.worker_pids(), timeout=30)
        assert study_states(server)["fast"] == "ACTIVE"

        result = server.cli("stop", "slow")
        assert result.returncode == 0, result.stderr
        assert "study slow:" in result.stdout
        assert wait_until(lambda: study_rows(workspace.db)["slow"] == STOPPED, timeout=20)
        assert wait_until(lambda: not any(alive(p) for p in slow_pids()), timeout=10)
        assert len(slow_pids()) == 2  # no new trial started after the stop
        assert trial_states(workspace.db, "slow") == [PENDING, PENDING]

        assert wait_until(lambda: study_rows(workspace.db)["fast"] == DONE, timeout=60)
        assert trial_states(workspace.db, "fast") == [SUCCEEDED] * 6
        assert study_rows(workspace.db)["slow"] == STOPPED
    finally:
        kill_pids(slow_pids())


def test_ask_tell_through_the_server(workspace, start_server):
    server = start_server()
    client = vernier.connect(server.address, timeout=20)
    study = client.create_study("""
name: asktell
objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: -1, max: 1}
  - {name: n, type: int, min: 1, max: 5}
trials: {max: 4, parallel: 4}
worker: {kind: none}
""")
    assert study.state == "ACTIVE"
    first = study.suggest(2, client_id="c1")
    again = study.suggest(2, client_id="c1")
    assert len(first) == 2
    assert [t.id for t in again] == [t.id for t in first]
    others = study.suggest(2, client_id="c2")
    assert len(others) == 2
    assert not {t.id for t in others} & {t.id for t in first}
    for trial in first + others:
        assert -1 <= trial.params["x"] <= 1
        assert isinstance(trial.params["n"], int) and 1 <= trial.params["n"] <= 5

    done = study.complete(first[0], {"loss": first[0].params["x"] ** 2})
    assert done.state == "SUCCEEDED"
    assert study.infeasible(first[1], "diverged").state == "INFEASIBLE"
    with pytest.raises(vernier.FailedPrecondition):
        study.complete(first[0], {"loss": 0.0})
    for trial in others:
        study.complete(trial, {"loss": trial.params["x"] ** 2 + trial.params["n"]})
    assert wait_until(lambda: study.refresh().state == "DONE", timeout=20)
    client.close()

    protos = {t.id: t for t in trial_protos(workspace.db, "asktell")}
    assert len(protos) == 4
    assert sorted(t.state for t in protos.values()) == sorted(
        [SUCCEEDED, SUCCEEDED, SUCCEEDED, INFEASIBLE])
    assert protos[first[1].id].state == INFEASIBLE
    assert protos[first[0].id].objective == first[0].params["x"] ** 2
    assert [protos[t.id].client_id for t in first + others] == ["c1", "c1", "c2", "c2"]
    assert study_rows(workspace.db) == {"asktell": DONE}


def read_line(stream, timeout):
    """One line of a process's stdout, or '' if none comes within `timeout` s."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


@pytest.fixture
def plugin(workspace):
    """examples/plugin/plugin.py on a free port: its HOST:PORT. Its log is plugin.log."""
    log = open(os.path.join(workspace.path, "plugin.log"), "w")
    process = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(SOURCE_DIR, "examples", "plugin", "plugin.py"),
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=log, text=True,
        env=child_env({"PYTHONPATH": PYTHON_CLIENT_DIR}))
    try:
        line = read_line(process.stdout, 30)
        assert line.startswith("listening on "), line
        yield line.split()[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def plugin_study(endpoint):
    with open(os.path.join(SOURCE_DIR, "examples", "plugin", "study.yaml")) as f:
        text = f.read()
    assert "endpoint: 127.0.0.1:7010" in text
    return text.replace("127.0.0.1:7010", endpoint)


def test_validate_accepts_the_plugin_example(workspace):
    result = workspace.vernier("validate",
                               os.path.join(SOURCE_DIR, "examples", "plugin", "study.yaml"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("how", ["run", "serve"])
def test_external_plugin_example_drives_a_study(workspace, start_server, plugin, how):
    workspace.write_study(plugin_study(plugin))
    if how == "run":
        result = workspace.vernier("run", "study.yaml", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        server = start_server()
        result = server.cli("submit", "study.yaml")
        assert result.returncode == 0, result.stderr
        assert wait_until(lambda: study_rows(workspace.db)["plugin-toy"] != ACTIVE, timeout=60)
        assert study_rows(workspace.db)["plugin-toy"] == DONE

    trials = workspace.json("trials")
    assert len(trials) == 12
    assert all(t["state"] == "SUCCEEDED" for t in trials)
    points = [t["parameters"] for t in trials]
    assert len({tuple(sorted(p.items())) for p in points}) == 12
    # A Latin hypercube of 12 strata: each double's range is cut in 12 and every
    # trial has a stratum of its own. Random search would almost never do this.
    x_strata = sorted(min(int((p["x"] + 5) / 10 * 12), 11) for p in points)
    lr_strata = sorted(min(int(math.log(p["lr"] / 1e-4) / math.log(1e4) * 12), 11)
                       for p in points)
    assert x_strata == list(range(12)) and lr_strata == list(range(12))
    assert all(p["layers"] in range(1, 7) for p in points)
    assert all(p["activation"] in ("relu", "tanh") for p in points)
    with open(os.path.join(workspace.path, "plugin.log")) as f:
        assert "study 'plugin-toy'" in f.read()


def rpc_code(call):
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def test_refusals_write_nothing(workspace, start_server):
    server = start_server()
    os.makedirs(os.path.join(workspace.path, "tokens"))
    write(workspace, "hold.py", HOLD_PY)
    workspace.write_study(push_study("tokens", "hold.py", max_trials=3, parallel=3))
    assert server.cli("submit", "study.yaml").returncode == 0
    tokens_dir = os.path.join(workspace.path, "tokens")
    assert wait_until(lambda: len([n for n in os.listdir(tokens_dir) if n.endswith(".json")]) == 3,
                      timeout=30)
    a, b, c = (json.load(open(os.path.join(tokens_dir, f"{n}.json"))) for n in (1, 2, 3))

    def release(trial):
        open(os.path.join(workspace.path, f"release-{trial['id']}"), "w").close()

    def state_of(trial):
        with sqlite3.connect(workspace.db) as db:
            return db.execute("SELECT state FROM trials WHERE id = ?",
                              (trial["id"],)).fetchone()[0]

    release(c)
    assert wait_until(lambda: state_of(c) == SUCCEEDED, timeout=30)
    c_before = trial_protos(workspace.db, "tokens")[2]

    channel = grpc.insecure_channel(server.address)
    trials = service_pb2_grpc.TrialServiceStub(channel)
    studies = service_pb2_grpc.StudyServiceStub(channel)

    def report(trial_id, token, step=1):
        request = service_pb2.ReportMeasurementRequest(
            trial_id=trial_id, measurements=[study_pb2.Measurement(step=step, metrics={"score": 0.5})])
        return lambda: trials.ReportMeasurement(request, metadata=bearer(token), timeout=10)

    def finish(trial_id, token):
        request = service_pb2.FinishTrialRequest(trial_id=trial_id, metrics={"score": 9.0})
        return lambda: trials.FinishTrial(request, metadata=bearer(token), timeout=10)

    unknown_id = max(t["id"] for t in (a, b, c)) + 1000
    refusals = [
        (report(a["id"], b["token"]), grpc.StatusCode.PERMISSION_DENIED),
        (finish(a["id"], b["token"]), grpc.StatusCode.PERMISSION_DENIED),
        (report(a["id"], ""), grpc.StatusCode.PERMISSION_DENIED),
        (report(unknown_id, a["token"]), grpc.StatusCode.NOT_FOUND),
        (report(c["id"], c["token"]), grpc.StatusCode.FAILED_PRECONDITION),
        (finish(c["id"], c["token"]), grpc.StatusCode.FAILED_PRECONDITION),
        (report(a["id"], a["token"], step=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for call, expected in refusals:
        code, details = rpc_code(call)
        assert code == expected, (expected, code, details)
    assert measurement_rows(workspace.db) == []
    assert state_of(a) == RUNNING and state_of(b) == RUNNING
    assert not trial_protos(workspace.db, "tokens")[0].final_metrics
    assert trial_protos(workspace.db, "tokens")[2] == c_before

    # A study of 5 MB is too large a message.
    big = "name: big\ndescription: " + "x" * (5 << 20) + "\n"
    code, details = rpc_code(lambda: studies.CreateStudy(
        service_pb2.CreateStudyRequest(yaml=big), timeout=20))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    assert set(study_rows(workspace.db)) == {"tokens"}

    # The same calls with the right token and values are accepted.
    assert rpc_code(report(a["id"], a["token"], step=0))[0] == grpc.StatusCode.OK
    assert [row[:3] for row in measurement_rows(workspace.db)] == [(a["id"], 0, "score")]
    channel.close()
    release(a)
    release(b)
    assert wait_until(lambda: study_rows(workspace.db)["tokens"] == DONE, timeout=30)
    assert trial_states(workspace.db, "tokens") == [SUCCEEDED] * 3


def test_admin_token(workspace, start_server):
    write(workspace, "admin.token", "s3cret-admin\n")
    write(workspace, "wrong.token", "not-it\n")
    server = start_server("--admin-token-file", "admin.token")

    denied = server.cli("ls")
    assert denied.returncode == 2
    assert "missing admin token" in denied.stderr
    wrong = server.cli("ls", "--admin-token-file", "wrong.token")
    assert wrong.returncode == 2
    assert "wrong admin token" in wrong.stderr
    with vernier.connect(server.address) as client, pytest.raises(vernier.PermissionDenied):
        client.list_studies()

    # Trials report with their own tokens, not the admin's.
    write(workspace, "push.py", PUSH_PY)
    workspace.write_study(push_study("guarded", "push.py"))
    assert server.cli("submit", "study.yaml").returncode == 2
    assert study_rows(workspace.db) == {}
    result = server.cli("submit", "study.yaml", "--admin-token-file", "admin.token")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: study_rows(workspace.db).get("guarded") == DONE, timeout=30)
    assert trial_states(workspace.db, "guarded") == [SUCCEEDED] * 2
    steps = {(trial_id, step) for trial_id, step, _, _ in measurement_rows(workspace.db)}
    assert len(steps) == 6

    listed = server.cli("ls", "--json", "--admin-token-file", "admin.token")
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)] == ["guarded"]
    with vernier.connect(server.address, admin_token="s3cret-admin") as client:
        assert [s.name for s in client.list_studies()] == ["guarded"]


@pytest.fixture
def tls_cert(workspace):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key) paths."""
    cert = os.path.join(workspace.path, "cert.pem")
    key = os.path.join(workspace.path, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def test_tls(workspace, start_server, tls_cert):
    cert, key = tls_cert
    server = start_server("--tls-cert", cert, "--tls-key", key)
    assert "(TLS)" in server.output()

    plain = server.cli("ls")
    assert plain.returncode != 0
    assert "cannot reach a Vernier server" in plain.stderr

    workspace.write_study(study_yaml(name="secure", max_trials=2))
    submitted = server.cli("submit", "study.yaml", "--tls-ca", cert)
    assert submitted.returncode == 0, submitted.stderr
    assert wait_until(lambda: study_rows(workspace.db).get("secure") == DONE, timeout=30)
    listed = server.cli("ls", "--json", "--tls-ca", cert)
    assert listed.returncode == 0, listed.stderr
    assert [(s["name"], s["state"]) for s in json.loads(listed.stdout)] == [("secure", "DONE")]
    with vernier.connect(server.address, tls_ca=cert) as client:
        assert [s.name for s in client.list_studies()] == ["secure"]



def test_push_trials_report_to_a_tls_server_given_the_ca(workspace, start_server, tls_cert):
    """The workaround: VERNIER_TLS_CA in the server's own environment, which its
    workers inherit (a study's worker.env may not set VERNIER_ names)."""
    cert, key = tls_cert
    server = start_server("--tls-cert", cert, "--tls-key", key, env={"VERNIER_TLS_CA": cert})
    write(workspace, "push.py", PUSH_PY)
    workspace.write_study(push_study("secure-push", "push.py"))
    assert server.cli("submit", "study.yaml", "--tls-ca", cert).returncode == 0
    assert wait_until(lambda: study_rows(workspace.db).get("secure-push") in (DONE, STUDY_FAILED),
                      timeout=30)
    assert trial_states(workspace.db, "secure-push") == [SUCCEEDED] * 2
    assert len(measurement_rows(workspace.db)) == 6


def test_push_trials_report_to_a_tls_server(workspace, start_server, tls_cert):
    """Trials of a TLS server reach it with no TLS setting of their own."""
    cert, key = tls_cert
    server = start_server("--tls-cert", cert, "--tls-key", key)
    write(workspace, "push.py", PUSH_PY)
    workspace.write_study(push_study("secure-push", "push.py"))
    assert server.cli("submit", "study.yaml", "--tls-ca", cert).returncode == 0
    assert wait_until(lambda: study_rows(workspace.db).get("secure-push") in (DONE, STUDY_FAILED),
                      timeout=60)
    trials = server.json("trials", "secure-push", "--tls-ca", cert)
    assert [t["state"] for t in trials] == ["SUCCEEDED"] * 2, [
        t.get("stateMessage", "") + t.get("logTail", "") for t in trials]
