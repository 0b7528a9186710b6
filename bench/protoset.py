"""Write a FileDescriptorSet (a "protoset") of a generated Python module, for ghz.

ghz reads the services it calls from this file instead of asking the server
over reflection: ghz 0.121 finds no symbols through grpcio-reflection's v1alpha
service, and a protoset made from the very module a server imports describes
exactly what that server serves. It needs only protobuf, so it runs in any
virtual environment (the peers' too).

Usage: python protoset.py OUTPUT MODULE [MODULE...]
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor


def collect(file: FileDescriptor, seen: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
    """Add a file and, before it, every file it imports (each once)."""
    if file.name in seen:
        return
    for dependency in file.dependencies:
        collect(dependency, seen)
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    seen[file.name] = proto


def main(argv: list[str]) -> None:
    """Write the protoset of the named modules' files to the output path."""
    if len(argv) < 2:
        raise SystemExit(__doc__)
    output, *modules = argv
    seen: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for name in modules:
        collect(importlib.import_module(name).DESCRIPTOR, seen)
    Path(output).write_bytes(
        descriptor_pb2.FileDescriptorSet(file=seen.values()).SerializeToString()
    )


if __name__ == "__main__":
    main(sys.argv[1:])
