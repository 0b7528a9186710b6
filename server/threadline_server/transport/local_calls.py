"""Calls into this process's own gRPC services without a network hop (the HTTP side's way in).

A LocalChannel looks, to the HTTP gateway, like the grpc.aio channel it used
to open to the server's private unix socket: ``unary_unary`` and
``unary_stream`` give callables whose calls are awaited, read, cancelled and
fail with grpc.aio.AioRpcError, exactly as before. Underneath, a call runs
the very method handler the gRPC server registered (ParsingRegistrar's, which
takes its request as bytes), wrapped by the server's own interceptors in the
server's order (metrics and access log, tracing, then keys, scopes and caps),
with a servicer context of this module's. So everything a call through the
socket met still applies (authentication and tenancy, the caps, the error
table, metrics, the access log, the deadline); only the HTTP/2 framing, the
second protobuf encoding and the socket's hand-offs are gone.

What the socket did that is kept here, by hand:

- the request is serialized and handed over as bytes, and one over the
  server's receive limit (4 MiB) is refused RESOURCE_EXHAUSTED before any
  handler runs, as grpc's core refused it;
- an answer over the client's receive limit (4 MiB, grpc's default) is
  RESOURCE_EXHAUSTED, as the gateway's channel reported it;
- the deadline (``timeout``): the handler sees it in ``time_remaining()``
  and is cancelled when it passes; the caller gets DEADLINE_EXCEEDED
  "Deadline Exceeded", as a grpc client does;
- the invocation metadata starts with the ``user-agent`` a grpc.aio client
  sends, and the peer is ``unix:``, what the server saw of the socket;
- a stream's messages wait in a small bounded queue (flow control): a
  reader that does not read stops its handler, it does not buffer the stream;
- an error a handler did not turn into a status is UNKNOWN, logged, as
  grpc.aio answers it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]

logger = logging.getLogger("threadline")

# grpc's default receive limits: the server's (SERVER_OPTIONS sets 4 MiB too)
# and a client channel's, which the gateway's channel kept.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# Messages of a stream held for a reader that has not read them yet.
STREAM_QUEUE_MESSAGES = 16
PEER = "unix:"
USER_AGENT = ("user-agent", f"grpc-python-asyncio/{grpc.__version__} (threadline in-process)")

_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]
_END = object()

_CallDetails = collections.namedtuple("_CallDetails", ("method", "invocation_metadata"))
# One metadata entry, as grpc.aio's servicer context gives it: a pair that
# also has .key and .value (OpenTelemetry's interceptor reads those).
Metadatum = collections.namedtuple("Metadatum", ("key", "value"))

_Behaviour = Callable[[Any, Any], Any]


def _too_large(size: int, limit: int, *, side: str) -> grpc.aio.AioRpcError:
    """Return the error grpc's core gives for a message over a receive limit, in its words.

    side: "SERVER" for a request (the server refused it), "CLIENT" for an
    answer (the gateway's channel refused it, and reported the stream removed).
    """
    text = f"{side}: Received message larger than max ({size} vs. {limit})"
    if side == "CLIENT":
        text = f"Stream removed ({text})"
    return _error(grpc.StatusCode.RESOURCE_EXHAUSTED, text)


def _error(
    code: grpc.StatusCode, details: str, trailing: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details, None
    )


class LocalContext:
    """The servicer context of an in-process call: what grpc.aio's offers that handlers use."""

    def __init__(self, metadata: tuple[tuple[str, Any], ...], deadline: float | None) -> None:
        self._metadata = metadata
        self._deadline = deadline
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._trailing: tuple[tuple[str, Any], ...] = ()
        self.initial: tuple[tuple[str, Any], ...] = ()
        self.write: Callable[[Any], Awaitable[None]] = _no_stream

    def invocation_metadata(self) -> tuple[tuple[str, Any], ...]:
        """Return the call's metadata, as the client sent it."""
        return self._metadata

    def peer(self) -> str:
        """Return what the server saw of the HTTP side's socket."""
        return PEER

    def peer_identities(self) -> None:
        """No TLS between the HTTP side and the server."""

    def peer_identity_key(self) -> None:
        """No TLS between the HTTP side and the server."""

    def auth_context(self) -> dict[str, list[bytes]]:
        """No TLS between the HTTP side and the server."""
        return {}

    def time_remaining(self) -> float | None:
        """Return the seconds left before the deadline, or None without one."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    def code(self) -> grpc.StatusCode | None:
        """Return the code set or aborted with, if any."""
        return self._code

    def details(self) -> str | None:
        """Return the details set or aborted with, if any."""
        return self._details

    def set_code(self, code: grpc.StatusCode) -> None:
        """Set the call's code."""
        self._code = code

    def set_details(self, details: str) -> None:
        """Set the call's details."""
        self._details = details

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, Any]]) -> None:
        """Set the call's trailing metadata."""
        self._trailing = tuple(metadata)

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        """Return the call's trailing metadata."""
        return self._trailing

    async def send_initial_metadata(self, metadata: Sequence[tuple[str, Any]]) -> None:
        """Set the call's header metadata (the gateway answers it as Grpc-Metadata-*)."""
        self.initial = tuple(metadata)

    def set_compression(self, _compression: Any) -> None:
        """Nothing is compressed in process."""

    def disable_next_message_compression(self) -> None:
        """Nothing is compressed in process."""

    def cancelled(self) -> bool:
        """Say no: a cancelled call's task is cancelled instead (asyncio.CancelledError)."""
        return False

    def done(self) -> bool:
        """Whether the call has a final code."""
        return self._code is not None

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Sequence[tuple[str, Any]] = (),
    ) -> None:
        """End the call with a status, as grpc.aio's abort does (raises AbortError)."""
        self._code, self._details = code, details
        if trailing_metadata:
            self._trailing = tuple(trailing_metadata)
        raise grpc.aio.AbortError

    def failure(self) -> grpc.aio.AioRpcError | None:
        """Return the error the caller gets for the code set, or None when it is OK."""
        code = self._code
        if code is None or code is grpc.StatusCode.OK:
            return None
        return _error(code, self._details or "", self._trailing)


async def _no_stream(_item: Any) -> None:
    raise RuntimeError("context.write in a call that answers once")


def _unexpected(method: str, error: BaseException) -> grpc.aio.AioRpcError:
    logger.error("unexpected error in %s", method, exc_info=error)
    return _error(grpc.StatusCode.UNKNOWN, f"Unexpected {type(error)}: {error}")


class LocalChannel:
    """Calls the server's handlers in process; stands in for a grpc.aio channel.

    handlers: the server's method handlers by full method name, as registered
    (ParsingRegistrar.handlers). interceptors: the server's, outermost first.
    """

    def __init__(
        self, handlers: Mapping[str, Handler], interceptors: Sequence[Interceptor]
    ) -> None:
        self._handlers = handlers
        self._interceptors = tuple(interceptors)
        self._streams: set[_StreamCall] = set()

    async def resolve(self, method: str, metadata: tuple[tuple[str, Any], ...]) -> Any:
        """Return the method's handler wrapped by the interceptors, as the server finds it."""

        async def registered(details: Any) -> Any:
            return self._handlers.get(details.method)

        continuation: Callable[[Any], Awaitable[Any]] = registered
        for interceptor in reversed(self._interceptors):
            continuation = _bind(interceptor, continuation)
        return await continuation(_CallDetails(method, metadata))

    def unary_unary(self, method: str, **codecs: Any) -> Callable[..., _UnaryCall]:
        """Return a callable for a method that answers once."""
        serialize = codecs["request_serializer"]

        def call(
            request: Any, *, timeout: float | None = None, metadata: Sequence[Any] = ()
        ) -> _UnaryCall:
            return _UnaryCall(self, method, serialize(request), timeout, _metadata(metadata))

        return call

    def unary_stream(self, method: str, **codecs: Any) -> Callable[..., _StreamCall]:
        """Return a callable for a method that answers with a stream."""
        serialize = codecs["request_serializer"]
        parse = codecs["response_deserializer"]

        def call(
            request: Any, *, timeout: float | None = None, metadata: Sequence[Any] = ()
        ) -> _StreamCall:
            stream = _StreamCall(
                self, method, (serialize(request), parse), timeout, _metadata(metadata)
            )
            self._streams.add(stream)
            stream.task.add_done_callback(lambda _: self._streams.discard(stream))
            return stream

        return call

    async def close(self, _grace: float | None = None) -> None:
        """Cancel the streams still open."""
        for stream in list(self._streams):
            stream.cancel()


def _bind(
    interceptor: Interceptor, continuation: Callable[[Any], Awaitable[Any]]
) -> Callable[[Any], Awaitable[Any]]:
    async def next_step(details: Any) -> Any:
        return await interceptor.intercept_service(continuation, details)

    return next_step


def _metadata(metadata: Sequence[Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(Metadatum(key, value) for key, value in (USER_AGENT, *metadata))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


class _UnaryCall:
    """One call that answers once: awaiting it runs the handler in the awaiting task."""

    def __init__(
        self,
        channel: LocalChannel,
        method: str,
        raw: bytes,
        timeout: float | None,
        metadata: tuple[tuple[str, Any], ...],
    ) -> None:
        self._channel = channel
        self._method = method
        self._raw = raw
        self._timeout = timeout
        self._metadata = metadata
        self._context: LocalContext | None = None
        self._done = False

    def __await__(self) -> Any:
        return self._run().__await__()

    async def _run(self) -> Any:
        try:
            return await self._answer()
        finally:
            self._done = True

    async def _answer(self) -> Any:
        if len(self._raw) > MAX_REQUEST_BYTES:
            raise _too_large(len(self._raw), MAX_REQUEST_BYTES, side="SERVER")
        handler = await self._channel.resolve(self._method, self._metadata)
        if handler is None:
            raise _error(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        context = self._context = LocalContext(self._metadata, _deadline(self._timeout))
        try:
            async with asyncio.timeout(self._timeout):
                reply = await handler.unary_unary(self._raw, context)
        except grpc.aio.AbortError:
            reply = None
        except TimeoutError:
            raise _error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        except Exception as error:  # noqa: BLE001 - grpc.aio answers any error UNKNOWN
            raise _unexpected(self._method, error) from None
        failure = context.failure()
        if failure is not None:
            raise failure
        size = reply.ByteSize()
        if size > MAX_RESPONSE_BYTES:
            raise _too_large(size, MAX_RESPONSE_BYTES, side="CLIENT")
        return reply

    async def initial_metadata(self) -> grpc.aio.Metadata:
        """Return the header metadata the handler sent, if any."""
        initial = self._context.initial if self._context is not None else ()
        return grpc.aio.Metadata(*initial)

    def done(self) -> bool:
        """Whether the call has ended."""
        return self._done

    def cancel(self) -> bool:
        """Nothing to do: the call runs in its caller's task, which is what gets cancelled."""
        return False


class _StreamCall:
    """One call that answers with a stream: its handler runs in a task of its own."""

    def __init__(
        self,
        channel: LocalChannel,
        method: str,
        codec: tuple[bytes, Callable[[bytes], Any]],
        timeout: float | None,
        metadata: tuple[tuple[str, Any], ...],
    ) -> None:
        raw, self._parse = codec
        self._channel = channel
        self._method = method
        self._timeout = timeout
        self._metadata = metadata
        self._queue: asyncio.Queue[Any] = asyncio.Queue(STREAM_QUEUE_MESSAGES)
        self._context = LocalContext(metadata, _deadline(timeout))
        self._context.write = self._write
        self._failure: grpc.aio.AioRpcError | None = None
        self._ended = False
        self.task = asyncio.get_running_loop().create_task(self._run(raw))

    async def _write(self, item: Any) -> None:
        # The event streams send events already serialized (transport/requests.py).
        if type(item) is bytes:
            size = len(item)
            item = self._parse(item)
        else:
            size = item.ByteSize()
        if size > MAX_RESPONSE_BYTES:
            # The client would drop the call here; the handler's stream ends with it.
            self._failure = _too_large(size, MAX_RESPONSE_BYTES, side="CLIENT")
            raise asyncio.CancelledError
        await self._queue.put(item)

    async def _run(self, raw: bytes) -> None:
        try:
            await self._serve(raw)
        except asyncio.CancelledError:
            if self._failure is None:
                raise
        finally:
            # A full queue needs no end marker: read() sees the end once it is empty.
            if not self._queue.full():
                self._queue.put_nowait(_END)
            self._ended = True

    async def _serve(self, raw: bytes) -> None:
        if len(raw) > MAX_REQUEST_BYTES:
            self._failure = _too_large(len(raw), MAX_REQUEST_BYTES, side="SERVER")
            return
        handler = await self._channel.resolve(self._method, self._metadata)
        if handler is None:
            self._failure = _error(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
            return
        context = self._context
        try:
            async with asyncio.timeout(self._timeout):
                result = handler.unary_stream(raw, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        await context.write(item)
                else:
                    await result
        except grpc.aio.AbortError:
            pass
        except TimeoutError:
            self._failure = _error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
            return
        except Exception as error:  # noqa: BLE001 - grpc.aio answers any error UNKNOWN
            self._failure = _unexpected(self._method, error)
            return
        self._failure = context.failure()

    async def read(self) -> Any:
        """Return the next message, or grpc.aio.EOF; raise AioRpcError if the call failed."""
        while True:
            if self._ended and self._queue.empty():
                break
            item = await self._queue.get()
            if item is not _END:
                return item
        if self._failure is not None:
            raise self._failure
        return _EOF

    async def initial_metadata(self) -> grpc.aio.Metadata:
        """Return the header metadata the handler sent, if any."""
        return grpc.aio.Metadata(*self._context.initial)

    def done(self) -> bool:
        """Whether the handler has ended."""
        return self.task.done()

    def cancel(self) -> bool:
        """Cancel the handler (the client went away)."""
        return self.task.cancel()
