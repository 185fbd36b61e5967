"""Where webhooks may go: partner URLs must not turn Trellis into a way into its own network.

Every environment: only http(s) URLs with a host. Production: only https, and only to hosts whose
every address is public (no private, loopback, link-local, multicast, reserved or unspecified
address, no IPv6 unique-local, no IPv4 hidden in an IPv6 address). The check runs when a
subscription is registered and again whenever the worker opens a connection, on the very
addresses it then connects to: a name that resolved to a public address at registration and to
10.0.0.1 since (DNS rebinding) is refused on the wire, not just on paper.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
_ULA = ipaddress.ip_network("fc00::/7")
RESOLVE_TIMEOUT_S = 5.0


class Refused(ValueError):
    """This URL or address may not receive webhooks here; the message says why."""


def parse(url: str) -> SplitResult:
    """The URL's parts when it is an http(s) URL with a host; Refused otherwise (always)."""
    if any(c.isspace() for c in url):
        raise Refused("the URL contains white space")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise Refused("only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise Refused("the URL has no host")
    try:
        parts.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError as exc:
        raise Refused("the URL's port is not valid") from exc
    return parts


def refusal(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return refusal(embedded)
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unique-local", address in _ULA),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


async def public_addresses(host: str, port: int, resolver: Resolver = resolve) -> list[IPAddress]:
    """The addresses of `host` when every one is public; Refused otherwise."""
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        raise Refused(f"{host} does not resolve ({exc.strerror or exc})") from exc
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        if (kind := refusal(address)) is not None:
            raise Refused(f"{host} resolves to {address}, a {kind} address")
    return addresses


async def check(url: str, *, production: bool, resolver: Resolver = resolve) -> None:
    """Refused unless `url` may receive webhooks in this environment."""
    parts = parse(url)
    if not production:
        return  # development and tests deliver to local receivers over plain http
    if parts.scheme.lower() != "https":
        raise Refused("only https URLs can receive webhooks in production")
    try:
        await asyncio.wait_for(
            public_addresses(parts.hostname or "", parts.port or 443, resolver), RESOLVE_TIMEOUT_S
        )
    except TimeoutError as exc:
        raise Refused(f"{parts.hostname} did not resolve within {RESOLVE_TIMEOUT_S:g} s") from exc


class _PublicOnly(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address itself, for every new connection.

    TLS still verifies the certificate against the URL's host name (httpcore passes the origin's
    host as server_hostname), and pooled connections are keyed by that name.
    """

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(public_addresses(host, port), timeout)
        except Refused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        raise httpcore.ConnectError("webhooks never go to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx has no public switch for the network backend; its pool is replaced by the same
        # pool with the guarded backend (tests prove a private address is refused on the wire).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicOnly(),
        )


def client(*, production: bool, timeout_s: float, connections: int) -> httpx.AsyncClient:
    """The worker's HTTP client: no redirects, no proxies from the environment, bounded time."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = (
        _GuardedTransport(limits)
        if production
        else httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    )
    return httpx.AsyncClient(
        transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False
    )
