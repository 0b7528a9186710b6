"""Browser safety on the HTTP side: which pages may call it, and from which host names.

Three rules, each against a way a web page could make the server act:

- Cross-origin requests that change something are refused (403) unless their
  origin is allowed, by the algorithm of Go's ``http.CrossOriginProtection``:
  ``Sec-Fetch-Site`` when the browser sends it, else ``Origin`` against
  ``Host``; a request with neither is not from a browser (or is same-origin).
  So a page on another site cannot create a thread with a "simple" request
  that needs no preflight (``text/plain``, an empty POST, a form).
- CORS is off unless origins are listed (``--cors-origin``). For those, a
  preflight is answered 204 with the methods and headers the API takes, and
  answers carry ``Access-Control-Allow-Origin``; every answer then says
  ``Vary: Origin``. A preflight from any other origin is refused (403).
- On a loopback listener the ``Host`` header must be a loopback name (or one
  allowed with ``--http-allowed-host``): a page on a name an attacker
  re-pointed at 127.0.0.1 (DNS rebinding) is the same origin as far as the
  browser knows, and only the Host header tells it apart.

Bodies must be JSON (415 otherwise): that rule is the gateway's, where bodies
are read. Safe methods (GET, HEAD, OPTIONS) are not refused by origin: a page
cannot read their answers without CORS, and they change nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Request headers a page may send (Accept and a few others need no permission).
ALLOWED_HEADERS = "Authorization, Content-Type, Last-Event-ID, Grpc-Timeout"
# How long a browser may keep a preflight's answer (Chromium caps it at 2 hours).
PREFLIGHT_MAX_AGE_SECONDS = 600


def _host_name(host: str) -> str:
    """Return a Host header's name in lower case: no port, IPv6 brackets or final dot."""
    if host.startswith("[") and "]" in host:
        name = host[1 : host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name.rstrip(".").lower()


@functools.lru_cache(maxsize=1024)
def is_loopback_name(host: str) -> bool:
    """Whether a Host header's name (port or not) can only mean this machine."""
    name = _host_name(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class BrowserPolicy:
    """The rules above, for one listener."""

    def __init__(
        self,
        *,
        cors_origins: Iterable[str] = (),
        methods: Iterable[str] = (),
        loopback: bool = False,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.cors_origins = frozenset(origin.lower() for origin in cors_origins)
        self.loopback = loopback
        self.allowed_hosts = frozenset(host.lower().rstrip(".") for host in allowed_hosts)
        self._methods = ", ".join(sorted(set(methods) - SAFE_METHODS | {"GET"}))

    @property
    def cors(self) -> bool:
        """Whether some origin may call the API from its pages."""
        return bool(self.cors_origins)

    def refusal(self, request: web.BaseRequest) -> web.StreamResponse | str | None:
        """Return a preflight's answer, why a request is refused (403), or None to serve it."""
        headers = request.headers
        if self.loopback:
            host = headers.get(hdrs.HOST)
            if host and not self._loopback_host(host):
                return (
                    f"Host {host!r} is not a name of this machine: this listener is on a "
                    "loopback address (add a reverse proxy's name with --http-allowed-host)"
                )
        method = request.method
        if method in SAFE_METHODS:
            origin = headers.get(hdrs.ORIGIN)
            if (
                method == "OPTIONS"
                and origin is not None
                and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers
            ):
                return self._preflight(origin)
            return None
        return self._cross_origin(request)

    def _loopback_host(self, host: str) -> bool:
        return is_loopback_name(host) or _host_name(host) in self.allowed_hosts

    def _preflight(self, origin: str) -> web.StreamResponse | str:
        if origin.lower() not in self.cors_origins:
            if not self.cors:
                return f"cross-origin requests are not allowed (origin {origin!r}): CORS is off"
            return f"origin {origin!r} is not allowed (--cors-origin)"
        return web.Response(
            status=204,
            headers={
                hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: self._methods,
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOWED_HEADERS,
                hdrs.ACCESS_CONTROL_MAX_AGE: str(PREFLIGHT_MAX_AGE_SECONDS),
                hdrs.VARY: "Origin",
            },
        )

    def _cross_origin(self, request: web.BaseRequest) -> str | None:
        """Go's CrossOriginProtection.Check: None when the request may act."""
        headers = request.headers
        site = headers.get("Sec-Fetch-Site")
        origin = headers.get(hdrs.ORIGIN)
        if site in ("same-origin", "none"):
            return None
        if not site:
            if origin is None:
                return None
            if urlsplit(origin).netloc.lower() == headers.get(hdrs.HOST, "").lower():
                return None
        if origin is not None and origin.lower() in self.cors_origins:
            return None
        return f"cross-origin request refused: origin {origin!r} may not call this API" + (
            "" if self.cors else " (CORS is off)"
        )

    async def add_cors_headers(
        self, request: web.BaseRequest, response: web.StreamResponse
    ) -> None:
        """on_response_prepare: let an allowed origin's page read the answer."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin.lower() in self.cors_origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        if "Origin" not in response.headers.getall(hdrs.VARY, ()):
            response.headers.add(hdrs.VARY, "Origin")
