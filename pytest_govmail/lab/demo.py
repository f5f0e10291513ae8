"""The embedded demo lab: sample departments, each compliant or broken in one known way.

``pytest --govmail-demo`` starts this on loopback and assesses the departments like real domains,
so the first command a newcomer runs shows the whole product working with no internet. The
project's integration tests and benchmarks use the same zones and expectations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.model import Role, Target

#: The demo's own waiver and attestation files (used unless the user gives others).
DEMO_WAIVERS = Path(__file__).with_name("waivers.toml")
DEMO_ATTESTATIONS = Path(__file__).with_name("attestations.toml")

#: Seconds the demo waits for an answer: short, since the unreachable zone costs one timeout.
DEMO_TIMEOUT = 1.5

#: (domain, declared roles, what is wrong with it) — the story the demo tells.
DEPARTMENTS: tuple[tuple[str, frozenset[Role], str], ...] = (
    ("exemplary-dept.gov.uk", frozenset(), "fully compliant"),
    ("bare-dept.gov.uk", frozenset(), "mail works, but no SPF, DMARC, TLS-RPT or MTA-STS"),
    ("monitoring-dept.gov.uk", frozenset(), "DMARC p=none at 50%, no NCSC reports, no TLS-RPT"),
    ("sprawling-spf-dept.gov.uk", frozenset(), "SPF over 10 lookups, void includes, ptr, ?all"),
    ("dormant-dept.gov.uk", frozenset({Role.PARKED}), "parked domain done right"),
    ("half-parked-dept.gov.uk", frozenset({Role.PARKED}), "parked, but with MX and soft SPF"),
    ("aliased-mx-dept.gov.uk", frozenset(), "MX via CNAME, address literal, null MX mixed in"),
    ("unreachable-dept.gov.uk", frozenset(), "name server never answers (inconclusive)"),
    ("broken-dns-dept.gov.uk", frozenset(), "_dmarc answers SERVFAIL (inconclusive DMARC)"),
    ("hostile-dept.gov.uk", frozenset(), "records full of markup and script payloads"),
)

PARK = ("PARK-01", "PARK-02", "PARK-03", "PARK-04")

#: What the demo must show: per department, every test that does not pass, as
#: requirement (or requirement@host) -> "fail", "error" (inconclusive) or "skip" (not applicable).
#: Everything else passes. The integration tests hold the plugin to this table.
EXPECTED: Mapping[str, Mapping[str, str]] = {
    "exemplary-dept.gov.uk": dict.fromkeys(PARK, "skip"),  # ATTEST-01 passes: all attested
    "bare-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        **dict.fromkeys([f"SPF-0{i}" for i in range(1, 8)], "fail"),
        **dict.fromkeys([f"DMARC-0{i}" for i in range(1, 9)], "fail"),
        **dict.fromkeys(["TLSRPT-01", "TLSRPT-02", "MTASTS-01"], "fail"),
        "ATTEST-01": "skip",
    },
    "monitoring-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        **dict.fromkeys(["DMARC-03", "DMARC-04", "DMARC-05", "DMARC-07"], "fail"),
        **dict.fromkeys(["TLSRPT-01", "TLSRPT-02", "MTASTS-01"], "fail"),
        "ATTEST-01": "fail",  # two controls attested, one of them expired
    },
    "sprawling-spf-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        **dict.fromkeys(["SPF-03", "SPF-04", "SPF-05", "DMARC-08"], "fail"),
        "SPF-06": "xfail",  # waived
        "TLSRPT-02": "fail",
        "ATTEST-01": "skip",
    },
    "dormant-dept.gov.uk": {
        **dict.fromkeys(
            ["MX-01", "MX-02", "PTR-01", "TLSRPT-01", "TLSRPT-02", "MTASTS-01", "ATTEST-01"],
            "skip",
        ),
        "MX-03": "fail",  # passes under a waiver: XPASS(strict)
    },
    "half-parked-dept.gov.uk": {
        **dict.fromkeys([*PARK, "TLSRPT-01", "TLSRPT-02", "MTASTS-01"], "fail"),
        "ATTEST-01": "skip",
    },
    "aliased-mx-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        "ATTEST-01": "skip",
        "MX-02@127.0.3.20": "fail",
        "MX-02@mail.aliased-mx-dept.gov.uk": "fail",
        "MX-03": "fail",
        "PTR-01@127.0.3.20": "fail",
        "PTR-01@relay.aliased-mx-dept.gov.uk": "fail",
    },
    "unreachable-dept.gov.uk": dict.fromkeys(
        [
            *[f"DMARC-0{i}" for i in range(1, 9)],
            *[f"SPF-0{i}" for i in range(1, 8)],
            *PARK,
            "MX-01",
            "MX-02",
            "MX-03",
            "PTR-01",
            "TLSRPT-01",
            "TLSRPT-02",
            "MTASTS-01",
        ],
        "error",
    )
    | {"ATTEST-01": "skip"},
    "broken-dns-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        "ATTEST-01": "skip",
        **dict.fromkeys([f"DMARC-0{i}" for i in range(1, 9)], "error"),
    },
    "hostile-dept.gov.uk": {
        **dict.fromkeys(PARK, "skip"),
        "ATTEST-01": "skip",
        **dict.fromkeys([f"SPF-0{i}" for i in range(2, 8)], "fail"),
        **dict.fromkeys([f"DMARC-0{i}" for i in range(2, 9)], "fail"),
        **dict.fromkeys(["TLSRPT-01", "TLSRPT-02", "MTASTS-01"], "fail"),
    },
}

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
    """A running lab: point the resolver at ``nameserver`` and assess ``targets``.

    ``waivers`` and ``attestations`` are the demo's own input files, used unless the user
    gives others.
    """

    dns: LabDnsServer
    targets: tuple[Target, ...]
    timeout: float = DEMO_TIMEOUT
    waivers: Path = DEMO_WAIVERS
    attestations: Path = DEMO_ATTESTATIONS

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
