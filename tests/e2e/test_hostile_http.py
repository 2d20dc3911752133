"""Hostile HTTP requests against the dashboard server of `vernier serve`: path
traversal, script payloads, bad pagination, unknown routes, huge requests,
wrong methods and unauthorised actions. Each gets its documented status and a
message naming the parameter, and the database is unchanged."""
import base64
import http.client
import json
import urllib.parse

import pytest

from hostile_util import ADMIN_TOKEN, FORMULA, IMG, SCRIPT, hostile  # noqa: F401 (fixture)


def raw(h, method, path, headers=None):
    """(status, headers, body) of a request sent with `path` exactly as given:
    no client-side normalisation of '..' or percent-escapes."""
    url = urllib.parse.urlparse(h.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def token(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


def log_path(h):
    return f"/api/v1/trials/{h.done['id']}/log"


def tok(h):
    return h.a["token"]


# (id, method, path(h), headers(h), status, part of the body). An /api/ path
# answers {"error": {"code", "status", "message"}}; the part is looked for in
# the message (or, elsewhere, the plain-text body); None: no body to check.
CASES = [
    # --- Path traversal: log downloads are by trial id, assets by name
    ("traversal-in-trial-id", "GET", lambda h: "/api/v1/trials/../../etc/passwd/log", None,
     404, "no API endpoint at /api/v1/trials/../../etc/passwd/log"),
    ("traversal-encoded", "GET", lambda h: "/api/v1/trials/%2e%2e%2f%2e%2e%2fetc%2fpasswd/log",
     None, 404, "no API endpoint"),
    ("traversal-encoded-dots", "GET", lambda h: "/api/v1/trials/%2e%2e/log", None,
     400, "trial id: "),
    ("traversal-after-log", "GET", lambda h: log_path(h) + "/../../../../etc/passwd", None,
     404, "no API endpoint"),
    ("traversal-absolute-id", "GET", lambda h: "/api/v1/trials//etc/passwd/log", None,
     404, "no API endpoint"),
    ("traversal-asset", "GET", lambda h: "/../../../../etc/passwd", None, 404, "not found"),
    ("traversal-asset-encoded", "GET", lambda h: "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", None,
     404, "not found"),
    ("traversal-asset-absolute", "GET", lambda h: "//etc/passwd", None, 404, "not found"),
    ("traversal-asset-backslash", "GET", lambda h: "/..%5c..%5c..%5cetc%5cpasswd", None,
     404, "not found"),
    ("traversal-in-study-name", "GET", lambda h: "/api/v1/studies/..%2f..%2fetc/trials", None,
     404, "no API endpoint"),
    # --- Logs: bad tail_bytes, ids that are not trials
    ("log-tail-negative", "GET", lambda h: log_path(h) + "?tail_bytes=-1", None,
     400, "tail_bytes: must be a non-negative integer, not '-1'"),
    ("log-tail-not-a-number", "GET", lambda h: log_path(h) + "?tail_bytes=abc", None,
     400, "tail_bytes: must be a non-negative integer"),
    ("log-tail-over-int64", "GET", lambda h: log_path(h) + "?tail_bytes=99999999999999999999",
     None, 400, "tail_bytes: must be a non-negative integer"),
    ("log-tail-twice", "GET", lambda h: log_path(h) + "?tail_bytes=1&tail_bytes=2", None,
     400, "tail_bytes: given more than once"),
    ("log-of-unknown-trial", "GET", lambda h: "/api/v1/trials/987654321/log", None,
     404, "987654321"),
    ("log-of-ask-tell-trial", "GET", lambda h: f"/api/v1/trials/{h.open_id}/log", None,
     404, "has no log"),
    ("trial-id-negative", "GET", lambda h: "/api/v1/trials/-1", None, 400, "trial id: "),
    ("trial-id-huge", "GET", lambda h: "/api/v1/trials/99999999999999999999999", None,
     400, "trial id: "),
    ("trial-id-script", "GET", lambda h: "/api/v1/trials/%3Cscript%3E", None, 400, "trial id: "),
    # --- Pagination
    ("page-size-negative", "GET", lambda h: "/api/v1/studies?page_size=-1", None,
     400, "page_size: must be an integer from 1 to 100, not '-1'"),
    ("page-size-zero", "GET", lambda h: "/api/v1/studies/held/trials?page_size=0", None,
     400, "page_size: must be an integer from 1 to 1000, not '0'"),
    ("page-size-huge", "GET", lambda h: "/api/v1/studies/held/trials?page_size=1000000", None,
     400, "page_size: must be an integer from 1 to 1000"),
    ("page-size-over-int", "GET", lambda h: "/api/v1/studies?page_size=99999999999999999999",
     None, 400, "page_size: must be an integer"),
    ("page-size-text", "GET", lambda h: "/api/v1/studies/held/trials?page_size=ten", None,
     400, "page_size: must be an integer from 1 to 1000, not 'ten'"),
    ("page-size-float", "GET", lambda h: "/api/v1/studies/held/curves?page_size=1e3", None,
     400, "page_size: must be an integer"),
    ("page-size-twice", "GET", lambda h: "/api/v1/studies?page_size=1&page_size=2", None,
     400, "page_size: given more than once"),
    ("page-token-garbage", "GET", lambda h: "/api/v1/studies?page_token=%%%", None,
     400, "page_token: not a token this server gave"),
    ("page-token-negative", "GET",
     lambda h: "/api/v1/studies/held/trials?page_token=" + token("offset:-5"), None,
     400, "page_token: not a token this server gave"),
    ("page-token-huge-offset", "GET",
     lambda h: "/api/v1/studies?page_token=" + token("offset:9223372036854775807"), None,
     400, "page_token: not a token this server gave"),
    ("page-token-huge-offset-trials", "GET",
     lambda h: "/api/v1/studies/held/trials?page_token=" + token("offset:9223372036854775000"),
     None, 400, "page_token: not a token this server gave"),
    ("page-token-sql", "GET",
     lambda h: "/api/v1/studies/held/trials?page_token=" + token("offset:1; DROP TABLE trials"),
     None, 400, "page_token: not a token this server gave"),
    # --- Filters
    ("state-unknown", "GET", lambda h: "/api/v1/studies/held/trials?state=HACKED", None,
     400, "state: 'HACKED' is not a trial state"),
    ("state-script", "GET", lambda h: "/api/v1/studies?state=%3Cscript%3E", None,
     400, "state: '<script>' is not a study state"),
    ("range-malformed", "GET", lambda h: "/api/v1/studies/held/trials?range=x", None,
     400, "range: "),
    ("range-unknown-parameter", "GET", lambda h: "/api/v1/studies/held/trials?range=zz:0:1",
     None, 400, "range: study held has no parameter 'zz'"),
    ("range-nan", "GET", lambda h: "/api/v1/studies/held/trials?range=x:nan:1", None,
     400, "range: 'x:nan:1' is not PARAMETER:MIN:MAX with MIN <= MAX"),
    ("range-reversed", "GET", lambda h: "/api/v1/studies/held/trials?range=x:1:0", None,
     400, "range: 'x:1:0' is not PARAMETER:MIN:MAX"),
    ("range-on-categorical", "GET", lambda h: "/api/v1/studies/xss/trials?range=kind:0:1", None,
     400, "range: parameter 'kind' is categorical"),
    ("order-by-parameter-injection", "GET",
     lambda h: "/api/v1/studies/held/trials?order_by=params.x%29%3B%20DROP%20TABLE%20trials",
     None, 400, "order_by: "),
    ("order-by-injection", "GET",
     lambda h: "/api/v1/studies/held/trials?order_by=number;DROP%20TABLE%20trials", None,
     400, "order_by: "),
    ("order-by-studies", "GET", lambda h: "/api/v1/studies?order_by=name%20sideways", None,
     400, "order_by: 'name sideways' is not id, name, create_time or state"),
    ("csv-bad-state", "GET", lambda h: "/api/v1/studies/held/trials.csv?state=nope", None,
     400, "state: 'nope' is not a trial state"),
    # --- Unknown routes and names
    ("unknown-api-route", "GET", lambda h: "/api/v1/secrets", None,
     404, "no API endpoint at /api/v1/secrets"),
    ("unknown-api-version", "GET", lambda h: "/api/v2/studies", None, 404, "no API endpoint"),
    ("unknown-study", "GET", lambda h: "/api/v1/studies/no-such-study", None,
     404, "no-such-study"),
    ("unknown-study-events", "GET", lambda h: "/api/v1/events?study=no-such-study", None,
     404, "no-such-study"),
    ("unknown-page", "GET", lambda h: "/admin", None, 404, "not found"),
    # --- Size limits (cpp-httplib's own answers, with no body)
    ("huge-query-string", "GET", lambda h: "/api/v1/studies?q=" + "a" * 100_000, None,
     414, None),
    ("huge-header", "GET", lambda h: "/api/v1/studies", lambda h: {"X-Padding": "a" * 100_000},
     400, None),
    # --- Methods
    ("delete-study", "DELETE", lambda h: "/api/v1/studies/held", None,
     405, "DELETE is not allowed on this path (GET, HEAD is)"),
    ("put-study", "PUT", lambda h: "/api/v1/studies/held", None, 405, "PUT is not allowed"),
    ("post-to-list", "POST", lambda h: "/api/v1/studies", None, 405, "POST is not allowed"),
    ("get-action", "GET", lambda h: "/api/v1/studies/held:stop", None, 404, "no API endpoint"),
    ("patch-page", "PATCH", lambda h: "/", None, 405, "PATCH is not allowed"),
    ("options-api", "OPTIONS", lambda h: "/api/v1/studies", None, 405, "OPTIONS is not allowed"),
    ("put-action", "PUT", lambda h: "/api/v1/studies/held:stop", None,
     405, "PUT is not allowed on this path (POST is)"),
    # --- Actions without the right credentials
    ("stop-study-without-csrf-header", "POST", lambda h: "/api/v1/studies/held:stop",
     lambda h: {"Authorization": f"Bearer {ADMIN_TOKEN}"}, 403, "X-Requested-By"),
    ("stop-study-without-token", "POST", lambda h: "/api/v1/studies/held:stop",
     lambda h: {"X-Requested-By": "vernier"}, 401, "Authorization: missing admin token"),
    ("stop-study-wrong-token", "POST", lambda h: "/api/v1/studies/held:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": "Bearer nope"},
     403, "Authorization: wrong admin token"),
    ("stop-study-with-trial-token", "POST", lambda h: "/api/v1/studies/held:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": f"Bearer {tok(h)}"},
     403, "Authorization: wrong admin token"),
    ("stop-trial-basic-auth", "POST", lambda h: f"/api/v1/trials/{h.a['id']}:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": f"Basic {ADMIN_TOKEN}"},
     401, "Authorization: missing admin token"),
    ("stop-unknown-study", "POST", lambda h: "/api/v1/studies/no-such-study:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": f"Bearer {ADMIN_TOKEN}"},
     404, "no-such-study"),
    ("stop-trial-bad-id", "POST", lambda h: "/api/v1/trials/0x10:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": f"Bearer {ADMIN_TOKEN}"},
     400, "trial id: "),
    ("stop-finished-trial", "POST", lambda h: f"/api/v1/trials/{h.done['id']}:stop",
     lambda h: {"X-Requested-By": "vernier", "Authorization": f"Bearer {ADMIN_TOKEN}"},
     409, "SUCCEEDED"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refused_and_nothing_written(hostile, case):
    _, method, path, headers, status, part = case
    before = hostile.fingerprint()
    got, response_headers, body = raw(hostile, method, path(hostile),
                                      headers(hostile) if headers else None)
    assert got == status, body[:500]
    assert b"root:" not in body
    if part is not None:
        if path(hostile).startswith("/api/"):
            assert response_headers["Content-Type"] == "application/json; charset=utf-8"
            error = json.loads(body)["error"]
            assert error["code"] == status
            assert part in error["message"], error
        else:
            assert response_headers["Content-Type"].startswith("text/plain")
            assert part in body.decode()
    if status == 405:
        assert response_headers["Allow"]
    assert hostile.fingerprint() == before
    assert hostile.server.process.poll() is None


def test_script_payloads_stay_data(hostile):
    """Script payloads in a description, a categorical value, a client id and
    an infeasible reason come back only as JSON (or CSV) strings, under
    headers that keep a browser from running or sniffing them; no HTML page
    carries them."""
    pages = ["/api/v1/studies/xss", "/api/v1/studies?q=xss", f"/api/v1/trials/{hostile.xss_id}",
             "/api/v1/studies/xss/trials", "/api/v1/studies/xss/columns",
             "/api/v1/studies/xss/trials.csv"]
    seen = ""
    for page in pages:
        status, headers, body = raw(hostile, "GET", page)
        assert status == 200, (page, body[:300])
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        kind = headers["Content-Type"]
        assert kind.startswith("application/json") or kind.startswith("text/csv"), page
        text = body.decode()
        if kind.startswith("application/json"):
            seen += json.dumps(json.loads(text), ensure_ascii=False)
        else:
            seen += text
            # A spreadsheet does not take a cell for a formula.
            assert "'" + FORMULA in text and "," + FORMULA not in text
    assert SCRIPT in seen and "onerror=alert(1)" in seen and IMG.split('"')[1] in seen
    status, headers, body = raw(hostile, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"alert(" not in body
