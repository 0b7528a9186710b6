"""The standard health service, with its List method.

grpcio-health-checking's asyncio servicer declares List (added to
grpc.health.v1 in 2024) but answers it UNKNOWN with NotImplementedError;
here it lists the services this server names, from their Check answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer as GrpcHealthServicer

if TYPE_CHECKING:
    import grpc

    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]


# grpcio-health-checking ships no types: its servicer is Any to mypy.
class HealthServicer(GrpcHealthServicer):  # type: ignore[misc]
    """grpc.health.v1.Health: Check, Watch and List over the services named here."""

    def __init__(self, services: Sequence[str]) -> None:
        super().__init__()
        self._services = tuple(services)

    async def List(  # noqa: N802 - the gRPC method's name
        self, request: health_pb2.HealthListRequest, context: Context
    ) -> health_pb2.HealthListResponse:
        """Return the status of every service this server names."""
        response = health_pb2.HealthListResponse()
        for name in self._services:
            answer: health_pb2.HealthCheckResponse | None = await self.Check(
                health_pb2.HealthCheckRequest(service=name), context
            )
            if answer is not None:
                response.statuses[name].CopyFrom(answer)
        return response
