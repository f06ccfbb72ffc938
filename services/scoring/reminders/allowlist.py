"""Where webhooks may go: a deployment's allow-list of host names and networks (pure; no resolving).

An address is allowed when it lies in a listed network, or when the URL's host is listed by name and
the address is a public one (a listed name that resolves into a private network is refused unless
that network is listed too: DNS can change after registration). Nothing is allowed by default."""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class NotAllowed(ValueError):
    """A destination outside the allow-list (or not an http(s) URL): never contacted."""


@dataclass(frozen=True)
class Allowlist:
    names: frozenset[str]  # "hooks.example.org", or "*.example.org" for its subdomains
    networks: tuple[IpNetwork, ...]

    @classmethod
    def parse(cls, text: str) -> "Allowlist":
        """From a comma-separated setting: CIDR networks, addresses and host names."""
        names, networks = set(), []
        for entry in (e.strip().lower() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def lists_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(
            n.startswith("*.") and host.endswith(n[1:]) and host != n[2:] for n in self.names
        )

    def allows_address(self, host: str, address: IpAddress) -> bool:
        address = _unmapped(address)
        if any(address in net for net in self.networks):
            return True
        return self.lists_name(host) and address.is_global


def _unmapped(address: IpAddress) -> IpAddress:
    """::ffff:127.0.0.1 is 127.0.0.1: judged as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def destination(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL without credentials; NotAllowed otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise NotAllowed(f"not a URL: {err}") from None
    if parts.scheme not in ("http", "https"):
        raise NotAllowed("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise NotAllowed("credentials in the URL are not allowed")
    if not parts.hostname:
        raise NotAllowed("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check(allow: Allowlist, host: str, addresses: list[IpAddress]) -> None:
    """NotAllowed unless every address `host` resolves to is allowed (one bad one is enough)."""
    if not addresses:
        raise NotAllowed(f"{host} resolves to no address")
    for address in addresses:
        if not allow.allows_address(host, address):
            raise NotAllowed(f"{host} resolves to {address}, which the allow-list does not allow")
