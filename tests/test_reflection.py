"""Server reflection under grpc.reflection.v1 (what current tools ask for first) and v1alpha.

tests/test_process.py covers v1alpha against a server process; here the same
questions go to v1, directly and through grpcurl, whose calls the access log
must show going to v1.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
V1_METHOD = f"/{V1_SERVICE}/ServerReflectionInfo"
RPC_TIMEOUT = 10.0
GRPCURL_TIMEOUT = 30.0


async def reflect_v1(channel: grpc.aio.Channel, *requests: Any) -> list[Any]:
    """Send requests to the v1 service on one stream.

    A client with v1 stubs would send exactly these bytes: v1's messages are
    v1alpha's, renamed.
    """
    call = channel.stream_stream(
        V1_METHOD,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )(iter(requests), timeout=RPC_TIMEOUT)
    return [response async for response in call]


def files(response: Any) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The file descriptors in a reflection response, by name."""
    found = {}
    for raw in response.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        found[proto.name] = proto
    return found


@pytest.mark.api
async def test_v1_lists_services_and_describes_itself_and_ours(client):
    listed, itself, thread_file, missing = await reflect_v1(
        client.channel,
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=V1_SERVICE),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="threadline.v1.ThreadService"
        ),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="threadline.v1.Nope"),
    )
    assert [s.name for s in listed.list_services_response.service] == [
        "grpc.health.v1.Health",
        V1_SERVICE,
        V1ALPHA_SERVICE,
        "threadline.v1.AgentWorkerService",
        "threadline.v1.MessageService",
        "threadline.v1.RunService",
        "threadline.v1.ThreadService",
        "threadline.v1.WebhookService",
    ]

    (v1_file,) = files(itself).values()
    assert v1_file.name == "grpc/reflection/v1/reflection.proto"
    assert v1_file.package == "grpc.reflection.v1"
    assert v1_file.options.java_package == "io.grpc.reflection.v1"
    assert v1_file.options.go_package == "google.golang.org/grpc/reflection/grpc_reflection_v1"
    assert not v1_file.options.deprecated
    (service,) = v1_file.service
    (method,) = service.method
    assert (service.name, method.name) == ("ServerReflection", "ServerReflectionInfo")
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    assert method.output_type == ".grpc.reflection.v1.ServerReflectionResponse"
    assert method.client_streaming
    assert method.server_streaming
    references = {f.type_name for m in v1_file.message_type for f in m.field if f.type_name}
    assert references
    assert all(name.startswith(".grpc.reflection.v1.") for name in references)
    # Message for message, field for field, the same as v1alpha: the wire format is one.
    v1alpha_file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(v1alpha_file)
    assert [
        (m.name, [(f.name, f.number, f.type, f.label) for f in m.field])
        for m in v1_file.message_type
    ] == [
        (m.name, [(f.name, f.number, f.type, f.label) for f in m.field])
        for m in v1alpha_file.message_type
    ]

    assert "threadline/v1/thread.proto" in files(thread_file)
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing.original_request.file_containing_symbol == "threadline.v1.Nope"


async def grpcurl(*arguments: str) -> str:
    """Run grpcurl without blocking the server that runs in this event loop."""
    process = await asyncio.create_subprocess_exec(
        "grpcurl",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), GRPCURL_TIMEOUT)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.toolchain
async def test_grpcurl_lists_and_describes_over_v1(client, caplog):
    if shutil.which("grpcurl") is None:
        pytest.fail("grpcurl is not on PATH; `make tools` builds it into .tools/bin with Go")
    caplog.set_level(logging.INFO, logger="threadline.access")
    listed = await grpcurl("-plaintext", client.address, "list")
    assert V1_SERVICE in listed.split()
    assert V1ALPHA_SERVICE in listed.split()
    described = await grpcurl("-plaintext", client.address, "describe", V1_SERVICE)
    assert described.startswith(f"{V1_SERVICE} is a service:\n")
    assert (
        "rpc ServerReflectionInfo ( stream .grpc.reflection.v1.ServerReflectionRequest ) "
        "returns ( stream .grpc.reflection.v1.ServerReflectionResponse );"
    ) in described
    request = await grpcurl(
        "-plaintext", client.address, "describe", "grpc.reflection.v1.ServerReflectionRequest"
    )
    assert "string file_containing_symbol = 4;" in request

    calls = [r.getMessage() for r in caplog.records if r.name == "threadline.access"]
    assert calls
    assert all(f"rpc={V1_METHOD} code=OK" in call for call in calls), calls
