"""Domain errors: what went wrong, in terms a client can act on.

They carry no transport detail. The gRPC layer maps each class to a status
code in one table (threadline_server.transport.errors), and the ``reason``
becomes the ErrorInfo reason clients can switch on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request (snake_case) and why."""

    field: str
    description: str


class ThreadlineError(Exception):
    """Base of every error the domain reports to a client."""

    reason = "INTERNAL"

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})


class ValidationError(ThreadlineError):
    """The request is malformed; nothing was written."""

    reason = "VALIDATION_ERROR"

    def __init__(self, violations: list[FieldViolation]) -> None:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {summary}", metadata={"field": violations[0].field})
        self.violations = violations


class RequestIdReusedError(ValidationError):
    """A request_id names an earlier call whose request was different."""

    reason = "REQUEST_ID_REUSED"

    def __init__(self, method: str) -> None:
        super().__init__(
            [
                FieldViolation(
                    "request_id",
                    f"was used within the last 24 hours by a different {method} request; "
                    "a retry must repeat its request exactly, and a new request needs a new id",
                )
            ]
        )


class WebhookUrlNotAllowedError(ValidationError):
    """A webhook URL whose host is, or resolves to, an address the operator has not allowed."""

    reason = "WEBHOOK_URL_NOT_ALLOWED"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__([FieldViolation(field, problem)])


class MalformedRequestError(ThreadlineError):
    """The request's bytes are not a message of the method's request type at all.

    Raised before any field can be looked at, so it names no field; the
    problem is in the bytes a client library would never send.
    """

    reason = "MALFORMED_REQUEST"

    def __init__(self, type_name: str, problem: str) -> None:
        super().__init__(
            f"the request is not a valid {type_name}: {problem}",
            metadata={"type": type_name},
        )


class NotFoundError(ThreadlineError):
    """The named resource does not exist (or has expired).

    It names the resource, kind and id; the request field that held the id is
    added by whoever knows the request (request_fields), so a store can
    raise it and one call reports it against ``thread_id``, another against
    ``thread.thread_id``.
    """

    def __init__(self, resource: str, resource_id: str, *, hint: str = "") -> None:
        super().__init__(
            f"{resource} {resource_id!r} not found" + (f" ({hint})" if hint else ""),
            metadata={"resource": resource, "id": resource_id},
        )
        self.resource = resource
        self.reason = f"{resource.upper()}_NOT_FOUND"

    @property
    def field(self) -> str | None:
        """The request field that named the resource, once someone has said."""
        return self.metadata.get("field")

    def at(self, field: str) -> NotFoundError:
        """Say which request field named the resource, unless a closer caller already did."""
        self.metadata.setdefault("field", field)
        return self


@contextlib.contextmanager
def request_fields(**field_of: str) -> Iterator[None]:
    """Report a resource that is not found against the request field that named it.

    ``with request_fields(thread="thread.thread_id"):`` around the calls of a
    request whose thread id sits at that path. Resources not listed are left
    to the default (``<resource>_id``), which the transport applies.
    """
    try:
        yield
    except NotFoundError as error:
        field = field_of.get(error.resource)
        if field:
            error.at(field)
        raise


class AlreadyExistsError(ThreadlineError):
    """A client-chosen id is already taken."""

    def __init__(self, resource: str, resource_id: str, *, field: str) -> None:
        super().__init__(
            f"{resource} {resource_id!r} already exists",
            metadata={"resource": resource, "id": resource_id, "field": field},
        )
        self.reason = f"{resource.upper()}_ALREADY_EXISTS"


class EtagMismatchError(ThreadlineError):
    """The caller's etag is stale: someone changed the resource since."""

    reason = "ETAG_MISMATCH"

    def __init__(self, resource: str, resource_id: str, *, field: str) -> None:
        super().__init__(
            f"{resource} {resource_id!r} changed since the given etag was read; "
            "read it again and retry",
            metadata={"resource": resource, "id": resource_id, "field": field},
        )


class FailedPreconditionError(ThreadlineError):
    """The call is valid but the system is not in a state to take it."""

    def __init__(
        self, reason: str, message: str, *, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason


class UnavailableError(ThreadlineError):
    """The server cannot take the call now (it is draining or overloaded)."""

    reason = "UNAVAILABLE"


class DatabaseUnavailableError(UnavailableError):
    """The database could not take the call now; nothing was written, and a retry may succeed.

    Another process holds it locked past the busy timeout, or the disk
    failed a read or write. retry_after is the hint a client gets (RetryInfo).
    """

    reason = "DATABASE_UNAVAILABLE"

    def __init__(self, problem: str, *, retry_after: float) -> None:
        super().__init__(
            f"the database cannot take the call now ({problem}); nothing was written, retry later",
            metadata={"problem": problem},
        )
        self.retry_after = retry_after


class UnauthenticatedError(ThreadlineError):
    """The call carries no API key, or one that is not valid (unknown, revoked, mistyped)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDeniedError(ThreadlineError):
    """The caller's key is valid but its scope does not allow the call."""

    reason = "INSUFFICIENT_SCOPE"

    def __init__(self, method: str, scope: str, required: str) -> None:
        super().__init__(
            f"a {scope} key may not call {method}; it needs a {required} key",
            metadata={"scope": scope, "required_scope": required},
        )


class ResourceExhaustedError(ThreadlineError):
    """A cap was reached: the caller may retry after retry_after seconds."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        retry_after: float,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason
        self.retry_after = retry_after


MAX_VIOLATIONS = 20


@dataclass
class Violations:
    """Collects every bad field of a request, so the client learns them all at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        """Record one bad field."""
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self) -> None:
        """Raise a ValidationError naming every recorded field, if there is one.

        At most MAX_VIOLATIONS are named, so the error's details stay well under
        the 8 KiB of metadata a gRPC client accepts by default.
        """
        if len(self.items) > MAX_VIOLATIONS:
            kept = self.items[: MAX_VIOLATIONS - 1]
            kept.append(
                FieldViolation(
                    self.items[MAX_VIOLATIONS - 1].field,
                    f"... and {len(self.items) - len(kept) - 1} more problems not listed",
                )
            )
            raise ValidationError(kept)
        if self.items:
            raise ValidationError(self.items)
