"""The server interceptor: the one wrapper around every call.

It does two jobs, so that a call pays for one wrapper: the access log (one
line per call: method, status code, duration, peer) and the go-grpc-prometheus
metrics. The concurrency cap is transport/limits.py's, which knows the caller
and lets health and reflection through.

Per-call work is kept to what a call needs: the wrapped handler of a method
is built once and reused (grpc's generic handlers return the same handler
for a method every time), its metric children are bound once, and the log
line is neither formatted nor given the peer's address when the access log
is off (--log-level WARNING).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc

from threadline_server.observability import logs
from threadline_server.observability.metrics import GrpcMethod, GrpcMetrics, grpc_type

access_log = logging.getLogger("threadline.access")
ACCESS_LINE = "rpc=%(rpc)s code=%(code)s duration_ms=%(duration_ms).2f peer=%(peer)s"

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]

Behaviour = Callable[[Any, "Context"], Any]


def _code(context: Context, default: grpc.StatusCode) -> grpc.StatusCode:
    # The aio context's code() is missing from grpc-stubs; it returns a
    # StatusCode once the handler set or aborted with one, else None.
    code: object = context.code()
    return code if isinstance(code, grpc.StatusCode) else default


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Logs each call, and counts and times it."""

    def __init__(self, metrics: GrpcMetrics) -> None:
        self.active = 0
        self._metrics = metrics
        metrics.calls_in_flight.set_function(lambda: self.active)
        # method -> (the handler as continuation returned it, its wrapped form)
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        """Return the method's handler, wrapped (the same wrapped handler every call)."""
        # grpc-stubs says a handler is always found; an unknown method gets None.
        handler: Handler | None = await continuation(handler_call_details)
        if handler is None:  # grpc answers UNIMPLEMENTED itself
            return cast("Handler", handler)
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(method, handler)
        # An inner interceptor (tracing) makes a new handler per call: then
        # this wraps per call too, which costs less than the span it makes.
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_handler(self, method: str, original: Handler) -> Handler:
        # Any: grpc-stubs types the aio handler's behaviours as sync callables.
        handler: Any = original
        kind = grpc_type(
            request_streaming=handler.request_streaming,
            response_streaming=handler.response_streaming,
        )
        call = self._metrics.method(method, kind)
        codecs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(call, handler.unary_unary), **codecs
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(call, handler.unary_stream), **codecs
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(call, handler.stream_unary), **codecs
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._streaming(call, handler.stream_stream), **codecs
            )
        return original

    def _finish(
        self, call: GrpcMethod, context: Context, started: float, default: grpc.StatusCode
    ) -> None:
        seconds = time.perf_counter() - started
        code = _code(context, default)
        (call.handled_by_code.get(code) or call.handled(code)).inc()
        call.handling.observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            # One mapping is both the line's arguments and, in JSON logs, its fields.
            fields = {
                "rpc": call.name,
                "code": code.name,
                "duration_ms": round(seconds * 1000, 2),
                "peer": context.peer(),
            }
            # Straight to the log handler when nothing else would see the record.
            if not logs.write_access_line(access_log, ACCESS_LINE, fields):
                access_log.info(ACCESS_LINE, fields)

    def _unary(self, call: GrpcMethod, behaviour: Behaviour) -> Behaviour:
        """Wrap a handler that answers once (its request may be a stream)."""

        async def wrapped(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            call.started.inc()
            self.active += 1
            outcome = grpc.StatusCode.UNKNOWN
            try:
                response = await behaviour(request, context)
            except asyncio.CancelledError:
                outcome = grpc.StatusCode.CANCELLED
                raise
            else:
                outcome = grpc.StatusCode.OK
                return response
            finally:
                self.active -= 1
                self._finish(call, context, started, outcome)

        return wrapped

    def _streaming(self, call: GrpcMethod, behaviour: Behaviour) -> Behaviour:
        """Wrap a handler that answers with a stream, as a coroutine.

        The handler may be an async generator (ours) or a coroutine that
        writes with context.write (grpc's own health Watch); both are driven
        here, the generator's items written with context.write, so the call
        ends (and is counted and logged) in this coroutine, cancellation
        included.
        """
        open_streams = call.open_streams
        if open_streams is None:  # only when wrapping a handler with one answer by mistake
            raise ValueError(f"{call.name} does not answer with a stream")

        async def wrapped(request: Any, context: Context) -> None:
            started = time.perf_counter()
            call.started.inc()
            self.active += 1
            open_streams.inc()
            outcome = grpc.StatusCode.UNKNOWN
            try:
                result = behaviour(request, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        await context.write(item)
                else:
                    await result
            except asyncio.CancelledError:
                outcome = grpc.StatusCode.CANCELLED
                raise
            else:
                outcome = grpc.StatusCode.OK
            finally:
                self.active -= 1
                open_streams.dec()
                self._finish(call, context, started, outcome)

        return wrapped
