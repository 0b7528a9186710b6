"""The OpenAPI 3.1 document: valid, the routes the server serves, and what the server sends.

generated/openapi/threadline.openapi.json is made by scripts/generate.sh
(threadline_server.http.openapi), and `make check-generated` keeps it equal to
what the protos give. Here it is validated with openapi-spec-validator,
compared with the router (every operation is a binding; its path, filled in
with the simple parameter names, routes to that binding), and held against a
real server: a scenario over HTTP that touches every operation, with threads,
messages and runs in every shape the API has (unset fields, every kind of
part, tool calls, streams, workers, errors), validates each answer against the
document's schema for it. A field sent as null where the document says it
cannot be, a field left out that the document requires, or a stream line of
another shape fails the test. Generated clients are run in
tests/test_openapi_clients.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from threadline_server.config import Settings
from threadline_server.http.routes import Router, bindings_for
from threadline_server.transport.server import SERVICE_NAMES, ThreadlineServer

from tests.conftest import ROOT
from tests.webhook_receiver import Receiver

DOCUMENT_PATH = ROOT / "generated" / "openapi" / "threadline.openapi.json"
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
NDJSON = "application/x-ndjson"


@pytest.mark.unit
def test_the_document_is_valid_openapi_3_1():
    validate(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"
    info = DOCUMENT["info"]
    assert (info["title"], info["version"]) == (
        "Threadline API",
        (ROOT / "VERSION").read_text(encoding="utf-8").strip(),
    )
    tags = {tag["name"]: tag["description"] for tag in DOCUMENT["tags"]}
    assert set(tags) == {name.rpartition(".")[2] for name in SERVICE_NAMES}
    assert tags["ThreadService"].startswith("ThreadService keeps conversation threads.")


@pytest.mark.unit
def test_every_route_is_an_operation_that_routes_back_to_it():
    router = Router(bindings_for(SERVICE_NAMES))
    operations = {
        (method.upper(), path): operation
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    }
    assert len(operations) == len(router.bindings) == 36
    for binding in router.bindings:
        service, method = binding.rpc.strip("/").split("/")
        matching = [
            (http_method, path)
            for (http_method, path), operation in operations.items()
            if operation["operationId"] == f"{service.rpartition('.')[2]}_{method}"
        ]
        assert len(matching) == 1, binding.rpc
        http_method, path = matching[0]
        assert http_method == binding.http_method
        operation = operations[matching[0]]
        assert operation["tags"] == [service.rpartition(".")[2]]
        assert operation.get("description", operation.get("summary")), binding.rpc
        # Path parameters have simple names, and the path, filled in, is this binding's.
        in_path = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert all("." not in name for name in in_path)
        values = {name: f"{name}-value" for name in in_path}
        concrete = path.format(**values)
        assert router.route(http_method, concrete).binding == binding
        captured = router.route(http_method, concrete).params
        assert sorted(captured.values()) == sorted(values.values())


@pytest.mark.unit
def test_patch_paths_use_simple_names():
    assert "patch" in DOCUMENT["paths"]["/v1/threads/{thread_id}"]
    assert "patch" in DOCUMENT["paths"]["/v1/threads/{thread_id}/messages/{message_id}"]
    update = DOCUMENT["paths"]["/v1/threads/{thread_id}"]["patch"]
    body = update["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ThreadInput"}
    assert [p["name"] for p in update["parameters"]] == ["thread_id", "updateMask"]


@pytest.mark.unit
def test_schemas_follow_the_json_mapping():
    schemas = DOCUMENT["components"]["schemas"]
    thread = schemas["Thread"]["properties"]
    # Sent by the server: every field, unset messages as null, int64 as strings.
    assert set(schemas["Thread"]["required"]) == set(thread)
    assert thread["messageCount"]["type"] == "string"
    assert thread["createdAt"] == {
        **thread["createdAt"],
        "type": ["string", "null"],
        "format": "date-time",
    }
    assert thread["locale"]["anyOf"] == [
        {"$ref": "#/components/schemas/Locale"},
        {"type": "null"},
    ]
    assert thread["title"]["type"] == "string"
    assert thread["participants"]["type"] == "array"
    assert thread["status"]["$ref"] == "#/components/schemas/ThreadStatus"
    assert schemas["ThreadStatus"]["enum"][1] == "THREAD_STATUS_IDLE"
    # A oneof's members are left out when unset, never null.
    part = schemas["Part"]
    assert "required" not in part
    assert part["properties"]["toolCall"]["$ref"] == "#/components/schemas/ToolCall"
    # What a client sends: nothing required, output-only fields left out.
    thread_input = schemas["ThreadInput"]
    assert "required" not in thread_input
    assert {"status", "createdAt", "messageCount", "messages"}.isdisjoint(
        thread_input["properties"]
    )
    assert {"threadId", "title", "metadata", "locale", "ttl"} <= set(thread_input["properties"])


# -- what the server sends ------------------------------------------------------------------


@dataclass
class Checked:
    """A live server, and the answers checked against the document so far."""

    base: str
    session: aiohttp.ClientSession
    operations: set[str] = field(default_factory=set)
    nulls: set[str] = field(default_factory=set)

    async def call(
        self,
        method: str,
        template: str,
        body: Any = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        query: str = "",
        **path: str,
    ) -> Any:
        """Send one request to the operation at template; check its answer against the document."""
        operation = DOCUMENT["paths"][template][method.lower()]
        url = self.base + template.format(**path) + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.request(method, url, data=data, headers=headers) as response:
            raw = await response.read()
            content_type = response.content_type
        assert response.status == status, f"{method} {url}: {response.status} {raw[:500]!r}"
        key = "200" if status == 200 else "default"
        content = operation["responses"][key]["content"]
        assert content_type in content, f"{method} {template}: {content_type} is not documented"
        schema = content[content_type]["schema"]
        if content_type == NDJSON:
            lines = [json.loads(line) for line in raw.decode().splitlines()]
            for line in lines:
                self.check(schema, line, f"{method} {template} line")
            self.operations.add(operation["operationId"])
            return lines
        document = json.loads(raw)
        self.check(schema, document, f"{method} {template}")
        self.operations.add(operation["operationId"])
        return document

    def check(self, schema: dict[str, Any], value: Any, where: str) -> None:
        """Validate a value against a schema of the document, and note which fields were null."""
        validator = Draft202012Validator({**schema, "components": DOCUMENT["components"]})
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        assert not errors, f"{where}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5]
        )
        self._note_nulls(value, "")

    def _note_nulls(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    self.nulls.add(f"{path}.{key}")
                self._note_nulls(item, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                self._note_nulls(item, path)


@pytest.fixture
async def checked(tmp_path: Path) -> AsyncIterator[Checked]:
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            worker_agents=("remote",),
            webhook_allow=("127.0.0.1",),
            webhook_first_retry=0.2,
        )
    )
    await server.start()
    session = aiohttp.ClientSession()
    try:
        yield Checked(f"http://127.0.0.1:{server.http_port}", session)
    finally:
        await session.close()
        await server.stop(grace=1.0)


def user_text(text: str) -> dict[str, Any]:
    return {"role": "MESSAGE_ROLE_USER", "parts": [{"text": text}]}


@pytest.mark.api
async def test_every_answer_fits_the_document(checked):
    c = checked
    # Threads: bare (every message field unset) and full.
    bare = await c.call("POST", "/v1/threads", {})
    assert (bare["locale"], bare["ttl"], bare["expireTime"]) == (None, None, None)
    full = await c.call(
        "POST",
        "/v1/threads",
        {
            "threadId": "full-1",
            "thread": {
                "title": "Everything",
                "metadata": {"a": {"b": [1, None, "c"]}},
                "agentId": "echo",
                "userId": "u1",
                "externalRef": "ref-1",
                "locale": {"language": "en", "country": "GB", "timeZone": "Europe/London"},
                "participants": [{"id": "p1", "type": "PARTICIPANT_TYPE_USER", "name": "Ann"}],
                "ttl": "3600s",
            },
        },
    )
    assert full["expireTime"] is not None
    thread_id = full["threadId"]
    await c.call("GET", "/v1/threads/{thread_id}", thread_id=bare["threadId"])
    await c.call("GET", "/v1/threads", query="pageSize=1&filter.agentId=echo")
    await c.call("GET", "/v1/threads:count", query="filter.statuses=THREAD_STATUS_IDLE")
    await c.call("PATCH", "/v1/threads/{thread_id}", {"title": "Renamed"}, thread_id=thread_id)
    await c.call(
        "PATCH",
        "/v1/threads/{thread_id}",
        {"locale": None},
        query="updateMask=locale",
        thread_id=thread_id,
    )
    # Messages with every kind of part.
    parts = [
        {"text": "plain"},
        {"toolCall": {"id": "call-1", "name": "search", "arguments": {"q": "x"}}},
        {"toolCall": {"id": "call-2", "name": "now"}},
        {"toolResult": {"toolCallId": "call-1", "json": None}},
        {"toolResult": {"toolCallId": "call-2", "text": "noon", "isError": True}},
        {"media": {"uri": "https://example.com/a.png", "mimeType": "image/png", "sizeBytes": "9"}},
    ]
    message = await c.call(
        "POST",
        "/v1/threads/{thread_id}/messages",
        {"role": "MESSAGE_ROLE_AGENT", "parts": parts},
        thread_id=thread_id,
    )
    assert message["parts"][2]["toolCall"]["arguments"] is None
    assert message["parts"][3]["toolResult"] == {
        "toolCallId": "call-1",
        "json": None,
        "isError": False,
    }
    ids = {"thread_id": thread_id, "message_id": message["messageId"]}
    await c.call("GET", "/v1/threads/{thread_id}/messages/{message_id}", **ids)
    await c.call("GET", "/v1/threads/{thread_id}/messages", query="pageSize=5", **ids)
    await c.call(
        "PATCH",
        "/v1/threads/{thread_id}/messages/{message_id}",
        {"metadata": {"label": "x"}},
        **ids,
    )
    await c.call(
        "GET", "/v1/threads/{thread_id}", query="view=THREAD_VIEW_FULL", thread_id=thread_id
    )
    copy = await c.call("POST", "/v1/threads/{thread_id}:copy", {}, thread_id=thread_id)
    # State and checkpoints, a fork, the default thread, clearing.
    empty = await c.call("GET", "/v1/threads/{thread_id}/state", thread_id=thread_id)
    assert (empty["values"], empty["updatedAt"]) == ({}, None)
    state = await c.call(
        "PATCH",
        "/v1/threads/{thread_id}/state",
        {"values": {"a": [1, {"b": None}]}},
        thread_id=thread_id,
    )
    await c.call("GET", "/v1/threads/{thread_id}/checkpoints", thread_id=thread_id)
    await c.call(
        "POST",
        "/v1/threads/{thread_id}:copy",
        {"checkpointId": state["checkpointId"]},
        thread_id=thread_id,
    )
    default = await c.call("POST", "/v1/threads:getDefault", {"agentId": "echo"})
    await c.call("POST", "/v1/threads/{thread_id}:clear", {}, thread_id=default["threadId"])
    await c.call("GET", "/v1/threads", query="pageSize=1&includeTotalSize=true&filter.agentId=echo")
    # Runs: an echo run, a run with tool calls, a chat, and a cancelled run.
    chat = await c.call("POST", "/v1/chat", {"message": "what is 2+3", "agentId": "tools-demo"})
    assert chat["error"] is None
    run = await c.call(
        "POST",
        "/v1/threads/{thread_id}/runs",
        {"agentId": "echo", "inputMessages": [user_text("a b")], "multitaskStrategy": 2},
        thread_id=copy["threadId"],
    )
    assert (run["startedAt"], run["endedAt"], run["error"]) == (None, None, None)
    run_id = run["runId"]
    await c.call("POST", "/v1/runs/{run_id}:wait", {"timeout": "10s"}, run_id=run_id)
    await c.call("GET", "/v1/runs/{run_id}", run_id=chat["runId"])
    await c.call("GET", "/v1/threads/{thread_id}/runs", thread_id=copy["threadId"])
    await c.call("POST", "/v1/runs/{run_id}:cancel", {}, run_id=run_id)
    slow = await c.call(
        "POST",
        "/v1/threads/{thread_id}/runs",
        {"agentId": "echo", "inputMessages": [user_text("x y z")], "context": {"delay_ms": 500}},
        thread_id=bare["threadId"],
    )
    cancelled = await c.call("POST", "/v1/runs/{run_id}:cancel", {}, run_id=slow["runId"])
    waited = await c.call("POST", "/v1/runs/{run_id}:wait", {}, run_id=cancelled["runId"])
    assert waited["error"]["code"] == "CANCELLED_BY_CLIENT"
    # Human in the loop: a run that asks a question, paused, then answered.
    asked = await c.call(
        "POST",
        "/v1/threads/{thread_id}/runs",
        {
            "agentId": "tools-demo",
            "inputMessages": [user_text("hi")],
            "context": {"approval": True},
        },
        thread_id=bare["threadId"],
    )
    paused = await c.call("POST", "/v1/runs/{run_id}:wait", {}, run_id=asked["runId"])
    assert paused["status"] == "RUN_STATUS_REQUIRES_ACTION"
    await c.call(
        "POST", "/v1/runs/{run_id}:resume", {"answer": {"approved": True}}, run_id=asked["runId"]
    )
    await c.call("POST", "/v1/runs/{run_id}:wait", {}, run_id=asked["runId"])
    # Streams, as NDJSON lines (every kind of RunEvent payload) and as SSE data.
    ndjson = {"Accept": NDJSON}
    lines = await c.call("GET", "/v1/runs/{run_id}/events", headers=ndjson, run_id=chat["runId"])
    kinds = {kind for line in lines for kind in ("run", "message", "delta", "toolCall")}
    assert kinds <= {kind for line in lines for kind in line["result"]}
    batches = await c.call(
        "GET", "/v1/runs/{run_id}/events:batches", headers=ndjson, run_id=chat["runId"]
    )
    assert [e for line in batches for e in line["result"]["events"]] == [
        line["result"] for line in lines
    ]
    await c.call(
        "POST",
        "/v1/threads/{thread_id}/runs:stream",
        {"agentId": "echo", "inputMessages": [user_text("streamed")]},
        headers=ndjson,
        thread_id=copy["threadId"],
    )
    watched = await c.call(
        "GET",
        "/v1/threads/{thread_id}/events",
        headers={**ndjson, "Grpc-Timeout": "1S"},
        thread_id=thread_id,
    )
    assert watched[-1]["error"]["code"] == 4  # the deadline ended the watch
    async with c.session.get(
        f"{c.base}/v1/runs/{run_id}/events", headers={"Accept": "text/event-stream"}
    ) as response:
        text = (await response.read()).decode()
    run_event = {"$ref": "#/components/schemas/RunEvent"}
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert data
    for item in data:
        c.check(run_event, json.loads(item), "an SSE event's data")
    # A worker: nothing to claim (the run is null), then a run to claim and report on.
    nothing = await c.call(
        "POST", "/v1/agents/{agent_id}/runs:claim", {"wait": "0.1s"}, agent_id="remote"
    )
    assert nothing["run"] is None
    await c.call(
        "POST",
        "/v1/threads/{thread_id}/runs",
        {"agentId": "remote", "inputMessages": [user_text("work")]},
        thread_id=bare["threadId"],
    )
    claimed = await c.call(
        "POST", "/v1/agents/{agent_id}/runs:claim", {"workerId": "w"}, agent_id="remote"
    )
    lease = {"leaseId": claimed["leaseId"]}
    worker_run = claimed["run"]["runId"]
    await c.call("POST", "/v1/runs/{run_id}:renewLease", lease, run_id=worker_run)
    events = [{"textDelta": "done"}, {"finish": {"status": "RUN_STATUS_COMPLETED"}}]
    await c.call("POST", "/v1/runs/{run_id}:report", {**lease, "events": events}, run_id=worker_run)
    # Webhooks: made, read, listed; deliveries of a run (a subscription and the
    # run's own webhook_url), with their attempts; deleted.
    receiver = await Receiver().start()
    try:
        hook = await c.call(
            "POST", "/v1/webhooks", {"url": receiver.url, "eventTypes": ["run.completed"]}
        )
        assert hook["secret"].startswith("whsec_")
        await c.call("GET", "/v1/webhooks/{webhook_id}", webhook_id=hook["webhookId"])
        await c.call("GET", "/v1/webhooks", query="pageSize=1")
        hooked = await c.call(
            "POST",
            "/v1/threads/{thread_id}/runs",
            {
                "agentId": "echo",
                "multitaskStrategy": "MULTITASK_STRATEGY_ENQUEUE",
                "inputMessages": [user_text("call me back")],
                "webhookUrl": receiver.url,
                "webhookSecret": hook["secret"],
            },
            thread_id=bare["threadId"],
        )
        await receiver.wait_for(2)
        for _ in range(100):
            deliveries = await c.call(
                "GET", "/v1/webhookDeliveries", query=f"runId={hooked['runId']}"
            )
            if {d["status"] for d in deliveries["deliveries"]} == {
                "WEBHOOK_DELIVERY_STATUS_SUCCEEDED"
            }:
                break
            await asyncio.sleep(0.05)
        assert len(deliveries["deliveries"]) == 2
        assert (
            await c.call("DELETE", "/v1/webhooks/{webhook_id}", webhook_id=hook["webhookId"]) == {}
        )
    finally:
        await receiver.stop()
    # Errors, before any stream and from the server, are Status.
    await c.call("GET", "/v1/threads/{thread_id}", status=404, thread_id="missing")
    await c.call("GET", "/v1/threads", status=400, query="pageSize=1000")
    await c.call("GET", "/v1/runs/{run_id}/events", status=404, headers=ndjson, run_id="none")
    # Deleting answers {}.
    await c.call("DELETE", "/v1/threads/{thread_id}/messages/{message_id}", **ids)
    assert await c.call("DELETE", "/v1/threads/{thread_id}", thread_id=thread_id) == {}

    every = {op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()}
    assert c.operations == every, f"not checked: {sorted(every - c.operations)}"
    # The nulls seen are unset message fields, of the kinds the document allows.
    assert {".locale", ".ttl", ".expireTime", ".run", ".error", ".startedAt"} <= c.nulls
