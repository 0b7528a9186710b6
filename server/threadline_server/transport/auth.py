"""Who is calling and whether they may: the interceptor in front of every Threadline RPC.

For each call it reads ``authorization: Bearer <key>`` from the metadata
(the HTTP side forwards the Authorization header as that), resolves the key
to a Principal (tenant, scope, key id) through domain.keys.KeyVerifier,
checks the method's scope (REQUIRED_SCOPE), admits the call under the caps
(transport/limits.py), and makes the Principal the call's caller(), from
which the servicers pass the tenant down to the domain. No key or a bad
one is UNAUTHENTICATED; a key whose scope is too narrow, PERMISSION_DENIED.

Health is always open and never capped, so load balancers can check a
server that is full or locked. Reflection is open, or needs a valid key of
any scope (--reflection); it is never capped either.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health

from threadline_server.domain.keys import KeyVerifier, Principal, Scope
from threadline_server.errors import PermissionDeniedError, ThreadlineError
from threadline_server.transport import reflection
from threadline_server.transport.errors import abort, to_status
from threadline_server.transport.limits import CallLimits

if TYPE_CHECKING:
    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]

Behaviour = Callable[[Any, "Context"], Any]

# What each method needs. Reads need read; everything that creates, changes
# or deletes needs write; the worker service needs admin (see domain.keys).
_METHODS_BY_SCOPE = {
    Scope.READ: (
        "ThreadService/GetThread",
        "ThreadService/ListThreads",
        "ThreadService/CountThreads",
        "ThreadService/GetThreadState",
        "ThreadService/ListThreadCheckpoints",
        "MessageService/GetMessage",
        "MessageService/ListMessages",
        "RunService/GetRun",
        "RunService/ListRuns",
        "RunService/WaitRun",
        "RunService/StreamRunEvents",
        "RunService/StreamRunEventBatches",
        "RunService/WatchThread",
        "WebhookService/GetWebhook",
        "WebhookService/ListWebhooks",
        "WebhookService/ListWebhookDeliveries",
    ),
    Scope.WRITE: (
        "ThreadService/CreateThread",
        "ThreadService/UpdateThread",
        "ThreadService/DeleteThread",
        "ThreadService/CopyThread",
        "ThreadService/UpdateThreadState",
        # It makes the thread on the first call.
        "ThreadService/GetDefaultThread",
        "ThreadService/ClearThread",
        "MessageService/CreateMessage",
        "MessageService/UpdateMessage",
        "MessageService/DeleteMessage",
        "RunService/CreateRun",
        "RunService/StreamRun",
        "RunService/CancelRun",
        "RunService/ResumeRun",
        "RunService/Chat",
    ),
    Scope.ADMIN: (
        # A webhook sends every run's results out, and outlives the key that
        # made it: admin, as the worker service (a run's own webhook_url,
        # which covers that run alone, needs only write, as CreateRun).
        "WebhookService/CreateWebhook",
        "WebhookService/DeleteWebhook",
        "AgentWorkerService/ClaimRun",
        "AgentWorkerService/ReportRunEvents",
        "AgentWorkerService/RenewLease",
    ),
}
REQUIRED_SCOPE: dict[str, Scope] = {
    f"/threadline.v1.{method}": scope
    for scope, methods in _METHODS_BY_SCOPE.items()
    for method in methods
}


def unlisted_methods(service_names: Iterable[str]) -> list[str]:
    """Return the methods of these services that REQUIRED_SCOPE leaves out (they need admin)."""
    pool = descriptor_pool.Default()
    return [
        f"/{service}/{method.name}"
        for service in service_names
        for method in pool.FindServiceByName(service).methods
        if f"/{service}/{method.name}" not in REQUIRED_SCOPE
    ]


OPEN_SERVICES = frozenset({health.SERVICE_NAME})
REFLECTION_SERVICES = frozenset({reflection.V1_SERVICE_NAME, reflection.V1ALPHA_SERVICE_NAME})

_caller: contextvars.ContextVar[Principal] = contextvars.ContextVar("threadline_caller")


def caller() -> Principal:
    """Return the Principal of the call being served (raises LookupError outside one).

    Each call runs in a task of its own, so what the interceptor sets here
    is this call's alone.
    """
    return _caller.get()


def _authorization(context: Context) -> str | None:
    """Return the call's one authorization value; two count as a bad key."""
    found: str | None = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            if found is not None:
                return ""
            found = value if isinstance(value, str) else ""
    return found


class AccessInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Authenticates, authorizes and caps every call but health (and reflection, when open)."""

    def __init__(self, limits: CallLimits, *, reflection_open: bool) -> None:
        self.limits = limits
        self._reflection_open = reflection_open
        # Set once the store is open, before the server serves.
        self.verifier: KeyVerifier | None = None
        # method -> (the handler as continuation returned it, its wrapped form)
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        """Return the method's handler, wrapped (the same wrapped handler for every call)."""
        handler: Handler | None = await continuation(handler_call_details)
        if handler is None:  # an unknown method: grpc answers UNIMPLEMENTED itself
            return cast("Handler", handler)
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_handler(self, method: str, original: Handler) -> Handler:
        service = method.lstrip("/").partition("/")[0]
        if service in OPEN_SERVICES or (service in REFLECTION_SERVICES and self._reflection_open):
            return original
        # Closed reflection needs a valid key of any scope, and no cap applies.
        capped = service not in REFLECTION_SERVICES
        # A method left out of the table needs admin: fail closed.
        scope = REQUIRED_SCOPE.get(method, Scope.ADMIN) if capped else Scope.READ
        # Any: grpc-stubs types the aio handler's behaviours as sync callables.
        handler: Any = original
        codecs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, scope, handler.unary_unary, capped=capped), **codecs
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(method, scope, handler.stream_unary, capped=capped), **codecs
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(method, scope, handler.unary_stream, capped=capped), **codecs
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(method, scope, handler.stream_stream, capped=capped), **codecs
        )

    def _principal(self, method: str, scope: Scope, context: Context) -> Principal:
        """Return who calls, if they may call this method; else raise."""
        verifier = self.verifier
        if verifier is None:
            raise RuntimeError("the access interceptor has no key verifier yet")
        principal = verifier.resolve(_authorization(context))
        if principal.scope < scope:
            raise PermissionDeniedError(method.lstrip("/"), principal.scope.label, scope.label)
        return principal

    def _unary(self, method: str, scope: Scope, behaviour: Behaviour, *, capped: bool) -> Behaviour:
        limits = self.limits

        async def wrapped(request: Any, context: Context) -> Any:
            try:
                principal = self._principal(method, scope, context)
                if capped:
                    limits.admit(principal.tenant, streaming=False)
            except ThreadlineError as error:
                await abort(context, to_status(error))
                raise  # pragma: no cover - abort raises
            _caller.set(principal)
            if not capped:
                return await behaviour(request, context)
            try:
                return await behaviour(request, context)
            finally:
                limits.release(principal.tenant, streaming=False)

        return wrapped

    def _streaming(
        self, method: str, scope: Scope, behaviour: Behaviour, *, capped: bool
    ) -> Behaviour:
        limits = self.limits

        async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                principal = self._principal(method, scope, context)
                if capped:
                    limits.admit(principal.tenant, streaming=True)
            except ThreadlineError as error:
                await abort(context, to_status(error))
                raise  # pragma: no cover - abort raises
            _caller.set(principal)
            try:
                result = behaviour(request, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                else:  # a handler that writes with context.write
                    await result
            finally:
                if capped:
                    limits.release(principal.tenant, streaming=True)

        return wrapped
