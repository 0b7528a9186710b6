"""The rules of pausing and resuming (domain.actions), as pure functions.

What a paused run may ask (check_request) and what answers it
(check_response): each wrong input names its field, and a right one passes
with nothing to say.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2
from threadline_server.domain import actions
from threadline_server.errors import Violations

pytestmark = pytest.mark.unit

SCHEMA = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["approved"],
}


def _question(schema: dict[str, Any] | None = SCHEMA) -> run_pb2.RequiredAction:
    return actions.new_request(question="May I?", answer_schema=schema)


def _fields(found: Violations) -> list[str]:
    return [item.field for item in found.items]


def _answer(
    action: run_pb2.RequiredAction, value: Any = None, **fields: Any
) -> tuple[list[str], run_pb2.ActionResponse]:
    request = run_pb2.ResumeRunRequest(run_id="run_x", **fields)
    if value is not None:
        request.answer.CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    found = Violations()
    response = actions.check_response(found, action, request)
    return _fields(found), response


@pytest.mark.parametrize(
    ("answer", "fields"),
    [
        ({"approved": True}, []),
        ({"approved": False, "reasons": ["late"]}, []),
        ({}, ["answer.approved"]),
        ({"approved": "yes"}, ["answer.approved"]),
        ({"approved": True, "reasons": ["ok", 3]}, ["answer.reasons[1]"]),
        ([1], ["answer"]),
        (None, ["answer"]),
    ],
)
def test_answers_are_checked_against_the_schema(answer: Any, fields: list[str]) -> None:
    assert _answer(_question(), answer)[0] == fields


def test_a_question_without_a_schema_takes_any_answer() -> None:
    found, response = _answer(_question(None), "anything")
    assert found == []
    assert response.answer.string_value == "anything"


def test_tool_outputs_answer_a_question_wrongly() -> None:
    output = message_pb2.ToolResult(tool_call_id="c", text="x")
    assert _answer(_question(), {"approved": True}, tool_outputs=[output])[0] == ["tool_outputs"]


def test_tool_outputs_one_per_call() -> None:
    action = actions.new_request(tool_calls=[("lookup", {}), ("lookup", {"q": 1})])
    first, second = (call.id for call in action.tool_calls.calls)
    out = message_pb2.ToolResult
    assert _answer(action, tool_outputs=[out(tool_call_id=first, text="a")])[0] == ["tool_outputs"]
    assert (
        _answer(
            action,
            tool_outputs=[out(tool_call_id=first, text="a"), out(tool_call_id=second, text="b")],
        )[0]
        == []
    )
    assert _answer(
        action,
        tool_outputs=[
            out(tool_call_id=first, text="a"),
            out(tool_call_id=second, text="b"),
            out(tool_call_id="call_other", text="c"),
        ],
    )[0] == ["tool_outputs[2].tool_call_id"]
    assert _answer(
        action, {"x": 1}, tool_outputs=[out(tool_call_id=first), out(tool_call_id=second, text="b")]
    )[0] == ["answer", "tool_outputs[0]", "tool_outputs"]


def test_what_an_agent_may_ask() -> None:
    tools = [
        run_pb2.ClientTool(name="lookup"),
        run_pb2.ClientTool(
            name="find",
            parameters=json_format.ParseDict(
                {"type": "object", "required": ["q"]}, struct_pb2.Struct()
            ),
        ),
    ]
    cases: list[tuple[run_pb2.RequiredAction, list[str]]] = [
        (actions.new_request(tool_calls=[("lookup", {})]), []),
        (actions.new_request(tool_calls=[("nope", {})]), ["a.tool_calls.calls[0].name"]),
        (actions.new_request(tool_calls=[("find", {"q": "x"})]), []),
        (actions.new_request(tool_calls=[("find", {})]), ["a.tool_calls.calls[0].arguments"]),
        (_question(), []),
        (actions.new_request(question=""), ["a.question.text"]),
        (_question({"type": 12}), ["a.question.answer_schema"]),
        (run_pb2.RequiredAction(), ["a"]),
    ]
    twice = run_pb2.RequiredAction()
    twice.tool_calls.calls.add(id="c1", name="lookup")
    twice.tool_calls.calls.add(id="c1", name="lookup")
    cases.append((twice, ["a.tool_calls.calls[1].id"]))
    for action, fields in cases:
        found = Violations()
        actions.check_request(found, "a", action, tools)
        assert _fields(found) == fields, action
