"""Keyset paging: stable walks while others write, and the rules of page tokens.

The walks run against the in-process server with writers racing the reader:
background tasks create and delete threads (or messages) for the whole walk,
and between pages the walker itself makes one more round of changes, so that
every page boundary is crossed by writes. Whatever exists for the whole walk
must be seen exactly once; nothing at all may be seen twice.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

import grpc
import pytest
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

from tests.conftest import Client, expect_failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

T = TypeVar("T")

WALK_PAGE_SIZE = 7
# A walk that takes more pages than this is not converging (or repeats itself).
MAX_WALK_PAGES = 200
# Each background churn task stops after this many changes, so an ascending
# walk, whose end keeps moving while new rows arrive, is sure to finish.
MAX_BACKGROUND_CHANGES = 60
RPC_TIMEOUT = 10.0


async def gather_limited(calls: Iterable[Awaitable[T]], limit: int = 16) -> list[T]:
    """Await calls with at most limit in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


def threads_of(client: Client) -> thread_pb2_grpc.ThreadServiceAsyncStub:
    """The client's ThreadService stub, typed as the grpc.aio stub it is."""
    return cast("thread_pb2_grpc.ThreadServiceAsyncStub", client.threads)


def messages_of(client: Client) -> message_pb2_grpc.MessageServiceAsyncStub:
    """The client's MessageService stub, typed as the grpc.aio stub it is."""
    return cast("message_pb2_grpc.MessageServiceAsyncStub", client.messages)


def spread(items: list[T], count: int) -> list[T]:
    """Pick count items from all over the list, in a scattered order."""
    step = next(s for s in range(len(items) // 4 + 1, len(items)) if math.gcd(s, len(items)) == 1)
    return [items[(i * step) % len(items)] for i in range(count)]


async def create_thread(client: Client, **fields: Any) -> thread_pb2.Thread:
    """Create a thread with the given fields."""
    return await threads_of(client).CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(**fields)), timeout=RPC_TIMEOUT
    )


async def create_message(client: Client, thread_id: str, text: str) -> message_pb2.Message:
    """Append a one-part text message."""
    return await messages_of(client).CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread_id,
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
            ),
        ),
        timeout=RPC_TIMEOUT,
    )


async def ignore_not_found(call: Awaitable[Any]) -> None:
    """Await a delete; the row may already be gone (another churn task got there)."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise


class Churn:
    """Creates and deletes rows beside a walk, and remembers what it did.

    ``create`` makes a new row and returns its id; ``delete`` removes a row by
    id. Rows in ``doomed`` existed before the walk and are deleted during it,
    in the order given; deletes alternate between them and rows the churn
    made itself.
    """

    def __init__(
        self,
        create: Callable[[str], Awaitable[str]],
        delete: Callable[[str], Awaitable[None]],
        doomed: list[str],
    ) -> None:
        self._create = create
        self._delete = delete
        self._doomed = list(doomed)
        self._turn = 0
        self._live: list[str] = []
        self.created: list[str] = []
        self.deleted: list[str] = []
        self._stop = asyncio.Event()

    async def create_one(self) -> None:
        """Create one new row."""
        row_id = await self._create(f"churn {len(self.created)}")
        self.created.append(row_id)
        self._live.append(row_id)

    async def delete_one(self) -> None:
        """Delete a doomed original or a row made by the churn, whichever comes up."""
        self._turn += 1
        if self._doomed and (not self._live or self._turn % 2):
            victim = self._doomed.pop(0)
        elif self._live:
            victim = self._live.pop(len(self._live) // 2)
        else:
            return
        self.deleted.append(victim)
        await self._delete(victim)

    async def step(self) -> None:
        """One round of changes between two pages: two creates and two deletes."""
        await asyncio.gather(
            self.create_one(), self.create_one(), self.delete_one(), self.delete_one()
        )

    async def _creator(self) -> None:
        for _ in range(MAX_BACKGROUND_CHANGES):
            if self._stop.is_set():
                return
            await self.create_one()
            await asyncio.sleep(0)

    async def _deleter(self) -> None:
        for _ in range(MAX_BACKGROUND_CHANGES):
            if self._stop.is_set():
                return
            await self.delete_one()
            await asyncio.sleep(0)

    async def run_beside(self, walk: Awaitable[T]) -> T:
        """Run walk while background tasks create and delete; return its result."""
        background = [
            asyncio.create_task(self._creator()),
            asyncio.create_task(self._creator()),
            asyncio.create_task(self._deleter()),
        ]
        try:
            return await walk
        finally:
            self._stop.set()
            # Wait for them (bounded: every RPC has a deadline) so that an
            # error in a churn task fails the test instead of vanishing.
            await asyncio.wait_for(asyncio.gather(*background), timeout=30)


def assert_walk_is_stable(
    seen: list[str], originals: list[str], churn: Churn, *, what: str
) -> None:
    """Every original that survived the walk is seen once; nothing is seen twice."""
    repeated = sorted(row_id for row_id, n in Counter(seen).items() if n > 1)
    assert not repeated, f"{what} seen more than once: {repeated}"
    survivors = set(originals) - set(churn.deleted)
    skipped = sorted(survivors - set(seen))
    assert not skipped, f"{what} that existed for the whole walk were skipped: {skipped}"
    unknown = set(seen) - set(originals) - set(churn.created)
    assert not unknown, f"the walk returned {what} nobody made: {sorted(unknown)}"
    # The churn really did run beside the walk.
    assert churn.created
    assert set(churn.deleted) & set(originals)


# -- threads ---------------------------------------------------------------


async def walk_threads(
    client: Client,
    *,
    order_by: str,
    page_size: int,
    between_pages: Callable[[], Awaitable[None]] | None = None,
    thread_filter: thread_pb2.ThreadFilter | None = None,
) -> list[thread_pb2.ListThreadsResponse]:
    """Read every page of ListThreads; return the responses."""
    pages: list[thread_pb2.ListThreadsResponse] = []
    token = ""
    while True:
        request = thread_pb2.ListThreadsRequest(
            page_size=page_size, page_token=token, order_by=order_by
        )
        if thread_filter is not None:
            request.filter.CopyFrom(thread_filter)
        page = await threads_of(client).ListThreads(request, timeout=RPC_TIMEOUT)
        pages.append(page)
        assert len(page.threads) <= (page_size or 20)
        token = page.next_page_token
        if not token:
            return pages
        assert len(pages) < MAX_WALK_PAGES, "the walk does not end"
        if between_pages is not None:
            await between_pages()


@pytest.mark.parametrize("order_by", ["", "created_at desc", "created_at"])
async def test_thread_walk_is_stable_under_concurrent_writes(client, order_by):
    originals = [
        t.thread_id
        for t in await gather_limited(
            create_thread(client, title=f"original {i}") for i in range(150)
        )
    ]
    doomed = spread(originals, 30)

    async def create(title: str) -> str:
        return (await create_thread(client, title=title)).thread_id

    async def delete(thread_id: str) -> None:
        await ignore_not_found(
            client.threads.DeleteThread(
                thread_pb2.DeleteThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
            )
        )

    churn = Churn(create, delete, doomed)
    pages = await churn.run_beside(
        walk_threads(client, order_by=order_by, page_size=WALK_PAGE_SIZE, between_pages=churn.step)
    )
    threads = [t for page in pages for t in page.threads]
    assert_walk_is_stable([t.thread_id for t in threads], originals, churn, what="threads")
    # Pages come in the order asked for: newest first unless `created_at`.
    times = [t.created_at.ToMicroseconds() for t in threads]
    expected = sorted(times) if order_by == "created_at" else sorted(times, reverse=True)
    assert times == expected
    assert all(len(page.threads) == WALK_PAGE_SIZE for page in pages[:-1])


# -- messages --------------------------------------------------------------


async def walk_messages(
    client: Client,
    thread_id: str,
    *,
    order_by: str,
    page_size: int,
    between_pages: Callable[[], Awaitable[None]] | None = None,
) -> list[message_pb2.ListMessagesResponse]:
    """Read every page of ListMessages; return the responses."""
    pages: list[message_pb2.ListMessagesResponse] = []
    token = ""
    while True:
        page = await messages_of(client).ListMessages(
            message_pb2.ListMessagesRequest(
                thread_id=thread_id, page_size=page_size, page_token=token, order_by=order_by
            ),
            timeout=RPC_TIMEOUT,
        )
        pages.append(page)
        assert len(page.messages) <= (page_size or 20)
        token = page.next_page_token
        if not token:
            return pages
        assert len(pages) < MAX_WALK_PAGES, "the walk does not end"
        if between_pages is not None:
            await between_pages()


@pytest.mark.parametrize("order_by", ["", "created_at", "created_at desc"])
async def test_message_walk_is_stable_under_concurrent_writes(client, order_by):
    thread_id = (await create_thread(client, title="busy")).thread_id
    # Appended one by one so that their order is the order of the list.
    originals = [
        (await create_message(client, thread_id, f"original {i}")).message_id for i in range(120)
    ]
    doomed = spread(originals, 25)

    async def create(text: str) -> str:
        return (await create_message(client, thread_id, text)).message_id

    async def delete(message_id: str) -> None:
        await ignore_not_found(
            client.messages.DeleteMessage(
                message_pb2.DeleteMessageRequest(thread_id=thread_id, message_id=message_id),
                timeout=RPC_TIMEOUT,
            )
        )

    churn = Churn(create, delete, doomed)
    pages = await churn.run_beside(
        walk_messages(
            client,
            thread_id,
            order_by=order_by,
            page_size=WALK_PAGE_SIZE,
            between_pages=churn.step,
        )
    )
    messages = [m for page in pages for m in page.messages]
    assert {m.thread_id for m in messages} == {thread_id}
    seen = [m.message_id for m in messages]
    assert_walk_is_stable(seen, originals, churn, what="messages")
    # The originals that were seen keep the order they were appended in.
    rank = {message_id: i for i, message_id in enumerate(originals)}
    seen_originals = [rank[m] for m in seen if m in rank]
    descending = order_by == "created_at desc"
    assert seen_originals == sorted(seen_originals, reverse=descending)
    times = [m.created_at.ToMicroseconds() for m in messages]
    assert times == sorted(times, reverse=descending)
    assert all(len(page.messages) == WALK_PAGE_SIZE for page in pages[:-1])


# -- tokens ------------------------------------------------------------------


def assert_bad_page_token(failure: Any) -> None:
    """The call was refused as INVALID_ARGUMENT naming page_token alone."""
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.reason == "VALIDATION_ERROR"
    assert failure.fields == ["page_token"]


async def test_thread_token_only_works_with_its_own_filter_and_order(client):
    for i in range(5):
        await create_thread(client, agent_id="agent-a", title=f"a{i}")
        await create_thread(client, agent_id="agent-b", title=f"b{i}")
    only_a = thread_pb2.ThreadFilter(agent_id="agent-a")
    first = await client.threads.ListThreads(
        thread_pb2.ListThreadsRequest(page_size=2, filter=only_a)
    )
    assert len(first.threads) == 2
    token = first.next_page_token
    assert token

    others: list[thread_pb2.ListThreadsRequest] = [
        # another filter value, another filter field, no filter at all
        thread_pb2.ListThreadsRequest(
            page_size=2, page_token=token, filter=thread_pb2.ThreadFilter(agent_id="agent-b")
        ),
        thread_pb2.ListThreadsRequest(
            page_size=2,
            page_token=token,
            filter=thread_pb2.ThreadFilter(agent_id="agent-a", user_id="someone"),
        ),
        thread_pb2.ListThreadsRequest(page_size=2, page_token=token),
        # the same filter, other orders
        thread_pb2.ListThreadsRequest(
            page_size=2, page_token=token, filter=only_a, order_by="created_at"
        ),
        thread_pb2.ListThreadsRequest(
            page_size=2, page_token=token, filter=only_a, order_by="updated_at desc"
        ),
        thread_pb2.ListThreadsRequest(
            page_size=2, page_token=token, filter=only_a, order_by="updated_at"
        ),
    ]
    for request in others:
        assert_bad_page_token(await expect_failure(client.threads.ListThreads(request)))

    # The same query goes on from where it stopped; page_size may change.
    rest = await client.threads.ListThreads(
        thread_pb2.ListThreadsRequest(page_size=10, page_token=token, filter=only_a)
    )
    assert not rest.next_page_token
    ids = [t.thread_id for t in first.threads] + [t.thread_id for t in rest.threads]
    assert len(ids) == len(set(ids)) == 5
    assert {t.agent_id for t in rest.threads} == {"agent-a"}


async def test_message_token_only_works_with_its_own_thread_and_order(client):
    one = (await create_thread(client)).thread_id
    other = (await create_thread(client)).thread_id
    for i in range(4):
        await create_message(client, one, f"one {i}")
        await create_message(client, other, f"other {i}")
    first = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=one, page_size=2)
    )
    token = first.next_page_token
    assert token

    for request in (
        message_pb2.ListMessagesRequest(thread_id=other, page_size=2, page_token=token),
        message_pb2.ListMessagesRequest(
            thread_id=one, page_size=2, page_token=token, order_by="created_at desc"
        ),
    ):
        assert_bad_page_token(await expect_failure(client.messages.ListMessages(request)))

    # A token for newest-first is refused for oldest-first too.
    newest_first = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=one, page_size=2, order_by="created_at desc")
    )
    assert newest_first.next_page_token
    assert_bad_page_token(
        await expect_failure(
            client.messages.ListMessages(
                message_pb2.ListMessagesRequest(
                    thread_id=one, page_size=2, page_token=newest_first.next_page_token
                )
            )
        )
    )

    rest = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=one, page_size=5, page_token=token)
    )
    assert not rest.next_page_token
    assert len(rest.messages) == 2
    assert {m.thread_id for m in rest.messages} == {one}


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!",
        # Well-formed base64url of JSON, but not a token this server made.
        "eyJ2IjoxLCJrIjoyfQ",
    ],
)
async def test_token_the_server_did_not_issue_is_refused(client, token):
    thread_id = (await create_thread(client)).thread_id
    assert_bad_page_token(
        await expect_failure(
            client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_token=token))
        )
    )
    assert_bad_page_token(
        await expect_failure(
            client.messages.ListMessages(
                message_pb2.ListMessagesRequest(thread_id=thread_id, page_token=token)
            )
        )
    )


def expected_page_sizes(n: int, page_size: int) -> list[int]:
    """Full pages, then the remainder; one empty page when there is nothing."""
    size = page_size or 20
    pages = max(1, math.ceil(n / size))
    return [size] * (pages - 1) + [n - size * (pages - 1)]


@pytest.mark.parametrize(
    ("n", "page_size"),
    [(0, 7), (1, 7), (6, 7), (7, 7), (8, 7), (14, 7), (20, 7), (21, 7), (20, 0), (21, 0), (3, 1)],
)
async def test_thread_page_counts(client, n, page_size):
    # A few threads outside the filter, which must not count.
    for _ in range(3):
        await create_thread(client, agent_id="someone-else")
    created = [
        t.thread_id
        for t in await gather_limited(create_thread(client, agent_id="counted") for _ in range(n))
    ]
    counted = thread_pb2.ThreadFilter(agent_id="counted")
    for order_by in ("", "created_at"):
        pages = await walk_threads(
            client, order_by=order_by, page_size=page_size, thread_filter=counted
        )
        assert [len(p.threads) for p in pages] == expected_page_sizes(n, page_size)
        assert all(p.next_page_token for p in pages[:-1])
        assert pages[-1].next_page_token == ""
        assert sorted(t.thread_id for p in pages for t in p.threads) == sorted(created)
    count = await client.threads.CountThreads(thread_pb2.CountThreadsRequest(filter=counted))
    assert count.count == n


@pytest.mark.parametrize(
    ("n", "page_size"), [(0, 7), (7, 7), (8, 7), (14, 7), (20, 0), (21, 0), (2, 1)]
)
async def test_message_page_counts(client, n, page_size):
    thread_id = (await create_thread(client)).thread_id
    created = [(await create_message(client, thread_id, f"m{i}")).message_id for i in range(n)]
    for order_by, expected in (("", created), ("created_at desc", created[::-1])):
        pages = await walk_messages(client, thread_id, order_by=order_by, page_size=page_size)
        assert [len(p.messages) for p in pages] == expected_page_sizes(n, page_size)
        assert all(p.next_page_token for p in pages[:-1])
        assert pages[-1].next_page_token == ""
        assert [m.message_id for p in pages for m in p.messages] == expected
