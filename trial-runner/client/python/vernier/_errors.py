"""The exceptions of the Vernier client.

Every failure of a call to the server raises a VernierError subclass chosen by
the gRPC status code; the exception keeps the code and the server's message.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class VernierError(Exception):
    """A call to the Vernier server failed, or the client is misconfigured.

    Attributes:
        code: the grpc.StatusCode of the failed call; None for errors raised by
            the client itself (ConfigurationError).
        message: the server's explanation (the status details), or the
            client's.
    """

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.code.name}: {self.message}"


class ConfigurationError(VernierError):
    """The environment or arguments do not say how to reach the server: a
    missing or malformed VERNIER_* variable, an unreadable CA file."""


class InvalidArgument(VernierError):
    """INVALID_ARGUMENT: the request is malformed; the message names the field."""


class NotFound(VernierError):
    """NOT_FOUND: no such study or trial."""


class AlreadyExists(VernierError):
    """ALREADY_EXISTS: a study of that name exists (and resume was not asked)."""


class PermissionDenied(VernierError):
    """PERMISSION_DENIED or UNAUTHENTICATED: a missing or wrong token."""


class FailedPrecondition(VernierError):
    """FAILED_PRECONDITION: the object's state forbids the request, such as
    reporting to or completing a trial that has ended."""


class ResourceExhausted(VernierError):
    """RESOURCE_EXHAUSTED: the request is too large."""


class Unavailable(VernierError):
    """UNAVAILABLE or DEADLINE_EXCEEDED, still so after the client's retries:
    the server cannot be reached, cannot write its database, or did not
    answer in time."""


_BY_CODE: Dict[grpc.StatusCode, Type[VernierError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
}


def error_from_rpc(error: grpc.RpcError) -> VernierError:
    """The VernierError for a failed call; codes without a subclass of their
    own give a plain VernierError."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else None
    cls = _BY_CODE.get(code, VernierError)
    return cls(details or str(error), code)
