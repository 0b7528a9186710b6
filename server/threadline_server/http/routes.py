"""The HTTP routes, read from the google.api.http annotations of the served RPCs.

Nothing here names a route: every method of every service given to
``bindings_for`` that carries a ``google.api.http`` option (and its
``additional_bindings``) becomes a ``Binding``, so a new annotated RPC is served
with no HTTP code. ``Router`` then picks a binding for a request the way
grpc-gateway v2's ServeMux does (runtime/mux.go):

- The last registered pattern that matches wins; additional bindings come
  after their primary, later methods after earlier ones.
- A verb (``:cancel``) is split off the last segment only for a pattern that
  declares that verb; a last segment that is just ``:verb`` matches nothing.
- A path that only another HTTP method serves is HTTP 405 with code 12
  ("Method Not Allowed") and an Allow header naming the methods that serve it
  (grpc-gateway answers 501: a deliberate difference, since the client is at
  fault); no match at all is HTTP 404 with code 5.
- A path without a leading ``/`` is HTTP 400 with code 3.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from threadline_server.http.jsonpb import message_class
from threadline_server.http.template import PathTemplate

logger = logging.getLogger(__name__)

_FIELD_MASK = "google.protobuf.FieldMask"


@dataclass(frozen=True)
class Binding:
    """One HTTP method and path template bound to one RPC."""

    http_method: str
    template: PathTemplate
    body: str  # "" no body, "*" the whole request, else the field path the body fills
    response_body: str
    rpc: str  # "/package.Service/Method", the gRPC path
    request_type: type[Message]
    response_type: type[Message]
    server_streaming: bool
    # Query parameters are read only when some top-level request field is left
    # for them (grpc-gateway's HasQueryParam); keys under these paths are skipped.
    reads_query: bool
    query_skip: tuple[tuple[str, ...], ...]
    # PATCH with a body field and exactly one FieldMask: the mask to infer from the body.
    inferred_mask: FieldDescriptor | None = field(default=None)


def bindings_for(service_names: Iterable[str]) -> list[Binding]:
    """Every HTTP binding of the annotated methods of these services, in registration order."""
    pool = descriptor_pool.Default()
    bindings: list[Binding] = []
    for name in service_names:
        service = pool.FindServiceByName(name)
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            for each in (rule, *rule.additional_bindings):
                binding = _binding(method, each)
                if binding is not None:
                    bindings.append(binding)
    return bindings


def _binding(method: MethodDescriptor, rule: http_pb2.HttpRule) -> Binding | None:
    if method.client_streaming:
        logger.warning("%s streams requests; it is not served over HTTP", method.full_name)
        return None
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        http_method, path = rule.custom.kind, rule.custom.path
    else:
        http_method, path = kind.upper(), getattr(rule, kind)
    template = PathTemplate.parse(path)
    request = method.input_type
    top_level = {f.name for f in request.fields}
    if rule.body not in ("", "*"):
        top_level.discard(rule.body)
    for variable in template.fields:
        top_level.discard(variable)
    skip = [tuple(rule.body.split("."))] if rule.body not in ("", "*") else []
    skip += [tuple(variable.split(".")) for variable in template.fields]
    masks = [f for f in request.fields if f.message_type is not None and _is_mask(f)]
    inferred = (
        masks[0]
        if http_method == "PATCH" and len(masks) == 1 and rule.body not in ("", "*")
        else None
    )
    return Binding(
        http_method=http_method,
        template=template,
        body=rule.body,
        response_body=rule.response_body,
        rpc=f"/{method.containing_service.full_name}/{method.name}",
        request_type=message_class(request),
        response_type=message_class(method.output_type),
        server_streaming=method.server_streaming,
        reads_query=rule.body != "*" and bool(top_level),
        query_skip=tuple(skip),
        inferred_mask=inferred,
    )


def _is_mask(field: FieldDescriptor) -> bool:
    kind = field.message_type
    return not field.is_repeated and kind is not None and kind.full_name == _FIELD_MASK


@dataclass(frozen=True)
class Match:
    """The binding a request goes to, and the path's captured fields."""

    binding: Binding
    params: dict[str, str]


class RoutingError(Exception):
    """No binding serves the request: HTTP status 400, 404 or 405 (with the allowed methods)."""

    def __init__(self, status: int, allow: Iterable[str] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.allow = tuple(allow)


class Router:
    """Picks the binding for a method and a decoded path, as grpc-gateway's ServeMux does."""

    def __init__(self, bindings: Iterable[Binding]) -> None:
        self._by_method: dict[str, list[Binding]] = {}
        for binding in bindings:
            # Later registrations are tried first (ServeMux.Handle prepends).
            self._by_method.setdefault(binding.http_method, []).insert(0, binding)

    @property
    def bindings(self) -> list[Binding]:
        """Every binding, in the order they are tried within each method."""
        return [b for group in self._by_method.values() for b in group]

    def route(self, method: str, path: str, *, form_fallback: bool = False) -> Match:
        """Return the match for a request, or raise RoutingError.

        ``form_fallback``: a POST of a form (application/x-www-form-urlencoded)
        that no POST route serves is served by a GET route of the same path.
        """
        if not path.startswith("/"):
            raise RoutingError(400)
        components = path[1:].split("/")
        for binding in self._by_method.get(method, []):
            params = _match(binding, components, skip_bare_verb=True)
            if params is not None:
                return Match(binding, params)
        others = [m for m in self._by_method if m != method]
        if form_fallback and "GET" in others:
            others.remove("GET")
            others.insert(0, "GET")
        for other in others:
            for binding in self._by_method[other]:
                params = _match(binding, components, skip_bare_verb=False)
                if params is None:
                    continue
                if form_fallback and other == "GET":
                    return Match(binding, params)
                raise RoutingError(405, self._allowed(components))
        raise RoutingError(404)

    def _allowed(self, components: list[str]) -> list[str]:
        """Return the methods some binding serves a path with, sorted (for an Allow header)."""
        return sorted(
            m
            for m, group in self._by_method.items()
            if any(_match(b, components, skip_bare_verb=False) is not None for b in group)
        )


def _match(
    binding: Binding, components: list[str], *, skip_bare_verb: bool
) -> dict[str, str] | None:
    verb = binding.template.verb
    last = components[-1]
    if verb and last.endswith(":" + verb):
        index = len(last) - len(verb) - 1
        if index == 0:
            return None if skip_bare_verb else binding.template.match(components, "")
        return binding.template.match([*components[:-1], last[:index]], verb)
    return binding.template.match(components, "")
