"""A Threadline worker: serves the runs of one agent over AgentWorkerService.

Start a server that leaves the agent's runs to workers, then this worker::

    threadline serve --worker-agent shouter
    python examples/python/worker.py --agent shouter

Any run created for agent ``shouter`` is now answered by this process. The
toy agent reads the thread's newest user message, counts its words with a
``word_count`` tool of its own, and answers with the message shouted (upper
case), streamed word by word. What it shows, for a worker in any language:

* ClaimRun long-polls (``wait``) for the next queued run and takes a lease on it.
* ReportRunEvents records what the agent does, a few events per call, in
  order: iteration_started, tool_call_started / tool_call_finished,
  text_delta, usage, and finally finish. Every report also renews the lease.
* A background task renews the lease with RenewLease while the agent works,
  so a slow step (a model call, a long tool) does not lose the run.
* With ``--confirm`` it asks a person first: it reports a ``requires_action``
  event with a question ("May I shout ...?", answered ``{"approved": true}``
  or false), and the run pauses in REQUIRES_ACTION; the answer says
  ``paused``, and the worker drops the run. Once a client calls ResumeRun, the
  run is queued again and comes back through ClaimRun with
  ``action_response`` set: the worker shouts if approved, and answers NOT
  APPROVED otherwise.
* When any answer says ``cancelled`` (a client called CancelRun), the worker
  stops working on the run at once; the run has already ended.
* FAILED_PRECONDITION with reason LEASE_LOST means the run is no longer this
  worker's (its lease ran out, or the run ended): the worker drops it.
* Any other error is unexpected: the worker logs it and exits non-zero, and
  the run it held fails with LEASE_EXPIRED once its lease runs out.

On SIGINT or SIGTERM it reports the run it holds as FAILED (WORKER_STOPPED)
and exits 0. The generated stubs must be importable: install this repository
(``pip install -e .``) or put ``generated/python`` on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from threadline.v1 import message_pb2, run_pb2, worker_pb2, worker_pb2_grpc

logger = logging.getLogger("threadline.worker")

# How long one call (other than ClaimRun's long poll) may take.
RPC_TIMEOUT_SECONDS = 10.0
# A word with the whitespace after it, or leading whitespace: the chunks join
# back into exactly the original text.
CHUNK = re.compile(r"\S+\s*|\s+")
WORD = re.compile(r"\S+")
TOOL_NAME = "word_count"


class RunDroppedError(Exception):
    """The run is no longer this worker's: it was cancelled, ended, or its lease was lost."""


@dataclass
class Options:
    """What the command line says."""

    target: str
    agent: str
    worker_id: str
    once: bool
    lease_seconds: float
    wait_seconds: float
    batch: int
    delay: float
    use_tool: bool
    confirm: bool = False


@dataclass
class Lease:
    """A claimed run and whether this worker still holds it."""

    run: run_pb2.Run
    lease_id: str
    # The thread's messages, oldest first, as ClaimRun handed them over.
    messages: list[message_pb2.Message]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    why: str = ""

    @property
    def run_id(self) -> str:
        """The claimed run's id."""
        return self.run.run_id

    def drop(self, why: str) -> None:
        """Stop working on the run (the first reason given is the one kept)."""
        if not self.dropped.is_set():
            self.why = why
            self.dropped.set()

    def check(self) -> None:
        """Raise RunDroppedError when the run is no longer ours."""
        if self.dropped.is_set():
            raise RunDroppedError(self.why)


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """Return the ErrorInfo reason Threadline puts in every error, or "".

    The rich status (a google.rpc.Status with an ErrorInfo among its details)
    travels in the call's ``grpc-status-details-bin`` trailer, as in every
    gRPC language; grpcio-status decodes it.
    """
    # grpc-stubs types from_call for sync calls only; an aio error works the same.
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def is_lease_lost(error: grpc.aio.AioRpcError) -> bool:
    """Tell whether a call failed because the lease is no longer current."""
    return (
        error.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(error) == "LEASE_LOST"
    )


def message_text(message: message_pb2.Message) -> str:
    """Return the text parts of a message, joined."""
    return "".join(part.text for part in message.parts if part.WhichOneof("kind") == "text")


def last_user_message(messages: Sequence[message_pb2.Message]) -> message_pb2.Message | None:
    """Return the thread's newest user message, if any."""
    for message in reversed(messages):
        if message.role == message_pb2.MESSAGE_ROLE_USER:
            return message
    return None


def word_count(text: str) -> int:
    """Count words (the toy agent's tokens, too)."""
    return len(WORD.findall(text))


def iteration() -> worker_pb2.WorkerEvent:
    """Return an iteration_started event."""
    return worker_pb2.WorkerEvent(iteration_started=worker_pb2.IterationStarted())


class Worker:
    """Claims runs of one agent and serves them, one at a time."""

    def __init__(self, stub: worker_pb2_grpc.AgentWorkerServiceAsyncStub, options: Options) -> None:
        self._stub = stub
        self._options = options

    async def serve(self) -> None:
        """Claim and serve runs until stopped (or after one run, with --once)."""
        logger.info("serving agent %s as worker %s", self._options.agent, self._options.worker_id)
        while True:
            lease = await self.claim()
            if lease is None:
                continue
            await self.serve_run(lease)
            if self._options.once:
                return

    async def claim(self) -> Lease | None:
        """Wait up to --wait-seconds for a run; return it with its lease, or None."""
        wait = duration_pb2.Duration()
        wait.FromMilliseconds(int(self._options.wait_seconds * 1000))
        lease_duration = duration_pb2.Duration()
        lease_duration.FromMilliseconds(int(self._options.lease_seconds * 1000))
        response = await self._stub.ClaimRun(
            worker_pb2.ClaimRunRequest(
                agent_id=self._options.agent,
                worker_id=self._options.worker_id,
                lease_duration=lease_duration,
                wait=wait,
            ),
            timeout=self._options.wait_seconds + RPC_TIMEOUT_SECONDS,
            # Wait for the server to be reachable rather than fail at once.
            wait_for_ready=True,
        )
        if not response.HasField("run"):
            return None
        lease = Lease(response.run, response.lease_id, list(response.messages))
        logger.info("claimed run %s on thread %s", lease.run_id, lease.run.thread_id)
        return lease

    async def serve_run(self, lease: Lease) -> None:
        """Run the agent on a claimed run, renewing its lease in the background."""
        renewer = asyncio.create_task(self._keep_renewing(lease), name=f"renew {lease.run_id}")
        try:
            await self._shout(lease)
        except RunDroppedError as dropped:
            logger.info("run %s %s; dropped it", lease.run_id, dropped)
        except asyncio.CancelledError:
            # Stopped by a signal: say so, rather than leave the run to its lease.
            await asyncio.shield(self._give_up(lease))
            raise
        else:
            logger.info("run %s completed", lease.run_id)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _shout(self, lease: Lease) -> None:
        """Be the toy agent: count the words with a tool, then answer in capitals."""
        messages = lease.messages
        question = last_user_message(messages)
        text = message_text(question) if question is not None else ""
        if self._options.confirm:
            if not lease.run.HasField("action_response"):
                await self._ask_approval(lease, text)
                return
            answer_value = lease.run.action_response.answer.struct_value.fields.get("approved")
            if answer_value is None or not answer_value.bool_value:
                await self.report(
                    lease,
                    [
                        iteration(),
                        worker_pb2.WorkerEvent(text_delta="NOT APPROVED"),
                        worker_pb2.WorkerEvent(
                            finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
                        ),
                    ],
                )
                return
        await self.report(lease, [iteration()])
        if self._options.use_tool and question is not None:
            await self._call_word_count(lease, question)
            # A second iteration: the agent reads the tool's answer and replies.
            await self.report(lease, [iteration()])
        answer = text.upper()
        pending: list[worker_pb2.WorkerEvent] = []
        for chunk in CHUNK.findall(answer):
            await self._pause(lease)
            pending.append(worker_pb2.WorkerEvent(text_delta=chunk))
            if len(pending) >= self._options.batch:
                await self.report(lease, pending)
                pending = []
        prompt_tokens = sum(word_count(message_text(m)) for m in messages)
        completion_tokens = word_count(answer)
        pending += [
            worker_pb2.WorkerEvent(
                usage=run_pb2.Usage(
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens,
                )
            ),
            worker_pb2.WorkerEvent(
                finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
            ),
        ]
        await self.report(lease, pending)

    async def _ask_approval(self, lease: Lease, text: str) -> None:
        """Pause the run with a question for a person; it comes back once answered."""
        ask = run_pb2.RequiredAction()
        ask.question.text = f"May I shout {text!r}?"
        ask.question.answer_schema.update(
            {
                "type": "object",
                "properties": {"approved": {"type": "boolean"}},
                "required": ["approved"],
            }
        )
        await self.report(lease, [iteration(), worker_pb2.WorkerEvent(requires_action=ask)])

    async def _call_word_count(self, lease: Lease, message: message_pb2.Message) -> None:
        """Call the worker's own word_count tool on a message, reporting the call."""
        call = message_pb2.ToolCall(id=f"call_{uuid.uuid4().hex}", name=TOOL_NAME)
        call.arguments.update({"message_id": message.message_id})
        await self.report(lease, [worker_pb2.WorkerEvent(tool_call_started=call)])
        started = time.perf_counter()
        result = message_pb2.ToolResult(tool_call_id=call.id)
        result.json.struct_value.update({"words": word_count(message_text(message))})
        duration_ms = int((time.perf_counter() - started) * 1000)
        await self.report(
            lease,
            [
                worker_pb2.WorkerEvent(
                    tool_call_finished=worker_pb2.ToolCallFinished(
                        result=result, duration_ms=duration_ms
                    )
                )
            ],
        )

    async def _pause(self, lease: Lease) -> None:
        """Wait --delay-ms before the next word, waking at once if the run is dropped."""
        lease.check()
        if self._options.delay > 0:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a
            # cancellation (Ctrl-C) that arrives as the lease is dropped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._options.delay):
                    await lease.dropped.wait()
            lease.check()

    async def report(
        self, lease: Lease, events: Iterable[worker_pb2.WorkerEvent]
    ) -> worker_pb2.ReportRunEventsResponse:
        """Report events under the lease; raise RunDroppedError when the run is not ours."""
        lease.check()
        request = worker_pb2.ReportRunEventsRequest(
            run_id=lease.run_id, lease_id=lease.lease_id, events=events
        )
        try:
            response = await self._stub.ReportRunEvents(request, timeout=RPC_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            if is_lease_lost(error):
                lease.drop("lost its lease")
                lease.check()
            raise
        if response.cancelled:
            lease.drop("was cancelled")
        elif response.paused:
            # It comes back through ClaimRun once someone resumes it.
            lease.drop("paused for approval")
        elif request.events[-1].HasField("finish"):
            # The server recorded the run's end. A renewal that crossed this
            # call and found the run already over must not make it a lost one.
            return response
        elif response.ended:
            # For instance, one iteration more than the run's max_iterations.
            lease.drop("was ended by the server")
        lease.check()
        return response

    async def _keep_renewing(self, lease: Lease) -> None:
        """Renew the lease a few times per lease period until the run is done or dropped."""
        interval = self._options.lease_seconds / 3
        while not lease.dropped.is_set():
            await asyncio.sleep(interval)
            try:
                response = await self._stub.RenewLease(
                    worker_pb2.RenewLeaseRequest(run_id=lease.run_id, lease_id=lease.lease_id),
                    timeout=RPC_TIMEOUT_SECONDS,
                )
            except grpc.aio.AioRpcError as error:
                if is_lease_lost(error):
                    lease.drop("lost its lease")
                    return
                # Perhaps a blip: try again at the next tick, while the lease lasts.
                logger.warning(
                    "could not renew the lease on run %s: %s %s",
                    lease.run_id,
                    error.code().name,
                    error.details(),
                )
                continue
            if response.cancelled:
                lease.drop("was cancelled")

    async def _give_up(self, lease: Lease) -> None:
        """Report the run FAILED because this worker is stopping (best effort)."""
        if lease.dropped.is_set():
            return
        finish = worker_pb2.RunFinished(
            status=run_pb2.RUN_STATUS_FAILED,
            error=run_pb2.RunError(
                code="WORKER_STOPPED",
                message=f"worker {self._options.worker_id} stopped while serving the run",
            ),
        )
        with contextlib.suppress(grpc.aio.AioRpcError, RunDroppedError):
            await self.report(lease, [worker_pb2.WorkerEvent(finish=finish)])
            logger.info("run %s reported FAILED: the worker is stopping", lease.run_id)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", default="localhost:50051", help="the server's host:port")
    parser.add_argument("--agent", default="shouter", help="the agent whose runs to serve")
    parser.add_argument(
        "--worker-id",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this worker's name in the server's records (default: host-pid)",
    )
    parser.add_argument("--once", action="store_true", help="serve one run, then exit")
    parser.add_argument(
        "--lease-seconds", type=float, default=15.0, help="lease duration, 1 to 600 (default 15)"
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=20.0,
        help="how long each ClaimRun waits for a run, 0 to 60 (default 20)",
    )
    parser.add_argument(
        "--batch", type=int, default=3, help="text deltas per ReportRunEvents (default 3)"
    )
    parser.add_argument(
        "--delay-ms", type=int, default=0, help="pause before each word, to watch it stream"
    )
    parser.add_argument(
        "--no-tool", action="store_true", help="answer without calling the word_count tool"
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="ask a person for approval (a requires_action question) before answering",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.lease_seconds <= 600:
        parser.error("--lease-seconds must be between 1 and 600")
    if not 0 <= arguments.wait_seconds <= 60:
        parser.error("--wait-seconds must be between 0 and 60")
    if arguments.batch < 1 or arguments.delay_ms < 0:
        parser.error("--batch must be at least 1 and --delay-ms not negative")
    logging.basicConfig(
        level=arguments.log_level.upper(),
        format="%(asctime)s %(levelname)s worker %(message)s",
        stream=sys.stderr,
    )
    return Options(
        target=arguments.target,
        agent=arguments.agent,
        worker_id=arguments.worker_id,
        once=arguments.once,
        lease_seconds=arguments.lease_seconds,
        wait_seconds=arguments.wait_seconds,
        batch=arguments.batch,
        delay=arguments.delay_ms / 1000,
        use_tool=not arguments.no_tool,
        confirm=arguments.confirm,
    )


async def run(options: Options) -> int:
    """Serve until done or signalled; return the exit code."""
    async with grpc.aio.insecure_channel(options.target) as channel:
        worker = Worker(worker_pb2_grpc.AgentWorkerServiceStub(channel), options)
        serving = asyncio.create_task(worker.serve(), name="serve")
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, serving.cancel)
        try:
            await serving
        except asyncio.CancelledError:
            if not serving.cancelled():
                raise
            logger.info("stopped")
        except grpc.aio.AioRpcError as error:
            logger.error(  # noqa: TRY400 - the status says it all; no traceback
                "unexpected error from the server: %s %s (reason %s)",
                error.code().name,
                error.details(),
                error_reason(error) or "none",
            )
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(run(parse_options(argv)))


if __name__ == "__main__":
    sys.exit(main())
