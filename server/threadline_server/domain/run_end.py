"""When a run is over, said once: its terminal statuses, its final event, and its thread's status.

A run is in flight while QUEUED or RUNNING; it ends exactly once, in one of
four terminal statuses, each with its own final event.
"""

from __future__ import annotations

from threadline.v1 import run_pb2, thread_pb2

from threadline_server.domain import event_types

FINAL_EVENT_TYPES: dict[int, str] = {
    run_pb2.RUN_STATUS_COMPLETED: event_types.RUN_COMPLETED,
    run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED: event_types.RUN_MAX_ITERATIONS_REACHED,
    run_pb2.RUN_STATUS_FAILED: event_types.RUN_FAILED,
    run_pb2.RUN_STATUS_CANCELLED: event_types.RUN_CANCELLED,
}
"""The final event of a run, by the terminal status it ended in."""

_FINAL_TYPES = frozenset(FINAL_EVENT_TYPES.values())


def is_over(status: int) -> bool:
    """Tell whether a run in this status has ended (and so will never change again)."""
    return status in FINAL_EVENT_TYPES


def ends_run(event: run_pb2.RunEvent) -> bool:
    """Tell whether an event is its run's last."""
    return event.type in _FINAL_TYPES


def thread_status(*, run_in_flight: bool, last_ended: int) -> thread_pb2.ThreadStatus.ValueType:
    """Return a thread's status: BUSY with a run in flight, else ERROR if its last run failed."""
    if run_in_flight:
        return thread_pb2.THREAD_STATUS_BUSY
    if last_ended == run_pb2.RUN_STATUS_FAILED:
        return thread_pb2.THREAD_STATUS_ERROR
    return thread_pb2.THREAD_STATUS_IDLE
