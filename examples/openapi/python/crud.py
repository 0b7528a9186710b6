r"""Threadline over HTTP/JSON from Python, with a client made from the served OpenAPI 3.1 document.

openapi-python-client turns /openapi.json into the package threadline_api_client
(attrs models and httpx calls). Against a running server this creates, reads,
renames and lists a thread; creates, reads, lists, labels and deletes its
messages; then deletes the thread. Any failure ends it with exit code 1
(docs/openapi.md):

    openapi-python-client generate --url http://localhost:8080/openapi.json \\
        --meta none --output-path threadline_api_client
    python crud.py http://localhost:8080
"""

from __future__ import annotations

import os
import sys
import time
from typing import TypeVar

import httpx
from threadline_api_client import Client
from threadline_api_client.api.message_service import (
    message_service_create_message,
    message_service_delete_message,
    message_service_get_message,
    message_service_list_messages,
    message_service_update_message,
)
from threadline_api_client.api.thread_service import (
    thread_service_create_thread,
    thread_service_delete_thread,
    thread_service_get_thread,
    thread_service_list_threads,
    thread_service_update_thread,
)
from threadline_api_client.models import (
    CreateThreadRequest,
    MessageInput,
    MessageInputMetadata,
    MessageRole,
    PartInput,
    Status,
    ThreadInput,
    ThreadInputMetadata,
)
from threadline_api_client.types import Response

T = TypeVar("T")


class CheckError(Exception):
    """A step that did not do what it should."""


def check(ok: bool, what: str) -> None:
    """Fail the run with a message unless ok."""
    if not ok:
        raise CheckError(what)


def ok(response: Response[T | Status], what: str) -> T:
    """Return the parsed body of a 200; raise a CheckError for the Status of any other."""
    parsed = response.parsed
    if response.status_code != 200 or parsed is None or isinstance(parsed, Status):
        raise CheckError(f"{what}: HTTP {response.status_code} {response.content!r}")
    return parsed


def main(base_url: str) -> None:
    """Run every step against the server at base_url."""
    client = Client(base_url=base_url, raise_on_unexpected_status=True, timeout=httpx.Timeout(10.0))
    external_ref = f"openapi-python-{os.getpid()}-{time.time_ns()}"
    body = CreateThreadRequest(
        thread=ThreadInput(
            title="OpenAPI Python example",
            external_ref=external_ref,
            metadata=ThreadInputMetadata.from_dict({"language": "python"}),
        )
    )
    thread = ok(thread_service_create_thread.sync_detailed(client=client, body=body), "create")
    # Unset message fields come back as None, and the types say so.
    check(thread.locale is None and thread.ttl is None, "an unset locale or ttl is not None")
    print(f"thread {thread.thread_id} created: {thread.title!r}")

    read = ok(thread_service_get_thread.sync_detailed(thread.thread_id, client=client), "get")
    check(read.etag == thread.etag, "the thread read back is not the one created")

    # PATCH: the body's keys are the fields to change (the update mask).
    renamed = ok(
        thread_service_update_thread.sync_detailed(
            thread.thread_id, client=client, body=ThreadInput(title="Renamed")
        ),
        "update thread",
    )
    check(renamed.title == "Renamed" and renamed.etag != thread.etag, "the thread was not renamed")
    print(f"thread {renamed.thread_id} renamed: {renamed.title!r}")

    listed = ok(
        thread_service_list_threads.sync_detailed(
            client=client, filter_external_ref=external_ref, page_size=10
        ),
        "list threads",
    )
    check([t.thread_id for t in listed.threads] == [thread.thread_id], "the list is not the thread")
    print(f"listed {len(listed.threads)} thread by its externalRef")

    written = []
    for text in ("Hello over HTTP.", "Is anyone there?"):
        message = ok(
            message_service_create_message.sync_detailed(
                thread.thread_id,
                client=client,
                body=MessageInput(role=MessageRole.MESSAGE_ROLE_USER, parts=[PartInput(text=text)]),
            ),
            "create message",
        )
        print(f"message {message.message_id} created")
        written.append(message.message_id)
    first, second = written

    message = ok(
        message_service_get_message.sync_detailed(thread.thread_id, first, client=client),
        "get message",
    )
    check(message.parts[0].text == "Hello over HTTP.", "the message read back has other text")

    page = ok(
        message_service_list_messages.sync_detailed(thread.thread_id, client=client, page_size=10),
        "list messages",
    )
    check([m.message_id for m in page.messages] == written, "the messages are not listed in order")
    print(f"listed {len(page.messages)} messages")

    labelled = ok(
        message_service_update_message.sync_detailed(
            thread.thread_id,
            first,
            client=client,
            body=MessageInput(metadata=MessageInputMetadata.from_dict({"label": "greeting"})),
        ),
        "update message",
    )
    metadata = labelled.metadata.to_dict() if labelled.metadata else None
    check(metadata == {"label": "greeting"}, "the message's metadata was not changed")
    print(f"message {labelled.message_id} labelled {metadata}")

    ok(
        message_service_delete_message.sync_detailed(thread.thread_id, second, client=client),
        "delete message",
    )
    left = ok(
        message_service_list_messages.sync_detailed(thread.thread_id, client=client),
        "list messages",
    )
    check([m.message_id for m in left.messages] == [first], "the deleted message is still listed")
    print(f"message {second} deleted, {len(left.messages)} left")

    ok(thread_service_delete_thread.sync_detailed(thread.thread_id, client=client), "delete")
    gone = thread_service_get_thread.sync_detailed(thread.thread_id, client=client).parsed
    if not isinstance(gone, Status) or gone.code != 5:
        raise CheckError("the deleted thread can still be read")
    print(f"thread {thread.thread_id} deleted: {gone.message}")
    print(f"OK: the openapi-python-client client passed every step against {base_url}")


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080")
    except Exception as error:  # noqa: BLE001 - any failure is reported the same way
        print(f"FAIL: {error}", file=sys.stderr)
        sys.exit(1)
