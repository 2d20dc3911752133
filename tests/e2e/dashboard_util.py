"""HTTP helpers for the dashboard's tests: JSON API calls and a reader of its
server-sent events, with urllib only."""
import json
import queue
import threading
import urllib.error
import urllib.request


def http(url, method="GET", headers=None, timeout=30):
    """(status, headers, body bytes) of a request; HTTP errors are answers too."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def api(base, path, method="GET", headers=None):
    """(status, parsed JSON) of /api/v1/PATH."""
    status, _, body = http(f"{base}api/v1/{path}", method, headers)
    return status, json.loads(body)


class EventStream:
    """Reads text/event-stream events from `url` on a thread into a queue."""

    def __init__(self, url):
        self.events = queue.Queue()
        self.response = urllib.request.urlopen(url, timeout=60)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        data = []
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.events.put(json.loads("\n".join(data)))
                    data = []
        except Exception:  # the stream closed under us: the test has ended
            pass

    def wait_for(self, predicate, timeout=60):
        """The first event (dict) for which predicate holds, or None."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if predicate(event):
                return event
        return None

    def close(self):
        self.response.close()
