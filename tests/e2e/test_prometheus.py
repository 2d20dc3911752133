"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes `vernier serve`;
PromQL through its HTTP API returns the trial counts the database holds."""
import json
import os
import sqlite3
import subprocess
import time
import urllib.parse

import pytest

from conftest import free_port, study_yaml, wait_until
from dashboard_util import http
from test_dashboard_api import finished, run_study

PROMETHEUS = "/usr/bin/prometheus"


def promql(base, query):
    """The instant vector of `query`, as {labels tuple: value}."""
    status, _, body = http(f"{base}/api/v1/query?query={urllib.parse.quote(query)}")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return {tuple(sorted(r["metric"].items())): float(r["value"][1])
            for r in answer["data"]["result"]}


@pytest.fixture
def prometheus(tmp_path):
    """start(target HOST:PORT) runs Prometheus scraping target every second."""
    processes = []

    def start(target):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: vernier\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n")
        log = open(tmp_path / "prometheus.log", "w")
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"

        def ready():
            if process.poll() is not None:
                return True  # it died: the assertion below shows why
            try:
                return http(f"{base}/-/ready", timeout=2)[0] == 200
            except OSError:  # not listening yet
                return False
        assert wait_until(ready, timeout=60)
        assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
        return base

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def test_prometheus_sees_the_trial_counts_of_the_database(start_server, workspace, prometheus):
    server = start_server()
    name = run_study(server, workspace, name="scraped", max_trials=6, parallel=3,
                     env={"FAIL_IF_X_BELOW": "0.3"})
    assert wait_until(lambda: finished(workspace.db, name, 6), timeout=120)
    with sqlite3.connect(workspace.db) as db:
        counts = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    names = {3: "SUCCEEDED", 4: "FAILED"}
    target = server.http_url.removeprefix("http://").rstrip("/")
    base = prometheus(target)

    def scraped():
        return promql(base, 'up{job="vernier"}') and promql(
            base, 'vernier_trials{study="scraped"}')
    assert wait_until(scraped, timeout=60), "Prometheus never scraped vernier"

    by_state = promql(base, 'sum by (state) (vernier_trials{study="scraped"})')
    seen = {dict(labels)["state"]: value for labels, value in by_state.items()}
    for state, label in names.items():
        assert seen.get(label, 0) == counts.get(state, 0), (seen, counts)
    assert seen["RUNNING"] == 0 and seen["PENDING"] == 0
    total = promql(base, 'sum(vernier_trials{study="scraped"})')
    assert list(total.values()) == [sum(counts.values())]
    finished_total = promql(base, "sum(vernier_trials_finished_total)")
    assert list(finished_total.values()) == [sum(counts.values())]
    started = promql(base, "vernier_trials_started_total")
    assert list(started.values())[0] >= sum(counts.values())
    studies = promql(base, 'vernier_studies{state="DONE"}')
    assert list(studies.values()) == [1]
    commits = promql(base, "vernier_storage_commit_seconds_count")
    assert list(commits.values())[0] > 0
    suggestions = promql(base, "vernier_suggestion_seconds_count")
    assert list(suggestions.values())[0] > 0


def test_prometheus_sees_spend_against_budget(start_server, workspace, prometheus):
    server = start_server()
    # One instance at 3,600 EUR an hour: a euro per second of each trial.
    text = study_yaml(name="priced", max_trials=3, parallel=3,
                      env={"STEP_SECONDS": "0.05"})
    text += "  pricing: {instance_hour: 3600}\nbudget: {max_cost: 1000, currency: EUR}\n"
    result = server.cli("submit", workspace.write_study(text, name="priced.yaml"))
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: finished(workspace.db, "priced", 3), timeout=120)
    base = prometheus(server.http_url.removeprefix("http://").rstrip("/"))

    def scraped():
        return promql(base, 'vernier_study_spend{study="priced"}')
    assert wait_until(scraped, timeout=60), "Prometheus never scraped the spend"
    budget = promql(base, 'vernier_study_budget{study="priced"}')
    assert {dict(k)["currency"]: v for k, v in budget.items()} == {"EUR": 1000}
    spend = promql(base, 'vernier_study_spend{study="priced"}')
    assert [dict(k)["currency"] for k in spend] == ["EUR"]
    shown = server.cli("show", "priced")
    assert shown.returncode == 0, shown.stderr
    # `vernier show` prints the same spend (CostLedger), to the cent.
    spent = list(spend.values())[0]
    assert 0 < spent < 1000
    assert f"{spent:.2f} of 1000.00 EUR spent" in shown.stdout, shown.stdout
    assert list(promql(base, "vernier_gpus_in_use").values()) == [0]


def test_metrics_time_each_gp_fit(start_server, workspace):
    server = start_server()
    text = study_yaml(name="fitted", max_trials=6, parallel=1,
                      algorithm="gp, settings: {initial_trials: 3}",
                      env={"STEP_SECONDS": "0.01"})
    result = server.cli("submit", workspace.write_study(text, name="fitted.yaml"))
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: finished(workspace.db, "fitted", 6), timeout=120)
    status, _, body = http(f"{server.http_url}metrics")
    assert status == 200, body
    counts = [line for line in body.decode().splitlines()
              if line.startswith("vernier_gp_fit_seconds_count ")]
    # Trials 4, 5 and 6 come from the model, fitted on 3, 4 and 5 results.
    assert counts and float(counts[0].split()[1]) >= 3, counts
