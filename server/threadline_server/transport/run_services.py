"""gRPC servicers for runs and workers: hand each call to the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from threadline.v1 import run_pb2, run_pb2_grpc, worker_pb2, worker_pb2_grpc

from threadline_server.domain import sizes
from threadline_server.domain.runs import RunHandler
from threadline_server.domain.workers import WorkerHandler
from threadline_server.observability.metrics import StreamReaders
from threadline_server.transport.auth import caller
from threadline_server.transport.errors import stream, unary
from threadline_server.wire import varint

# RunEventBatch.events: field 1, length-delimited.
_BATCH_EVENT_TAG = b"\x0a"
# The tag and length of an event of each size up to 8 KiB, made once.
_FRAMES = tuple(_BATCH_EVENT_TAG + varint(length) for length in range(8192))
# The full method names the stream metrics are labelled with.
_METHOD = "/" + run_pb2.DESCRIPTOR.services_by_name["RunService"].full_name + "/{}"

if TYPE_CHECKING:
    import grpc

    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]


def batch_messages(events: list[bytes]) -> Iterator[bytes]:
    """Return serialized RunEventBatch messages holding these serialized events, in order.

    A batch's wire form is each event as field 1 (tag, length, the event's
    bytes), so the bytes the event bus made once are copied in, not
    serialized again. A message holds at most sizes.REPLY_BYTES of events;
    an event is never split (each is smaller than that).
    """
    parts: list[bytes] = []
    size = 0
    for event in events:
        length = len(event)
        framed = _FRAMES[length] if length < len(_FRAMES) else _BATCH_EVENT_TAG + varint(length)
        if parts and size + len(framed) + len(event) > sizes.REPLY_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
        parts += (framed, event)
        size += len(framed) + len(event)
    if parts:
        yield b"".join(parts)


def _time_remaining(context: Context) -> float | None:
    """Return the seconds left before the caller's deadline, or None without one."""
    remaining: float | None = context.time_remaining()
    return remaining


class RunService(run_pb2_grpc.RunServiceServicer):
    """threadline.v1.RunService over a RunHandler.

    The streams of events tell ``readers`` each event they send (one
    attribute write), so the metrics can say how far behind a reader is.
    They send each event as the bytes the event bus made once for every
    reader (``RunHandler.wire``; the methods' response serializers pass
    bytes through, transport/requests.py), not serialized again per stream.
    """

    def __init__(self, handler: RunHandler, readers: StreamReaders) -> None:
        self._handler = handler
        self._readers = readers
        self._wire = handler.wire

    @unary
    async def CreateRun(  # noqa: N802 - gRPC method names
        self, request: run_pb2.CreateRunRequest, context: Context
    ) -> run_pb2.Run:
        """Start a run."""
        return await self._handler.create_run(caller().tenant, request)

    @unary
    async def GetRun(  # noqa: N802
        self, request: run_pb2.GetRunRequest, context: Context
    ) -> run_pb2.Run:
        """Read a run."""
        return await self._handler.get_run(caller().tenant, request)

    @unary
    async def ListRuns(  # noqa: N802
        self, request: run_pb2.ListRunsRequest, context: Context
    ) -> run_pb2.ListRunsResponse:
        """List a thread's runs."""
        return await self._handler.list_runs(caller().tenant, request)

    @unary
    async def CancelRun(  # noqa: N802
        self, request: run_pb2.CancelRunRequest, context: Context
    ) -> run_pb2.Run:
        """Cancel a run."""
        return await self._handler.cancel_run(caller().tenant, request)

    @unary
    async def ResumeRun(  # noqa: N802
        self, request: run_pb2.ResumeRunRequest, context: Context
    ) -> run_pb2.Run:
        """Resume a run that waits for action."""
        return await self._handler.resume_run(caller().tenant, request)

    @unary
    async def WaitRun(  # noqa: N802
        self, request: run_pb2.WaitRunRequest, context: Context
    ) -> run_pb2.Run:
        """Wait for a run to end."""
        return await self._handler.wait_run(caller().tenant, request, _time_remaining(context))

    @stream
    async def StreamRunEvents(  # type: ignore[override]  # noqa: N802 - bytes: serialized once
        self, request: run_pb2.StreamRunEventsRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Stream a run's events."""
        wire = self._wire
        with self._readers.reader(
            _METHOD.format("StreamRunEvents"),
            caller().tenant,
            run_id=request.run_id,
            after=request.after_event_id,
        ) as reader:
            async for event in self._handler.stream_run_events(caller().tenant, request):
                reader.last = event
                yield wire(event)

    @stream
    async def StreamRunEventBatches(  # type: ignore[override]  # noqa: N802 - bytes: serialized once
        self, request: run_pb2.StreamRunEventsRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Stream a run's events, several to a message."""
        wire = self._wire
        with self._readers.reader(
            _METHOD.format("StreamRunEventBatches"),
            caller().tenant,
            run_id=request.run_id,
            after=request.after_event_id,
        ) as reader:
            async for batch in self._handler.stream_run_event_batches(
                caller().tenant, request, pace=True
            ):
                for message in batch_messages([wire(event) for event in batch]):
                    yield message
                reader.last = batch[-1]

    @stream
    async def StreamRun(  # type: ignore[override]  # noqa: N802 - bytes: serialized once
        self, request: run_pb2.CreateRunRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Start a run and stream its events."""
        wire = self._wire
        with self._readers.reader(_METHOD.format("StreamRun"), caller().tenant) as reader:
            async for event in self._handler.stream_run(caller().tenant, request):
                reader.last = event
                yield wire(event)

    @stream
    async def WatchThread(  # type: ignore[override]  # noqa: N802 - bytes: serialized once
        self, request: run_pb2.WatchThreadRequest, context: Context
    ) -> AsyncIterator[bytes]:
        """Stream a thread's events."""
        wire = self._wire
        with self._readers.reader(
            _METHOD.format("WatchThread"),
            caller().tenant,
            thread_id=request.thread_id,
            after=request.after_event_id,
        ) as reader:
            async for event in self._handler.watch_thread(caller().tenant, request):
                reader.last = event
                yield wire(event)

    @unary
    async def Chat(  # noqa: N802
        self, request: run_pb2.ChatRequest, context: Context
    ) -> run_pb2.ChatResponse:
        """One chat turn."""
        return await self._handler.chat(caller().tenant, request, _time_remaining(context))


class AgentWorkerService(worker_pb2_grpc.AgentWorkerServiceServicer):
    """threadline.v1.AgentWorkerService over a WorkerHandler."""

    def __init__(self, handler: WorkerHandler) -> None:
        self._handler = handler

    @unary
    async def ClaimRun(  # noqa: N802
        self, request: worker_pb2.ClaimRunRequest, context: Context
    ) -> worker_pb2.ClaimRunResponse:
        """Claim a run."""
        return await self._handler.claim_run(caller().tenant, request, _time_remaining(context))

    @unary
    async def ReportRunEvents(  # noqa: N802
        self, request: worker_pb2.ReportRunEventsRequest, context: Context
    ) -> worker_pb2.ReportRunEventsResponse:
        """Record a worker's events."""
        return await self._handler.report_run_events(caller().tenant, request)

    @unary
    async def RenewLease(  # noqa: N802
        self, request: worker_pb2.RenewLeaseRequest, context: Context
    ) -> worker_pb2.RenewLeaseResponse:
        """Renew a lease."""
        return await self._handler.renew_lease(caller().tenant, request)
