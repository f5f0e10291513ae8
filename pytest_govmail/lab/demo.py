"""The embedded demo lab: sample departments, each compliant or broken in one known way.

``pytest --govmail-demo`` starts this on loopback and assesses the departments like real domains,
so the first command a newcomer runs shows the whole product working with no internet. The
project's integration tests and benchmarks use the same zones and expectations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.model import Role, Target

#: Seconds the demo waits for an answer: short, since the unreachable zone costs one timeout.
DEMO_TIMEOUT = 1.5

#: (domain, declared roles, what is wrong with it) — the story the demo tells.
DEPARTMENTS: tuple[tuple[str, frozenset[Role], str], ...] = (
    ("exemplary-dept.gov.uk", frozenset(), "fully compliant"),
    ("monitoring-dept.gov.uk", frozenset(), "DMARC p=none at 50%, no NCSC reports, no TLS-RPT"),
    ("sprawling-spf-dept.gov.uk", frozenset(), "SPF over 10 lookups, void includes, ptr, ?all"),
    ("dormant-dept.gov.uk", frozenset({Role.PARKED}), "parked domain done right"),
    ("half-parked-dept.gov.uk", frozenset({Role.PARKED}), "parked, but with MX and soft SPF"),
    ("aliased-mx-dept.gov.uk", frozenset(), "MX via CNAME, address literal, null MX mixed in"),
    ("unreachable-dept.gov.uk", frozenset(), "name server never answers (inconclusive)"),
    ("broken-dns-dept.gov.uk", frozenset(), "_dmarc answers SERVFAIL (inconclusive DMARC)"),
    ("hostile-dept.gov.uk", frozenset(), "records full of markup and script payloads"),
)

FAULTS: Mapping[str, Fault] = {
    "unreachable-dept.gov.uk": Fault.DROP,
    "_dmarc.broken-dns-dept.gov.uk": Fault.SERVFAIL,
}


def bulk_txt_record(strings: int = 70) -> str:
    """Over 16 KiB of TXT strings (an RRset that only TCP can carry), as an SPF record."""
    filler = " ".join(f"ip4:198.51.100.{i % 250}" for i in range(40))
    chunk = filler[:250]
    body = " ".join(f'"{chunk} "' for _ in range(strings))
    return f'"v=spf1 " {body} "-all"'


def demo_zones() -> dict[str, str]:
    """Origin -> master-file text for every zone of the lab (file ``<origin>.zone``)."""
    zones: dict[str, str] = {}
    for entry in resources.files("pytest_govmail.lab").joinpath("zones").iterdir():
        if entry.name.endswith(".zone"):
            zones[entry.name.removesuffix(".zone")] = entry.read_text("utf-8")
    zones["hostile-dept.gov.uk"] += f"bulk 3600 IN TXT {bulk_txt_record()}\n"
    return zones


def demo_targets() -> tuple[Target, ...]:
    return tuple(Target(d, roles=r, source=f"demo lab: {story}") for d, r, story in DEPARTMENTS)


@dataclass
class DemoLab:
    """A running lab: point the resolver at ``nameserver`` and assess ``targets``."""

    dns: LabDnsServer
    targets: tuple[Target, ...]
    timeout: float = DEMO_TIMEOUT

    @property
    def nameserver(self) -> str:
        host, port = self.dns.address
        return f"{host}:{port}"

    def stop(self) -> None:
        self.dns.stop()


def start_demo_lab(host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> DemoLab:
    server = LabDnsServer(demo_zones(), host=host, port=port, delay=delay, faults=FAULTS)
    server.start()
    return DemoLab(server, demo_targets())
