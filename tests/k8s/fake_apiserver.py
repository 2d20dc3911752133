#!/usr/bin/python3
"""A strict stand-in for a Kubernetes API server, for Vernier's tests.

Serves over HTTPS the endpoints the Kubernetes executor uses -- batch/v1 Jobs
(create, get, list, watch, delete), core/v1 pods (list, watch, log) and
secrets (create, get) -- and plays each Job's lifecycle from a scenario named by
its container image, "fake/<scenario>":

  success, failure   the pod runs the container's command as a local process
                     (its env resolved, the token from its Secret), so the
                     real client reports over gRPC; exit 0 completes the Job,
                     anything else fails it (BackoffLimitExceeded)
  deadline           runs like success, killed at activeDeadlineSeconds
                     (Failed, DeadlineExceeded)
  unschedulable      the pod stays Pending, PodScheduled False/Unschedulable
  imagepull          the pod stays Pending, container waiting ImagePullBackOff
  quota              Job creation answers 403 "exceeded quota" --quota-refusals
                     times, then runs like success
  slowstart          the pod stays Pending (scheduling) for --start-delay
                     seconds after its Job is created, then runs like success

Strict like fieldValidation=Strict: a body with an unknown or mistyped field
(checked against the models of python3-kubernetes) is 400. Every request
needs the configured bearer token or a client certificate signed by the CA.
Faults: --burst-429 N answers every Nth request 429 with Retry-After: 1;
--watch-max-events N ends each watch stream after N events; POST
/_test/compact forgets the event history, so that resumed watches get 410
Gone. GET /_test/state shows every object, every deletion and the most Jobs
that were ever unfinished at once. Finished Jobs
are deleted after their ttlSecondsAfterFinished; deleting a Job deletes its
pods (killing their processes) and the Secrets it owns.
"""
import argparse
import base64
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

from kubernetes.client import models

LOCK = threading.Condition()
STATE = {
    "rv": 100, "events": [], "compacted_before": 0,
    "jobs": {}, "pods": {}, "secrets": {}, "procs": {}, "logs": {},
    "deleted_jobs": [], "deleted_secrets": [], "requests": 0, "quota_refusals": 0,
    "created_jobs": [], "max_active_jobs": 0,
}
ARGS = None


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def now_precise():
    """RFC 3339 with microseconds, for a container's startedAt and finishedAt."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


# ---- strict schema check against python3-kubernetes models -----------------

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def check(value, type_name, path, errors):
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f'{path}: expected a list, got {type(value).__name__}')
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", errors)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f'{path}: expected a map, got {type(value).__name__}')
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            check(item, inner, f"{path}.{key}", errors)
        return
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if type_name == "int" and isinstance(value, bool) or not isinstance(value, expected):
            errors.append(f'{path}: cannot unmarshal {type(value).__name__} into {type_name}')
        return
    model = getattr(models, type_name)
    if not isinstance(value, dict):
        errors.append(f'{path}: expected an object ({type_name}), got {type(value).__name__}')
        return
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            errors.append(f'unknown field "{path}.{key}"' if path else f'unknown field "{key}"')
            continue
        check(item, model.openapi_types[by_json[key]], f"{path}.{key}" if path else key, errors)


def strict(body, type_name):
    errors = []
    check(body, type_name, "", errors)
    return errors


# ---- object store and events ------------------------------------------------

def bump():
    STATE["rv"] += 1
    return str(STATE["rv"])


def record(kind, type_, obj):
    obj["metadata"]["resourceVersion"] = bump()
    STATE["events"].append((int(obj["metadata"]["resourceVersion"]), kind, type_,
                            json.loads(json.dumps(obj))))
    LOCK.notify_all()


def labels_match(obj, selector):
    labels = obj["metadata"].get("labels", {})
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def set_job_condition(job, type_, reason="", message=""):
    job["status"]["conditions"] = [{"type": type_, "status": "True", "reason": reason,
                                    "message": message, "lastTransitionTime": now()}]
    job["status"]["completionTime" if type_ == "Complete" else "failedTime"] = now()
    job["status"]["active"] = 0
    job["finished_at"] = time.time()


def delete_job(key):
    job = STATE["jobs"].pop(key, None)
    if job is None:
        return False
    STATE["deleted_jobs"].append(job["metadata"]["name"])
    record("Job", "DELETED", job)
    for pod_key in [k for k, p in STATE["pods"].items()
                    if p["metadata"]["labels"].get("job-name") == job["metadata"]["name"]]:
        pod = STATE["pods"].pop(pod_key)
        proc = STATE["procs"].pop(pod_key, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
        record("Pod", "DELETED", pod)
    uid = job["metadata"]["uid"]
    for secret_key in [k for k, s in STATE["secrets"].items()
                       if any(o.get("uid") == uid for o in s["metadata"].get("ownerReferences", []))]:
        STATE["secrets"].pop(secret_key)
        STATE["deleted_secrets"].append(secret_key[1])
    return True


def scenario_of(job):
    image = job["spec"]["template"]["spec"]["containers"][0].get("image", "")
    return image.split("/", 1)[1] if image.startswith("fake/") else "success"


def start_pod(ns, job):
    name = job["metadata"]["name"] + "-" + uuid.uuid4().hex[:5]
    template = job["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()),
                        "labels": {**template["metadata"].get("labels", {}),
                                   "job-name": job["metadata"]["name"]}},
           "spec": template["spec"], "status": {"phase": "Pending"}}
    scenario = scenario_of(job)
    container = template["spec"]["containers"][0]
    if scenario == "unschedulable":
        pod["status"]["conditions"] = [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]
    elif scenario == "imagepull":
        pod["status"]["containerStatuses"] = [{
            "name": container["name"], "ready": False, "restartCount": 0,
            "image": container["image"], "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff",
                                  "message": f'Back-off pulling image "{container["image"]}"'}}}]
    STATE["pods"][(ns, name)] = pod
    record("Pod", "ADDED", pod)
    if scenario in ("success", "failure", "deadline", "quota"):
        run_process(ns, name, job, container)


def run_process(ns, pod_name, job, container):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            secret = STATE["secrets"].get((ns, ref["name"]))
            if secret is None:
                return  # like CreateContainerConfigError: retried below
            env[var["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    command = container.get("command", []) + container.get("args", [])
    key = (ns, pod_name)
    proc = subprocess.Popen(command, env=env, cwd=ARGS.workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    STATE["procs"][key] = proc
    pod = STATE["pods"][key]
    pod["status"] = {"phase": "Running", "containerStatuses": [{
        "name": container["name"], "ready": True, "restartCount": 0,
        "image": container["image"], "imageID": "", "state": {"running": {"startedAt": now_precise()}}}]}
    job["status"]["active"] = 1
    record("Pod", "MODIFIED", pod)
    threading.Thread(target=watch_process, args=(key, job["metadata"]["name"], proc),
                     daemon=True).start()


def watch_process(key, job_name, proc):
    output = proc.stdout.read()
    code = proc.wait()
    with LOCK:
        STATE["logs"][key] = output.decode(errors="replace")
        pod = STATE["pods"].get(key)
        job = STATE["jobs"].get((key[0], job_name))
        if pod is None or job is None or "finished_at" in job:
            return
        container = pod["status"]["containerStatuses"][0]
        started = container["state"].get("running", {}).get("startedAt", now_precise())
        container["state"] = {"terminated": {
            "exitCode": code, "reason": "Completed" if code == 0 else "Error",
            "startedAt": started, "finishedAt": now_precise()}}
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        record("Pod", "MODIFIED", pod)
        if code == 0:
            job["status"]["succeeded"] = 1
            set_job_condition(job, "Complete")
        else:
            job["status"]["failed"] = 1
            set_job_condition(job, "Failed", "BackoffLimitExceeded",
                              "Job has reached the specified backoff limit")
        record("Job", "MODIFIED", job)


def tick():
    """Deadlines, pods waiting for their Secret or their start delay, and TTLs; five
    times a second."""
    while True:
        time.sleep(0.2)
        with LOCK:
            t = time.time()
            for key, job in list(STATE["jobs"].items()):
                deadline = job["spec"].get("activeDeadlineSeconds")
                if "finished_at" not in job and deadline and t - job["created_at"] > deadline:
                    for pod_key, pod in STATE["pods"].items():
                        if pod["metadata"]["labels"].get("job-name") == job["metadata"]["name"]:
                            proc = STATE["procs"].get(pod_key)
                            if proc is not None and proc.poll() is None:
                                proc.kill()
                    set_job_condition(job, "Failed", "DeadlineExceeded",
                                      "Job was active longer than specified deadline")
                    record("Job", "MODIFIED", job)
                ttl = job["spec"].get("ttlSecondsAfterFinished")
                if "finished_at" in job and ttl is not None and t - job["finished_at"] >= ttl:
                    delete_job(key)
            for key, pod in list(STATE["pods"].items()):
                job = STATE["jobs"].get((key[0], pod["metadata"]["labels"].get("job-name")))
                if job is None or key in STATE["procs"] or pod["status"]["phase"] != "Pending":
                    continue
                scenario = scenario_of(job)
                if scenario in ("success", "failure", "deadline", "quota") or (
                        scenario == "slowstart" and t - job["created_at"] >= ARGS.start_delay):
                    run_process(key[0], key[1], job, job["spec"]["template"]["spec"]["containers"][0])


# ---- HTTP ------------------------------------------------------------------

JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)(/log)?)?$")
SECRETS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/]+))?$")


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, headers=None, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def fail(self, code, reason, message, headers=None):
        self.send(code, status_body(code, reason, message), headers)

    def authenticated(self):
        if ARGS.token and self.headers.get("Authorization") == f"Bearer {ARGS.token}":
            return True
        return bool(ARGS.client_ca and self.connection.getpeercert())

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        return json.loads(self.rfile.read(length))

    def route(self, method):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path.startswith("/_test/"):
            return self.test_control(method, url.path)
        if not self.authenticated():
            return self.fail(401, "Unauthorized", "Unauthorized")
        with LOCK:
            STATE["requests"] += 1
            burst = ARGS.burst_429 and STATE["requests"] % ARGS.burst_429 == 0
        if burst:
            return self.fail(429, "TooManyRequests", "Too many requests, please try again later.",
                             {"Retry-After": "1"})
        body = self.body() if method in ("POST", "PUT", "DELETE") else None
        if m := JOBS.match(url.path):
            return self.jobs(method, m.group(1), m.group(2), query, body)
        if m := PODS.match(url.path):
            return self.pods(method, m.group(1), m.group(2), m.group(3), query)
        if m := SECRETS.match(url.path):
            return self.secrets(method, m.group(1), m.group(2), body)
        return self.fail(404, "NotFound", f"the server could not find the requested resource ({url.path})")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def test_control(self, method, path):
        with LOCK:
            if path == "/_test/compact":
                STATE["compacted_before"] = STATE["rv"] + 1
                STATE["events"].clear()
                return self.send(200, {})
            if path == "/_test/state":
                return self.send(200, {
                    "jobs": [j["metadata"]["name"] for j in STATE["jobs"].values()],
                    "job_objects": [{k: v for k, v in j.items() if k not in ("created_at", "finished_at")}
                                    for j in STATE["jobs"].values()],
                    "pods": [p["metadata"]["name"] for p in STATE["pods"].values()],
                    "secrets": [s["metadata"]["name"] for s in STATE["secrets"].values()],
                    "deleted_jobs": STATE["deleted_jobs"], "created_jobs": STATE["created_jobs"],
                    "deleted_secrets": STATE["deleted_secrets"], "requests": STATE["requests"],
                    "max_active_jobs": STATE["max_active_jobs"]})
        return self.fail(404, "NotFound", path)

    def list_of(self, kind, items, query):
        selector = query.get("labelSelector", "")
        chosen = [i for i in items if labels_match(i, selector)]
        return {"apiVersion": "v1", "kind": f"{kind}List",
                "metadata": {"resourceVersion": str(STATE["rv"])}, "items": chosen}

    def jobs(self, method, ns, name, query, body):
        if method == "POST" and name is None:
            errors = strict(body, "V1Job")
            if errors:
                return self.fail(400, "BadRequest", "Job in version \"v1\" cannot be handled as a Job: "
                                 "strict decoding error: " + ", ".join(errors))
            if scenario_of(body) == "quota":
                with LOCK:
                    STATE["quota_refusals"] += 1
                    refuse = STATE["quota_refusals"] <= ARGS.quota_refusals
                if refuse:
                    return self.fail(403, "Forbidden", f'jobs "{body["metadata"]["name"]}" is forbidden: '
                                     "exceeded quota: compute-quota, requested: requests.cpu=4, "
                                     "used: requests.cpu=16, limited: requests.cpu=16")
            with LOCK:
                key = (ns, body["metadata"]["name"])
                if key in STATE["jobs"]:
                    return self.fail(409, "AlreadyExists", f'jobs.batch "{key[1]}" already exists')
                body["metadata"].update({"uid": str(uuid.uuid4()), "creationTimestamp": now()})
                body["status"] = {}
                body["created_at"] = time.time()
                STATE["jobs"][key] = body
                STATE["created_jobs"].append(key[1])
                STATE["max_active_jobs"] = max(STATE["max_active_jobs"], sum(
                    "finished_at" not in j for j in STATE["jobs"].values()))
                record("Job", "ADDED", body)
                start_pod(ns, body)
                return self.send(201, public(body))
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true"):
                return self.watch("Job", query)
            with LOCK:
                return self.send(200, self.list_of("Job", [public(j) for j in STATE["jobs"].values()], query))
        if method == "GET":
            with LOCK:
                job = STATE["jobs"].get((ns, name))
                if job is None:
                    return self.fail(404, "NotFound", f'jobs.batch "{name}" not found')
                return self.send(200, public(job))
        if method == "DELETE":
            if body is not None:
                errors = strict(body, "V1DeleteOptions")
                if errors:
                    return self.fail(400, "BadRequest", "strict decoding error: " + ", ".join(errors))
            with LOCK:
                if not delete_job((ns, name)):
                    return self.fail(404, "NotFound", f'jobs.batch "{name}" not found')
                return self.send(200, status_body(200, "", "deleted") | {"status": "Success"})
        return self.fail(405, "MethodNotAllowed", method)

    def pods(self, method, ns, name, log, query):
        if method != "GET":
            return self.fail(405, "MethodNotAllowed", method)
        if name is None:
            if query.get("watch") in ("1", "true"):
                return self.watch("Pod", query)
            with LOCK:
                return self.send(200, self.list_of("Pod", list(STATE["pods"].values()), query))
        with LOCK:
            if (ns, name) not in STATE["pods"]:
                return self.fail(404, "NotFound", f'pods "{name}" not found')
            if log:
                return self.send(200, STATE["logs"].get((ns, name), ""), content_type="text/plain")
            return self.send(200, STATE["pods"][(ns, name)])

    def secrets(self, method, ns, name, body):
        if method == "GET" and name is not None:
            with LOCK:
                secret = STATE["secrets"].get((ns, name))
                if secret is None:
                    return self.fail(404, "NotFound", f'secrets "{name}" not found')
                return self.send(200, secret)
        if method != "POST" or name is not None:
            return self.fail(405, "MethodNotAllowed", method)
        errors = strict(body, "V1Secret")
        if errors:
            return self.fail(400, "BadRequest", "strict decoding error: " + ", ".join(errors))
        with LOCK:
            key = (ns, body["metadata"]["name"])
            if key in STATE["secrets"]:
                return self.fail(409, "AlreadyExists", f'secrets "{key[1]}" already exists')
            STATE["secrets"][key] = body
            return self.send(201, body)

    def watch(self, kind, query):
        since = int(query.get("resourceVersion") or 0)
        selector = query.get("labelSelector", "")
        deadline = time.time() + min(float(query.get("timeoutSeconds", 300)), 300)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        sent = 0
        try:
            with LOCK:
                if since and since < STATE["compacted_before"]:
                    chunk({"type": "ERROR", "object": status_body(
                        410, "Expired", f"too old resource version: {since} ({STATE['rv']})")})
                    self.wfile.write(b"0\r\n\r\n")
                    return
            while time.time() < deadline:
                with LOCK:
                    events = [e for e in STATE["events"] if e[0] > since and e[1] == kind
                              and labels_match(e[3], selector)]
                    if not events:
                        LOCK.wait(0.5)
                        continue
                for rv, _, type_, obj in events:
                    chunk({"type": type_, "object": public(obj)})
                    since = rv
                    sent += 1
                    if ARGS.watch_max_events and sent >= ARGS.watch_max_events:
                        self.wfile.write(b"0\r\n\r\n")
                        return
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


def public(obj):
    return {k: v for k, v in obj.items() if k not in ("created_at", "finished_at")}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--client-ca", default="")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--burst-429", type=int, default=0)
    parser.add_argument("--watch-max-events", type=int, default=0)
    parser.add_argument("--quota-refusals", type=int, default=3)
    parser.add_argument("--start-delay", type=float, default=3)
    ARGS = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ARGS.cert, ARGS.key)
    if ARGS.client_ca:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(ARGS.client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=tick, daemon=True).start()
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
