"""The connection to a Vernier server: one gRPC channel, the token every call
carries, per-call deadlines, and retries of the calls that are safe to repeat.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from typing import Any, Callable, Optional, Tuple

import grpc

from vernier._errors import ConfigurationError, error_from_rpc

_log = logging.getLogger("vernier")

_RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a retryable call is repeated after UNAVAILABLE or DEADLINE_EXCEEDED.

    The n-th retry waits a random time in [backoff/2, backoff], where backoff
    is initial_backoff * multiplier**(n-1) capped at max_backoff. No retry
    starts later than `deadline` seconds after the first attempt did; the last
    error is then raised. Times are in seconds.
    """

    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    deadline: float = 60.0


def _read_ca(path: str, source: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigurationError(
            f"{source}: cannot read the TLS CA certificate {path!r}: "
            f"{e.strerror}") from None


class Connection:
    """A channel to one endpoint with the credentials of one caller.

    Thread-safe: gRPC channels and stubs may be shared by threads, and the
    connection holds no other mutable state.
    """

    def __init__(self,
                 endpoint: str,
                 token: Optional[str],
                 tls_ca: Optional[str] = None,
                 *,
                 timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(),
                 tls_ca_source: str = "tls_ca"):
        """Opens a channel to `endpoint` (HOST:PORT, or any gRPC target).

        Args:
            token: sent as `authorization: Bearer TOKEN` on every call; None
                or "" sends no authorization.
            tls_ca: path of a PEM file of the CA that signed the server's
                certificate; the channel uses TLS when given, plaintext
                otherwise.
            timeout: the deadline of each attempt, in seconds.
            tls_ca_source: how errors name where tls_ca came from.

        Raises:
            ConfigurationError: the CA file cannot be read.
        """
        if tls_ca:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_ca(tls_ca, tls_ca_source))
            self._channel = grpc.secure_channel(endpoint, credentials)
        else:
            self._channel = grpc.insecure_channel(endpoint)
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ())
        self._timeout = timeout
        self._retry = retry
        self.endpoint = endpoint

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    def call(self, method: Callable[..., Any], request: Any, *,
             retry: bool) -> Any:
        """Calls the unary stub `method` and returns its response.

        With `retry`, which the caller may pass only for calls that are safe
        to repeat, UNAVAILABLE and DEADLINE_EXCEEDED are retried by the
        policy.

        Raises:
            VernierError: the subclass for the final status code.
        """
        give_up_at = time.monotonic() + self._retry.deadline
        backoff = self._retry.initial_backoff
        while True:
            try:
                return method(request,
                              timeout=self._timeout,
                              metadata=self._metadata)
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                if not retry or error.code not in _RETRYABLE:
                    raise error from None
                delay = random.uniform(backoff / 2, backoff)
                if time.monotonic() + delay > give_up_at:
                    raise error from None
                _log.warning("vernier: %s failed (%s); retrying in %.1f s",
                             _method_name(method), error, delay)
                time.sleep(delay)
                backoff = min(backoff * self._retry.multiplier,
                              self._retry.max_backoff)

    def close(self) -> None:
        self._channel.close()


def _method_name(method: Callable[..., Any]) -> str:
    # Stub callables keep their full method path in a private attribute;
    # fall back to the repr when a grpc version names it differently.
    name = getattr(method, "_method", None)
    if isinstance(name, bytes):
        name = name.decode()
    return str(name or method)
