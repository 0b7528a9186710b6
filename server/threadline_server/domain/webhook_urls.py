"""Which URLs a webhook may call: http(s) only, and no address the operator has not allowed.

A webhook URL is the server making requests where a caller says, so a URL
into the server's own network (loopback, private ranges, link-local such as
cloud metadata at 169.254.169.254, multicast, unspecified, and anything
else that is not a global address) is refused unless the operator allows
it with --webhook-allow (CIDRs, or host names taken as they are given). The
host is resolved, and every address it resolves to must be allowed: when
the URL is given, and again at every attempt (DNS can change in between),
where the connection is made to the address that was checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
# How long resolving a host may take, so that a call that makes a webhook
# never waits on a slow resolver for long.
RESOLVE_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Target:
    """A URL's host and port, as a connection would be made to them."""

    host: str
    port: int


def url_problem(url: str) -> str | None:
    """Return what is wrong with a URL's form (None: fine), before any resolving."""
    if not url:
        return "is required"
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(char.isspace() or ord(char) < 0x20 for char in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme not in {"http", "https"}:
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (sign with the secret instead)"
    if port == 0:
        return "must not name port 0"
    return None


def target(url: str) -> Target:
    """Return the host and port a valid URL connects to."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.hostname or "", parts.port or default)


class AddressPolicy:
    """The operator's rule: which addresses a webhook may reach."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for item in allowed:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        self.networks = tuple(networks)
        self.hosts = frozenset(hosts)

    def host_allowed(self, host: str) -> bool:
        """Tell whether the operator allowed a host by name (then any address it has goes)."""
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, address: IPAddress) -> str | None:
        """Return why an address may not be called (None: it may)."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return None
        for kind, bad in (
            ("loopback", address.is_loopback),
            ("unspecified", address.is_unspecified),
            ("link-local", address.is_link_local),
            ("multicast", address.is_multicast),
            ("private", address.is_private),
            ("reserved", address.is_reserved),
        ):
            if bad:
                return f"{address} is a {kind} address"
        if not address.is_global:
            return f"{address} is not a global address"
        return None

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve a host; raise AddressRefusedError when any address is not allowed."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(RESOLVE_SECONDS):
                    infos = await asyncio.get_running_loop().getaddrinfo(
                        host, port, type=socket.SOCK_STREAM
                    )
            except OSError as error:
                raise AddressRefusedError(f"cannot resolve {host!r}: {error}") from None
            except TimeoutError:
                raise AddressRefusedError(
                    f"cannot resolve {host!r}: no answer within {RESOLVE_SECONDS:g} s"
                ) from None
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
            )
            if not addresses:
                raise AddressRefusedError(f"{host!r} resolves to no address")
        if not self.host_allowed(host):
            for address in addresses:
                reason = self.refusal(address)
                if reason is not None:
                    raise AddressRefusedError(
                        f"{host} resolves to {address}, which is not allowed: {reason} "
                        "(the operator can allow it with --webhook-allow)"
                        if literal is None
                        else f"{reason}, which is not allowed (the operator can allow it "
                        "with --webhook-allow)"
                    )
        return addresses


class AddressRefusedError(Exception):
    """A webhook's host cannot be resolved, or resolves to an address that is not allowed."""
