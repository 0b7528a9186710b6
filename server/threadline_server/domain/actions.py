"""Human in the loop: what a paused run may ask, and what answers it.

A run pauses in REQUIRES_ACTION with a RequiredAction: calls of client tools
(tools the caller declared on CreateRun and runs itself) or a question for a
person, with an optional JSON Schema of the answer. ResumeRun brings the
answer. The rules of both sides are here, as checks that add to a Violations:
the server refuses an agent's malformed request (it fails the run) and a
caller's wrong answer (INVALID_ARGUMENT naming the field).

JSON Schemas are checked and applied with the jsonschema package (draft
2020-12), the reference implementation: a schema a client sends is arbitrary
input, and writing a validator of our own would be a second, weaker one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import jsonschema
from google.protobuf import struct_pb2
from threadline.v1 import message_pb2, run_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import validation
from threadline_server.errors import FailedPreconditionError, Violations
from threadline_server.jsonvalue import JsonValue

MAX_CLIENT_TOOLS = 32
MAX_ACTION_TOOL_CALLS = 32
MAX_QUESTION = 4096
MAX_DESCRIPTION = 4096
MAX_SCHEMA_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024
# How long a paused run waits for ResumeRun unless --action-timeout says.
DEFAULT_ACTION_TIMEOUT_SECONDS = 24 * 3600.0
# The error code of a run nobody resumed in time.
ACTION_EXPIRED = "ACTION_EXPIRED"

_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _schema_problem(schema: Mapping[str, JsonValue]) -> str | None:
    """Return why a JSON Schema is not a valid draft 2020-12 schema, or None."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"is not a valid JSON Schema{f' at {where}' if where else ''}: {error.message}"
    return None


def check_schema(found: Violations, path: str, schema: struct_pb2.Struct) -> None:
    """Check a JSON Schema given as a Struct: real JSON, bounded, and a valid schema."""
    before = len(found.items)
    validation.struct(found, path, schema, limit=MAX_SCHEMA_BYTES, max_keys=1000)
    if len(found.items) == before:
        problem = _schema_problem(jsonvalue.struct_to_python(schema))
        if problem:
            found.add(path, problem)


def check_client_tools(
    found: Violations,
    path: str,
    tools: Sequence[run_pb2.ClientTool],
    server_tools: Sequence[str] | None,
) -> None:
    """Check the client tools of a CreateRun: names unique and apart from the server's."""
    if len(tools) > MAX_CLIENT_TOOLS:
        found.add(path, f"must have at most {MAX_CLIENT_TOOLS} tools")
        return
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{path}[{index}]"
        if not tool.name:
            found.add(f"{where}.name", "is required")
        elif not _TOOL_NAME.fullmatch(tool.name):
            found.add(f"{where}.name", "must be 1 to 128 of A-Z a-z 0-9 _ - .")
        elif tool.name in seen:
            found.add(f"{where}.name", f"names {tool.name!r} twice")
        elif server_tools is not None and tool.name in server_tools:
            found.add(f"{where}.name", f"{tool.name!r} is one of the agent's own tools")
        seen.add(tool.name)
        validation.text(found, f"{where}.description", tool.description, limit=MAX_DESCRIPTION)
        if tool.HasField("parameters"):
            check_schema(found, f"{where}.parameters", tool.parameters)


def check_request(
    found: Violations,
    path: str,
    action: run_pb2.RequiredAction,
    client_tools: Sequence[run_pb2.ClientTool],
) -> None:
    """Check what a run asks for when it pauses (from an agent or a worker)."""
    kind = action.WhichOneof("kind")
    if kind is None:
        found.add(path, "must set tool_calls or question")
    elif kind == "question":
        validation.text(
            found, f"{path}.question.text", action.question.text, limit=MAX_QUESTION, required=True
        )
        if action.question.HasField("answer_schema"):
            check_schema(found, f"{path}.question.answer_schema", action.question.answer_schema)
    else:
        calls = action.tool_calls.calls
        names = {tool.name: tool for tool in client_tools}
        if not 1 <= len(calls) <= MAX_ACTION_TOOL_CALLS:
            found.add(f"{path}.tool_calls.calls", f"must have 1 to {MAX_ACTION_TOOL_CALLS} calls")
        seen: set[str] = set()
        for index, call in enumerate(calls):
            where = f"{path}.tool_calls.calls[{index}]"
            before = len(found.items)
            validation.tool_call(found, where, call)
            if len(found.items) > before:
                continue
            if call.id in seen:
                found.add(f"{where}.id", f"names call {call.id!r} twice")
            seen.add(call.id)
            tool = names.get(call.name)
            if tool is None:
                found.add(
                    f"{where}.name",
                    f"{call.name!r} is not a client tool of the run "
                    f"(it has: {', '.join(names) or 'none'})",
                )
            elif tool.HasField("parameters"):
                schema = jsonvalue.struct_to_python(tool.parameters)
                arguments = jsonvalue.struct_to_python(call.arguments)
                for error in jsonschema.Draft202012Validator(schema).iter_errors(arguments):
                    found.add(
                        f"{where}.arguments",
                        f"do not match the parameters of {call.name!r}: {error.message[:300]}",
                    )


def new_request(
    *,
    tool_calls: Sequence[tuple[str, Mapping[str, JsonValue]]] = (),
    question: str = "",
    answer_schema: Mapping[str, JsonValue] | None = None,
) -> run_pb2.RequiredAction:
    """Return the RequiredAction an in-process agent asks for, with fresh ids."""
    action = run_pb2.RequiredAction(action_id=ids.new_action_id())
    if tool_calls:
        for name, arguments in tool_calls:
            call = action.tool_calls.calls.add(id=ids.new_tool_call_id(), name=name)
            call.arguments.update(dict(arguments))
    else:
        action.question.text = question
        if answer_schema is not None:
            action.question.answer_schema.update(dict(answer_schema))
    return action


def not_waiting(run: run_pb2.Run) -> FailedPreconditionError:
    """Return the error for resuming a run that is not in REQUIRES_ACTION."""
    status = run_pb2.RunStatus.Name(run.status)
    return FailedPreconditionError(
        "RUN_NOT_WAITING",
        f"run {run.run_id!r} is {status}, not RUN_STATUS_REQUIRES_ACTION: there is nothing "
        "to resume",
        metadata={"run_id": run.run_id, "status": status, "field": "run_id"},
    )


def _answer_path(error: jsonschema.ValidationError) -> str:
    """Return the request path of the part of an answer a schema error is about."""
    path = "answer"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [
            name
            for name in error.validator_value  # the schema's list of required names
            if isinstance(name, str) and name not in error.instance
        ]
        if missing:
            path += f".{missing[0]}"
    return path


def check_response(
    found: Violations, action: run_pb2.RequiredAction, request: run_pb2.ResumeRunRequest
) -> run_pb2.ActionResponse:
    """Check a ResumeRun against what the run waits for; return the response to keep."""
    response = run_pb2.ActionResponse(action_id=action.action_id)
    if action.WhichOneof("kind") == "tool_calls":
        if request.HasField("answer"):
            found.add("answer", "must be unset: the run waits for tool_outputs, not an answer")
        _check_outputs(found, action.tool_calls.calls, request.tool_outputs)
        response.tool_outputs.extend(request.tool_outputs)
        return response
    if request.tool_outputs:
        found.add("tool_outputs", "must be empty: the run waits for the answer to a question")
    if not request.HasField("answer"):
        found.add("answer", f"is required: the run asks {action.question.text[:200]!r}")
        return response
    problem = jsonvalue.problem(request.answer)
    if problem:
        found.add("answer", f"is not valid JSON: {problem}")
        return response
    if validation.json_size(request.answer) > MAX_ANSWER_BYTES:
        found.add("answer", f"must be at most {MAX_ANSWER_BYTES} bytes as JSON")
        return response
    if action.question.HasField("answer_schema"):
        schema = jsonvalue.struct_to_python(action.question.answer_schema)
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(
            validator.iter_errors(jsonvalue.value_to_python(request.answer)),
            key=lambda e: list(map(str, e.absolute_path)),
        ):
            found.add(_answer_path(error), error.message[:500])
    response.answer.CopyFrom(request.answer)
    return response


def _check_outputs(
    found: Violations,
    calls: Sequence[message_pb2.ToolCall],
    outputs: Sequence[message_pb2.ToolResult],
) -> None:
    """Check there is one valid output for each call, and nothing else."""
    wanted = {call.id for call in calls}
    given: set[str] = set()
    for index, result in enumerate(outputs):
        where = f"tool_outputs[{index}]"
        before = len(found.items)
        validation.tool_result(found, where, result)
        if len(found.items) > before:
            continue
        if result.tool_call_id not in wanted:
            found.add(
                f"{where}.tool_call_id",
                f"{result.tool_call_id!r} is not a call the run waits for "
                f"(it waits for: {', '.join(sorted(wanted))})",
            )
        elif result.tool_call_id in given:
            found.add(f"{where}.tool_call_id", f"answers call {result.tool_call_id!r} twice")
        given.add(result.tool_call_id)
    missing = [call.id for call in calls if call.id not in given]
    if missing:
        found.add("tool_outputs", f"has no output for tool calls: {', '.join(missing)}")
