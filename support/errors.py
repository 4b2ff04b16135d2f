"""Domain errors raised by services; transports map them to their own error shapes."""
from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """A request the domain refuses. ``code`` is machine-readable and documented in docs/protocol.md.

    ``detail`` may be given lazily (``gettext_lazy``): it is then written in the language active
    where it is read, not where it was raised — a batch written for several senders
    (``support.services.message_batch``) raises each refusal once, and each transport reads it in
    its own sender's language.
    """

    code = "invalid"

    def __init__(self, detail: str | Promise, *, code: str | None = None) -> None:
        super().__init__(detail)
        self._detail = detail
        if code is not None:
            self.code = code

    @property
    def detail(self) -> str:
        """The refusal's text in the active language (always a ``str``: JSON never meets a lazy text)."""
        return str(self._detail)


class NotFound(DomainError):
    """Missing *or belonging to someone else*: callers cannot tell the two apart."""

    code = "not_found"


class PermissionDenied(DomainError):
    code = "forbidden"


class ValidationFailed(DomainError):
    code = "invalid"
