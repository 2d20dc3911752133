"""The training code's side: the trial this process runs, reached through the
environment that Vernier's worker sets."""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

from vernier._errors import ConfigurationError
from vernier._rpc import Connection, RetryPolicy
from vernier._types import Param, decode_params, encode_metrics, encode_step
from vernier.v1 import service_pb2, service_pb2_grpc, study_pb2

ENDPOINT_VAR = "VERNIER_ENDPOINT"
TRIAL_ID_VAR = "VERNIER_TRIAL_ID"
TOKEN_VAR = "VERNIER_TOKEN"
TLS_CA_VAR = "VERNIER_TLS_CA"


@dataclasses.dataclass(frozen=True)
class ReportResult:
    """The server's answer to a report.

    Attributes:
        should_stop: the trial should stop (early stopping, the budget, or a
            user's stop). Vernier stops the worker itself soon after; code
            that stops at once saves the time in between.
    """

    should_stop: bool


class CurrentTrial:
    """The trial this process runs: its parameters, and the calls that report
    its metrics. Obtain it with vernier.current_trial().

    Thread-safe: report() may be called from several threads.
    """

    def __init__(self, connection: Connection,
                 response: service_pb2.GetTrialResponse):
        self._connection = connection
        self._stub = service_pb2_grpc.TrialServiceStub(connection.channel)
        self._proto = response.trial
        self._parameter_specs = tuple(response.parameters)
        self._params = decode_params(response.trial.parameters,
                                     response.parameters)
        self._lock = threading.Lock()
        self._should_stop = False
        self.closed = False

    @property
    def id(self) -> int:
        return self._proto.id

    @property
    def number(self) -> int:
        """1, 2, 3... within the study."""
        return self._proto.number

    @property
    def params(self) -> Dict[str, Param]:
        """Parameter name -> value, typed by the study's spec: an int for INT,
        a float for DOUBLE and DISCRETE, a str for CATEGORICAL."""
        return self._params

    @property
    def parameter_specs(self) -> Tuple[study_pb2.ParameterSpec, ...]:
        """The study's vernier.v1.ParameterSpec messages, in its order."""
        return self._parameter_specs

    @property
    def proto(self) -> study_pb2.Trial:
        """The vernier.v1.Trial as the server gave it at start-up."""
        return self._proto

    def report(self, step: int, metrics: Mapping[str, Any]) -> ReportResult:
        """Records the metrics of one step, such as an epoch; returns once the
        server has them on disk.

        A report is idempotent per (step, metric), so a report that fails
        with UNAVAILABLE or DEADLINE_EXCEEDED is sent again, with backoff.

        Raises:
            TypeError: step is not an int or a metric is not a number.
            FailedPrecondition: the trial has ended.
            VernierError: any other failure, after retries.
        """
        measurement = study_pb2.Measurement(step=encode_step(step),
                                            metrics=encode_metrics(metrics))
        measurement.time.GetCurrentTime()
        response = self._connection.call(
            self._stub.ReportMeasurement,
            service_pb2.ReportMeasurementRequest(trial_id=self.id,
                                                 measurements=[measurement]),
            retry=True)
        with self._lock:
            self._should_stop = response.should_stop
        return ReportResult(should_stop=response.should_stop)

    def should_stop(self) -> bool:
        """The answer to the last report; False before the first one."""
        with self._lock:
            return self._should_stop

    def complete(self, metrics: Optional[Mapping[str, Any]] = None) -> None:
        """Records the final metrics (name -> number), which should hold the
        study's objective; the process is expected to exit afterwards.

        Raises:
            TypeError: a metric is not a number.
            FailedPrecondition: the trial has already ended.
            VernierError: any other failure, after retries.
        """
        self._connection.call(
            self._stub.FinishTrial,
            service_pb2.FinishTrialRequest(trial_id=self.id,
                                           metrics=encode_metrics(metrics)),
            retry=True)

    def close(self) -> None:
        """Closes the channel; a later current_trial() opens a new one."""
        self.closed = True
        self._connection.close()

    def __enter__(self) -> "CurrentTrial":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"CurrentTrial(id={self.id}, number={self.number}, "
                f"params={self._params!r})")


_current_lock = threading.Lock()
_current: Optional[Tuple[Tuple[str, ...], CurrentTrial]] = None


def _require(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set: vernier.current_trial() works in a trial that "
            f"Vernier started with metrics collector 'push', which sets "
            f"{ENDPOINT_VAR}, {TRIAL_ID_VAR} and {TOKEN_VAR}")
    return value


def current_trial(*,
                  timeout: float = 30.0,
                  retry: RetryPolicy = RetryPolicy()) -> CurrentTrial:
    """The trial this process runs, from the environment the worker sets:
    VERNIER_ENDPOINT (HOST:PORT), VERNIER_TRIAL_ID, VERNIER_TOKEN, and
    VERNIER_TLS_CA (a PEM file) when the server uses TLS.

    Fetches the trial from the server, so a wrong token or endpoint fails
    here rather than at the first report. Later calls in the same process,
    with the same environment, return the same object.

    Args:
        timeout: the deadline of each call, in seconds.
        retry: how calls are retried after UNAVAILABLE or DEADLINE_EXCEEDED.

    Raises:
        ConfigurationError: a variable is missing or malformed (the message
            names it), or the CA file cannot be read.
        PermissionDenied, NotFound, Unavailable: from fetching the trial.
    """
    global _current
    environ = os.environ
    endpoint = _require(environ, ENDPOINT_VAR)
    raw_id = _require(environ, TRIAL_ID_VAR)
    token = _require(environ, TOKEN_VAR)
    tls_ca = environ.get(TLS_CA_VAR, "").strip() or None
    try:
        trial_id = int(raw_id)
    except ValueError:
        raise ConfigurationError(
            f"{TRIAL_ID_VAR} must be an integer, not {raw_id!r}") from None
    key = (endpoint, raw_id, token, tls_ca or "")
    with _current_lock:
        if (_current is not None and _current[0] == key
                and not _current[1].closed):
            return _current[1]
        connection = Connection(endpoint,
                                token,
                                tls_ca,
                                timeout=timeout,
                                retry=retry,
                                tls_ca_source=TLS_CA_VAR)
        try:
            stub = service_pb2_grpc.TrialServiceStub(connection.channel)
            response = connection.call(
                stub.GetTrial,
                service_pb2.GetTrialRequest(trial_id=trial_id),
                retry=True)
        except BaseException:
            connection.close()
            raise
        handle = CurrentTrial(connection, response)
        _current = (key, handle)
        return handle
