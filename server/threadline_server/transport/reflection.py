"""Server reflection under both of its names: grpc.reflection.v1 and v1alpha.

Current tools (grpcurl, grpcui, Postman, buf curl) ask for grpc.reflection.v1
first, and only some fall back to v1alpha; grpcio-reflection (1.85, the newest)
serves v1alpha alone. v1 is v1alpha with the package renamed: the same
messages with the same field numbers, the same one bidirectional method. So a
v1alpha servicer answers both names, and the v1 schema, derived from v1alpha's
by the same renaming, is added to the default descriptor pool, so that the
reflection service can describe itself under either name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"
V1_PACKAGE = "grpc.reflection.v1"
V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
METHOD = "ServerReflectionInfo"


def v1_file() -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto, as grpc-proto publishes it, less its comments."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = V1_PACKAGE

    def renamed(type_name: str) -> str:
        return type_name.replace(f".{V1ALPHA_PACKAGE}.", f".{V1_PACKAGE}.")

    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = renamed(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type = renamed(method.input_type)
            method.output_type = renamed(method.output_type)
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    # v1alpha's file is marked deprecated; v1 is its replacement.
    proto.options.ClearField("deprecated")
    return proto


def _add_v1_file(pool: descriptor_pool.DescriptorPool) -> None:
    """Add the v1 schema to pool once (a second server in the process finds it there)."""
    proto = v1_file()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.AddSerializedFile(proto.SerializeToString())


def enable_server_reflection(service_names: Iterable[str], server: Any) -> None:
    """Serve reflection on server for service_names and for both reflection services.

    server is a grpc.aio.Server or a stand-in with the same two registration
    methods (transport.requests.ParsingRegistrar).
    """
    _add_v1_file(descriptor_pool.Default())
    # reflection.aio is grpcio-reflection's public asyncio servicer; mypy --strict
    # reads its `from . import _async as aio` as a private import.
    servicer = reflection.aio.ReflectionServicer(  # type: ignore[attr-defined]
        (*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    # The v1 method reads and writes the v1alpha messages: their bytes are v1's.
    v1_handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    # Both forms, as generated add_*_to_server functions register a service.
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {METHOD: v1_handler}),)
    )
    server.add_registered_method_handlers(V1_SERVICE_NAME, {METHOD: v1_handler})
