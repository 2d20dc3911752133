"""The HTTP side of `vernier serve`: the JSON API (pagination, filters, sorting,
errors), the dashboard's assets and headers, server-sent events and the
actions, against a real server running real trials."""
import json
import re
import sqlite3
import urllib.parse

import pytest

from conftest import FAILED, RUNNING, STOPPED, SUCCEEDED, study_yaml, wait_until
from dashboard_util import EventStream, api, http

ACTION = {"X-Requested-By": "vernier"}


def run_study(server, workspace, name="web", max_trials=8, parallel=4, env=None):
    path = workspace.write_study(
        study_yaml(name=name, max_trials=max_trials, parallel=parallel,
                   env={"STEP_SECONDS": "0.01", **(env or {})}),
        name=f"{name}.yaml")
    result = server.cli("submit", path)
    assert result.returncode == 0, result.stderr
    return name


def db_trials(db, name):
    """(number, state, objective, x) of the study's trials."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT t.number, t.state, t.objective, json_extract(t.params, '$.x') "
            "FROM trials t JOIN studies s ON s.id = t.study_id WHERE s.name = ? "
            "ORDER BY t.number", (name,)).fetchall()


def finished(db, name, count):
    rows = db_trials(db, name)
    return len(rows) == count and all(r[1] not in (1, RUNNING) for r in rows)


@pytest.fixture
def done_study(start_server, workspace):
    server = start_server()
    name = run_study(server, workspace, env={"FAIL_IF_X_BELOW": "0.2"})
    assert wait_until(lambda: finished(workspace.db, name, 8), timeout=120)
    return server, name


def test_pages_filters_and_sorts_trials_like_the_database(done_study, workspace):
    server, name = done_study
    base = server.http_url
    rows = db_trials(workspace.db, name)

    status, first = api(base, f"studies/{name}/trials?page_size=3")
    assert status == 200
    assert first["totalSize"] == "8" and len(first["trials"]) == 3
    numbers = [t["number"] for t in first["trials"]]
    token = first["nextPageToken"]
    while token:
        status, page = api(base, f"studies/{name}/trials?page_size=3&page_token={token}")
        assert status == 200
        numbers += [t["number"] for t in page["trials"]]
        token = page["nextPageToken"]
    assert numbers == [r[0] for r in rows]

    status, succeeded = api(base, f"studies/{name}/trials?state=SUCCEEDED&page_size=100")
    assert status == 200
    assert [t["number"] for t in succeeded["trials"]] == [r[0] for r in rows if r[1] == SUCCEEDED]
    status, failed = api(base, f"studies/{name}/trials?state=FAILED")
    assert int(failed["totalSize"]) == sum(1 for r in rows if r[1] == FAILED)

    status, ranged = api(base, f"studies/{name}/trials?range=x:0.25:0.75")
    assert status == 200
    assert [t["number"] for t in ranged["trials"]] == [r[0] for r in rows if 0.25 <= r[3] <= 0.75]

    status, best_first = api(base, f"studies/{name}/trials?state=SUCCEEDED&order_by="
                             + urllib.parse.quote("objective desc"))
    objectives = [t["objective"] for t in best_first["trials"]]
    assert objectives == sorted(objectives, reverse=True) and objectives

    status, overview = api(base, f"studies/{name}")
    assert status == 200
    assert int(overview["counts"]["created"]) == len(rows)
    assert int(overview["counts"]["succeeded"]) == sum(1 for r in rows if r[1] == SUCCEEDED)
    assert overview["bestTrial"]["objective"] == max(objectives)

    status, columns = api(base, f"studies/{name}/columns")
    assert columns["number"] == [r[0] for r in rows]
    status, trial = api(base, f"trials/{first['trials'][0]['id']}")
    assert status == 200 and trial["measurements"], "measurements of the trial page"

    status, headers, csv = http(f"{base}api/v1/studies/{name}/trials.csv?state=SUCCEEDED")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    lines = csv.decode().strip().split("\r\n")
    assert lines[0].startswith("number,state,objective,params.x,params.k")
    assert len(lines) == 1 + sum(1 for r in rows if r[1] == SUCCEEDED)


def test_errors_name_what_was_wrong(done_study):
    server, name = done_study
    base = server.http_url
    status, body = api(base, "studies/no-such-study")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"
    assert "no-such-study" in body["error"]["message"]
    status, _ = api(base, "studies/no-such-study/trials")
    assert status == 404
    for query, field in [("page_size=0", "page_size"), ("page_size=100000", "page_size"),
                         ("page_size=many", "page_size"), ("page_token=xyz", "page_token"),
                         ("state=LOST", "state"), ("range=x:1:0", "range"),
                         ("order_by=color", "order_by")]:
        status, body = api(base, f"studies/{name}/trials?{query}")
        assert status == 400, query
        assert body["error"]["message"].startswith(field + ":"), body
    status, body = api(base, "trials/123456")
    assert status == 404
    status, body = api(base, "nothing/here")
    assert status == 404


def test_serves_the_dashboard_with_a_strict_policy(done_study):
    server, _ = done_study
    status, headers, page = http(server.http_url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = page.decode()
    assert re.findall(r"<script[^>]*>", html) == ['<script defer src="/app.js">']
    assert "</script>" in html and not re.search(r"<script[^>]*>[^<]+</script>", html)
    status, headers, script = http(server.http_url + "app.js")
    assert status == 200 and len(script) > 100_000  # ECharts is in the bundle
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = http(server.http_url + "healthz")
    assert status == 200 and body == b"ok\n"


def test_events_report_trials_and_measurements_live(start_server, workspace):
    server = start_server()
    stream = EventStream(server.http_url + "api/v1/events")
    try:
        name = run_study(server, workspace, name="live", max_trials=2, parallel=1)
        assert stream.wait_for(lambda e: e["kind"] == "trial" and e["state"] == "RUNNING")
        assert stream.wait_for(lambda e: e["kind"] == "measurements" and e["step"] >= 1)
        assert stream.wait_for(lambda e: e["kind"] == "trial" and e["state"] == "SUCCEEDED")
        assert stream.wait_for(lambda e: e["kind"] == "study" and e["state"] == "DONE")
    finally:
        stream.close()
    status, _ = api(server.http_url, f"events?study=nope")
    assert status == 404
    assert finished(workspace.db, name, 2)


def test_actions_stop_a_trial_and_a_study(start_server, workspace):
    server = start_server()
    base = server.http_url
    name = run_study(server, workspace, name="slow", max_trials=20, parallel=2,
                     env={"STEP_SECONDS": "5"})
    assert wait_until(lambda: sum(r[1] == RUNNING for r in db_trials(workspace.db, name)) == 2)
    status, page = api(base, f"studies/{name}/trials?state=RUNNING")
    trial_id = page["trials"][0]["id"]
    status, body = api(base, f"trials/{trial_id}:stop", method="POST")
    assert status == 403 and "X-Requested-By" in body["error"]["message"]
    status, body = api(base, f"trials/{trial_id}:stop", method="POST", headers=ACTION)
    assert status == 200, body
    assert wait_until(lambda: api(base, f"trials/{trial_id}")[1]["state"] == "STOPPED")
    status, body = api(base, f"studies/{name}:stop", method="POST", headers=ACTION)
    assert status == 200 and body["state"] == "STOPPED", body
    states = [r[1] for r in db_trials(workspace.db, name)]
    assert STOPPED in states and RUNNING not in states


def test_actions_need_the_admin_token_when_there_is_one(start_server, workspace):
    token_file = workspace.write_study("sesame\n", name="token.txt")
    server = start_server("--admin-token-file", token_file)
    status, config = api(server.http_url, "config")
    assert config == {"adminTokenRequired": True}
    status, body = api(server.http_url, "studies/none:stop", method="POST", headers=ACTION)
    assert status == 401
    status, body = api(server.http_url, "studies/none:stop", method="POST",
                       headers={**ACTION, "Authorization": "Bearer nope"})
    assert status == 403
    status, body = api(server.http_url, "studies/none:stop", method="POST",
                       headers={**ACTION, "Authorization": "Bearer sesame"})
    assert status == 404  # past the guard: the study does not exist
