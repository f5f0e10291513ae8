"""Where a run looked from: what the assessor's own machine and resolver could see.

Most CI runs on networks that cannot see what an assessment needs: hosted runners and cloud
VMs block outbound TCP port 25 by default (GitHub's hosted runners run on Azure, which blocks
it: https://learn.microsoft.com/azure/virtual-network/troubleshoot-outbound-smtp-connectivity),
many have no IPv6 route, and corporate resolvers filter or rewrite answers. A run that does
not know this reports the machine's limits as hundreds of faults of the assessed domains. The
:class:`Vantage` says, once, what this machine could do, so that judges can tell "the domain
is wrong" from "this machine could not look".

It travels in the evidence's ``settings`` mapping (strings only, :meth:`Vantage.settings`), so
the evidence schema is unchanged and a replay judges with the vantage point of the run that
collected it; evidence without these keys (release 0.1.0's) has no vantage point.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_govmail.model.dns import Query

__all__ = [
    "BLIND_CAUSE",
    "BLOCKED_CAUSE",
    "CANARY",
    "IP_VERSIONS",
    "PORT25_ANSWERED",
    "PORT25_BLOCKED",
    "PORT25_UNKNOWN",
    "Vantage",
]

#: ``--govmail-ip-version`` values: ``auto`` probes the address families this machine has a
#: route for; ``4`` and ``6`` only that family; ``both`` every address (unreachable is then
#: inconclusive, as before the option existed).
IP_VERSIONS = ("auto", "4", "6", "both")

PORT25_ANSWERED = "answered"
PORT25_BLOCKED = "looks blocked"
PORT25_UNKNOWN = "not observed"

#: What a test says when port 25 looks blocked: the same words everywhere, so they group.
BLOCKED_CAUSE = "outbound port 25 looks blocked from this machine"
#: What a test says when the resolver fails its canary question.
BLIND_CAUSE = "the resolver cannot see the public DNS"

_PREFIX = "vantage."

#: The resolver's canary question: the root zone's NS set, whose answer is certain (see
#: :mod:`pytest_govmail.collect.vantage`). Kept in the evidence, but not one of the domains'
#: answers: the run's counts of answers and failures leave it out.
CANARY = Query.of(".", "NS")


@dataclass(frozen=True, slots=True)
class Vantage:
    """What this machine could do when it collected the evidence.

    ``routes`` maps an address family ("4", "6") to whether the kernel has a route for a
    global address of it (None: not checked). ``port25`` is one of ``PORT25_*``, with
    ``port25_detail`` saying what was seen. ``canary`` is empty when the resolver answered its
    canary question as the public DNS must, else why not (``canary_failed`` says whether that
    makes the resolver blind, or merely unhelpful, as an authoritative-only server is).
    ``unrouted`` holds the MX addresses the kernel had no route to, which ``auto`` left out:
    decided per address, so that loopback (``::1``) is probed on a machine whose only IPv6 is
    loopback, as the demo lab's is.
    """

    ip_version: str = "auto"
    routes: Mapping[str, bool | None] | None = None
    resolver: str = ""
    port25: str = PORT25_UNKNOWN
    port25_detail: str = ""
    canary: str = ""
    canary_failed: bool = False
    unrouted: frozenset[str] = frozenset()

    def route(self, family: str) -> bool | None:
        return (self.routes or {}).get(family)

    @property
    def port25_blocked(self) -> bool:
        return self.port25 == PORT25_BLOCKED

    @property
    def blind(self) -> str | None:
        """The cause every test names when the resolver cannot see the public DNS, else None."""
        if not self.canary_failed:
            return None
        return f"{BLIND_CAUSE} ({self.canary})"

    @property
    def blocked(self) -> str | None:
        """The cause a host test names when port 25 looks blocked, else None."""
        if not self.port25_blocked:
            return None
        return f"{BLOCKED_CAUSE} ({self.port25_detail})" if self.port25_detail else BLOCKED_CAUSE

    def not_probed(self, address: str) -> str | None:
        """Why ``address`` is not probed from this machine (None: probe it).

        ``4``/``6`` leave out the other family; ``auto`` leaves out a family the kernel has no
        route to (checked for each address at collection and kept in ``unrouted``, see
        :mod:`pytest_govmail.collect.vantage`); ``both`` leaves out nothing.
        """
        try:
            version = str(ipaddress.ip_address(address.split("%", 1)[0]).version)
        except ValueError:
            return None
        if self.ip_version in ("4", "6") and version != self.ip_version:
            return f"not probed (--govmail-ip-version {self.ip_version})"
        if self.ip_version == "auto" and _canonical(address) in self.unrouted:
            return f"not probed from this machine (no IPv{version} route)"
        return None

    def lines(self) -> list[str]:
        """The vantage point in a few words per fact, for the header and the report."""
        routes = ", ".join(
            f"IPv{f} {'route' if self.route(f) else 'no route' if self.route(f) is False else '?'}"
            for f in ("4", "6")
        )
        port25 = f"port 25 {self.port25}" + (
            f" ({self.port25_detail})" if self.port25_detail else ""
        )
        canary = "resolver canary answered" if not self.canary else f"resolver: {self.canary}"
        return [f"{routes}; ip-version {self.ip_version}; {port25}; {canary}"]

    def settings(self) -> dict[str, str]:
        """The vantage point as the evidence's ``settings`` keys (strings only)."""
        out = {
            _PREFIX + "ip_version": self.ip_version,
            _PREFIX + "port25": self.port25,
            _PREFIX + "port25_detail": self.port25_detail,
            _PREFIX + "canary": self.canary,
            _PREFIX + "canary_failed": "yes" if self.canary_failed else "no",
        }
        for family in ("4", "6"):
            known = self.route(family)
            out[_PREFIX + f"ipv{family}_route"] = "?" if known is None else "yes" if known else "no"
        out[_PREFIX + "unrouted"] = " ".join(sorted(self.unrouted))
        return out

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Vantage | None:
        """The vantage point a run recorded; None when the evidence carries none (0.1.0)."""
        if _PREFIX + "ip_version" not in settings:
            return None

        def route(family: str) -> bool | None:
            text = settings.get(_PREFIX + f"ipv{family}_route", "?")
            return None if text == "?" else text == "yes"

        version = settings.get(_PREFIX + "ip_version", "auto")
        return cls(
            ip_version=version if version in IP_VERSIONS else "both",
            routes={"4": route("4"), "6": route("6")},
            resolver=settings.get("resolver", ""),
            port25=settings.get(_PREFIX + "port25", PORT25_UNKNOWN),
            port25_detail=settings.get(_PREFIX + "port25_detail", ""),
            canary=settings.get(_PREFIX + "canary", ""),
            canary_failed=settings.get(_PREFIX + "canary_failed", "no") == "yes",
            unrouted=frozenset(settings.get(_PREFIX + "unrouted", "").split()),
        )


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address
