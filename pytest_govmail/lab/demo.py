"""The embedded demo lab: sample departments, each compliant or broken in one known way.

``pytest --govmail-demo`` starts this on loopback and assesses the departments like real domains,
so the first command a newcomer runs shows the whole product working with no internet. The
project's integration tests and benchmarks use the same zones and expectations.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.lab.zone_signing import sign_lab
from pytest_govmail.model.target import Role, Target

if TYPE_CHECKING:
    from pytest_govmail.lab.services import MailServices

#: The demo's own waiver and attestation files (used unless the user gives others).
DEMO_WAIVERS = Path(__file__).with_name("waivers.toml")
DEMO_ATTESTATIONS = Path(__file__).with_name("attestations.toml")

#: Seconds the demo waits for an answer: short, since the unreachable zone costs one timeout.
DEMO_TIMEOUT = 1.5

#: (domain, declared roles, what is wrong with it) — the story the demo tells.
DEPARTMENTS: tuple[tuple[str, frozenset[Role], str], ...] = (
    ("exemplary-dept.gov.uk", frozenset(), "fully compliant, DNSSEC-signed"),
    ("bare-dept.gov.uk", frozenset(), "mail works, but no SPF, DMARC, TLS-RPT or MTA-STS"),
    (
        "monitoring-dept.gov.uk",
        frozenset(),
        "DMARC p=none at 50%, no NCSC reports, no TLS-RPT, an expired DNSSEC signature",
    ),
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
    from pytest_govmail.lab.services import TLS_DEPARTMENTS

    found = [
        Target(d, roles=r, dkim_selectors=SELECTORS.get(d, ()), source=f"demo lab: {story}")
        for d, r, story in DEPARTMENTS
    ]
    found += [
        Target(d, source=f"demo lab: MX {profile.description}")
        for d, _address, profile in TLS_DEPARTMENTS
    ]
    return tuple(found)


#: DKIM selectors the demo declares, as a domains file would.
SELECTORS: Mapping[str, tuple[str, ...]] = {
    "exemplary-dept.gov.uk": ("s2026",),
    "broken-dns-dept.gov.uk": ("s2025",),  # declared, but no key published: DKIM-01 fails
}


@dataclass
class DemoLab:
    """A running lab: point the resolver at ``nameserver`` and assess ``targets``.

    ``services`` are the MX servers, the MTA-STS policy host and the DKIM material (None for a
    DNS-only lab). ``waivers`` and ``attestations`` are the demo's own input files, used unless
    the user gives others.
    """

    dns: LabDnsServer
    targets: tuple[Target, ...]
    services: MailServices | None = None
    #: The lab's own DNSSEC trust anchor (the DS of its signed gov.uk), written at start.
    trust_anchor: Path | None = None
    timeout: float = DEMO_TIMEOUT
    waivers: Path = DEMO_WAIVERS
    attestations: Path = DEMO_ATTESTATIONS

    @property
    def nameserver(self) -> str:
        host, port = self.dns.address
        return f"{host}:{port}"

    def info(self) -> dict[str, object]:
        """Plain data a run needs to use this lab (handed to pytest-xdist workers as is)."""
        info: dict[str, object] = {
            "nameserver": self.nameserver,
            "timeout": self.timeout,
            "waivers": str(self.waivers),
            "attestations": str(self.attestations),
        }
        if self.trust_anchor is not None:
            info["trust_anchor"] = str(self.trust_anchor)
        if self.services is not None:
            info.update(
                smtp_port=self.services.smtp_port,
                https_port=self.services.https_port,
                ca_file=str(self.services.ca_file),
                eml=[str(p) for p in self.services.dkim.messages],
            )
        return info

    def cli_args(self) -> list[str]:
        """The options that point a govmail run at this lab (what --govmail-demo sets)."""
        args = [f"--govmail-nameserver={self.nameserver}", f"--govmail-timeout={self.timeout}"]
        if self.trust_anchor is not None:
            args.append(f"--govmail-trust-anchor={self.trust_anchor}")
        if self.services is not None:
            args += [
                f"--govmail-smtp-port={self.services.smtp_port}",
                f"--govmail-https-port={self.services.https_port}",
                f"--govmail-ca-file={self.services.ca_file}",
                "--govmail-allow-private",
            ]
        return args

    def stop(self) -> None:
        self.dns.stop()
        if self.trust_anchor is not None:
            shutil.rmtree(self.trust_anchor.parent, ignore_errors=True)
        if self.services is not None:
            self.services.stop()


def start_demo_lab(
    host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, services: bool = True
) -> DemoLab:
    """Start the lab: its mail services first (their DKIM keys go into the zones), then DNS,
    with its zones signed and its trust anchor written to a file of its own (see
    :mod:`pytest_govmail.lab.zone_signing`)."""
    zones = demo_zones()
    running = None
    if services:
        from pytest_govmail.lab.services import start_mail_services, zone_additions

        running = start_mail_services()
        for origin, text in zone_additions(running).items():
            zones[origin] = zones.get(origin, "") + text
    folder = Path(tempfile.mkdtemp(prefix="govmail-lab-dnssec-"))
    try:
        signed = sign_lab(zones)
        anchor = folder / "trust-anchor.zone"
        anchor.write_text(signed.anchor, "utf-8")
        server = LabDnsServer(
            signed.zones, host=host, port=port, delay=delay, faults=FAULTS
        ).start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if running is not None:
            running.stop()
        raise
    return DemoLab(server, demo_targets(), running, trust_anchor=anchor)
