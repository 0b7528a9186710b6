"""Every method takes its request as bytes and parses it where a status can be answered.

grpc parses a request with the handler's request_deserializer before any
code of ours runs, and a parse that raises (bytes that are not a message:
truncated, a bad wire type, bad UTF-8 in a string, nesting past protobuf's
limit of 100) ends the call UNKNOWN, naming a Python exception. So every
method is registered without a deserializer: grpc hands over the bytes,
and the handler parses them itself, answering INVALID_ARGUMENT with
ErrorInfo MALFORMED_REQUEST when they are not a message of the method's
request type. The parse is the same FromString grpc would call, so a call
pays nothing more for it.

Registration goes through a stand-in for the server (ParsingRegistrar),
handed to the generated add_*_to_server functions (ours and grpc's own
health and reflection services alike), so the rule is applied once, to
every method, and a new service cannot miss it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import message as protobuf_message

from threadline_server.errors import MalformedRequestError
from threadline_server.transport.errors import abort, to_status

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
    GenericHandler = grpc.GenericRpcHandler[Any, Any]

Parse = Callable[[bytes], Any]
Behaviour = Callable[[Any, "Context"], Any]

# What upb reports, in words a client can act on; anything else is passed on.
_PROBLEMS = {
    "Exceeded upb_DecodeOptions_MaxDepth": "messages nested more than 100 deep",
}
# Every way a parse of hostile bytes has been seen to fail: DecodeError from
# upb, and RecursionError or ValueError from the pure-Python implementation.
_PARSE_ERRORS = (protobuf_message.DecodeError, RecursionError, ValueError)


def _type_name(parse: Parse) -> str:
    """Return the full name of the message type a FromString parses."""
    owner = getattr(parse, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return str(getattr(descriptor, "full_name", "request"))


def _malformed(type_name: str, error: Exception) -> MalformedRequestError:
    problem = str(error).rpartition(": ")[2] or type(error).__name__
    return MalformedRequestError(type_name, _PROBLEMS.get(problem, problem))


def _unary_request(parse: Parse, behaviour: Behaviour) -> Behaviour:
    """Wrap a handler of one request: parse the bytes, then call it.

    The wrapper is of the handler's own kind (an async generator for a stream
    of ours, else a coroutine), as interceptors that wrap it in turn
    (tracing) drive it by its kind.
    """
    type_name = _type_name(parse)

    if inspect.isasyncgenfunction(behaviour):

        async def stream(raw: bytes, context: Context) -> AsyncIterator[Any]:
            try:
                request = parse(raw)
            except _PARSE_ERRORS as error:
                await abort(context, to_status(_malformed(type_name, error)))
            async for item in behaviour(request, context):
                yield item

        return stream

    async def answer(raw: bytes, context: Context) -> Any:
        # A unary call, or a stream that writes with context.write (health Watch).
        try:
            request = parse(raw)
        except _PARSE_ERRORS as error:
            await abort(context, to_status(_malformed(type_name, error)))
        return await behaviour(request, context)

    return answer


def _request_stream(parse: Parse, behaviour: Behaviour) -> Behaviour:
    """Wrap a handler of a request stream: it reads parsed requests."""
    type_name = _type_name(parse)

    async def parsed(requests: AsyncIterator[bytes], context: Context) -> AsyncIterator[Any]:
        async for raw in requests:
            try:
                request = parse(raw)
            except _PARSE_ERRORS as error:
                await abort(context, to_status(_malformed(type_name, error)))
            yield request

    def call(requests: AsyncIterator[bytes], context: Context) -> Any:
        return behaviour(parsed(requests, context), context)

    if asyncio.iscoroutinefunction(behaviour):

        async def answer(requests: AsyncIterator[bytes], context: Context) -> Any:
            return await call(requests, context)

        return answer

    async def stream(requests: AsyncIterator[bytes], context: Context) -> AsyncIterator[Any]:
        async for item in call(requests, context):
            yield item

    return stream


def _passing_bytes(serialize: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """Return a response serializer that sends bytes as they are (already serialized).

    The event streams send each event as bytes the event bus made once for
    all of their readers (domain/events.py); every other answer is a message.
    """
    if serialize is None:
        return None

    def serialized(response: Any) -> bytes:
        if type(response) is bytes:
            return response
        return serialize(response)

    return serialized


def parsing(original: Handler) -> Handler:
    """Return a handler like original that takes bytes and parses them itself."""
    # Any: grpc-stubs types the aio handler's behaviours as sync callables.
    handler: Any = original
    parse: Parse | None = handler.request_deserializer
    if parse is None:  # already takes bytes
        return original
    serialize = _passing_bytes(handler.response_serializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary_request(parse, handler.unary_unary),
            response_serializer=serialize,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _unary_request(parse, handler.unary_stream),
            response_serializer=serialize,
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _request_stream(parse, handler.stream_unary), response_serializer=serialize
        )
    return grpc.stream_stream_rpc_method_handler(
        _request_stream(parse, handler.stream_stream), response_serializer=serialize
    )


class _MethodTable(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """One generic handler serving every registered method from one mapping."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._handlers = handlers

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        """Return the method's handler, or None (grpc answers UNIMPLEMENTED)."""
        return self._handlers.get(handler_call_details.method)


class ParsingRegistrar:
    """Stands in for the server when services register: their methods parse their own bytes.

    The generated add_*_to_server functions register each service twice, as
    a generic handler and as registered method handlers; both forms are made
    here from the method handlers, and served by ONE generic handler that
    finds a method in one mapping.

    Registered method handlers are not given to the server, on purpose:
    grpc.aio's server keeps one pending "request call" per registered method
    and waits on all of them with asyncio.wait for every call it accepts
    (its _server_main_loop), which adds and removes a callback on each of
    them, about 45 here: that made grpc's own per-call work dearer than the
    empty server's (bench/grpc_cost.py; docs/performance.md). A generic
    handler is served from the one generic request, as the empty server's.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        # Every method registered, by full name ("/package.Service/Method"):
        # what the HTTP side calls in process (transport/local_calls.py).
        self.handlers: dict[str, Handler] = {}
        # What the gRPC server serves: these handlers, or their wrapped forms (serve).
        self._served: dict[str, Handler] = {}
        server.add_generic_rpc_handlers((_MethodTable(self._served),))

    def add_generic_rpc_handlers(self, handlers: Sequence[GenericHandler]) -> None:
        """Ignore a generic handler: add_registered_method_handlers registers its methods."""

    def add_registered_method_handlers(
        self, service_name: str, handlers: Mapping[str, Handler]
    ) -> None:
        """Register a service's methods, each taking its request as bytes."""
        for name, handler in handlers.items():
            method = f"/{service_name}/{name}"
            self.handlers[method] = self._served[method] = parsing(handler)

    def serve(self, handlers: Mapping[str, Handler]) -> None:
        """Serve these handlers instead of the registered ones (their wrapped forms)."""
        self._served.update(handlers)
