"""The built-in tools and agents, driven directly without a server.

The agents are run the way the machinery runs them: the generator is resumed
with asend, and every ToolCallRequest is answered with the real outcome of
run_tool, so what is asserted here is what a run over gRPC would record.
"""

from __future__ import annotations

import asyncio
import time
import zoneinfo
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from threadline.v1 import message_pb2
from threadline_server.domain.agents import (
    Agent,
    AgentEvent,
    AgentFailure,
    AgentInput,
    IterationStarted,
    TextDelta,
    ToolCallRequest,
    ToolOutcome,
    UsageReport,
)
from threadline_server.domain.builtin_agents import (
    BUILTIN_AGENTS,
    HELP_TEXT,
    EchoAgent,
    ToolsDemoAgent,
    chunks,
    delay_seconds,
    find_expressions,
)
from threadline_server.domain.tools import (
    BUILTIN_TOOLS,
    MAX_EXPRESSION_CHARS,
    TOOL_ERROR,
    TOOL_NOT_ALLOWED,
    UNKNOWN_TOOL,
    calculate,
    run_tool,
)

pytestmark = pytest.mark.unit

ALL_TOOLS = frozenset(BUILTIN_TOOLS)
USER = message_pb2.MESSAGE_ROLE_USER
AGENT = message_pb2.MESSAGE_ROLE_AGENT
SYSTEM = message_pb2.MESSAGE_ROLE_SYSTEM


# -- helpers -------------------------------------------------------------------


def text_message(role: message_pb2.MessageRole.ValueType, *texts: str) -> message_pb2.Message:
    return message_pb2.Message(role=role, parts=[message_pb2.Part(text=t) for t in texts])


def make_input(
    *messages: message_pb2.Message,
    context: Mapping[str, Any] | None = None,
    max_iterations: int = 5,
) -> AgentInput:
    return AgentInput(
        run_id="run_00000000000000000000000000",
        thread_id="thr_00000000000000000000000000",
        messages=list(messages),
        context=context or {},
        tools=[tool.spec for tool in BUILTIN_TOOLS.values()],
        max_iterations=max_iterations,
    )


class Drive:
    """What one run of an agent yielded, and the outcomes it was fed."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self.outcomes: list[ToolOutcome] = []
        self.limit_reached = False

    @property
    def iterations(self) -> int:
        return sum(isinstance(e, IterationStarted) for e in self.events)

    @property
    def answer(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def deltas(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TextDelta)]

    @property
    def tool_calls(self) -> list[ToolCallRequest]:
        return [e for e in self.events if isinstance(e, ToolCallRequest)]

    @property
    def usage(self) -> tuple[int, int]:
        reports = [e for e in self.events if isinstance(e, UsageReport)]
        return (
            sum(r.prompt_tokens for r in reports),
            sum(r.completion_tokens for r in reports),
        )


async def drive(
    agent: Agent,
    request: AgentInput,
    allowed: Collection[str] = ALL_TOOLS,
    max_iterations: int | None = None,
) -> Drive:
    """Run an agent to its end, or stop it at the iteration limit as the machinery does."""
    result = Drive()
    run = agent.run(request)
    reply: ToolOutcome | None = None
    try:
        while True:
            event = await run.asend(reply)
            reply = None
            if (
                isinstance(event, IterationStarted)
                and max_iterations is not None
                and result.iterations >= max_iterations
            ):
                result.limit_reached = True
                await run.aclose()
                return result
            result.events.append(event)
            if isinstance(event, ToolCallRequest):
                reply = await run_tool(event.name, event.arguments, allowed)
                result.outcomes.append(reply)
    except StopAsyncIteration:
        pass
    return result


# -- calculator ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2+3*4", 14),
        ("(2 + 3) * 4", 20),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-3 * -(4 - 6)", -6),
        ("+5", 5),
        ("1.5 * 4", 6.0),
        ("2 ** 3 ** 2", 512),
        ("2 ** 1023", 2**1023),
        ("  1 + 1  ", 2),
    ],
)
async def test_calculator_computes(expression, expected):
    outcome = await run_tool("calculator", {"expression": expression}, ALL_TOOLS)
    assert not outcome.is_error, outcome
    assert outcome.output == {"expression": expression, "result": expected}
    assert type(outcome.output["result"]) is type(expected)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("2 +", "not valid"),
        ("", "empty"),
        ("   ", "empty"),
        ("x + 1", "names"),
        ("__import__('os').system('true')", "not allowed"),
        ("abs(-1)", "function calls"),
        ("(1).real", "attribute"),
        ("'a' * 3", "not a number"),
        ("True + 1", "not a number"),
        ("1j * 1j", "not a number"),
        ("[1, 2]", "not plain arithmetic"),
        ("1 < 2", "not plain arithmetic"),
        ("1 << 5", "not plain arithmetic"),
        ("~1", "not plain arithmetic"),
        ("1 if 1 else 0", "not plain arithmetic"),
        ("(-8) ** 0.5", "not a real number"),
        ("1e999", "too big"),
        ("1e308 * 10", "too big"),
        ("2 ** 1024", "too big"),
        ("10 ** 400 / 3", "too big"),
        ("(2 ** 1000) * (2 ** 1000)", "too big"),
        ("10 ** 308 * 10.0 ** 10", "too big"),
    ],
)
async def test_calculator_refuses(expression, reason):
    outcome = await run_tool("calculator", {"expression": expression}, ALL_TOOLS)
    assert outcome.error_code == TOOL_ERROR
    assert reason in outcome.error_message
    assert outcome.output is None


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9",
        "9**9**9**9",
        "(10**100)**(10**100)",
        "2**2**2**2**2**2",
        "-(9**99999999)",
        "1.0000001 ** 99999999999",
        "(" * 99 + "1" + ")" * 99,
        "-" * 199 + "1",
        "1" + "**1" * 66,
    ],
)
async def test_calculator_hostile_input_is_refused_quickly(expression):
    started = time.monotonic()
    outcome = await run_tool("calculator", {"expression": expression}, ALL_TOOLS)
    assert time.monotonic() - started < 0.5
    # Deep but harmless nesting may still compute; what matters is the bound.
    if outcome.is_error:
        assert outcome.error_code == TOOL_ERROR


async def test_calculator_limits_expression_length():
    fits = "1+" * ((MAX_EXPRESSION_CHARS - 1) // 2) + "1"
    assert len(fits) <= MAX_EXPRESSION_CHARS
    assert (await run_tool("calculator", {"expression": fits}, ALL_TOOLS)).output == {
        "expression": fits,
        "result": fits.count("1"),
    }
    too_long = "1+" * (MAX_EXPRESSION_CHARS // 2) + "1"
    outcome = await run_tool("calculator", {"expression": too_long}, ALL_TOOLS)
    assert outcome.error_code == TOOL_ERROR
    assert str(MAX_EXPRESSION_CHARS) in outcome.error_message


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({}, "must be a string"),
        ({"expression": 12}, "must be a string"),
        ({"expression": None}, "must be a string"),
        ({"expression": "1+1", "precision": 3}, "unexpected argument(s): precision"),
    ],
)
async def test_calculator_checks_its_arguments(arguments, reason):
    outcome = await run_tool("calculator", arguments, ALL_TOOLS)
    assert outcome.error_code == TOOL_ERROR
    assert reason in outcome.error_message


def test_calculate_raises_value_error_with_a_message():
    assert calculate("6*7") == 42
    with pytest.raises(ValueError, match="names such as 'y'"):
        calculate("y")


# -- clock ---------------------------------------------------------------------


def assert_now_in(output: Any, zone_name: str) -> None:
    assert set(output) == {"time_zone", "iso_time", "weekday"}
    assert output["time_zone"] == zone_name
    when = datetime.fromisoformat(output["iso_time"])
    zone = zoneinfo.ZoneInfo(zone_name)
    assert when.utcoffset() == zone.utcoffset(when.replace(tzinfo=None))
    assert abs(datetime.now(zone) - when) < timedelta(seconds=5)
    assert output["weekday"] == when.strftime("%A")


async def test_clock_defaults_to_utc():
    for arguments in ({}, {"time_zone": ""}, {"time_zone": None}):
        outcome = await run_tool("clock", arguments, ALL_TOOLS)
        assert not outcome.is_error, outcome
        assert_now_in(outcome.output, "UTC")


@pytest.mark.parametrize(
    "zone", ["Europe/Paris", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "Etc/GMT+5"]
)
async def test_clock_tells_time_in_a_zone(zone):
    outcome = await run_tool("clock", {"time_zone": zone}, ALL_TOOLS)
    assert not outcome.is_error, outcome
    assert_now_in(outcome.output, zone)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "not an IANA time zone"),
        ({"time_zone": "../../etc/passwd"}, "not an IANA time zone"),
        ({"time_zone": "/etc/localtime"}, "not an IANA time zone"),
        ({"time_zone": "Europe"}, "not an IANA time zone"),
        ({"time_zone": "Europe/\0Paris"}, "not an IANA time zone"),
        ({"time_zone": 3}, "must be a string"),
        ({"zone": "UTC"}, "unexpected argument(s): zone"),
    ],
)
async def test_clock_refuses(arguments, reason):
    outcome = await run_tool("clock", arguments, ALL_TOOLS)
    assert outcome.error_code == TOOL_ERROR
    assert reason in outcome.error_message


# -- run_tool ------------------------------------------------------------------


async def test_run_tool_unknown_name_comes_before_policy():
    outcome = await run_tool("shell", {"command": "ls"}, ALL_TOOLS)
    assert outcome.error_code == UNKNOWN_TOOL
    assert "shell" in outcome.error_message
    assert (await run_tool("shell", {}, ())).error_code == UNKNOWN_TOOL


async def test_run_tool_enforces_the_allowed_set():
    outcome = await run_tool("calculator", {"expression": "1+1"}, {"clock"})
    assert outcome.error_code == TOOL_NOT_ALLOWED
    assert outcome.output is None
    assert (await run_tool("clock", {}, ())).error_code == TOOL_NOT_ALLOWED
    assert (await run_tool("clock", {}, ["clock"])).is_error is False


def test_builtin_tools_describe_themselves():
    assert set(BUILTIN_TOOLS) == {"calculator", "clock"}
    for name, tool in BUILTIN_TOOLS.items():
        assert tool.name == name
        assert tool.spec.name == name
        assert tool.spec.description == tool.description
        assert tool.description


# -- echo ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "hello world",
        "  leading and trailing  ",
        "tabs\tand\nnew lines\n\n",
        "unicode: héllo wörld — ✓ 日本語",
        "one",
        " ",
    ],
)
def test_chunks_rebuild_the_text_exactly(text):
    assert "".join(chunks(text)) == text
    assert all(chunk for chunk in chunks(text))


async def test_echo_streams_the_last_user_message_word_by_word():
    request = make_input(
        text_message(SYSTEM, "be brief"),
        text_message(USER, "first question"),
        text_message(AGENT, "an earlier answer"),
        text_message(USER, "Hello  there,\n", "general Kenobi! "),
        text_message(AGENT, "ignored"),
    )
    result = await drive(EchoAgent(), request)
    assert result.answer == "Hello  there,\ngeneral Kenobi! "
    assert result.deltas == ["Hello  ", "there,\n", "general ", "Kenobi! "]
    assert isinstance(result.events[0], IterationStarted)
    assert isinstance(result.events[-1], UsageReport)
    assert result.iterations == 1
    assert result.tool_calls == []
    # 2 + 2 + 3 + 4 + 1 words in the thread; 4 in the answer.
    assert result.usage == (12, 4)


async def test_echo_skips_non_text_parts():
    message = message_pb2.Message(
        role=USER,
        parts=[
            message_pb2.Part(text="look at "),
            message_pb2.Part(media=message_pb2.Media(uri="https://x/y.png", mime_type="image/png")),
            message_pb2.Part(text="this"),
        ],
    )
    result = await drive(EchoAgent(), make_input(message))
    assert result.answer == "look at this"


async def test_echo_with_no_user_message_answers_nothing():
    result = await drive(EchoAgent(), make_input(text_message(SYSTEM, "you are an echo")))
    assert result.answer == ""
    assert result.deltas == []
    assert result.iterations == 1
    assert result.usage == (4, 0)
    empty = await drive(EchoAgent(), make_input())
    assert [type(e) for e in empty.events] == [IterationStarted, UsageReport]


async def test_echo_delay_slows_each_delta():
    request = make_input(text_message(USER, "one two three"), context={"delay_ms": 40})
    started = time.monotonic()
    result = await drive(EchoAgent(), request)
    assert result.answer == "one two three"
    assert time.monotonic() - started >= 0.11


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 0.0),
        (0, 0.0),
        (250, 0.25),
        (12.5, 0.0125),
        (1000, 1.0),
        (10_000, 10.0),
        (10_001, 0.0),
        (-1, 0.0),
        (True, 0.0),
        ("100", 0.0),
        (float("nan"), 0.0),
        (float("inf"), 0.0),
        ([100], 0.0),
    ],
)
def test_delay_is_validated(value, seconds):
    context = {} if value is None else {"delay_ms": value}
    assert delay_seconds(context) == seconds


async def test_echo_ignores_bad_delay():
    request = make_input(text_message(USER, "a b c d e"), context={"delay_ms": 100000})
    started = time.monotonic()
    result = await drive(EchoAgent(), request)
    assert result.answer == "a b c d e"
    assert time.monotonic() - started < 0.5


async def test_echo_can_be_cancelled_mid_stream():
    request = make_input(text_message(USER, "slow words here"), context={"delay_ms": 1000})
    run = EchoAgent().run(request)
    assert isinstance(await run.asend(None), IterationStarted)
    task = asyncio.ensure_future(run.asend(None))
    await asyncio.sleep(0.05)
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    await run.aclose()


# -- tools-demo ----------------------------------------------------------------


async def test_tools_demo_calculates():
    result = await drive(ToolsDemoAgent(), make_input(text_message(USER, "what is 2+3*4?")))
    assert result.tool_calls == [ToolCallRequest("calculator", {"expression": "2+3*4"})]
    assert result.answer == "2+3*4 = 14."
    assert result.iterations == 2
    assert [type(e) for e in result.events] == [
        IterationStarted,
        ToolCallRequest,
        UsageReport,
        IterationStarted,
        TextDelta,
        TextDelta,
        TextDelta,
        UsageReport,
    ]
    # The thread has 3 words, read once per iteration; the answer has 3.
    assert result.usage == (6, 3)


async def test_tools_demo_works_out_several_sums():
    result = await drive(
        ToolsDemoAgent(), make_input(text_message(USER, "What is (2 + 3) * 4, 7/2 and 1/0?"))
    )
    assert [c.arguments["expression"] for c in result.tool_calls] == ["(2 + 3) * 4", "7/2", "1/0"]
    assert result.answer == (
        "(2 + 3) * 4 = 20. 7/2 = 3.5. I could not work out 1/0: division by zero (TOOL_ERROR)."
    )
    assert result.iterations == 4


async def test_tools_demo_tells_the_time():
    result = await drive(
        ToolsDemoAgent(), make_input(text_message(USER, "What time is it in Europe/Paris?"))
    )
    assert result.tool_calls == [ToolCallRequest("clock", {"time_zone": "Europe/Paris"})]
    now = datetime.fromisoformat(result.outcomes[0].output["iso_time"])
    assert result.answer == f"It is {now:%H:%M} on {now:%A} in Europe/Paris."
    assert result.iterations == 2


async def test_tools_demo_clock_defaults_to_utc_and_reports_bad_zones():
    plain = await drive(ToolsDemoAgent(), make_input(text_message(USER, "check the clock")))
    assert plain.tool_calls == [ToolCallRequest("clock", {"time_zone": "UTC"})]
    assert plain.answer.endswith(" in UTC.")
    bad = await drive(ToolsDemoAgent(), make_input(text_message(USER, "time in Mars/Base_One")))
    assert bad.answer.startswith("I could not read the clock for Mars/Base_One: ")
    assert bad.answer.endswith("(TOOL_ERROR).")


async def test_tools_demo_reports_tools_it_may_not_use():
    request = make_input(text_message(USER, "what is 6*7 and what time is it?"))
    result = await drive(ToolsDemoAgent(), request, allowed={"clock"})
    assert [c.name for c in result.tool_calls] == ["calculator", "clock"]
    assert result.answer.startswith(
        "I could not work out 6*7: this run may not use the tool 'calculator' (TOOL_NOT_ALLOWED)."
    )
    assert " in UTC." in result.answer


async def test_tools_demo_counts_within_the_limit():
    request = make_input(text_message(USER, "please count to 4"))
    result = await drive(ToolsDemoAgent(), request, max_iterations=5)
    assert not result.limit_reached
    assert [c.arguments["expression"] for c in result.tool_calls] == ["0+1", "1+1", "2+1", "3+1"]
    assert result.iterations == 5
    assert result.answer == "Counting to 4: 1, 2, 3, 4."


@pytest.mark.parametrize(("target", "limit"), [(5, 5), (12, 5), (50, 20)])
async def test_tools_demo_counting_reaches_the_iteration_limit(target, limit):
    request = make_input(text_message(USER, f"count to {target}"), max_iterations=limit)
    result = await drive(ToolsDemoAgent(), request, max_iterations=limit)
    assert result.limit_reached
    assert result.iterations == limit
    assert len(result.tool_calls) == limit
    assert result.answer == ""


async def test_tools_demo_counts_to_fifty_when_unbounded():
    result = await drive(ToolsDemoAgent(), make_input(text_message(USER, "Count to 50")))
    assert result.iterations == 51
    assert result.answer == "Counting to 50: " + ", ".join(str(n) for n in range(1, 51)) + "."


@pytest.mark.parametrize("target", [0, 51, 1000])
async def test_tools_demo_refuses_counts_out_of_range(target):
    result = await drive(ToolsDemoAgent(), make_input(text_message(USER, f"count to {target}")))
    assert result.tool_calls == []
    assert result.iterations == 1
    assert result.answer == "I can only count from 1 to 50."


async def test_tools_demo_count_failure_is_said_not_raised():
    request = make_input(text_message(USER, "count to 3"))
    result = await drive(ToolsDemoAgent(), request, allowed=())
    assert result.iterations == 4
    assert result.answer == (
        "I could not count to 3: this run may not use the tool 'calculator' (TOOL_NOT_ALLOWED)."
    )


@pytest.mark.parametrize("text", ["hello there", "", "count sheep", "what is 5?"])
async def test_tools_demo_helps_when_nothing_matches(text):
    result = await drive(ToolsDemoAgent(), make_input(text_message(USER, text)))
    assert result.tool_calls == []
    assert result.iterations == 1
    assert result.answer == HELP_TEXT


async def test_tools_demo_without_user_message_helps():
    result = await drive(ToolsDemoAgent(), make_input(text_message(SYSTEM, "what is 1+1")))
    assert result.answer == HELP_TEXT


async def test_tools_demo_fails_when_resumed_without_an_outcome():
    run = ToolsDemoAgent().run(make_input(text_message(USER, "what is 1+1")))
    assert isinstance(await run.asend(None), IterationStarted)
    assert isinstance(await run.asend(None), ToolCallRequest)
    with pytest.raises(AgentFailure) as failure:
        await run.asend(None)
    assert failure.value.code == "AGENT_ERROR"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what is 2+3*4?", ["2+3*4"]),
        ("(what is 2+3)", ["2+3"]),
        ("what is -3 * 2.5.", ["-3 * 2.5"]),
        ("count to 10", []),
        ("in Etc/GMT+5", []),
        ("at 10:42", []),
        ("1+1, 2+2, 3+3, 4+4, 5+5, 6+6", ["1+1", "2+2", "3+3", "4+4", "5+5"]),
    ],
)
def test_find_expressions(text, expected):
    assert find_expressions(text) == expected


# -- the registry --------------------------------------------------------------


def test_builtin_agents_are_agents():
    assert set(BUILTIN_AGENTS) == {"echo", "tools-demo", "notes"}
    for name, agent in BUILTIN_AGENTS.items():
        assert isinstance(agent, Agent)
        assert agent.name == name
        assert set(agent.tools) <= set(BUILTIN_TOOLS)
    assert BUILTIN_AGENTS["echo"].default_max_iterations == 1
    assert BUILTIN_AGENTS["echo"].tools == ()
    assert BUILTIN_AGENTS["tools-demo"].default_max_iterations == 5
    assert tuple(BUILTIN_AGENTS["tools-demo"].tools) == ("calculator", "clock")
    assert BUILTIN_AGENTS["notes"].default_max_iterations == 1
    assert BUILTIN_AGENTS["notes"].tools == ()
