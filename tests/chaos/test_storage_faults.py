"""Storage faults: a full disk and a read-only database under a running
`vernier serve`.

The faults are SQLite's own errors, raised on the server's writer connection
through the test-only limits file (storage/writer_limits.h): max_page_count
clamps the database to its current size (SQLITE_FULL once a write needs a
new page), query_only refuses every write (SQLITE_READONLY). Unlike a small
or read-only mount, this needs no privileges, so it runs on CI.

During a fault the server stays up; reports, suggestions, completions and
new studies are refused with UNAVAILABLE and a message that says why; the
gRPC and HTTP reads still answer. When the limit is lifted, writes work
again, and every write acknowledged before, during or after is stored.
"""
import json
import os
import textwrap
import urllib.request

import pytest

import vernier
from e2e_support import measurement_rows, wait_until

# Reports a step every 20 ms, without retrying, until the file `finish`
# appears; appends "ok STEP" for each acknowledged report and "err CODE
# MESSAGE" for each refused one to reports.log, then completes.
REPORTER_PY = textwrap.dedent("""
    import os, time
    import vernier
    trial = vernier.current_trial(retry=vernier.RetryPolicy(deadline=0))
    log = os.open("reports.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    step = 0
    while not os.path.exists("finish"):
        try:
            trial.report(step, {"score": float(step)})
            os.write(log, f"ok {step}\\n".encode())
        except vernier.VernierError as e:
            os.write(log, f"err {e.code.name} {e.message}\\n".encode())
        step += 1
        time.sleep(0.02)
    trial.complete({"score": float(step)})
""")

WORKER_STUDY = """name: reporting
objective: {metric: score, goal: maximize}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 1, parallel: 1}
worker:
  command: ["/usr/bin/python3", "reporter.py"]
  metrics: {collector: push}
"""

# Trials of half a second whose worker prints its result and exits.
QUICK_STUDY = """name: quick
objective: {metric: score, goal: maximize}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 4, parallel: 1}
worker:
  command: ["/usr/bin/python3", "-c", "import time; time.sleep(0.5); print('score=0.5')"]
"""


def ask_tell_study(name, padding=0):
    """An ask/tell study; `padding` bytes of YAML comment make its row need
    new pages."""
    comment = f"# {'p' * padding}\n" if padding else ""
    return f"""{comment}name: {name}
objective: {{metric: loss, goal: minimize}}
algorithm: {{name: random, seed: 3}}
parameters:
  - {{name: x, type: double, min: 0, max: 1}}
trials: {{max: 1000}}
worker: {{kind: none}}
"""


class Faults:
    """Writes the limits file the server's writer applies before each batch."""

    def __init__(self, path):
        self.path = path
        open(path, "w").close()

    def set(self, **pragmas):
        with open(self.path + ".tmp", "w") as f:
            f.write("".join(f"{name}={value}\n" for name, value in pragmas.items()))
        os.replace(self.path + ".tmp", self.path)

    def disk_full(self):
        self.set(max_page_count=1)

    def read_only(self):
        self.set(query_only=1)

    def lift(self):
        self.set(query_only=0, max_page_count=1073741823)


class Reports:
    """What the reporting worker logged."""

    def __init__(self, path):
        self.path = os.path.join(path, "reports.log")

    def lines(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [line.rstrip("\n").split(" ", 2) for line in f if line.endswith("\n")]

    def acknowledged(self):
        return {int(fields[1]) for fields in self.lines() if fields[0] == "ok"}

    def refusals(self):
        return [fields[1:] for fields in self.lines() if fields[0] == "err"]

    def wait_for_refusal(self, words):
        return wait_until(lambda: any(code == "UNAVAILABLE" and words in message
                                      for code, message in self.refusals()), timeout=30)

    def wait_for_new_ack(self):
        before = len(self.acknowledged())
        return wait_until(lambda: len(self.acknowledged()) > before + 3, timeout=30)


def http_json(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.fixture
def faulty_server(workspace, start_server):
    with open(os.path.join(workspace.path, "reporter.py"), "w") as f:
        f.write(REPORTER_PY)
    faults = Faults(os.path.join(workspace.path, "limits"))
    server = start_server(env={"VERNIER_TEST_STORAGE_LIMITS": faults.path})
    client = vernier.connect(server.address, retry=vernier.RetryPolicy(deadline=0))
    workspace.write_study(WORKER_STUDY)
    assert server.cli("submit", "study.yaml").returncode == 0
    reports = Reports(workspace.path)
    assert wait_until(lambda: len(reports.acknowledged()) >= 5, timeout=60)
    yield server, client, faults, reports
    client.close()


def expect_unavailable(call, words):
    with pytest.raises(vernier.Unavailable) as refused:
        call()
    assert words in refused.value.message, refused.value.message


def check_reads(server, client):
    """The gRPC and HTTP reads answer while writes are refused."""
    assert client.get_study("reporting").state == "ACTIVE"
    assert {s.name for s in client.list_studies()} >= {"reporting", "asked"}
    assert len(client.get_study("asked").trials()) >= 1
    listed = http_json(server.http_url + "api/v1/studies")
    assert "reporting" in json.dumps(listed)
    with urllib.request.urlopen(server.http_url + "healthz", timeout=30) as response:
        assert response.status == 200


def finish(workspace, server, client, reports):
    """Lets the worker complete; every acknowledged report is stored."""
    open(os.path.join(workspace.path, "finish"), "w").close()
    assert wait_until(lambda: client.get_study("reporting").state == "DONE", timeout=60)
    trial = client.get_study("reporting").trials()[0]
    stored = {step for _, step, metric, _ in measurement_rows(workspace.db, trial.id)}
    assert reports.acknowledged() <= stored
    assert server.process.poll() is None


@pytest.mark.parametrize("fault", ["read_only", "disk_full"])
def test_writes_refused_reads_served_and_recovered(fault, workspace, faulty_server):
    server, client, faults, reports = faulty_server
    asked = client.create_study(ask_tell_study("asked"))
    before = asked.suggest(2)
    assert len(before) == 2
    assert asked.complete(before[0], {"loss": 0.5}).state == "SUCCEEDED"

    words = "read-only" if fault == "read_only" else "disk is full"
    getattr(faults, fault)()
    # Reports fill the database's last free room, then are refused.
    assert reports.wait_for_refusal(words), reports.refusals()[-3:]
    expect_unavailable(lambda: client.create_study(ask_tell_study("new", padding=20000)),
                       words)
    # Suggestions and completions that need no new page may still fit on a
    # full disk, as on a real one: ask until one is refused.
    refused = None
    for _ in range(200):
        try:
            asked.suggest(1)
            trial = next(t for t in asked.trials() if t.state == "RUNNING")
            asked.complete(trial, {"loss": 0.25})
        except vernier.Unavailable as e:
            refused = e
            break
    assert refused is not None and words in refused.message, refused
    check_reads(server, client)
    assert server.process.poll() is None

    faults.lift()
    assert reports.wait_for_new_ack()
    open_trials = asked.suggest(1)
    assert open_trials, "no trial after the fault"
    assert asked.complete(open_trials[0], {"loss": 0.125}).state == "SUCCEEDED"
    assert client.create_study(ask_tell_study("after", padding=20000)).state == "ACTIVE"
    finish(workspace, server, client, reports)
    # What was acknowledged before the fault is still there.
    first = next(t for t in asked.trials() if t.id == before[0].id)
    assert first.state == "SUCCEEDED" and first.objective == 0.5
    assert all(t.state in ("RUNNING", "SUCCEEDED") for t in asked.trials())


def test_a_study_stopped_by_the_fault_resumes_when_it_lifts(workspace, faulty_server):
    server, client, faults, reports = faulty_server
    workspace.write_study(QUICK_STUDY, name="quick.yaml")
    assert server.cli("submit", "quick.yaml").returncode == 0
    assert wait_until(lambda: any(t.state == "SUCCEEDED"
                                  for t in client.get_study("quick").trials()), timeout=60)
    def log():
        return server.output() + server.errors()
    faults.read_only()
    # A worker exits while nothing can be written: its study's loop cannot
    # record it and stops; the server stays up.
    assert wait_until(lambda: "study quick stopped by an error" in log(), timeout=30), \
        log()[-2000:]
    assert client.get_study("quick").state == "ACTIVE"
    faults.lift()
    # The server resumes it from the database, without a restart.
    assert wait_until(lambda: client.get_study("quick").state == "DONE", timeout=60), \
        [(t.number, t.state) for t in client.get_study("quick").trials()]
    assert "study quick: resuming after a storage fault" in log()
    trials = client.get_study("quick").trials()
    assert [t.state for t in trials] == ["SUCCEEDED"] * 4
    finish(workspace, server, client, reports)
    assert server.process.poll() is None
