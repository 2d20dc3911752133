"""What the hostile-input suites share: one `vernier serve` with an admin token
and a few studies in known states, raw gRPC calls, and a fingerprint of the
database that a refused request must leave unchanged."""
import hashlib
import json
import os
import sqlite3
import textwrap

import grpc
import pytest

from conftest import Server, Workspace, kill_pids, wait_until

ADMIN_TOKEN = "hostile-admin-token-7f3a9c"

# A push trial that writes its id and token to tokens/NUMBER.json, then holds
# until a file release-ID appears (or 20 minutes pass) and completes with x.
HOLD_PY = textwrap.dedent("""
    import json, os, time
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    trial_id = os.environ["VERNIER_TRIAL_ID"]
    path = os.path.join("tokens", os.environ["VERNIER_TRIAL_NUMBER"])
    with open(path + ".tmp", "w") as f:
        json.dump({"id": int(trial_id), "token": os.environ["VERNIER_TOKEN"]}, f)
    os.rename(path + ".tmp", path + ".json")
    deadline = time.monotonic() + 1200
    while not os.path.exists(f"release-{trial_id}") and time.monotonic() < deadline:
        time.sleep(0.05)
    trial = vernier.current_trial()
    trial.complete({"score": trial.params["x"]})
""")

HELD_STUDY = """name: held
objective: {metric: score, goal: maximize}
parameters:
  - {name: x, type: double, min: 0.1, max: 1}
trials: {max: 3, parallel: 2, stop_grace: 5s}
worker:
  command: ["/usr/bin/python3", "hold.py"]
  metrics: {collector: push}
"""

# Script payloads where a user may put free text: the description, a
# categorical value and (below) an infeasible reason and a client id.
SCRIPT = "<script>alert('vernier')</script>"
IMG = '"><img src=x onerror=alert(1)>'
# A spreadsheet formula, as the infeasible reason begins.
FORMULA = "=cmd|' /C calc'!A0 "
IMG_YAML = IMG.replace('"', '\\"')
XSS_STUDY = f"""name: xss
description: "{SCRIPT}"
objective: {{metric: loss, goal: minimize}}
parameters:
  - {{name: kind, type: categorical, values: ["{IMG_YAML}", "=HYPERLINK(1)"]}}
trials: {{max: 4}}
worker: {{kind: none}}
"""

ASK_TELL_STUDY = """name: asktell
objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: -1, max: 1}
trials: {max: 10, parallel: 4}
worker: {kind: none}
"""


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


ADMIN = bearer(ADMIN_TOKEN)


def call(channel, method, request, metadata=(), timeout=30):
    """(code, details, response) of a unary call to /vernier.v1.METHOD with
    `request` as raw bytes; the response stays raw bytes."""
    stub = channel.unary_unary(f"/vernier.v1.{method}",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    try:
        return grpc.StatusCode.OK, "", stub(request, metadata=metadata, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details(), None


def fingerprint(db_path):
    """Every table's row count and a digest of its rows, read-only."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        result = {}
        for table in tables:
            rows = sorted(repr(row) for row in db.execute(f'SELECT * FROM "{table}"'))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            result[table] = (len(rows), digest)
        return result
    finally:
        db.close()


class Hostile:
    """The shared server and the ids and tokens of its trials.

    held: trial 1 SUCCEEDED (`done`), trials 2 and 3 RUNNING and held
    (`a`, `b`), each {"id", "token"}. asktell: trial `open_id` suggested to
    client c1 and unfinished, `completed_id` SUCCEEDED. xss: one trial
    INFEASIBLE whose reason is a formula and a script payload."""

    def __init__(self, workspace, server):
        self.workspace = workspace
        self.server = server
        self.channel = grpc.insecure_channel(server.address)
        self.base = server.http_url

    def tokens(self, number):
        with open(os.path.join(self.workspace.path, "tokens", f"{number}.json")) as f:
            return json.load(f)

    def fingerprint(self):
        return fingerprint(self.workspace.db)

    def call(self, method, request, metadata=(), timeout=30):
        if not isinstance(request, bytes):
            request = request.SerializeToString()
        return call(self.channel, method, request, metadata, timeout)


def create_study(hostile, yaml_text):
    from vernier.v1 import service_pb2, study_pb2
    code, details, raw = hostile.call("StudyService/CreateStudy",
                                      service_pb2.CreateStudyRequest(yaml=yaml_text), ADMIN)
    assert code == grpc.StatusCode.OK, details
    return study_pb2.Study.FromString(raw)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from vernier.v1 import service_pb2, study_pb2
    workspace = Workspace(str(tmp_path_factory.mktemp("hostile")))
    os.makedirs(os.path.join(workspace.path, "tokens"))
    with open(os.path.join(workspace.path, "hold.py"), "w") as f:
        f.write(HOLD_PY)
    with open(os.path.join(workspace.path, "admin.token"), "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    server = Server(workspace, "--admin-token-file", "admin.token").start()
    h = Hostile(workspace, server)
    try:
        code, details, _ = h.call("StudyService/CreateStudy", service_pb2.CreateStudyRequest(
            yaml=HELD_STUDY, base_dir=workspace.path), ADMIN)
        assert code == grpc.StatusCode.OK, details
        tokens = os.path.join(workspace.path, "tokens")
        assert wait_until(lambda: os.path.exists(os.path.join(tokens, "2.json")), timeout=60)
        h.done = h.tokens(1)
        open(os.path.join(workspace.path, f"release-{h.done['id']}"), "w").close()
        assert wait_until(lambda: os.path.exists(os.path.join(tokens, "3.json")), timeout=60)
        h.a, h.b = h.tokens(2), h.tokens(3)

        create_study(h, ASK_TELL_STUDY)
        code, details, raw = h.call("StudyService/SuggestTrials", service_pb2.SuggestTrialsRequest(
            study="asktell", count=2, client_id="c1"), ADMIN)
        assert code == grpc.StatusCode.OK, details
        first, second = service_pb2.SuggestTrialsResponse.FromString(raw).trials
        h.open_id, h.completed_id = first.id, second.id
        code, details, _ = h.call("StudyService/CompleteTrial", service_pb2.CompleteTrialRequest(
            study="asktell", trial_id=h.completed_id, metrics={"loss": 0.5}), ADMIN)
        assert code == grpc.StatusCode.OK, details

        create_study(h, XSS_STUDY)
        code, details, raw = h.call("StudyService/SuggestTrials", service_pb2.SuggestTrialsRequest(
            study="xss", count=1, client_id=SCRIPT), ADMIN)
        assert code == grpc.StatusCode.OK, details
        h.xss_id = service_pb2.SuggestTrialsResponse.FromString(raw).trials[0].id
        code, details, _ = h.call("StudyService/CompleteTrial", service_pb2.CompleteTrialRequest(
            study="xss", trial_id=h.xss_id, infeasible=True, infeasible_reason=FORMULA + SCRIPT),
            ADMIN)
        assert code == grpc.StatusCode.OK, details

        # Trial 1 has ended and its worker exited: nothing else will write.
        assert wait_until(lambda: _state(workspace.db, h.done["id"]) == study_pb2.Trial.SUCCEEDED,
                          timeout=60)
        assert wait_until(lambda: h.fingerprint() == h.fingerprint(), timeout=30)
        yield h
    finally:
        h.channel.close()
        for name in os.listdir(os.path.join(workspace.path, "tokens")):
            if name.endswith(".json"):
                trial_id = json.load(open(os.path.join(workspace.path, "tokens", name)))["id"]
                open(os.path.join(workspace.path, f"release-{trial_id}"), "w").close()
        server.stop(timeout=15)
        kill_pids(workspace.worker_pids())


def _state(db_path, trial_id):
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT state FROM trials WHERE id = ?", (trial_id,)).fetchone()
    return row[0] if row else None
