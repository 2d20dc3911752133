"""Secrets stay secret: after studies run on `vernier -v serve` with an admin
token (local push trials, and Kubernetes trials on tests/k8s/fake_apiserver.py
with a kubeconfig bearer token), no per-trial token, admin token or
Kubernetes credential appears in anything the run produced: the server's
output, trial logs, every file beside the database, the database itself,
CLI output, the dashboard's pages, JSON API, event stream and /metrics.
Refused calls that carry a secret must not echo it either."""
import base64
import json
import os
import re
import subprocess
import textwrap
import urllib.request

import grpc
import pytest

from vernier.v1 import service_pb2, study_pb2

import test_kubernetes as k8s
from conftest import VERNIER, Workspace, child_env, free_port, kill_pids, wait_until
from dashboard_util import http

ADMIN_TOKEN = "admin-secret-5b2e91d0c4"

# The Kubernetes pod of test_kubernetes.py, keeping its token in secrets/ID
# first (pods run in the test's folder).
KUBE_POD_PY = textwrap.dedent("""
    import os
    with open(os.path.join("secrets", os.environ["VERNIER_TRIAL_ID"]), "w") as f:
        f.write(os.environ["VERNIER_TOKEN"])
""") + k8s.POD_PY

# A push trial that keeps its token in secrets/ID (outside what is searched),
# reports three steps, prints ordinary output, then completes; a trial with
# x < 0.3 exits 4 after its reports, so a failed trial's log tail is stored.
PUSH_PY = textwrap.dedent("""
    import os, sys
    import vernier
    open(os.path.join("pids", str(os.getpid())), "w").close()
    with open(os.path.join("secrets", os.environ["VERNIER_TRIAL_ID"]), "w") as f:
        f.write(os.environ["VERNIER_TOKEN"])
    trial = vernier.current_trial()
    print("environment names:", sorted(os.environ), flush=True)
    for step in range(1, 4):
        trial.report(step, {"score": trial.params["x"] * step})
    if trial.params["x"] < 0.3:
        print("giving up", file=sys.stderr)
        sys.exit(4)
    trial.complete({"score": trial.params["x"]})
""")

PUSH_STUDY = """name: secrets
objective: {metric: score, goal: maximize}
algorithm: {name: random, seed: 5}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 6, parallel: 2}
worker:
  command: ["/usr/bin/python3", "push.py"]
  metrics: {collector: push}
"""


class Serve:
    """`vernier -v serve` with debug logging, its output in serve.out/.err."""

    def __init__(self, folder, env=None, grpc_port=None):
        self.folder = folder
        self.address = f"127.0.0.1:{grpc_port or free_port()}"
        self.env = child_env(env)
        token_file = os.path.join(folder, "secrets", "admin.token")
        with open(token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        self.out = open(os.path.join(folder, "serve.out"), "w")
        self.err = open(os.path.join(folder, "serve.err"), "w")
        self.process = subprocess.Popen(
            [VERNIER, "-v", "serve", "--db", os.path.join(folder, "vernier.db"),
             "--grpc", self.address, "--http", "127.0.0.1:0",
             "--admin-token-file", token_file],
            cwd=folder, stdout=self.out, stderr=self.err, env=self.env)
        assert wait_until(lambda: "dashboard on" in self.read("serve.out")
                          or self.process.poll() is not None, timeout=60)
        assert self.process.poll() is None, self.read("serve.err")
        self.base = re.search(r"dashboard on (http://\S+/)", self.read("serve.out")).group(1)
        self.outputs = []  # everything a client was shown

    def read(self, name):
        with open(os.path.join(self.folder, name), errors="replace") as f:
            return f.read()

    def cli(self, *args, admin=True):
        token = ["--admin-token-file", os.path.join(self.folder, "secrets", "admin.token")]
        result = subprocess.run([VERNIER, *args, "--server", self.address,
                                 *(token if admin else [])],
                                cwd=self.folder, capture_output=True, text=True,
                                env=self.env, timeout=120)
        self.outputs += [result.stdout, result.stderr]
        return result

    def get(self, path, method="GET", headers=None):
        status, response_headers, body = http(self.base + path, method, headers)
        self.outputs += [str(dict(response_headers)), body.decode(errors="replace")]
        return status, body

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.out.close()
        self.err.close()


def harvest(server, study):
    """Asks for everything a user can see of `study`, into server.outputs."""
    for args in (("ls",), ("show", study), ("trials", study), ("best", study), ("cost",)):
        assert server.cli(*args).returncode == 0, server.outputs[-1]
        assert server.cli(*args, "--json").returncode == 0, server.outputs[-1]
    trials = json.loads(server.cli("trials", study, "--json").stdout)
    for trial in trials:
        server.cli("logs", study, str(trial["number"]))
    for path in ("", "healthz", "metrics", "api/v1/config", "api/v1/studies",
                 f"api/v1/studies/{study}", f"api/v1/studies/{study}/trials",
                 f"api/v1/studies/{study}/trials.csv", f"api/v1/studies/{study}/columns",
                 f"api/v1/studies/{study}/curves"):
        status, _ = server.get(path)
        assert status == 200, (path, server.outputs[-1][:300])
    for trial in trials:
        for suffix in ("", "/log"):
            server.get(f"api/v1/trials/{trial['id']}{suffix}")
    # The event stream replays from the first event after Last-Event-ID 0.
    request = urllib.request.Request(server.base + "api/v1/events",
                                     headers={"Last-Event-ID": "0"})
    with urllib.request.urlopen(request, timeout=30) as response:
        server.outputs.append(response.read1(1 << 20).decode(errors="replace"))
    return trials


def refused_calls_with_secrets(server, trial_token, trial_id):
    """Calls that carry a secret in the wrong place: their errors must not
    repeat it."""
    channel = grpc.insecure_channel(server.address)
    try:
        stub = channel.unary_unary("/vernier.v1.TrialService/ReportMeasurement",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=lambda b: b)
        request = service_pb2.ReportMeasurementRequest(trial_id=trial_id, measurements=[
            study_pb2.Measurement(step=1, metrics={"score": 1.0})])
        for token in (ADMIN_TOKEN, trial_token + "x", "e2e-token"):
            with pytest.raises(grpc.RpcError) as error:
                stub(request, metadata=(("authorization", f"Bearer {token}"),), timeout=30)
            server.outputs.append(error.value.details())
        studies = channel.unary_unary("/vernier.v1.StudyService/ListStudies",
                                      request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as error:
            studies(service_pb2.ListStudiesRequest(),
                    metadata=(("authorization", f"Bearer {trial_token}"),), timeout=30)
        server.outputs.append(error.value.details())
    finally:
        channel.close()
    for header in (f"Bearer {trial_token}", f"Bearer {ADMIN_TOKEN}x"):
        status, _ = server.get("api/v1/studies/nope:stop", method="POST",
                               headers={"Authorization": header, "X-Requested-By": "vernier"})
        assert status == 403


def files_under(folder, skip):
    """(path, bytes) of every file under `folder`, except under `skip`."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.join(root, d) != skip]
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                yield path, f.read()


def trial_tokens(folder):
    """The tokens the trials kept in secrets/, by trial id."""
    tokens = {}
    for name in os.listdir(os.path.join(folder, "secrets")):
        if name.isdigit():
            with open(os.path.join(folder, "secrets", name)) as f:
                tokens[int(name)] = f.read()
    return tokens


def assert_nowhere(secrets, server, folder):
    """No secret (nor its base64, as a Kubernetes Secret holds it) in any
    client output, nor in any file under `folder` (server logs, trial logs,
    the database and its WAL), but for secrets/."""
    assert all(len(secret) >= 8 for secret in secrets)
    secrets = secrets + [base64.b64encode(s.encode()).decode() for s in secrets]
    texts = "\n".join(server.outputs)
    assert len(texts) > 10_000  # the harvest saw something
    for secret in secrets:
        assert secret not in texts, f"secret in client output: ...{secret[:6]}"
    # The search finds each secret where it is kept on purpose.
    kept = b"".join(data for _, data in files_under(os.path.join(folder, "secrets"), None))
    assert all(secret.encode() in kept for secret in secrets[:len(secrets) // 2])
    searched = 0
    for path, data in files_under(folder, os.path.join(folder, "secrets")):
        searched += 1
        for secret in secrets:
            assert secret.encode() not in data, f"secret in {path}"
    assert searched >= 5


def test_local_trials_leak_no_token(tmp_path):
    folder = str(tmp_path)
    Workspace(folder)
    os.makedirs(os.path.join(folder, "secrets"))
    with open(os.path.join(folder, "push.py"), "w") as f:
        f.write(PUSH_PY)
    with open(os.path.join(folder, "study.yaml"), "w") as f:
        f.write(PUSH_STUDY)
    server = Serve(folder)
    try:
        result = server.cli("submit", "study.yaml")
        assert result.returncode == 0, result.stderr
        # A refused submit, without the admin token.
        assert server.cli("submit", "study.yaml", admin=False).returncode != 0
        assert wait_until(lambda: server.cli("show", "secrets", "--json").returncode == 0 and
                          json.loads(server.outputs[-2])["state"] == "DONE", timeout=180)
        trials = harvest(server, "secrets")
        assert len(trials) == 6 and {t["state"] for t in trials} >= {"SUCCEEDED"}
        tokens = trial_tokens(folder)
        assert len(tokens) == 6 and len(set(tokens.values())) == 6
        trial_id, token = next(iter(tokens.items()))
        refused_calls_with_secrets(server, token, trial_id)
    finally:
        server.stop()
        kill_pids([int(p) for p in os.listdir(os.path.join(folder, "pids"))])
    assert_nowhere([ADMIN_TOKEN, *tokens.values()], server, folder)


def test_kubernetes_trials_leak_no_credential(apiserver, tmp_path):
    folder = str(tmp_path)
    os.makedirs(os.path.join(folder, "secrets"), exist_ok=True)
    with open(os.path.join(folder, "pod.py"), "w") as f:
        f.write(KUBE_POD_PY)
    port = free_port()
    kubeconfig = apiserver.kubeconfig()
    server = Serve(folder, env={"KUBECONFIG": kubeconfig, "VERNIER_K8S_OWNER": "secrets"},
                   grpc_port=port)
    try:
        with open(os.path.join(folder, "study.yaml"), "w") as f:
            f.write(k8s.study("kube", "success", port, max_trials=3, parallel=3))
        result = server.cli("submit", "study.yaml")
        assert result.returncode == 0, result.stderr
        assert wait_until(lambda: server.cli("show", "kube", "--json").returncode == 0 and
                          json.loads(server.outputs[-2])["state"] == "DONE", timeout=180)
        trials = harvest(server, "kube")
        assert [t["state"] for t in trials] == ["SUCCEEDED"] * 3
        tokens = trial_tokens(folder)
        assert len(tokens) == 3
        trial_id, token = next(iter(tokens.items()))
        refused_calls_with_secrets(server, token, trial_id)
    finally:
        server.stop()
    # The kubeconfig and the fake API server's own files hold the credential
    # by design: move them aside before searching the rest.
    for name in os.listdir(folder):
        if name == "kubeconfig" or name.startswith(("apiserver", "ca.", "server.", "san.")):
            os.replace(os.path.join(folder, name), os.path.join(folder, "secrets", name))
    assert_nowhere([ADMIN_TOKEN, apiserver.token, *tokens.values()], server, folder)


apiserver = k8s.apiserver
