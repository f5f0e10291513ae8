"""The SMTP fault lab (issue 5): hostile mail servers on loopback, what the collector records.

Each fault is a real :class:`LabSmtpServer` on its own address in 127.0.6.0/24 (port 0). One
module-scoped ``scan_addresses`` call covers every fault and a healthy server side by side, as a
run would; each test then checks one fault's evidence (error kind and detail), that it came
within the timeout, and the MX-04/TLS-01 verdicts it leads to. The healthy server's scan must
equal its scan alone. Timeouts are about a second, so the module stays fast.

Covered elsewhere, not repeated here: a server that never greets, 454 to STARTTLS, a 554
greeting and 421 on every connection (``test_collect_tls.py``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_govmail.collect.tls import ScanRequest, TlsScanSettings, scan_address, scan_addresses
from pytest_govmail.judge.tls import answers_smtp, starttls_completes
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.smtp_server import (
    COMPLIANT,
    DROP_AFTER_EHLO,
    HUGE_EHLO_LINE,
    HUGE_GREETING_LINE,
    LAB_ADDRESSES,
    POSTSCREEN,
    PROFILES,
    SLOW_BANNER,
    SLOW_HANDSHAKE,
    STARTTLS_GARBAGE,
    THROTTLING_ALTERNATE,
    LabSmtpServer,
    SmtpProfile,
)
from pytest_govmail.model.dns import DnsSnapshot, ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import TlsScan, TlsVersion, from_json, to_json
from pytest_govmail.model.verdict import Status, Verdict

TIMEOUT = 1.0
BACKOFF = 0.05
#: Slack on top of the timeout for a whole scan (thread start-up, handshakes on a busy CI box).
MARGIN = 1.0
DOMAIN = "faults-dept.gov.uk"
#: The collector's line bound and read size (pytest_govmail.collect.tls._MAX_LINE, _RECV).
MAX_LINE = 2048
RECV = 4096

HEALTHY = COMPLIANT.name
FAULTS: tuple[SmtpProfile, ...] = (
    SLOW_BANNER,
    DROP_AFTER_EHLO,
    STARTTLS_GARBAGE,
    HUGE_GREETING_LINE,
    HUGE_EHLO_LINE,
    THROTTLING_ALTERNATE,
)
ADDRESSES = {
    name: f"127.0.6.{10 + index}"
    for index, name in enumerate(
        [HEALTHY, *(p.name for p in FAULTS), SLOW_HANDSHAKE.name, POSTSCREEN.name]
    )
}


def hostname(profile: str) -> str:
    return f"mx.{profile}.{DOMAIN}"


def settings(**changes: object) -> TlsScanSettings:
    base = TlsScanSettings(
        timeout=TIMEOUT,
        allow_private=True,
        retry_backoff=BACKOFF,
        ehlo_name="scanner.test.example",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Lab:
    pki: LabPki
    servers: dict[str, LabSmtpServer]

    def request(self, name: str) -> ScanRequest:
        address, port = self.servers[name].address
        return ScanRequest(hostname(name), address, port)


@dataclass(frozen=True)
class Run:
    """The module's scan: every fault and the healthy server in one call."""

    scans: dict[str, TlsScan]
    seconds: float
    alone: TlsScan


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    pki = LabPki()
    servers: dict[str, LabSmtpServer] = {}
    try:
        for profile in (COMPLIANT, *FAULTS):
            servers[profile.name] = LabSmtpServer(
                profile,
                hostname=hostname(profile.name),
                pki=pki,
                host=ADDRESSES[profile.name],
                idle_timeout=3.0,
            ).start()
        yield Lab(pki, servers)
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def run(lab: Lab) -> Run:
    alone = scan_address(lab.request(HEALTHY), settings())
    for server in lab.servers.values():
        server.reset_stats()
    names = list(lab.servers)
    started = time.monotonic()
    results = scan_addresses([lab.request(name) for name in names], settings())
    seconds = time.monotonic() - started
    scans = {name: results[(hostname(name), lab.request(name).address)] for name in names}
    return Run(scans, seconds, alone)


def verdicts(scan: TlsScan) -> tuple[Verdict, Verdict]:
    """MX-04 and TLS-01 on this one address."""
    subject = Subject(Target(DOMAIN), DnsSnapshot(()), host=scan.host, tls={scan.host: (scan,)})
    return answers_smtp(subject), starttls_completes(subject)


def error_of(scan: TlsScan) -> tuple[ErrorKind, str]:
    assert scan.error is not None, scan
    return scan.error.kind, scan.error.detail


# --------------------------------------------------------------------------- the whole run


def test_the_lab_profiles_are_named_and_addressed() -> None:
    for profile in FAULTS:
        assert PROFILES[profile.name] is profile
        assert profile.name in LAB_ADDRESSES
    assert SLOW_HANDSHAKE.name not in PROFILES  # each probe costs a timeout: kept out
    assert POSTSCREEN.name not in PROFILES  # its first connection costs the pregreet wait
    assert not SLOW_BANNER.needs_tls and not DROP_AFTER_EHLO.needs_tls
    assert not STARTTLS_GARBAGE.needs_tls
    assert HUGE_GREETING_LINE.needs_tls and HUGE_EHLO_LINE.needs_tls  # lenient clients get on


def test_every_fault_ends_within_the_timeout(run: Run) -> None:
    assert run.seconds < TIMEOUT + MARGIN
    for name, scan in run.scans.items():
        assert scan.elapsed_ms < (TIMEOUT + MARGIN) * 1000, name


def test_the_healthy_neighbour_is_unaffected(run: Run) -> None:
    scan, alone = run.scans[HEALTHY], run.alone
    assert scan.error is None and alone.error is None

    def seen(one: TlsScan) -> object:
        return [(v.version, v.accepted, set(v.cipher_suites), v.preferred) for v in one.versions]

    assert seen(scan) == seen(alone)
    assert {v.version for v in scan.versions if v.accepted} == {
        TlsVersion.TLS_1_2,
        TlsVersion.TLS_1_3,
    }
    assert scan.smtp == alone.smtp
    assert scan.key_exchange == alone.key_exchange
    assert scan.chain_pem == alone.chain_pem
    assert (scan.connections, scan.handshakes) == (alone.connections, alone.handshakes)
    mx04, tls01 = verdicts(scan)
    assert (mx04.status, tls01.status) == (Status.PASS, Status.PASS)


def test_the_evidence_records_every_fault(run: Run) -> None:
    for name, scan in run.scans.items():
        text = json.dumps(to_json(scan))
        assert from_json(json.loads(text)) == scan, name
        if scan.error is not None:
            assert scan.error.detail.isprintable(), name  # bytes from the network escaped
            assert len(scan.error.detail) < 300, name


# --------------------------------------------------------------------------- one fault each


def test_banner_dripped_one_byte_a_second_ends_at_the_timeout(lab: Lab, run: Run) -> None:
    scan = run.scans[SLOW_BANNER.name]
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TIMEOUT
    assert detail.startswith("no complete greeting within 1 s (")
    assert "bytes received: b'220 " in detail
    assert scan.smtp is not None and scan.smtp.banner_code is None  # connected, never greeted
    assert TIMEOUT * 1000 * 0.9 <= scan.elapsed_ms < (TIMEOUT + MARGIN) * 1000
    assert scan.connections == 1 and scan.handshakes == 0  # a timeout is not retried
    server = lab.servers[SLOW_BANNER.name]
    assert server.wait_idle(2.0)  # the drip stops when the client hangs up
    # A greeting that never completes proves nothing about the host: could not tell.
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.INCONCLUSIVE and not mx04.findings
    assert "could not tell" in mx04.summary and "no complete greeting" in mx04.summary
    assert tls01.status is Status.INCONCLUSIVE and "see MX-04" in tls01.summary


def test_connection_time_limit_caps_every_step(lab: Lab) -> None:
    scan = scan_address(lab.request(SLOW_BANNER.name), settings(connection_timeout=0.4))
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TIMEOUT
    assert detail.startswith("connection time limit of 0.4 s reached before the greeting ended")
    assert scan.elapsed_ms < 0.8 * TIMEOUT * 1000  # the connection's limit, not the step's


def test_drop_after_ehlo(lab: Lab, run: Run) -> None:
    scan = run.scans[DROP_AFTER_EHLO.name]
    kind, detail = error_of(scan)
    assert kind is ErrorKind.PROTOCOL
    assert detail == "connection closed after EHLO, before its reply"
    assert scan.smtp is not None and scan.smtp.banner_code == 220
    assert scan.smtp.starttls_offered is None and scan.smtp.ehlo == ()
    assert scan.connections == 1 and scan.versions == ()
    server = lab.servers[DROP_AFTER_EHLO.name]
    assert server.wait_idle()
    assert [r.commands for r in server.connection_log] == [("EHLO",)]
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.PASS
    assert tls01.status is Status.INCONCLUSIVE
    assert "the EHLO exchange did not complete" in tls01.summary
    assert "connection closed after EHLO" in tls01.summary


def test_non_tls_data_after_starttls(lab: Lab, run: Run) -> None:
    scan = run.scans[STARTTLS_GARBAGE.name]
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TLS_HANDSHAKE
    assert detail.startswith(
        r"server sent non-TLS data after STARTTLS 220: b'HTTP/1.1 400 Bad Request\r\n"
    )
    assert r"\x1b" in detail and detail.endswith("...")  # escaped, and cut at 40 bytes
    assert scan.smtp is not None and scan.smtp.starttls_reply == "220 2.0.0 Ready to start TLS"
    # Nothing about versions can be learnt from a server that does not speak TLS: the probes
    # stop at the first non-TLS answer (one more may already be on its way: 2 workers).
    assert scan.versions == ()
    assert 1 <= scan.handshakes <= 2 and scan.connections == scan.handshakes
    server = lab.servers[STARTTLS_GARBAGE.name]
    assert server.wait_idle()
    assert server.handshakes == scan.handshakes
    assert all(r.tls_error and "non-TLS" in r.tls_error for r in server.connection_log)
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.PASS
    assert tls01.status is Status.FAIL
    assert [f.code for f in tls01.findings] == ["tls.handshake.failed"]
    assert "non-TLS data" in tls01.findings[0].observed


def stopped_after(detail: str) -> int:
    match = re.search(r"stopped reading after (\d+) bytes", detail)
    assert match is not None, detail
    return int(match.group(1))


def test_two_megabyte_greeting_line(run: Run) -> None:
    scan = run.scans[HUGE_GREETING_LINE.name]
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TOO_LARGE
    assert detail.startswith(f"greeting line over {MAX_LINE} bytes")
    assert "b'220-xxxx" in detail
    assert stopped_after(detail) <= MAX_LINE + RECV  # the bound, not 2 MiB
    assert scan.smtp is not None and scan.smtp.banner_code is None
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.FAIL
    assert [f.code for f in mx04.findings] == ["mx.greeting.oversized"]
    assert f"greeting line over {MAX_LINE} bytes" in mx04.findings[0].observed
    assert tls01.status is Status.INCONCLUSIVE and "see MX-04" in tls01.summary


def test_two_megabyte_ehlo_line(run: Run) -> None:
    scan = run.scans[HUGE_EHLO_LINE.name]
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TOO_LARGE
    assert detail.startswith(f"EHLO reply line over {MAX_LINE} bytes")
    assert stopped_after(detail) <= MAX_LINE + RECV
    assert scan.smtp is not None and scan.smtp.banner_code == 220
    assert scan.smtp.starttls_offered is None
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.PASS
    # No client can read such an EHLO reply: a definite failure, not an inconclusive probe.
    assert tls01.status is Status.FAIL
    assert [f.code for f in tls01.findings] == ["mx.ehlo.oversized"]
    assert "EHLO reply line over" in tls01.findings[0].observed


def test_two_megabyte_lines_keep_memory_bounded(lab: Lab, run: Run) -> None:
    # After the module's run (the suite catalogue and trust store are loaded once per process).
    requests = [lab.request(HUGE_GREETING_LINE.name), lab.request(HUGE_EHLO_LINE.name)]
    tracemalloc.start()
    try:
        scans = scan_addresses(requests, settings())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(s.error is not None and "line over" in s.error.detail for s in scans.values())
    assert peak < 256 * 1024  # the servers sent 2 MiB each


def test_421_on_every_other_connection_still_completes(lab: Lab, run: Run) -> None:
    scan = run.scans[THROTTLING_ALTERNATE.name]
    assert scan.error is None
    assert [v.accepted for v in scan.versions] == [False, False, False, False, True, True]

    def seen(one: TlsScan) -> object:
        return [(v.version, v.accepted, v.cipher_suites, v.preferred) for v in one.versions]

    assert seen(scan) == seen(run.alone)  # the healthy server's configuration, all of it seen
    server = lab.servers[THROTTLING_ALTERNATE.name]
    assert server.wait_idle()
    throttled = sum(1 for r in server.connection_log if r.greeting == 421)
    assert throttled >= 5 and scan.connections == server.connections
    # Every 421 was retried, and each version's detail says how many of its connections were.
    notes = [re.search(r"(\d+) connections? retried after (.*)", v.detail) for v in scan.versions]
    retried = sum(int(n.group(1)) for n in notes if n is not None)
    assert retried == throttled
    assert all("throttled: greeting: 421" in n.group(2) for n in notes if n is not None)
    assert scan.elapsed_ms < (TIMEOUT + MARGIN) * 1000
    mx04, tls01 = verdicts(scan)
    assert (mx04.status, tls01.status) == (Status.PASS, Status.PASS)


def test_handshake_dripped_a_byte_at_a_time_ends_at_the_timeout(lab: Lab) -> None:
    # Every read gets data, so only a deadline on the whole handshake ends it.
    timeout = 0.5
    with LabSmtpServer(
        SLOW_HANDSHAKE,
        hostname=hostname(SLOW_HANDSHAKE.name),
        host=ADDRESSES[SLOW_HANDSHAKE.name],
        idle_timeout=3.0,
    ) as server:
        request = ScanRequest(hostname(SLOW_HANDSHAKE.name), *server.address)
        started = time.monotonic()
        scan = scan_address(request, settings(timeout=timeout))
        seconds = time.monotonic() - started
    tls13 = scan.version(TlsVersion.TLS_1_3)
    assert tls13 is not None and tls13.accepted is None
    assert tls13.detail.startswith(f"no complete handshake answer within {timeout:g} s (5 bytes")
    assert r"b'\x16\x03\x03\x10\x00'" in tls13.detail
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TLS_HANDSHAKE and detail.startswith("no handshake completed")
    # No handshake outlived its timeout: at most one timeout per handshake, two at a time.
    assert seconds < scan.handshakes * timeout / 2 + MARGIN
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.PASS
    assert tls01.status is Status.INCONCLUSIVE and "handshake outcome unknown" in tls01.summary


def test_the_lab_drip_never_ends_a_line() -> None:
    fast = dataclasses.replace(SLOW_BANNER, drip_interval=0.05)
    with LabSmtpServer(fast, hostname="mx.drip.example", host="127.0.6.30") as server:
        with socket.create_connection(server.address, timeout=1.0) as sock:
            received = b""
            deadline = time.monotonic() + 0.5
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(100)
                except TimeoutError:
                    break
                if not chunk:
                    break
                received += chunk
        assert received.startswith(b"220 mx.d") and b"\n" not in received and b"\r" not in received
        assert server.wait_idle(1.0)  # the client hung up: the drip stopped


# --------------------------------------------------------------------------- postscreen (issue 19)


def all_tls_verdicts(scan: TlsScan) -> dict[str, Verdict]:
    """Every TLS and certificate verdict of one address, by the catalogue's judge names."""
    from pytest_govmail.judge import cert, tls

    subject = Subject(Target(DOMAIN), DnsSnapshot(()), host=scan.host, tls={scan.host: (scan,)})
    judges = {
        "MX-04": tls.answers_smtp,
        "TLS-01": tls.starttls_completes,
        "TLS-02": tls.modern_tls_negotiated,
        "TLS-03": tls.ssl_refused,
        "TLS-04": tls.old_tls_refused,
        "TLS-06": tls.no_insecure_suites,
        "TLS-08": tls.tls13_supported,
        "TLS-09": tls.key_exchange_strong,
        "TLS-10": tls.no_compression_secure_renegotiation,
        "CERT-01": cert.chain_trusted,
        "CERT-02": cert.names_mx_host,
        "CERT-03": cert.within_validity,
        "CERT-07": cert.chain_complete_in_order,
    }
    return {name: judge(subject) for name, judge in judges.items()}


def test_postscreen_greeting_at_the_default_timeout_passes_mx04(tmp_path: Path) -> None:
    # postscreen sends "220-" at once and completes the greeting after its pregreet wait (6 s,
    # longer than the default --govmail-timeout of 5 s): the begun greeting gets the longer
    # --govmail-greeting-timeout, MX-04 passes and every TLS verdict comes.
    from pytest_govmail.engine.settings import Settings

    defaults = Settings()
    pki = LabPki()
    ca_file = pki.write_ca_file(tmp_path / "lab-ca.pem")
    with LabSmtpServer(
        POSTSCREEN,
        hostname=hostname(POSTSCREEN.name),
        pki=pki,
        host=ADDRESSES[POSTSCREEN.name],
        idle_timeout=10.0,
    ) as server:
        request = ScanRequest(hostname(POSTSCREEN.name), *server.address)
        scan = scan_address(
            request,
            settings(
                timeout=defaults.timeout,
                greeting_timeout=defaults.greeting_timeout,
                ca_file=ca_file,
            ),
        )
        assert server.wait_idle()
        log = server.connection_log
    assert defaults.timeout < POSTSCREEN.greet_wait < defaults.greeting_timeout
    assert scan.error is None
    assert scan.smtp is not None and scan.smtp.banner_code == 220
    assert scan.smtp.banner is not None and scan.smtp.banner.startswith("220-")
    assert scan.elapsed_ms >= POSTSCREEN.greet_wait * 1000
    # Only the first connection waited: postscreen remembers a client that passed.
    assert sorted(r.greeting for r in log) == [220] * len(log)
    assert sum(1 for r in log if r.seconds >= POSTSCREEN.greet_wait) == 1
    got = all_tls_verdicts(scan)
    assert got["MX-04"].status is Status.PASS
    for name, verdict in got.items():
        assert verdict.status is Status.PASS, (name, verdict.summary)


def test_postscreen_greeting_past_the_greeting_wait_is_inconclusive() -> None:
    quick = dataclasses.replace(POSTSCREEN, greet_wait=1.5)
    with LabSmtpServer(
        quick, hostname=hostname(POSTSCREEN.name), pki=LabPki(), host=ADDRESSES[POSTSCREEN.name]
    ) as server:
        request = ScanRequest(hostname(POSTSCREEN.name), *server.address)
        started = time.monotonic()
        scan = scan_address(request, settings(timeout=0.3, greeting_timeout=0.5))
        seconds = time.monotonic() - started
    kind, detail = error_of(scan)
    assert kind is ErrorKind.TIMEOUT
    assert detail.startswith("greeting begun but not complete within 0.5 s of its first line (")
    assert "b'220-mx.postscreen" in detail
    assert seconds < 0.5 + MARGIN  # the greeting wait bounds it, not the server's 1.5 s
    mx04, tls01 = verdicts(scan)
    assert mx04.status is Status.INCONCLUSIVE and not mx04.findings
    assert "could not tell" in mx04.summary and "--govmail-greeting-timeout" in mx04.summary
    assert tls01.status is Status.INCONCLUSIVE


def test_the_begun_greeting_wait_does_not_count_against_the_connection_limit() -> None:
    quick = dataclasses.replace(POSTSCREEN, greet_wait=0.8)
    with LabSmtpServer(
        quick, hostname=hostname(POSTSCREEN.name), pki=LabPki(), host=ADDRESSES[POSTSCREEN.name]
    ) as server:
        request = ScanRequest(hostname(POSTSCREEN.name), *server.address)
        scan = scan_address(
            request, settings(timeout=0.5, connection_timeout=0.9, greeting_timeout=2.0)
        )
    assert scan.error is None, scan.error
    assert scan.smtp is not None and scan.smtp.banner_code == 220
    assert any(v.accepted for v in scan.versions)
