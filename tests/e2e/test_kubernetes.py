"""The Kubernetes executor end to end: `vernier serve` runs studies whose trials
are batch/v1 Jobs on tests/k8s/fake_apiserver.py, a strict HTTPS API server
whose "pods" are local processes reporting over gRPC with the Python client."""
import datetime
import json
import os
import ssl
import subprocess
import textwrap
import urllib.request

import pytest

from conftest import SOURCE_DIR, VERNIER, free_port, wait_until, child_env

APISERVER = os.path.join(SOURCE_DIR, "tests", "k8s", "fake_apiserver.py")
PYTHON = "/usr/bin/python3"

# Reports three steps of score = x * step, then completes with 10 * x. With
# RUN_TIMES set it writes when it ran to run-times-<trial id>.
POD_PY = textwrap.dedent("""
    import os, sys, time
    started = time.time()
    import vernier
    trial = vernier.current_trial()
    x = trial.params["x"]
    print("training with x =", x, flush=True)
    for step in range(1, 4):
        trial.report(step, {"score": x * step})
        time.sleep(float(os.environ.get("STEP_SECONDS", "0.05")))
    if os.environ.get("EXIT_CODE", "0") != "0":
        print("diverged: loss is nan", flush=True)
        sys.exit(int(os.environ["EXIT_CODE"]))
    trial.complete({"score": 10 * x})
    if os.environ.get("RUN_TIMES"):
        with open(f"run-times-{os.environ['VERNIER_TRIAL_ID']}", "w") as f:
            f.write(f"{started} {time.time()}")
""")


def make_certs(folder):
    """A CA, a server certificate for 127.0.0.1 signed by it, in `folder`."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(folder, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")


class ApiServer:
    def __init__(self, folder, *flags):
        self.folder = folder
        make_certs(folder)
        self.token = "e2e-token"
        port_file = os.path.join(folder, "apiserver.port")
        self.log = open(os.path.join(folder, "apiserver.log"), "w")
        self.process = subprocess.Popen(
            [PYTHON, APISERVER, "--cert", "server.crt", "--key", "server.key",
             "--token", self.token, "--port-file", port_file, "--workdir", folder, *flags],
            cwd=folder, stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_until(lambda: os.path.exists(port_file), timeout=30)
        with open(port_file) as f:
            self.url = f"https://127.0.0.1:{f.read().strip()}"
        self.context = ssl.create_default_context(cafile=os.path.join(folder, "ca.crt"))

    def kubeconfig(self, token=None):
        path = os.path.join(self.folder, "kubeconfig")
        with open(path, "w") as f:
            f.write(textwrap.dedent(f"""\
                apiVersion: v1
                kind: Config
                current-context: lab
                clusters:
                - name: lab
                  cluster: {{server: "{self.url}", certificate-authority: ca.crt}}
                users:
                - name: robot
                  user: {{token: {token or self.token}}}
                contexts:
                - name: lab
                  context: {{cluster: lab, user: robot}}
                """))
        return path

    def call(self, path, method="GET"):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, context=self.context) as response:
            return json.loads(response.read())

    def state(self):
        return self.call("/_test/state")

    def create_job(self, job):
        request = urllib.request.Request(
            f"{self.url}/apis/batch/v1/namespaces/{job['metadata']['namespace']}/jobs",
            data=json.dumps(job).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context) as response:
            return json.loads(response.read())

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


@pytest.fixture
def apiserver(tmp_path, request):
    marker = request.node.get_closest_marker("apiserver_flags")
    server = ApiServer(str(tmp_path), *(marker.args if marker else ()))
    yield server
    server.stop()


def orphan_job(name, owner, study):
    """A Job labelled as `owner`'s for trial 999 of `study`, whose pod never runs."""
    labels = {"vernier.dev/owner": owner, "vernier.dev/study": study, "vernier.dev/trial": "999"}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ml-tuning", "labels": labels},
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [
                    {"name": "trial", "image": "fake/unschedulable"}]}}}}


def study(name, image, grpc_port, max_trials=1, parallel=1, extra_trials=(), env=None):
    env = {"STEP_SECONDS": "0.05", **(env or {})}
    with_env = "".join(f'\n    {k}: "{v}"' for k, v in env.items())
    trial_lines = "".join(f"\n  {line}" for line in extra_trials)
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
algorithm: {{name: random, seed: 3}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials:
  max: {max_trials}
  parallel: {parallel}{trial_lines}
worker:
  kind: kubernetes
  env:{with_env}
  kubernetes:
    namespace: ml-tuning
    image: fake/{image}
    command: ["{PYTHON}", "pod.py", "${{params.x}}"]
    resources: {{cpu: "1", memory: 1Gi}}
    report_endpoint: 127.0.0.1:{grpc_port}
    pending_timeout: 3s
    ttl_after_finished: 2s
"""


class Vernier:
    """`vernier serve` on a fixed port (pods must know it) with KUBECONFIG set,
    owning its Jobs as "e2e-server" unless `flags` say otherwise."""

    def __init__(self, folder, kubeconfig, env=None, flags=("--k8s-owner", "e2e-server")):
        self.folder = folder
        self.port = free_port()
        self.http_port = free_port()
        self.db = os.path.join(folder, "vernier.db")
        self.flags = list(flags)
        self.env = child_env({"KUBECONFIG": kubeconfig, **(env or {})})
        with open(os.path.join(folder, "pod.py"), "w") as f:
            f.write(POD_PY)
        self.process = None

    def start(self):
        self.err = open(os.path.join(self.folder, f"serve-{id(self)}.err"), "a")
        self.process = subprocess.Popen(
            [VERNIER, "serve", "--db", self.db, "--grpc", f"127.0.0.1:{self.port}",
             "--http", f"127.0.0.1:{self.http_port}", *self.flags],
            cwd=self.folder, stdout=self.err, stderr=self.err, env=self.env)
        assert wait_until(lambda: self.run("ls").returncode == 0, timeout=30)
        return self

    def run(self, *args):
        return subprocess.run([VERNIER, *args, "--server", f"127.0.0.1:{self.port}"],
                              cwd=self.folder, capture_output=True, text=True, env=self.env,
                              timeout=60)

    def submit(self, text, name="study.yaml"):
        path = os.path.join(self.folder, name)
        with open(path, "w") as f:
            f.write(text)
        result = self.run("submit", path)
        assert result.returncode == 0, result.stderr

    def trials(self, study_name):
        """(number, state, state_message, objective) of each trial, from the server."""
        result = self.run("trials", study_name, "--json")
        if result.returncode != 0:
            return []
        return [(t["number"], t.get("state"), t.get("stateMessage", ""), t.get("objective"))
                for t in json.loads(result.stdout)]

    def trial(self, study_name, number):
        result = self.run("trials", study_name, "--json")
        return next(t for t in json.loads(result.stdout) if t["number"] == number)

    def study_state(self, study_name):
        result = self.run("show", study_name, "--json")
        return json.loads(result.stdout).get("state") if result.returncode == 0 else None

    def metrics(self):
        """{(name, sorted label pairs): value} of the server's /metrics."""
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            series, value = line.rsplit(" ", 1)
            name, _, labels = series.partition("{")
            pairs = tuple(sorted(tuple(pair.split("=", 1)) for pair in
                                 labels.rstrip("}").split(",") if pair))
            samples[(name, pairs)] = float(value)
        return samples

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@pytest.fixture
def vernier(apiserver, tmp_path):
    server = Vernier(str(tmp_path), apiserver.kubeconfig())
    yield server
    server.stop()


DONE = "DONE"
SUCCEEDED, FAILED, RUNNING = "SUCCEEDED", "FAILED", "RUNNING"


@pytest.mark.apiserver_flags("--burst-429", "7", "--watch-max-events", "5")
def test_twelve_trials_four_at_a_time(apiserver, vernier):
    vernier.start()
    vernier.submit(study("twelve", "success", vernier.port, max_trials=12, parallel=4))
    assert wait_until(lambda: vernier.study_state("twelve") == DONE, timeout=240), \
        vernier.trials("twelve")
    trials = vernier.trials("twelve")
    assert len(trials) == 12
    assert all(state == SUCCEEDED for _, state, _, _ in trials), trials
    assert all(objective is not None for *_, objective in trials)
    state = apiserver.state()
    assert len(state["created_jobs"]) == 12
    # Each trial names the Job it ran as (the dashboard's trial page shows it).
    listed = json.loads(vernier.run("trials", "twelve", "--json").stdout)
    assert sorted(t["kubernetesJob"] for t in listed) == sorted(state["created_jobs"])
    # Every Job goes: deleted by its TTL, and its Secret with it.
    assert wait_until(lambda: not apiserver.state()["jobs"], timeout=30), apiserver.state()
    assert not apiserver.state()["secrets"]
    # /metrics counts every request to the API server, the refused ones too.
    requests = {}
    for (name, labels), value in vernier.metrics().items():
        if name == "vernier_kubernetes_api_requests_total":
            code = dict(labels)["code"].strip('"')
            requests[code] = requests.get(code, 0) + value
    assert requests.get("201", 0) >= 24, requests  # a Job and a Secret a trial
    assert requests.get("429", 0) >= 1, requests


@pytest.mark.parametrize("image, reason", [
    ("failure", "exited with code 3"),
    ("deadline", "exceeded max_runtime"),
    ("unschedulable", "unschedulable: 0/3 nodes are available"),
    ("imagepull", "image pull back-off (ImagePullBackOff)"),
])
def test_scenario_fails_with_its_reason(apiserver, vernier, image, reason):
    vernier.start()
    env = {"EXIT_CODE": "3"} if image == "failure" else {"STEP_SECONDS": "5"}
    deadline = ["max_runtime: 2s"] if image == "deadline" else []
    vernier.submit(study("fate", image, vernier.port, extra_trials=deadline, env=env))
    assert wait_until(lambda: vernier.trials("fate") and vernier.trials("fate")[0][1] == FAILED,
                      timeout=60), vernier.trials("fate")
    _, _, message, _ = vernier.trials("fate")[0]
    assert reason in message
    if image == "failure":
        assert "diverged: loss is nan" in vernier.trial("fate", 1)["logTail"]
        logs = vernier.run("logs", "fate", "1")
        assert logs.returncode == 0, logs.stderr
        assert "training with x =" in logs.stdout and "diverged" in logs.stdout


def test_waiting_pod_shows_its_reason(apiserver, tmp_path):
    server = Vernier(str(tmp_path), apiserver.kubeconfig())
    server.start()
    try:
        text = study("waits", "unschedulable", server.port).replace(
            "pending_timeout: 3s", "pending_timeout: 1h")
        server.submit(text)
        assert wait_until(lambda: server.trials("waits") and
                          "waiting: unschedulable" in server.trials("waits")[0][2], timeout=30)
        assert server.trials("waits")[0][1] == RUNNING
    finally:
        server.stop()


@pytest.mark.apiserver_flags("--quota-refusals", "2")
def test_exceeded_quota_waits_then_runs(apiserver, vernier):
    vernier.start()
    vernier.submit(study("quota", "quota", vernier.port))
    assert wait_until(lambda: vernier.trials("quota") and
                      "exceeded quota" in vernier.trials("quota")[0][2], timeout=30)
    assert vernier.trials("quota")[0][1] == RUNNING
    assert wait_until(lambda: vernier.study_state("quota") == DONE, timeout=120)
    assert vernier.trials("quota")[0][1] == SUCCEEDED


def test_stopping_a_study_deletes_its_jobs(apiserver, vernier):
    vernier.start()
    vernier.submit(study("stops", "success", vernier.port, max_trials=4, parallel=2,
                         env={"STEP_SECONDS": "30"}))
    assert wait_until(lambda: len(apiserver.state()["pods"]) == 2, timeout=30)
    result = vernier.run("stop", "stops")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: not apiserver.state()["jobs"], timeout=30), apiserver.state()
    assert not apiserver.state()["pods"]
    assert sorted(apiserver.state()["deleted_jobs"]) == sorted(apiserver.state()["created_jobs"])


def test_restart_adopts_running_jobs_and_deletes_orphans(apiserver, vernier):
    vernier.start()
    vernier.submit(study("restart", "success", vernier.port, max_trials=3, parallel=2,
                         env={"STEP_SECONDS": "3"}))
    # Both pods run; each reports for 9 s, past the restart. A Job whose token
    # Secret is not made yet cannot start its pod and is not adopted (it is
    # deleted and its trial runs again), so wait for both Secrets.
    def both_started():
        state = apiserver.state()
        return len(state["pods"]) == 2 and len(state["secrets"]) == 2
    assert wait_until(both_started, timeout=30)
    running = set(apiserver.state()["jobs"])
    vernier.kill()  # a crash: the Jobs stay, their pods keep training
    assert set(apiserver.state()["jobs"]) == running
    # A Job of this server and study that no running trial owns.
    orphan = "vernier-restart-999"
    apiserver.create_job(orphan_job(orphan, owner="e2e-server", study="restart"))
    apiserver.call("/_test/compact", "POST")  # old watch versions are gone
    vernier.start()
    assert wait_until(lambda: orphan in apiserver.state()["deleted_jobs"], timeout=30)
    assert wait_until(lambda: vernier.study_state("restart") == DONE, timeout=120), \
        vernier.trials("restart")
    trials = json.loads(vernier.run("trials", "restart", "--json").stdout)
    assert [t["state"] for t in trials] == [SUCCEEDED] * 3, trials
    # No trial ran twice; the adopted ones completed with the value their pod
    # reported after the restart, with the token it was started with.
    assert all(t["attempt"] == 1 for t in trials), trials
    for t in trials:
        assert t["objective"] == pytest.approx(10 * t["parameters"]["x"]), t
    # Each Job was created once: the adopted ones were not made again for a
    # re-run; they finished and their TTL took them.
    state = apiserver.state()
    assert len(state["created_jobs"]) == len(set(state["created_jobs"])), state
    assert running <= set(state["created_jobs"])
    assert wait_until(lambda: not apiserver.state()["jobs"], timeout=30)


def test_k8s_flags_cap_the_jobs_and_name_their_owner(apiserver, tmp_path):
    server = Vernier(str(tmp_path), apiserver.kubeconfig(),
                     flags=["--k8s-max-jobs", "1", "--k8s-owner", "team-a.gpu"])
    server.start()
    try:
        server.submit(study("capped", "success", server.port, max_trials=3, parallel=2,
                            env={"STEP_SECONDS": "0.5"}))
        assert wait_until(lambda: any(
            "waiting: all 1 Job slots of this server are taken" in message
            for _, _, message, _ in server.trials("capped")), timeout=30)
        assert wait_until(lambda: server.study_state("capped") == DONE, timeout=120)
        assert [state for _, state, _, _ in server.trials("capped")] == [SUCCEEDED] * 3
        state = apiserver.state()
        assert len(state["created_jobs"]) == 3
        assert state["max_active_jobs"] == 1
        assert all(job["metadata"]["labels"]["vernier.dev/owner"] == "team-a.gpu"
                   for job in state["job_objects"]), state["job_objects"]
    finally:
        server.stop()


@pytest.mark.parametrize("flags, complaint", [
    (["--k8s-owner", "team a"], "'team a' is not a Kubernetes label value"),
    (["--k8s-max-jobs", "-2"], "--k8s-max-jobs"),
])
def test_k8s_flags_refuse_bad_values(tmp_path, flags, complaint):
    for command in (["serve", "--db", str(tmp_path / "v.db")],
                    ["run", os.path.join(SOURCE_DIR, "examples", "kubernetes", "study.yaml")]):
        result = subprocess.run([VERNIER, *command, *flags], capture_output=True, text=True,
                                timeout=60, cwd=str(tmp_path))
        assert result.returncode != 0
        assert complaint in result.stderr + result.stdout, result


@pytest.mark.apiserver_flags("--start-delay", "4")
def test_a_trial_costs_its_requests_from_when_its_pod_runs(apiserver, vernier):
    # 1 CPU and 1 GiB requested at 36 + 36 per hour: 0.02 per second.
    per_second = 0.02
    text = study("priced", "slowstart", vernier.port, max_trials=2, parallel=2,
                 extra_trials=["max_runtime: 60s"], env={"STEP_SECONDS": "1", "RUN_TIMES": "1"})
    text = text.replace("  kind: kubernetes\n",
                        "  kind: kubernetes\n  pricing: {cpu_hour: 36, memory_gb_hour: 36}\n")
    text += "budget: {max_cost: 50, currency: USD}\n"
    vernier.start()
    vernier.submit(text)
    assert wait_until(lambda: vernier.study_state("priced") == DONE, timeout=120), \
        vernier.trials("priced")
    trials = json.loads(vernier.run("trials", "priced", "--json").stdout)
    assert [t["state"] for t in trials] == [SUCCEEDED] * 2, trials
    for t in trials:
        with open(os.path.join(vernier.folder, f"run-times-{t['id']}")) as f:
            started, ended = map(float, f.read().split())
        # What the pod's own clock says it ran (from its container's startedAt
        # to its finishedAt), give or take the process's own start and exit.
        cost = t.get("cost", 0)
        assert cost == pytest.approx((ended - started) * per_second, abs=1.5 * per_second), t
        # The 4 s its pod waited to be scheduled are not charged.
        start = datetime.datetime.fromisoformat(t["startTime"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(t["endTime"].replace("Z", "+00:00"))
        assert cost < ((end - start).total_seconds() - 3) * per_second, t


def test_wrong_token_names_the_context(apiserver, tmp_path):
    server = Vernier(str(tmp_path), apiserver.kubeconfig(token="wrong"))
    server.start()
    try:
        server.submit(study("denied", "success", server.port))
        assert wait_until(lambda: server.trials("denied") and
                          server.trials("denied")[0][1] == FAILED, timeout=60)
        message = server.trials("denied")[0][2]
        assert "refused the credentials of kubeconfig context 'lab'" in message
    finally:
        server.stop()


def test_every_example_renders_strictly_valid_manifests():
    import sys
    sys.path.insert(0, os.path.dirname(APISERVER))
    from fake_apiserver import strict
    examples = os.path.join(SOURCE_DIR, "examples")
    rendered = 0
    for folder in sorted(os.listdir(examples)):
        path = os.path.join(examples, folder, "study.yaml")
        if not os.path.exists(path) or "kind: kubernetes" not in open(path).read():
            continue
        result = subprocess.run([VERNIER, "k8s", "render", path, "--count", "3"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        manifests = json.loads(result.stdout)
        assert manifests["kind"] == "List"
        kinds = [item["kind"] for item in manifests["items"]]
        assert kinds == ["Job", "Secret"] * 3
        for item in manifests["items"]:
            assert strict(item, "V1Job" if item["kind"] == "Job" else "V1Secret") == [], item
        rendered += 1
    assert rendered >= 1


def test_strict_check_refuses_unknown_and_mistyped_fields():
    import sys
    sys.path.insert(0, os.path.dirname(APISERVER))
    from fake_apiserver import strict
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a"},
           "spec": {"backoffLimit": "0", "template": {"spec": {
               "containers": [{"name": "a", "image": "b", "resourcez": {}}]}}}}
    errors = strict(job, "V1Job")
    assert any("backoffLimit" in e and "cannot unmarshal" in e for e in errors), errors
    assert any('unknown field "spec.template.spec.containers[0].resourcez"' in e
               for e in errors), errors


def test_logs_of_a_local_trial(workspace):
    """`vernier logs` serves the local executor's per-trial log file too."""
    from conftest import study_yaml
    path = workspace.write_study(study_yaml(name="local", max_trials=1, parallel=1))
    result = workspace.vernier("run", path)
    assert result.returncode == 0, result.stderr
    logs = workspace.vernier("logs", "local", "1", "--db", workspace.db)
    assert logs.returncode == 0, logs.stderr
    assert "step=3 score=" in logs.stdout
