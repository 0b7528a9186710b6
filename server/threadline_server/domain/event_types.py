"""The types of run events, each spelled once.

A RunEvent's ``type`` is a string in the API: clients switch on it, and new
types may be added without breaking them (run.proto lists the current ones),
which is why it is not a proto enum. The server names each type here and
nowhere else.
"""

from __future__ import annotations

RUN_CREATED = "run.created"
RUN_STARTED = "run.started"
RUN_COMPLETED = "run.completed"
RUN_MAX_ITERATIONS_REACHED = "run.max_iterations_reached"
RUN_FAILED = "run.failed"
RUN_CANCELLED = "run.cancelled"
# The run paused in REQUIRES_ACTION: its required_action says what it needs.
RUN_REQUIRES_ACTION = "run.requires_action"
# ResumeRun answered a paused run; it is QUEUED to go on.
RUN_RESUMED = "run.resumed"

MESSAGE_CREATED = "message.created"
MESSAGE_DELTA = "message.delta"
MESSAGE_COMPLETED = "message.completed"

TOOL_CALL_STARTED = "tool_call.started"
TOOL_CALL_COMPLETED = "tool_call.completed"

# The thread's state changed (a checkpoint was made): by a caller, an agent,
# or back after a run that failed or was cancelled.
STATE_UPDATED = "state.updated"
# ClearThread deleted every message of the thread.
THREAD_CLEARED = "thread.cleared"

# Never stored: tells the listeners after a commit that a thread is gone, so
# whoever follows it finds out at once.
THREAD_DELETED = "thread.deleted"

# Every type a client may be sent (and so may ask a stream for): every type
# named above but THREAD_DELETED. Gathered rather than listed, so that a type
# added above is never missing here.
STREAMED = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and value != THREAD_DELETED
)
