"""The one interface between the run machinery and an agent.

An agent is an object with a ``name``, a ``default_max_iterations``, the
``tools`` it knows, and a ``run`` method: an async generator that receives an
AgentInput and yields AgentEvents. The machinery stores every event before any
client sees it, enforces max_iterations, cancellation and timeouts, runs the
tools the agent asks for, and keeps usage. When the agent yields a
ToolCallRequest, the generator is resumed with the ToolOutcome (``outcome =
yield ToolCallRequest(...)``); every other event resumes it with None.

An agent can pause its run to ask for something only the caller has: it
yields RequiresAction, with calls of the run's client tools (declared by the
caller on CreateRun, in AgentInput.client_tools) or a question for a person.
The run then waits in REQUIRES_ACTION, and the generator is closed: a paused
run survives a server restart, so nothing of it may live in this process's
memory. When ResumeRun answers, the agent's ``run`` is called again, with
AgentInput.resumed holding what it asked and the answer, and the thread's
messages as they are then (the client tool calls and their outputs among
them): it goes on from there, as a worker does when it claims the resumed
run.

The thread's state (a JSON object the thread's agents keep between runs)
comes in AgentInput.state as the run starts; a StateUpdate changes it, with
the rules of UpdateThreadState, and makes a checkpoint. If the run then
fails or is cancelled, the state goes back to what it was before the run's
first change.

An agent ends the run by returning (COMPLETED). Raising AgentFailure ends it
FAILED with the failure's code; any other exception ends it FAILED with
AGENT_ERROR. Agents never see storage or transport.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from google.protobuf import json_format
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server.jsonvalue import JsonValue


@dataclass(frozen=True)
class ToolSpec:
    """A tool the run may use, as the agent sees it."""

    name: str
    description: str


@dataclass(frozen=True)
class AgentInput:
    """What an agent gets for one run."""

    run_id: str
    thread_id: str
    messages: Sequence[message_pb2.Message]
    context: Mapping[str, JsonValue]
    tools: Sequence[ToolSpec]
    max_iterations: int
    # The thread's state as the run starts (ThreadState.values).
    state: Mapping[str, JsonValue] = field(default_factory=dict)
    # The tools the caller runs itself (CreateRunRequest.client_tools).
    client_tools: Sequence[run_pb2.ClientTool] = ()
    # Set when the run goes on after a pause: what it asked, and the answer.
    resumed: Resumption | None = None


@dataclass(frozen=True)
class Resumption:
    """What a paused run asked for (a RequiredAction) and what ResumeRun answered."""

    action: run_pb2.RequiredAction
    response: run_pb2.ActionResponse

    @property
    def answer(self) -> JsonValue:
        """The answer to the question (None when the run asked for tool outputs)."""
        if not self.response.HasField("answer"):
            return None
        return json_format.MessageToDict(self.response.answer)

    def output(self, tool_call_id: str) -> ToolOutcome:
        """Return a client tool call's output, as a ToolOutcome."""
        for result in self.response.tool_outputs:
            if result.tool_call_id != tool_call_id:
                continue
            kind = result.WhichOneof("output")
            output: JsonValue = (
                result.text if kind == "text" else json_format.MessageToDict(result.json)
            )
            if result.is_error:
                return ToolOutcome(error_code="TOOL_ERROR", error_message=str(output))
            return ToolOutcome(output=output)
        return ToolOutcome(error_code="NO_OUTPUT", error_message="no output for this call")


@dataclass(frozen=True)
class AgentContext:
    """What the machinery reads for an agent as its run starts, as stored.

    The thread's latest messages and its state; omitted counts the latest
    messages that did not fit beside the run and the state in a reply (a
    worker gets all three in ClaimRunResponse; an in-process agent gets them
    as an AgentInput).
    """

    messages: list[message_pb2.Message]
    omitted: int
    state: thread_pb2.ThreadState


@dataclass(frozen=True)
class IterationStarted:
    """The agent begins one more iteration of its loop (one model call, say)."""


@dataclass(frozen=True)
class TextDelta:
    """The next chunk of the agent's answer."""

    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    """The agent asks the machinery to run a tool; the generator receives a ToolOutcome."""

    name: str
    arguments: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageReport:
    """Tokens used since the last report."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class StateUpdate:
    """Change the thread's state, as UpdateThreadState would; it makes a checkpoint.

    With no update_mask the values merge in (objects key by key, anything
    else replacing what was there): ``StateUpdate({"topic": "billing"})``.
    update_mask names paths as UpdateThreadStateRequest's do: ``("values",)``
    replaces the whole state, ``("values.draft",)`` with no ``draft`` in
    values removes that key. Values must be JSON (dicts, lists, strings,
    numbers, booleans, None); a change that breaks the state's limits (256
    KiB as JSON) fails the run with AGENT_ERROR.
    """

    values: Mapping[str, JsonValue] = field(default_factory=dict)
    update_mask: Sequence[str] = ()


@dataclass(frozen=True)
class ClientToolCall:
    """A call of one of the run's client tools, which the caller runs."""

    name: str
    arguments: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class RequiresAction:
    """Pause the run until the caller answers: client tool calls, or a question.

    Exactly one of tool_calls (each naming one of AgentInput.client_tools)
    and question; answer_schema, with a question, is the JSON Schema the
    answer must be valid against. The agent's generator is closed after it;
    the agent runs again with AgentInput.resumed once the run is resumed. A
    request that breaks the rules (an unknown tool, an invalid schema) fails
    the run with AGENT_ERROR.
    """

    tool_calls: Sequence[ClientToolCall] = ()
    question: str = ""
    answer_schema: Mapping[str, JsonValue] | None = None


AgentEvent = (
    IterationStarted | TextDelta | ToolCallRequest | UsageReport | StateUpdate | RequiresAction
)


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool answered: JSON output, or an error with a code and a message."""

    output: JsonValue = None
    error_code: str = ""
    error_message: str = ""

    @property
    def is_error(self) -> bool:
        """Tell whether the tool failed."""
        return bool(self.error_code)


class AgentFailure(Exception):  # noqa: N818 - it is the agent's failure, not a bug
    """Raised by an agent to end its run FAILED with a specific code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class Agent(Protocol):
    """An agent the server runs in its own process."""

    name: str
    default_max_iterations: int
    tools: Sequence[str]

    def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Do one run: yield events; receive each ToolCallRequest's outcome."""
        ...


def load_agent(spec: str) -> tuple[str, Agent]:
    """Load ``NAME=module:attribute``; the attribute is an Agent or makes one when called."""
    name, _, target = spec.partition("=")
    module_name, _, attribute = target.partition(":")
    if not name or not module_name or not attribute:
        raise ValueError(f"--agent {spec!r} is not NAME=module:attribute")
    found = getattr(importlib.import_module(module_name), attribute)
    agent = found() if isinstance(found, type) or not isinstance(found, Agent) else found
    if not isinstance(agent, Agent):
        raise TypeError(f"--agent {spec!r}: {target} is not an Agent and does not make one")
    return name, agent


# A worker agent's default iteration limit: the server cannot ask the agent.
WORKER_DEFAULT_MAX_ITERATIONS = 10


class AgentDirectory:
    """The agents this server serves: in its own process, or through workers; to whom.

    An agent is shared by every tenant unless it is restricted to some
    (``--agent-tenant NAME=TENANT``). To any other tenant a restricted agent
    does not exist: every answer about it is the answer about an unknown agent.
    """

    def __init__(
        self,
        in_process: Mapping[str, Agent],
        by_workers: Sequence[str],
        tenants: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.in_process = dict(in_process)
        self.by_workers = frozenset(by_workers)
        self._tenants = {name: frozenset(allowed) for name, allowed in (tenants or {}).items()}

    def serves(self, agent_id: str, tenant: str) -> bool:
        """Tell whether runs of this agent can be served to this tenant."""
        if agent_id not in self.in_process and agent_id not in self.by_workers:
            return False
        allowed = self._tenants.get(agent_id)
        return allowed is None or tenant in allowed

    def serves_by_workers(self, agent_id: str, tenant: str) -> bool:
        """Tell whether this tenant's runs of this agent are for workers to claim."""
        return agent_id in self.by_workers and self.serves(agent_id, tenant)

    def names(self, tenant: str | None = None) -> list[str]:
        """Return every agent served (to the tenant, when one is given), sorted."""
        return sorted(
            name
            for name in {*self.in_process, *self.by_workers}
            if tenant is None or self.serves(name, tenant)
        )

    def default_max_iterations(self, agent_id: str) -> int:
        """Return the agent's own default iteration limit."""
        agent = self.in_process.get(agent_id)
        return agent.default_max_iterations if agent is not None else WORKER_DEFAULT_MAX_ITERATIONS

    def tools_of(self, agent_id: str, tenant: str) -> Sequence[str] | None:
        """Return the tools an in-process agent served to the tenant has; None otherwise."""
        agent = self.in_process.get(agent_id)
        if agent is None or not self.serves(agent_id, tenant):
            return None
        return tuple(agent.tools)
