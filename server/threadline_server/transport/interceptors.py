"""Server interceptors: one access-log line per RPC, and a hard cap on concurrent RPCs.

grpc.aio's own maximum_concurrent_rpcs has queued instead of rejecting
(grpc/grpc#30424), so the cap is a semaphore here that answers
RESOURCE_EXHAUSTED at once, which a client can back off from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2

from threadline_server.transport.errors import ERROR_DOMAIN, abort

access_log = logging.getLogger("threadline.access")

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]


def _code_name(context: Context, default: grpc.StatusCode) -> str:
    # The aio context's code() is missing from grpc-stubs; it returns a
    # StatusCode once the handler set or aborted with one, else None.
    code: object = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return default.name


class AccessLogAndLimitInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Logs each RPC's method, status code and duration; rejects RPCs over the cap."""

    def __init__(self, max_concurrent_rpcs: int) -> None:
        self._limit = max_concurrent_rpcs
        self._active = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        """Wrap the method's handler with timing, logging and the cap."""
        # Any: grpc-stubs types the aio handler's behaviours as sync callables.
        handler: Any = await continuation(handler_call_details)
        if handler is None:  # an unknown method: grpc answers UNIMPLEMENTED itself
            return cast("Handler", handler)
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(method, handler.unary_unary, streaming=False),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap(method, handler.unary_stream, streaming=True),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(method, handler.stream_unary, streaming=False),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap(method, handler.stream_stream, streaming=True),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return cast("Handler", handler)

    async def _refuse(self, context: Context) -> None:
        status = status_pb2.Status(
            code=code_pb2.RESOURCE_EXHAUSTED,
            message=f"server is at its limit of {self._limit} concurrent calls; retry later",
        )
        status.details.add().Pack(
            error_details_pb2.ErrorInfo(reason="TOO_MANY_CALLS", domain=ERROR_DOMAIN)
        )
        await abort(context, status)

    def _log(self, method: str, context: Context, started: float, default: grpc.StatusCode) -> None:
        access_log.info(
            "rpc=%s code=%s duration_ms=%.2f peer=%s",
            method,
            _code_name(context, default),
            (time.perf_counter() - started) * 1000,
            context.peer(),
        )

    def _wrap(
        self, method: str, behaviour: Callable[[Any, Context], Any], *, streaming: bool
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        """Wrap any kind of handler as a coroutine.

        A streaming handler may be an async generator (ours) or a coroutine
        that writes with context.write (grpc's own health Watch); both are
        driven here, the generator's items written with context.write.
        """

        async def wrapped(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            default = grpc.StatusCode.UNKNOWN
            if self._active >= self._limit:
                try:
                    await self._refuse(context)
                finally:
                    self._log(method, context, started, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self._active += 1
            try:
                result = behaviour(request, context)
                if streaming and hasattr(result, "__aiter__"):
                    async for item in result:
                        await context.write(item)
                    result = None
                else:
                    result = await result
            except asyncio.CancelledError:
                default = grpc.StatusCode.CANCELLED
                raise
            else:
                default = grpc.StatusCode.OK
                return result
            finally:
                self._active -= 1
                self._log(method, context, started, default)

        return wrapped
