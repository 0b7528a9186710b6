"""A client of a live server that needs nothing but the threadline-client distribution.

tests/test_packaging.py runs it with the python of a virtual environment made
from the built wheels, outside the checkout: ``python wheel_client.py
HOST:PORT``. It makes one call of each kind a client makes (create, append,
read, a chat turn with the built-in echo agent) and prints what came back as
one JSON object, for the test to check.
"""

from __future__ import annotations

import json
import sys

import grpc
import threadline
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)

TIMEOUT = 10.0


def main(address: str) -> None:
    """Call the server at address; print the results as JSON on stdout."""
    with grpc.insecure_channel(address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        messages = message_pb2_grpc.MessageServiceStub(channel)
        runs = run_pb2_grpc.RunServiceStub(channel)
        thread = threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="from the wheel")),
            timeout=TIMEOUT,
        )
        created = messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hello")]
                ),
            ),
            timeout=TIMEOUT,
        )
        read = messages.GetMessage(
            message_pb2.GetMessageRequest(
                thread_id=thread.thread_id, message_id=created.message_id
            ),
            timeout=TIMEOUT,
        )
        reply = runs.Chat(
            run_pb2.ChatRequest(message="echo me", agent_id="echo", thread_id=thread.thread_id),
            timeout=TIMEOUT,
        )
    result = {
        "client_version": threadline.__version__,
        "client_module": threadline.__file__,
        "thread_id": thread.thread_id,
        "title": thread.title,
        "message_id": created.message_id,
        "read_text": read.parts[0].text,
        "read_thread_id": read.thread_id,
        "chat_thread_id": reply.thread_id,
        "chat_status": run_pb2.RunStatus.Name(reply.status),
        "chat_response": reply.response,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
