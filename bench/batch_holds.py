"""Benchmark: how long each batch of a big CopyThread and of a purge holds the single writer.

One writer means every other write waits while a transaction holds it: the
time a batch holds the writer is the longest another write waits behind
it. This seeds a store with one thread of ``--messages`` messages
(bench/seed.py), then, for each copy batch size given, in the same run on a
fresh copy of that file: copies the thread through the store's own
``copy_messages_in_batches`` into a hidden thread, deletes both threads
(retire) and purges their rows (``purge_deleted``), timing every write
transaction with the store's write observer. Sizes are compared in one run,
alternating, so that load on a shared machine touches each alike.

    .venv/bin/python -m bench.batch_holds --messages 100000 --copy-batches 500,200 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadline.v1 import thread_pb2
from threadline_server import ids
from threadline_server.store.base import StoreTransaction
from threadline_server.store.records import ThreadRef
from threadline_server.store.sqlite import store as sqlite_store
from threadline_server.store.sqlite import threads

from bench.seed import seed


def _stats(name: str, holds: list[float], seconds: float) -> str:
    ordered = sorted(holds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name}: {len(ordered)} transactions in {seconds:.1f} s; writer held p50 "
        f"{statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


async def measure(path: Path, thread_id: str, copy_batch: int) -> list[str]:
    """Copy, retire and purge the big thread of the store at path; describe the holds."""
    holds: list[float] = []
    sqlite_store.COPY_BATCH = copy_batch
    store = sqlite_store.SqliteStore(
        path, maintenance_interval=3600, write_observer=lambda _wait, hold: holds.append(hold)
    )
    await store.open()
    try:
        async with store._read("default") as session:
            source = threads.to_ref(await threads.live_row(session, thread_id))

        async def make(tx: StoreTransaction) -> ThreadRef:
            thread = thread_pb2.Thread(thread_id="bench-copy")
            for stamp in (thread.created_at, thread.updated_at, thread.last_activity_at):
                stamp.FromMicroseconds(tx.now)
            made = await tx.insert_thread(thread)
            assert made is not None  # noqa: S101 - a fresh store
            await tx.hide_thread(made.ref)
            return made.ref

        target = await store.transaction("default", make)
        holds.clear()
        began = time.perf_counter()
        await store.copy_messages_in_batches("default", source, target, ids.new_message_id)
        copy = _stats(f"copy, {copy_batch} a batch", holds, time.perf_counter() - began)
        holds.clear()

        async def retire(tx: StoreTransaction) -> None:
            await tx.delete_thread(source)
            await tx.delete_thread(target)

        await store.transaction("default", retire)
        retire_ms = holds[-1] * 1000
        holds.clear()
        began = time.perf_counter()
        await store.purge_deleted()
        purge = _stats("purge", holds, time.perf_counter() - began)
    finally:
        await store.close()
    return [copy, f"retire both: {retire_ms:.1f} ms", purge]


def main() -> None:
    """Seed once, then measure each copy batch size on a fresh copy of the store."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--copy-batches", default="500,200")
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.copy_batches.split(",")]
    with tempfile.TemporaryDirectory(prefix="threadline-holds-") as folder:
        seeded = seed(
            Path(folder) / "seeded.db",
            threads=2,
            messages=arguments.messages,
            big=arguments.messages,
        )
        for round_number in range(arguments.rounds):
            for size in sizes:
                work = Path(folder) / f"round-{round_number}-{size}.db"
                shutil.copyfile(seeded.path, work)
                lines = asyncio.run(measure(work, seeded.big_thread_id, size))
                sys.stdout.write(f"round {round_number + 1}: " + "; ".join(lines) + "\n")


if __name__ == "__main__":
    main()
