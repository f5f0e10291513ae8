"""A whole run on the lab's shared-provider shape: DNS, scans, evidence, CERT-02, terminal figures.

Tenant councils each publish their own MX name; every name resolves to one provider address
(a wildcard A record, as a provider's pool does). The run asks that server for its versions and
suites once, each further name for its certificate once, and CERT-02 judges each council's MX on
the certificate its own name was served.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_govmail.engine.needs import all_dns_groups
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.inputs.catalogue import load_catalogue
from pytest_govmail.judge.cert import names_mx_host
from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.smtp_server import (
    SHARED_PROVIDER_ADDRESS,
    SHARED_PROVIDER_OTHER_SERVER,
    SHARED_PROVIDER_OWN_CERT,
    LabSmtpFleet,
    shared_provider,
    shared_provider_zones,
)
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import address_loads, busiest_address
from pytest_govmail.model.verdict import Status

TENANTS = 12
TARGETS = (
    *(Target(f"tenant{n}-council.gov.uk") for n in range(1, TENANTS + 1)),
    Target("own-cert-council.gov.uk"),
    Target("old-council.gov.uk"),
)


@dataclass(frozen=True)
class Shape:
    run: GovmailRun
    fleet: LabSmtpFleet


@pytest.fixture(scope="module")
def shape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    pki = LabPki()
    ca_file = pki.write_ca_file(tmp_path_factory.mktemp("ca") / "lab-ca.pem")
    zones = shared_provider_zones(TENANTS)
    with (
        LabSmtpFleet([shared_provider()], pki=pki, idle_timeout=3.0) as fleet,
        LabDnsServer(zones, host="127.0.0.1", port=0) as dns,
    ):
        host, port = dns.address
        run = GovmailRun(
            TARGETS,
            Settings(
                nameservers=(f"{host}:{port}",),
                timeout=2.0,
                smtp_port=fleet.port,
                ca_file=ca_file,
                allow_private=True,
            ),
            scan_during_dns=True,
        )
        run.ensure_dns(all_dns_groups())
        run.ensure(list(load_catalogue()))
        yield Shape(run, fleet)


def test_one_full_scan_for_the_address_and_one_handshake_per_further_name(shape: Shape) -> None:
    run = shape.run
    (load,) = address_loads(run.tls.values())
    assert load.address == SHARED_PROVIDER_ADDRESS and len(load.names) == TENANTS + 2
    assert SHARED_PROVIDER_OTHER_SERVER in load.full_scans and len(load.full_scans) == 2
    assert run.stats.tls_addresses == 1 and run.stats.tls_names == TENANTS + 2
    (full,) = (s for s in run.tls.values() if not s.shared_with and not s.sharing)
    accepted = sum(len(v.cipher_suites) for v in full.versions if v.accepted)
    sharing = [s for s in run.tls.values() if s.shared_with or s is full]
    # Issue 13's budget for the names that share the address's scan.
    assert sum(s.handshakes for s in sharing) <= accepted + 10 + (len(sharing) - 1)
    server = shape.fleet.servers[shared_provider().hostname]
    assert server.wait_idle()
    assert server.connections == load.connections == run.stats.tls_connections
    (line,) = busiest_address(run.tls.values())
    assert f"{TENANTS + 2} MX name(s) served (2 full scans)" in line


def test_cert02_judges_each_name_on_the_certificate_it_is_served(shape: Shape) -> None:
    run = shape.run
    for target in run.targets:
        (host,) = run.hosts(target) or ()
        verdict = names_mx_host(run.subject(target, host))
        assert verdict.status is Status.PASS, (host, verdict.summary)
    own = next(s for s in run.tls.values() if s.host == SHARED_PROVIDER_OWN_CERT)
    assert "its own certificate" in own.sharing


def test_the_evidence_replays_to_the_same_scans(shape: Shape, tmp_path: Path) -> None:
    path = tmp_path / "evidence.json"
    evidence_file.write(shape.run.to_evidence(), path)
    replayed = evidence_file.read(path)
    assert replayed.tls == shape.run.tls
    again = GovmailRun(TARGETS, Settings(), replay=replayed)
    for target in TARGETS:
        (host,) = again.hosts(target) or ()
        assert names_mx_host(again.subject(target, host)).status is Status.PASS
