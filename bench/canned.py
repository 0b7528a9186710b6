"""Realistic canned answers for Threadline's methods, and a server skeleton that serves them.

The reference servers (the limit and the naive durable server) answer with
messages the size and shape of Threadline's, so the bytes on the wire and the
(de)serialization work are alike: only the work behind each call differs.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import message as protobuf_message
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from threadline.v1 import message_pb2, run_pb2, thread_pb2, worker_pb2

SERVICES: tuple[ServiceDescriptor, ...] = (
    thread_pb2.DESCRIPTOR.services_by_name["ThreadService"],
    message_pb2.DESCRIPTOR.services_by_name["MessageService"],
    run_pb2.DESCRIPTOR.services_by_name["RunService"],
    worker_pb2.DESCRIPTOR.services_by_name["AgentWorkerService"],
)
CREATED_US = 1_790_000_000_000_000
PAGE_SIZE = 20

Unary = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[protobuf_message.Message]]


def thread() -> thread_pb2.Thread:
    """Return a thread as Threadline returns one."""
    answer = thread_pb2.Thread(
        thread_id="thr_01jdbench0000000000000000",
        title="bench thread",
        status=thread_pb2.THREAD_STATUS_IDLE,
        message_count=1,
        etag="192f0c4b5a3c0-1",
    )
    for stamp in (answer.created_at, answer.updated_at, answer.last_activity_at):
        stamp.FromMicroseconds(CREATED_US)
    return answer


def message() -> message_pb2.Message:
    """Return a message as Threadline returns one."""
    answer = message_pb2.Message(
        message_id="msg_01jdbench0000000000000000",
        thread_id="thr_01jdbench0000000000000000",
        role=message_pb2.MESSAGE_ROLE_USER,
        parts=[message_pb2.Part(text="hello, this is a benchmark message")],
    )
    answer.created_at.FromMicroseconds(CREATED_US)
    answer.updated_at.FromMicroseconds(CREATED_US)
    return answer


def run(*, queued: bool = False) -> run_pb2.Run:
    """Return a run of the echo agent, just queued or completed."""
    answer = run_pb2.Run(
        run_id="run_01jdbench0000000000000000",
        thread_id="thr_01jdbench0000000000000000",
        agent_id="echo",
        status=run_pb2.RUN_STATUS_QUEUED if queued else run_pb2.RUN_STATUS_COMPLETED,
        response="" if queued else "hello",
        iterations=0 if queued else 1,
        max_iterations=1,
    )
    answer.created_at.FromMicroseconds(CREATED_US)
    if not queued:
        answer.started_at.FromMicroseconds(CREATED_US + 1000)
        answer.ended_at.FromMicroseconds(CREATED_US + 2000)
    return answer


def canned(method: MethodDescriptor) -> protobuf_message.Message:
    """Return the canned answer of a method: a full one for the measured methods."""
    output = method.output_type.full_name
    if output == "threadline.v1.Thread":
        return thread()
    if output == "threadline.v1.Message":
        return message()
    if output == "threadline.v1.ListMessagesResponse":
        return message_pb2.ListMessagesResponse(
            messages=[message() for _ in range(PAGE_SIZE)],
            next_page_token="bench-page",  # noqa: S106 - a page token, not a secret
        )
    if output == "threadline.v1.Run":
        return run(queued=method.name == "CreateRun")
    if output == "threadline.v1.ChatResponse":
        return run_pb2.ChatResponse(
            thread_id="thr_01jdbench0000000000000000",
            run_id="run_01jdbench0000000000000000",
            response="hello",
            iterations=1,
            status=run_pb2.RUN_STATUS_COMPLETED,
        )
    return message_factory.GetMessageClass(method.output_type)()


def generic_handler(
    service: ServiceDescriptor, overrides: dict[str, Unary] | None = None
) -> grpc.GenericRpcHandler[Any, Any]:
    """Serve every method of a service: `overrides` where given, else its canned answer."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        answer = canned(method)
        serialize = type(answer).SerializeToString
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _no_events,
                request_deserializer=request_class.FromString,
                response_serializer=serialize,
            )
            continue
        if method.client_streaming:
            continue
        behaviour = (overrides or {}).get(method.name) or _constant(answer)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=request_class.FromString, response_serializer=serialize
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _constant(answer: protobuf_message.Message) -> Unary:
    async def respond(_request: Any, _context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return answer

    return respond


async def _no_events(
    _request: Any, _context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[Any]:
    for _ in ():
        yield _


async def serve(handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]) -> None:
    """Serve on a free loopback port with health; print the port; stop on SIGTERM or SIGINT."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(tuple(handlers))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await serve_until_stopped(server, health)


async def serve_until_stopped(server: grpc.aio.Server, health: HealthServicer) -> None:
    """Start a server whose services are added on a free loopback port, health SERVING.

    Prints the port and stops on SIGTERM or SIGINT.
    """
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    sys.stdout.write(f"listening on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)
