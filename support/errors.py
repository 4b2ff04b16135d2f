"""Domain errors raised by services; transports map them to their own error shapes."""
from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. ``code`` is machine-readable and documented in docs/protocol.md."""

    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """Missing *or belonging to someone else*: callers cannot tell the two apart."""

    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class ValidationFailed(DomainError):
    code = "invalid"
