"""A stalled stream reader costs the run and the other readers nothing.

A client that opens StreamRunEvents and stops reading fills its HTTP/2 flow
window; the server's stream handler then waits at its next write, holding
only its cursor. The run must finish at full speed, every other reader must
get everything, and the stalled reader, once it reads again, must get the
whole sequence, in order, from the store.
"""

from __future__ import annotations

import asyncio

import pytest
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2

from tests.conftest import connect

pytestmark = pytest.mark.api

# Enough words that the events of the run overflow a stream's flow window
# (64 KiB to start with) many times over.
WORDS = 3000


async def test_a_stalled_reader_does_not_hold_back_the_run_or_other_readers(server):
    client = server.client
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    text = " ".join(f"word{i}" for i in range(WORDS))
    run = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread.thread_id,
            agent_id="echo",
            input_messages=[
                message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
                )
            ],
        )
    )
    # The stalled reader: a channel of its own, so its flow window is its own.
    stalled_client = connect(client.address)
    stalled = run_pb2_grpc.RunServiceStub(stalled_client.channel).StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run.run_id)
    )
    first = await stalled.read()
    assert isinstance(first, run_pb2.RunEvent)
    assert first.type == "run.created"

    live = [
        event
        async for event in runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run.run_id))
    ]
    assert live[-1].type == "run.completed"
    finished = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
    assert finished.status == run_pb2.RUN_STATUS_COMPLETED
    assert finished.response == text

    # The stalled reader now reads on and gets exactly the same sequence.
    rest: list[run_pb2.RunEvent] = []
    while True:
        event = await asyncio.wait_for(stalled.read(), 10)
        if not isinstance(event, run_pb2.RunEvent):
            break
        rest.append(event)
    assert [e.event_id for e in [first, *rest]] == [e.event_id for e in live]
    assert [first, *rest] == live
    await stalled_client.channel.close(None)
