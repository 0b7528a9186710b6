"""Domain errors to gRPC statuses, in one table, and the wrapper that applies it.

Every error a client sees is a google.rpc.Status: the code from the table
below, an ErrorInfo whose reason is the domain error's stable UPPER_SNAKE word,
for bad input, a BadRequest naming each bad field, and for a cap that was
reached or a database that could not take the call (locked, busy, a disk
error: UNAVAILABLE, nothing written), a RetryInfo saying when to try again.
Anything unexpected is logged with its traceback and answered INTERNAL
without internals.

A status travels in the call's trailing metadata (grpc-message, and the
whole Status again in grpc-status-details-bin, base64), and a client
accepts 8 KiB of metadata by default: past that it reports
RESOURCE_EXHAUSTED instead of the error. Errors echo what the client sent
(a bad value, a path), so to_status clips every text it carries to a few
hundred bytes and keeps the field violations within a budget: a status
always stays under about 5 KiB on the wire, whatever the request held.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from threadline_server.errors import (
    AlreadyExistsError,
    DatabaseUnavailableError,
    EtagMismatchError,
    FailedPreconditionError,
    MalformedRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ThreadlineError,
    UnauthenticatedError,
    UnavailableError,
    ValidationError,
)

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "threadline.dev"

STATUS_CODES: dict[type[ThreadlineError], int] = {
    ValidationError: code_pb2.INVALID_ARGUMENT,
    MalformedRequestError: code_pb2.INVALID_ARGUMENT,
    NotFoundError: code_pb2.NOT_FOUND,
    AlreadyExistsError: code_pb2.ALREADY_EXISTS,
    EtagMismatchError: code_pb2.ABORTED,
    FailedPreconditionError: code_pb2.FAILED_PRECONDITION,
    UnavailableError: code_pb2.UNAVAILABLE,
    UnauthenticatedError: code_pb2.UNAUTHENTICATED,
    PermissionDeniedError: code_pb2.PERMISSION_DENIED,
    ResourceExhaustedError: code_pb2.RESOURCE_EXHAUSTED,
}

# The most bytes (UTF-8) of each text a status carries: its message, each
# ErrorInfo metadata value and ResourceInfo name, each violation's field
# path and description; and of all the violations together, serialized.
# grpc-message percent-encodes non-ASCII, up to 3 bytes a byte, and details
# go out base64 (4 bytes per 3): at most about 1.2 + 3.5 KiB.
MAX_MESSAGE_BYTES = 400
MAX_VALUE_BYTES = 128
MAX_DESCRIPTION_BYTES = 256
MAX_VIOLATIONS_BYTES = 1536
_ELLIPSIS = "…"

Request = TypeVar("Request")
Response = TypeVar("Response")

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]


def pack(message: Any) -> any_pb2.Any:
    """Pack a message into a google.protobuf.Any (for a status's details)."""
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def clip(text: str, limit: int) -> str:
    """Return text cut to at most limit bytes of UTF-8, marked with an ellipsis when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len(_ELLIPSIS.encode())].decode(errors="ignore") + _ELLIPSIS


def _bad_request(error: ValidationError) -> error_details_pb2.BadRequest:
    """Return the violations, clipped, as many as fit in MAX_VIOLATIONS_BYTES."""
    bad = error_details_pb2.BadRequest()
    for index, violation in enumerate(error.violations):
        item = error_details_pb2.BadRequest.FieldViolation(
            field=clip(violation.field, MAX_VALUE_BYTES),
            description=clip(violation.description, MAX_DESCRIPTION_BYTES),
            reason=error.reason,
        )
        # Room is kept for one more entry that says how many were left out.
        if bad.ByteSize() + item.ByteSize() > MAX_VIOLATIONS_BYTES - MAX_VALUE_BYTES:
            left = len(error.violations) - index
            bad.field_violations.add(
                field=item.field,
                description=f"... and {left} more problems not listed",
                reason=error.reason,
            )
            break
        bad.field_violations.append(item)
    return bad


def to_status(error: ThreadlineError) -> status_pb2.Status:
    """Return the google.rpc.Status a client receives for a domain error.

    Every text in it is clipped here, the one place statuses are built from
    domain errors, so no error can echo enough of a request to outgrow a
    client's metadata limit.
    """
    if isinstance(error, NotFoundError):
        # A handler names the field for ids nested in the request; any other
        # resource id is the request's own <resource>_id field.
        error.at(f"{error.resource}_id")
    code = next(
        (c for kind, c in STATUS_CODES.items() if isinstance(error, kind)), code_pb2.INTERNAL
    )
    status = status_pb2.Status(code=code, message=clip(error.message, MAX_MESSAGE_BYTES))
    status.details.append(
        pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason,
                domain=ERROR_DOMAIN,
                metadata={
                    key: clip(value, MAX_VALUE_BYTES) for key, value in error.metadata.items()
                },
            )
        )
    )
    if isinstance(error, ValidationError):
        status.details.append(pack(_bad_request(error)))
    elif isinstance(error, ResourceExhaustedError | DatabaseUnavailableError):
        hint = error_details_pb2.RetryInfo()
        hint.retry_delay.FromMilliseconds(max(1, round(error.retry_after * 1000)))
        status.details.append(pack(hint))
    elif isinstance(error, NotFoundError | AlreadyExistsError | EtagMismatchError):
        status.details.append(
            pack(
                error_details_pb2.ResourceInfo(
                    resource_type=_resource_type(error.metadata["resource"]),
                    resource_name=clip(error.metadata["id"], MAX_VALUE_BYTES),
                    description=clip(error.message, MAX_DESCRIPTION_BYTES),
                )
            )
        )
    return status


# The message types of resources whose domain name is not their type's.
_RESOURCE_TYPES = {"checkpoint": "ThreadCheckpoint", "thread state": "ThreadState"}


def _resource_type(resource: str) -> str:
    """Return the full name of a resource's message type, for ResourceInfo."""
    return "threadline.v1." + _RESOURCE_TYPES.get(resource, resource.capitalize())


def internal_status() -> status_pb2.Status:
    """Return the status for a failure the server did not expect."""
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
    status.details.append(pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)))
    return status


async def abort(context: Context, status: status_pb2.Status) -> NoReturn:
    """End the call with a rich status (raises; never returns).

    This is what grpc.aio's abort_with_status does, through abort itself, so
    that a wrapper of the context (the tracing interceptor's) sees the code.
    """
    rich = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, rich.trailing_metadata)
    raise AssertionError("abort returned")  # pragma: no cover - it raises


def unary(
    method: Callable[[Any, Request, Context], Awaitable[Response]],
) -> Callable[[Any, Request, Context], Awaitable[Response]]:
    """Wrap a unary servicer method so that every error becomes a rich status."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Request, context: Context) -> Response:
        try:
            return await method(self, request, context)
        except ThreadlineError as error:
            await abort(context, to_status(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            logger.exception("unexpected error in %s", method.__qualname__)
            await abort(context, internal_status())
        raise AssertionError("abort returned")  # pragma: no cover

    return wrapper


def stream(
    method: Callable[[Any, Request, Context], AsyncIterator[Response]],
) -> Callable[[Any, Request, Context], AsyncIterator[Response]]:
    """Wrap a server-streaming servicer method so that every error becomes a rich status.

    Cancellation (the client left) is re-raised untouched: swallowing it leaks
    native memory per stream in grpc.aio (grpc/grpc#43360).
    """

    @functools.wraps(method)
    async def wrapper(self: Any, request: Request, context: Context) -> AsyncIterator[Response]:
        try:
            async for item in method(self, request, context):
                yield item
        except ThreadlineError as error:
            await abort(context, to_status(error))
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:
            logger.exception("unexpected error in %s", method.__qualname__)
            await abort(context, internal_status())

    return wrapper
