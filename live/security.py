"""Who may steer the show: the control token, allowed browser origins and OSC source addresses.

On 127.0.0.1 (the default) only this machine reaches the server and nothing is asked. On any
other address the server refuses to start without a token (unless told --insecure): WebSocket
control then needs it, as `/ws?token=...` or a first `{"op": "auth", "token": ...}`.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

MIN_TOKEN = 8  # characters: a token short enough to guess is refused at start
# WebSocket control messages a connection may send a second (bursts of twice as many): a page's
# microphone sends 125 a second and a fader under a finger about 60.
CONTROL_PER_S = 400.0
PUBLIC_TOPICS = frozenset({"frames", "status"})  # what `public_frames` lets a visitor watch

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback(host: str) -> bool:
    """Whether an address to listen on reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or 0.0.0.0-like wildcards: treat as public


@dataclass(frozen=True)
class Access:
    """The access rules of one server (from the command line and the patch's [server] table)."""

    token: str | None = None
    origins: frozenset[str] = frozenset()  # browser origins allowed besides the server's own
    osc_allow: tuple[Network, ...] = ()  # OSC source networks; empty: any
    public_frames: bool = False  # visitors without the token may watch frames and status
    control_per_s: float = CONTROL_PER_S  # WebSocket control messages a connection may send

    @classmethod
    def from_settings(cls, token: Any, origins: Any, osc_allow: Any, public_frames: Any,
                      control_per_s: Any = CONTROL_PER_S) -> Access:
        """Check and build; ValueError with the setting's name when one is wrong."""
        if token is not None and (not isinstance(token, str) or len(token) < MIN_TOKEN
                                  or not token.isprintable() or " " in token):
            raise ValueError(f"token refused: expected at least {MIN_TOKEN} printable characters "
                             "without spaces")
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ValueError(f"[server] origins = {origins!r} refused, expected a list of "
                             "origins such as \"http://show.local:8765\"")
        if not isinstance(osc_allow, list) or not all(isinstance(a, str) for a in osc_allow):
            raise ValueError(f"[server] osc_allow = {osc_allow!r} refused, expected a list of "
                             "addresses or networks such as \"192.168.1.0/24\"")
        try:
            networks = tuple(ipaddress.ip_network(a, strict=False) for a in osc_allow)
        except ValueError as e:
            raise ValueError(f"[server] osc_allow: {e}") from None
        if not isinstance(public_frames, bool):
            raise ValueError(f"[server] public_frames = {public_frames!r} refused, expected "
                             "true or false")
        if isinstance(control_per_s, bool) or not isinstance(control_per_s, (int, float)) \
                or not 1 <= control_per_s <= 100_000:
            raise ValueError(f"[server] control_per_s = {control_per_s!r} refused, expected "
                             "messages a second from 1 to 100000")
        return cls(token or None, frozenset(o.rstrip("/") for o in origins), networks,
                   public_frames, float(control_per_s))

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """A WebSocket handshake's Origin: none (not a browser), the server's own, or listed."""
        if origin is None:
            return True
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and host_header is not None \
            and parts.netloc.lower() == host_header.lower()

    def token_ok(self, given: Any) -> bool:
        """Whether a client's token opens control (always, with no token set)."""
        if self.token is None:
            return True
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.token.encode())

    def url_token(self, path: str) -> str | None:
        """The `token` query parameter of a request path."""
        values = parse_qs(urlsplit(path).query).get("token")
        return values[0] if values else None

    def osc_ok(self, ip: str) -> bool:
        """Whether an OSC datagram from this source address is applied."""
        if not self.osc_allow:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.osc_allow)


def check_exposure(host: str, access: Access, insecure: bool) -> None:
    """Refuse a public address without a token, unless the performer said --insecure."""
    if not is_loopback(host) and access.token is None and not insecure:
        raise ValueError(f"listening on {host} lets anyone on the network steer the show: give "
                         "a token (--token, or token in the patch's [server] table), or pass "
                         "--insecure to do it anyway (docs/security.md)")


def exposure(host: str, access: Access) -> str:
    """One line for the log: what is reachable from where, and what it needs."""
    if is_loopback(host):
        return f"listening on {host} only: this machine alone can reach the server"
    control = "WebSocket control needs the token" if access.token else \
        "NO TOKEN (--insecure): anyone on the network can steer the show"
    frames = "frames and status are public" if access.public_frames else \
        "frames need the token too" if access.token else "frames are public"
    osc = "OSC from " + ", ".join(str(n) for n in access.osc_allow) if access.osc_allow \
        else "OSC from anywhere"
    return f"listening on {host}: {control}; {frames}; {osc}"


@dataclass
class ClientAccess:
    """One WebSocket connection's standing: whether it gave the token."""

    authed: bool
    refused: int = field(default=0)  # control messages refused for want of the token
