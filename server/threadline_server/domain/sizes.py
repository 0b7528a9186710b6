"""How big things may be, in bytes, and how their size is measured.

Counts bound nothing when one item can be large, so every limit on memory
and on replies here is in bytes of serialized protobuf: what a message
takes, what a reply carries, what a streamed event weighs. Clients' messages
and the messages agents write are held to the same MAX_MESSAGE_BYTES.
"""

from __future__ import annotations

from threadline.v1 import message_pb2

from threadline_server.wire import CLIENT_RECEIVE_LIMIT, entry_size

# A message: its role, parts and metadata, serialized (message.proto).
MAX_MESSAGE_BYTES = 1024 * 1024
# The most a reply is filled to (a page of threads, messages or runs; a
# thread with its messages; a claimed run with its thread's messages): below
# what a client accepts by a margin for what is not counted (a page token).
REPLY_BYTES = CLIENT_RECEIVE_LIMIT - 16 * 1024
# The most a stream reader takes from the store at once.
READ_BATCH_BYTES = 4 * 1024 * 1024


def message_size(message: message_pb2.Message) -> int:
    """Return the bytes a message takes for the limit: its role, parts and metadata.

    Server-set fields (ids, times) are not counted: a client cannot change
    them, and on create they are ignored. Empty metadata counts nothing, set
    or not (the server stores every message with metadata set).
    """
    size = message_pb2.Message(role=message.role).ByteSize()
    size += sum(entry_size(part.ByteSize()) for part in message.parts)
    metadata = message.metadata.ByteSize()
    if metadata:
        size += entry_size(metadata)
    return size


def text_message_size(text_bytes: int) -> int:
    """Return the size, as message_size counts it, of a message of one text part."""
    return 2 + entry_size(entry_size(text_bytes))
