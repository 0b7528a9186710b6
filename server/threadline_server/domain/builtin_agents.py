"""The agents every server has, without a model: deterministic stand-ins for real ones.

They exist so that clients, tests and demos can exercise everything the run
machinery does (streaming, tool calls, several iterations, the iteration
limit, cancellation) and predict exactly what each run will say.

Tokens are counted as whitespace-separated words, since there is no model
tokenizer to ask. Every agent reads ``delay_ms`` from the run's context (a
number from 0 to 10,000; anything else is ignored) and waits that long before
each TextDelta, so a client can watch an answer arrive or cancel it midway.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from threadline.v1 import message_pb2

from threadline_server import jsonvalue
from threadline_server.domain.agents import (
    Agent,
    AgentEvent,
    AgentFailure,
    AgentInput,
    ClientToolCall,
    IterationStarted,
    RequiresAction,
    StateUpdate,
    TextDelta,
    ToolCallRequest,
    ToolOutcome,
    UsageReport,
)
from threadline_server.jsonvalue import JsonValue

MAX_DELAY_MS = 10_000
MAX_COUNT = 50
# A message with more sums than this gets only the first ones worked out, so
# a pasted spreadsheet cannot turn into hundreds of iterations.
MAX_EXPRESSIONS = 5

# A word with the whitespace after it, or a run of leading whitespace: the
# chunks concatenate back to exactly the original text.
_CHUNK = re.compile(r"\S+\s*|\s+")
_WORD = re.compile(r"\S+")
_COUNT = re.compile(r"\bcount(?:\s+up)?\s+to\s+(\d+)\b", re.IGNORECASE)
# Runs of digits, operators, parentheses and spaces; one is arithmetic only if
# a number is followed by a binary operator (so "count to 10" is not).
_ARITHMETIC_RUN = re.compile(r"[\d.()+\-*/%\s]+")
_BINARY_OPERATOR = re.compile(r"[\d.)]\s*(?:\*\*|//|[-+*/%])")
_TIME = re.compile(r"\b(?:time|clock)\b", re.IGNORECASE)
# IANA names have a slash (Europe/Paris, America/Argentina/Buenos_Aires),
# except for a few such as UTC; a bare word after "in" is usually English.
_ZONE = re.compile(r"\bin\s+((?:[A-Za-z][\w+\-]*/)+[\w+\-]+|UTC|GMT)", re.IGNORECASE)

_WHERE = re.compile(r"\bwhere\s+am\s+i\b", re.IGNORECASE)
# The client tool tools-demo calls when asked where the user is.
LOCATION_TOOL = "get_location"
# The answer tools-demo wants to its approval question.
APPROVAL_SCHEMA: Mapping[str, JsonValue] = MappingProxyType(
    {
        "type": "object",
        "properties": {"approved": {"type": "boolean"}},
        "required": ["approved"],
    }
)

_REMEMBER = re.compile(r"^\s*remember(?:\s+that)?\s+(.+?)\s*$", re.IGNORECASE | re.DOTALL)
_FORGET = re.compile(r"^\s*forget\s+everything\W*$", re.IGNORECASE)
# The most a note keeps of what it was told, and the most notes kept (the
# oldest go first), so a thread's state stays far below its limit.
MAX_NOTE_CHARACTERS = 500
MAX_NOTES = 100

HELP_TEXT = (
    'I can do arithmetic (ask "what is 2+3*4"), tell the time (ask "what time is it '
    'in Europe/Paris") and count (ask "count to 5").'
)


def chunks(text: str) -> list[str]:
    """Split text into the word-sized pieces an answer is streamed in, losing nothing."""
    return _CHUNK.findall(text)


def word_count(text: str) -> int:
    """Count tokens the way the built-in agents report them."""
    return len(_WORD.findall(text))


def message_text(message: message_pb2.Message) -> str:
    """Return what a message says in words; tool calls, results and media say nothing."""
    return "".join(part.text for part in message.parts if part.WhichOneof("kind") == "text")


def last_user_text(messages: Sequence[message_pb2.Message]) -> str | None:
    """Return the text of the newest user message, or None when no user has spoken."""
    for message in reversed(messages):
        if message.role == message_pb2.MESSAGE_ROLE_USER:
            return message_text(message)
    return None


def thread_words(messages: Sequence[message_pb2.Message]) -> int:
    """Count the words an agent reads when it reads the whole thread."""
    return sum(word_count(message_text(message)) for message in messages)


def delay_seconds(context: Mapping[str, JsonValue]) -> float:
    """Read the optional pause before each delta; a bad value is ignored, not fatal.

    The context is the caller's free-form JSON, so a wrong ``delay_ms`` must
    not fail the run; it simply means no delay.
    """
    value = context.get("delay_ms")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY_MS:
        return 0.0
    return value / 1000


async def pause(delay: float) -> None:
    """Wait before a delta when the run asked for a slow answer; never when it did not."""
    if delay > 0:
        await asyncio.sleep(delay)


class EchoAgent:
    """Answers with the newest user message, word for word.

    With no user message in the thread (or one that has no text, only
    media, say) the answer is empty: no TextDelta at all, which is what an
    echo of nothing is.
    """

    name: str = "echo"
    default_max_iterations: int = 1
    tools: Sequence[str] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Do one run in a single iteration."""
        yield IterationStarted()
        answer = last_user_text(request.messages) or ""
        delay = delay_seconds(request.context)
        for chunk in chunks(answer):
            await pause(delay)
            yield TextDelta(chunk)
        yield UsageReport(
            prompt_tokens=thread_words(request.messages),
            completion_tokens=word_count(answer),
        )


def _number_text(value: JsonValue) -> str:
    # Integral doubles read as integers: a result may have made a round trip
    # through JSON, where 14 and 14.0 are the same number.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _failure_text(outcome: ToolOutcome) -> str:
    return f"{outcome.error_message or 'it failed'} ({outcome.error_code})"


def _calculation_sentence(expression: str, outcome: ToolOutcome) -> str:
    if outcome.is_error:
        return f"I could not work out {expression}: {_failure_text(outcome)}."
    output = outcome.output
    if isinstance(output, Mapping) and isinstance(output.get("result"), int | float):
        return f"{expression} = {_number_text(output['result'])}."
    return f"The calculator gave an answer to {expression} that I do not understand."


def _clock_sentence(zone: str, outcome: ToolOutcome) -> str:
    if outcome.is_error:
        return f"I could not read the clock for {zone}: {_failure_text(outcome)}."
    output = outcome.output
    if isinstance(output, Mapping) and isinstance(output.get("iso_time"), str):
        try:
            when = datetime.fromisoformat(output["iso_time"])
        except ValueError:
            pass
        else:
            return f"It is {when:%H:%M} on {when:%A} in {zone}."
    return f"The clock gave an answer for {zone} that I do not understand."


def _count_sentence(target: int, outcomes: Sequence[ToolOutcome]) -> str:
    for outcome in outcomes:
        if outcome.is_error:
            return f"I could not count to {target}: {_failure_text(outcome)}."
    numbers = [
        _number_text(o.output.get("result")) if isinstance(o.output, Mapping) else "?"
        for o in outcomes
    ]
    return f"Counting to {target}: {', '.join(numbers)}."


def _require(outcome: ToolOutcome | None) -> ToolOutcome:
    # The machinery must resume a ToolCallRequest with its outcome; carrying
    # on without one would make the answer up, so the run fails instead.
    if outcome is None:
        raise AgentFailure("AGENT_ERROR", "a tool call was resumed without its outcome")
    return outcome


def find_expressions(text: str) -> list[str]:
    """Pick out the sums in a sentence, as the calculator should see them."""
    found: list[str] = []
    for match in _ARITHMETIC_RUN.finditer(text):
        candidate = match.group().strip().rstrip(".").strip()
        # Drop parentheses that belong to the sentence around the sum.
        while candidate.endswith(")") and candidate.count(")") > candidate.count("("):
            candidate = candidate[:-1].rstrip()
        while candidate.startswith("(") and candidate.count("(") > candidate.count(")"):
            candidate = candidate[1:].lstrip()
        if any(c.isdigit() for c in candidate) and _BINARY_OPERATOR.search(candidate):
            found.append(candidate)
    return found[:MAX_EXPRESSIONS]


def find_time_zone(text: str) -> str | None:
    """Return the time zone a question about the time asks for, or None if it asks none."""
    if not _TIME.search(text):
        return None
    match = _ZONE.search(text)
    return match.group(1) if match else "UTC"


def find_count(text: str) -> int | None:
    """Return N for "count to N", or None when the message asks no counting."""
    match = _COUNT.search(text)
    return int(match.group(1)) if match else None


def _location_sentence(outcome: ToolOutcome) -> str:
    if outcome.is_error:
        return f"I could not find out where you are: {outcome.error_message}"
    where = outcome.output
    if isinstance(where, Mapping) and isinstance(where.get("city"), str):
        where = where["city"]
    return f"You are in {where if isinstance(where, str) else jsonvalue.dumps(where)}."


def _human_in_the_loop(request: AgentInput, text: str) -> tuple[RequiresAction | None, str | None]:
    """Return what tools-demo asks (a pause), or says, before its plan; (None, None): neither."""
    resumed = request.resumed
    if resumed is None and request.context.get("approval") is True:
        return RequiresAction(
            question=f'May I answer {text[:200]!r}? Answer {{"approved": true}} or false.',
            answer_schema=APPROVAL_SCHEMA,
        ), None
    answer = resumed.answer if resumed is not None else None
    if isinstance(answer, Mapping) and answer.get("approved") is False:
        return None, "You did not approve, so I did nothing."
    if not _WHERE.search(text):
        return None, None
    if resumed is not None and resumed.action.tool_calls.calls:
        return None, _location_sentence(resumed.output(resumed.action.tool_calls.calls[0].id))
    if any(tool.name == LOCATION_TOOL for tool in request.client_tools):
        return RequiresAction(tool_calls=[ClientToolCall(LOCATION_TOOL)]), None
    return None, f"I cannot tell where you are: declare the client tool {LOCATION_TOOL}."


class ToolsDemoAgent:
    """A scripted agent that uses tools the way a model would, but predictably.

    It shows human in the loop too. Asked "where am I", it calls the client
    tool get_location when the run declares it (CreateRunRequest.client_tools),
    pausing the run until the caller sends its output, and then says "You are
    in <output>" (a JSON string, or an object's "city"). With
    ``{"approval": true}`` in the run's context, it first asks a person
    whether it may go ahead (answer ``{"approved": true}`` or false) and does
    nothing unless approved.

    It reads the newest user message and plans one iteration per tool call:
    "count to N" (1 to 50) is N calculator calls ("0+1", "1+1", "2+1", ...), each
    sum in the message ("what is 2+3*4") one calculator call, and a question
    about the time or the clock (optionally "in Europe/Paris") one clock
    call, in that order. A last iteration streams an answer made from the
    outcomes, failures included, so "count to 5" takes 6 iterations and
    reaches the default limit of 5. A message that asks none of these gets a
    help text in a single iteration.

    Every iteration reports as prompt tokens the words of the whole thread
    (the agent "reads" it each time); completion tokens are the words of the
    answer, in the last iteration.
    """

    name: str = "tools-demo"
    default_max_iterations: int = 5
    tools: Sequence[str] = ("calculator", "clock")

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Do one run: the planned tool calls, then the answer."""
        text = last_user_text(request.messages) or ""
        prompt_tokens = thread_words(request.messages)
        sentences: list[str] = []
        ask, said = _human_in_the_loop(request, text)
        if ask is not None:
            yield IterationStarted()
            yield ask
            return
        planned = said is None
        if said is not None:
            sentences.append(said)

        target = find_count(text) if planned else None
        if target is not None and not 1 <= target <= MAX_COUNT:
            sentences.append(f"I can only count from 1 to {MAX_COUNT}.")
        elif target is not None:
            outcomes: list[ToolOutcome] = []
            for k in range(target):
                yield IterationStarted()
                outcome = yield ToolCallRequest("calculator", {"expression": f"{k}+1"})
                outcomes.append(_require(outcome))
                yield UsageReport(prompt_tokens=prompt_tokens)
            sentences.append(_count_sentence(target, outcomes))

        for expression in find_expressions(text) if planned else ():
            yield IterationStarted()
            outcome = yield ToolCallRequest("calculator", {"expression": expression})
            sentences.append(_calculation_sentence(expression, _require(outcome)))
            yield UsageReport(prompt_tokens=prompt_tokens)

        zone = find_time_zone(text) if planned else None
        if zone is not None:
            yield IterationStarted()
            outcome = yield ToolCallRequest("clock", {"time_zone": zone})
            sentences.append(_clock_sentence(zone, _require(outcome)))
            yield UsageReport(prompt_tokens=prompt_tokens)

        reply = " ".join(sentences) or HELP_TEXT
        yield IterationStarted()
        delay = delay_seconds(request.context)
        for chunk in chunks(reply):
            await pause(delay)
            yield TextDelta(chunk)
        yield UsageReport(prompt_tokens=prompt_tokens, completion_tokens=word_count(reply))


def _notes_of(state: Mapping[str, JsonValue]) -> list[str]:
    notes = state.get("notes")
    return [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []


class NotesAgent:
    """Keeps notes in its thread's state, to show what thread state does.

    "remember (that) X" adds X to the state's ``notes`` list, "forget
    everything" removes the list, and anything else is answered with the
    notes kept so far. The state changes before the answer streams, so a run
    cancelled midway (or one that fails) shows the state going back.
    """

    name: str = "notes"
    default_max_iterations: int = 1
    tools: Sequence[str] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Do one run in a single iteration: change the notes if asked, then answer."""
        yield IterationStarted()
        text = last_user_text(request.messages) or ""
        notes = _notes_of(request.state)
        remember = _REMEMBER.match(text)
        if remember:
            note = remember.group(1).rstrip(".")[:MAX_NOTE_CHARACTERS]
            yield StateUpdate({"notes": [*notes, note][-MAX_NOTES:]})
            answer = f"I will remember that {note}."
        elif _FORGET.match(text):
            # A mask naming the key, and no value for it: the key goes.
            yield StateUpdate(update_mask=("values.notes",))
            answer = "I have forgotten everything."
        elif notes:
            answer = f"I remember: {'; '.join(notes)}."
        else:
            answer = 'I remember nothing yet. Tell me "remember that ...".'
        delay = delay_seconds(request.context)
        for chunk in chunks(answer):
            await pause(delay)
            yield TextDelta(chunk)
        yield UsageReport(
            prompt_tokens=thread_words(request.messages), completion_tokens=word_count(answer)
        )


BUILTIN_AGENTS: Mapping[str, Agent] = MappingProxyType(
    {agent.name: agent for agent in (EchoAgent(), ToolsDemoAgent(), NotesAgent())}
)
