"""A full assessment scans each domain's mail servers while DNS is still answering for others.

Against the demo lab: unreachable-dept.gov.uk's zone never answers (its questions time out),
exemplary-dept.gov.uk answers at once. With ``scan_during_dns`` the exemplary MX is being
scanned before the DNS phase ends; without it (any selection), no mail server is contacted
until the TLS phase, and a run that needs no TLS never contacts one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_govmail.engine.needs import all_dns_groups
from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.engine.settings import Settings
from pytest_govmail.lab.demo import DemoLab, start_demo_lab
from pytest_govmail.model.target import Target

TARGETS = (Target("exemplary-dept.gov.uk"), Target("unreachable-dept.gov.uk"))


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab()
    yield running
    running.stop()


def _run(lab: DemoLab, scan_during_dns: bool) -> tuple[GovmailRun, list[int]]:
    """A run on the lab, and how many SMTP connections the lab had seen when DNS finished."""
    services = lab.services
    assert services is not None
    before = sum(s.connections for s in services.fleet)
    at_dns_end: list[int] = []

    def progress(line: str) -> None:
        if line.startswith("DNS:"):
            at_dns_end.append(sum(s.connections for s in services.fleet) - before)

    run = GovmailRun(
        TARGETS,
        Settings(
            nameservers=(lab.nameserver,),
            timeout=lab.timeout,
            smtp_port=services.smtp_port,
            https_port=services.https_port,
            ca_file=services.ca_file,
            allow_private=True,
        ),
        progress=progress,
        scan_during_dns=scan_during_dns,
    )
    run.ensure_dns(all_dns_groups())
    return run, at_dns_end


def test_mail_servers_are_scanned_while_dns_still_answers(lab: DemoLab) -> None:
    run, at_dns_end = _run(lab, scan_during_dns=True)
    # The silent zone kept DNS busy for its whole timeout; the exemplary MX was scanned meanwhile.
    assert at_dns_end and at_dns_end[0] > 0
    # The scans finish while pytest makes the tests (parametrising them needs DNS only); the
    # tests' evidence (ensure) waits for them, and nothing is asked or scanned twice.
    queries = run.stats.dns_queries
    from pytest_govmail.inputs.catalogue import load_catalogue

    run.ensure(list(load_catalogue()))
    assert {host for host, _ in run.tls} == {
        "mail1.exemplary-dept.gov.uk",
        "mail2.exemplary-dept.gov.uk",
    }
    for scan in run.tls.values():
        assert scan.error is None and any(v.accepted for v in scan.versions)
    assert run.stats.dns_queries == queries
    assert run.stats.phases.count("tls") == 1


def test_scans_still_running_are_finished_into_the_evidence(lab: DemoLab) -> None:
    # A run that ends before any test wanted TLS (say, a collection error) still writes its
    # scans into the evidence, never an evidence file without them.
    run, _ = _run(lab, scan_during_dns=True)
    saved = run.to_evidence()
    assert {host for host, _ in saved.tls} == {
        "mail1.exemplary-dept.gov.uk",
        "mail2.exemplary-dept.gov.uk",
    }


def test_without_it_no_mail_server_is_contacted_during_dns(lab: DemoLab) -> None:
    run, at_dns_end = _run(lab, scan_during_dns=False)
    assert at_dns_end == [0]
    assert run.tls == {}


def test_no_garbage_collection_pauses_while_probes_are_in_flight(lab: DemoLab) -> None:
    # A full collection stops every thread for as long as it walks the objects alive: seconds in
    # a 10,000-domain run, long enough for every question in flight to time out. The collector
    # is off while the engine collects, and back on afterwards.
    import gc

    seen: list[bool] = []
    services = lab.services
    assert services is not None
    run = GovmailRun(
        TARGETS[:1],
        Settings(nameservers=(lab.nameserver,), timeout=lab.timeout, allow_private=True),
        progress=lambda line: seen.append(gc.isenabled()),
    )
    assert gc.isenabled()
    run.ensure_dns(all_dns_groups())
    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_user_stays_off() -> None:
    import gc

    from pytest_govmail.engine.run import without_gc_pauses

    gc.disable()
    try:
        with without_gc_pauses():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
