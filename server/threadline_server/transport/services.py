"""gRPC servicers: decide nothing; hand each call to the domain, with its caller's tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import empty_pb2
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

from threadline_server.domain.messages import MessageHandler
from threadline_server.domain.state import StateHandler
from threadline_server.domain.threads import ThreadHandler
from threadline_server.transport.auth import caller
from threadline_server.transport.errors import unary

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]


class ThreadService(thread_pb2_grpc.ThreadServiceServicer):
    """threadline.v1.ThreadService over a ThreadHandler, and a StateHandler for the state."""

    def __init__(self, handler: ThreadHandler, state: StateHandler) -> None:
        self._handler = handler
        self._state = state

    @unary
    async def CreateThread(  # noqa: N802 - gRPC method names
        self, request: thread_pb2.CreateThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Create a thread."""
        return await self._handler.create_thread(caller().tenant, request)

    @unary
    async def GetThread(  # noqa: N802
        self, request: thread_pb2.GetThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Read a thread."""
        return await self._handler.get_thread(caller().tenant, request)

    @unary
    async def ListThreads(  # noqa: N802
        self, request: thread_pb2.ListThreadsRequest, context: Context
    ) -> thread_pb2.ListThreadsResponse:
        """List threads."""
        return await self._handler.list_threads(caller().tenant, request)

    @unary
    async def CountThreads(  # noqa: N802
        self, request: thread_pb2.CountThreadsRequest, context: Context
    ) -> thread_pb2.CountThreadsResponse:
        """Count threads."""
        return await self._handler.count_threads(caller().tenant, request)

    @unary
    async def UpdateThread(  # noqa: N802
        self, request: thread_pb2.UpdateThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Update a thread."""
        return await self._handler.update_thread(caller().tenant, request)

    @unary
    async def DeleteThread(  # noqa: N802
        self, request: thread_pb2.DeleteThreadRequest, context: Context
    ) -> empty_pb2.Empty:
        """Delete a thread."""
        await self._handler.delete_thread(caller().tenant, request)
        return empty_pb2.Empty()

    @unary
    async def CopyThread(  # noqa: N802
        self, request: thread_pb2.CopyThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Copy a thread."""
        return await self._handler.copy_thread(caller().tenant, request)

    @unary
    async def GetThreadState(  # noqa: N802
        self, request: thread_pb2.GetThreadStateRequest, context: Context
    ) -> thread_pb2.ThreadState:
        """Read a thread's state."""
        return await self._state.get_thread_state(caller().tenant, request)

    @unary
    async def UpdateThreadState(  # noqa: N802
        self, request: thread_pb2.UpdateThreadStateRequest, context: Context
    ) -> thread_pb2.ThreadState:
        """Change a thread's state."""
        return await self._state.update_thread_state(caller().tenant, request)

    @unary
    async def ListThreadCheckpoints(  # noqa: N802
        self, request: thread_pb2.ListThreadCheckpointsRequest, context: Context
    ) -> thread_pb2.ListThreadCheckpointsResponse:
        """List a thread's checkpoints."""
        return await self._state.list_thread_checkpoints(caller().tenant, request)

    @unary
    async def GetDefaultThread(  # noqa: N802
        self, request: thread_pb2.GetDefaultThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Return (making it, the first time) the default thread of an agent and user."""
        return await self._handler.get_default_thread(caller().tenant, request)

    @unary
    async def ClearThread(  # noqa: N802
        self, request: thread_pb2.ClearThreadRequest, context: Context
    ) -> thread_pb2.Thread:
        """Delete every message of a thread."""
        return await self._handler.clear_thread(caller().tenant, request)


class MessageService(message_pb2_grpc.MessageServiceServicer):
    """threadline.v1.MessageService over a MessageHandler."""

    def __init__(self, handler: MessageHandler) -> None:
        self._handler = handler

    @unary
    async def CreateMessage(  # noqa: N802
        self, request: message_pb2.CreateMessageRequest, context: Context
    ) -> message_pb2.Message:
        """Append a message."""
        return await self._handler.create_message(caller().tenant, request)

    @unary
    async def GetMessage(  # noqa: N802
        self, request: message_pb2.GetMessageRequest, context: Context
    ) -> message_pb2.Message:
        """Read a message."""
        return await self._handler.get_message(caller().tenant, request)

    @unary
    async def ListMessages(  # noqa: N802
        self, request: message_pb2.ListMessagesRequest, context: Context
    ) -> message_pb2.ListMessagesResponse:
        """List a thread's messages."""
        return await self._handler.list_messages(caller().tenant, request)

    @unary
    async def UpdateMessage(  # noqa: N802
        self, request: message_pb2.UpdateMessageRequest, context: Context
    ) -> message_pb2.Message:
        """Update a message's metadata."""
        return await self._handler.update_message(caller().tenant, request)

    @unary
    async def DeleteMessage(  # noqa: N802
        self, request: message_pb2.DeleteMessageRequest, context: Context
    ) -> empty_pb2.Empty:
        """Delete a message."""
        await self._handler.delete_message(caller().tenant, request)
        return empty_pb2.Empty()
