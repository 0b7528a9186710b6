import pytest
from threadline.v1 import message_pb2, thread_pb2


@pytest.mark.api
async def test_create_and_read_back(client):
    created = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="hello"))
    )
    assert created.thread_id.startswith("thr_")
    message = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=created.thread_id,
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
            ),
        )
    )
    full = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=created.thread_id, view=thread_pb2.THREAD_VIEW_FULL)
    )
    assert full.message_count == 1
    assert [m.message_id for m in full.messages] == [message.message_id]


@pytest.mark.process
def test_process_starts_and_stops(spawn_server):
    child = spawn_server()
    assert child.port > 0
    assert child.stop() == 0
    assert "stopped" in child.log
