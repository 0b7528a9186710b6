"""The A2A peer: the A2A Python SDK's gRPC server with its SQLite task store and an echo agent.

Runs in its own virtual environment (bench/.venvs/a2a, made by
bench/peers.sh), never in the project's. The agent answers each message by
completing a task whose status message echoes the text, so one SendMessage
is a message-and-reply round trip that the SDK's DatabaseTaskStore writes to
SQLite, as Threadline's Chat writes its thread, messages and run. The store
gets Threadline's durability settings (WAL, synchronous=FULL) so the two
commit alike.

Usage: python a2a_server.py --database PATH (prints "listening on 127.0.0.1:PORT").
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

import grpc
from a2a.helpers import new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler, GrpcHandler
from a2a.server.tasks import DatabaseTaskStore, TaskUpdater
from a2a.types import a2a_pb2, a2a_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine


class EchoExecutor(AgentExecutor):
    """Answers a message with its own text, through a task the store keeps."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Store the task, then complete it with the echoed text as the agent's message."""
        message = context.message
        if message is None:
            return
        task = context.current_task or new_task_from_user_message(message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        text = " ".join(part.text for part in message.parts if part.text)
        await updater.complete(updater.new_agent_message([new_text_part(text)]))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Nothing to stop: each answer is immediate."""


def agent_card(port: int) -> a2a_pb2.AgentCard:
    """Return the card of the echo agent."""
    return a2a_pb2.AgentCard(
        name="echo",
        description="Echoes the user's message.",
        version="1.0.0",
        supported_interfaces=[
            a2a_pb2.AgentInterface(
                url=f"127.0.0.1:{port}", protocol_binding="GRPC", protocol_version="1.0"
            )
        ],
        capabilities=a2a_pb2.AgentCapabilities(streaming=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[a2a_pb2.AgentSkill(id="echo", name="echo", description="echo", tags=["echo"])],
    )


def _durable(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


async def serve(database: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    event.listen(engine.sync_engine, "connect", _durable)
    store = DatabaseTaskStore(engine=engine)
    await store.initialize()
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(), task_store=store, agent_card=agent_card(port)
    )
    a2a_pb2_grpc.add_A2AServiceServicer_to_server(GrpcHandler(handler), server)
    service = a2a_pb2.DESCRIPTOR.services_by_name["A2AService"].full_name
    reflection.enable_server_reflection((service, reflection.SERVICE_NAME), server)
    await server.start()
    sys.stdout.write(f"listening on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(2)
    await engine.dispose()


def main() -> None:
    """Parse the flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    asyncio.run(serve(parser.parse_args().database))


if __name__ == "__main__":
    main()
