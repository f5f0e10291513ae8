"""Run an assessment inside a network namespace of the test's own (``unshare -n``).

tests/test_vantage_netns.py runs this file as ``unshare -n python tests/netns_vantage.py
SCENARIO OUT``: inside, the namespace has only what this script gives it, so nothing can reach
any outside address. It sets the network up, starts lab servers on loopback, runs pytest with
the plugin in this process, and writes what each test decided to ``OUT/outcomes.json``.

Scenarios (the vantage points of issue 18):

* ``no-ipv6``: loopback only, so the kernel has no IPv6 route beyond ``::1`` (a UDP connect to
  a global IPv6 address gets ENETUNREACH). A dual-stack MX: a compliant lab server on IPv4
  loopback, and a global IPv6 address. ``no-ipv6-both`` is the same with
  ``--govmail-ip-version both``.
* ``blocked``: loopback plus a tun device that nobody reads, routing 10.99.0.0/16: SYNs to its
  addresses are swallowed, as a firewall blocking outbound port 25 does. Three departments'
  MX hosts live there.
* ``give-up``: the scanner alone, 40 swallowed addresses scanned 4 at a time: it stops
  connecting once port 25 looks blocked.
* ``nxdomain``: a resolver that answers NXDOMAIN to every question.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import pytest

from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.services import SOA
from pytest_govmail.lab.smtp_server import COMPLIANT, LabMx, LabSmtpFleet

#: The dual-stack MX's IPv6 address: global unicast (2001:db8::/32 is documentation, and the
#: kernel in the namespace has no route to it).
DUAL_V6 = "2001:db8:25::25"
DUAL_V4 = "127.0.25.10"
BLOCKED = {"alpha-dept.gov.uk": "10.99.1.25", "beta-dept.gov.uk": "10.99.2.25"}
BLOCKED["gamma-dept.gov.uk"] = "10.99.3.25"


def zone(domain: str, records: str) -> str:
    return (
        f"$ORIGIN {domain}.\n{SOA}@ 3600 IN MX 10 mx.{domain}.\n{records}"
        '@ 3600 IN TXT "v=spf1 -all"\n'
        '_dmarc 3600 IN TXT "v=DMARC1; p=reject"\n'
    )


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def swallow() -> None:
    """Route 10.99.0.0/16 to a tun device nobody reads: what is sent there is dropped."""
    ip("tuntap", "add", "dev", "swallow0", "mode", "tun")
    ip("link", "set", "swallow0", "up")
    ip("addr", "add", "10.99.0.1/16", "dev", "swallow0")


class Recorder:
    """Keeps each govmail test's decision (the facts the plugin puts on its report)."""

    def __init__(self) -> None:
        self.tests: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "govmail", None)
        if isinstance(data, dict):
            self.tests.append(
                {k: data.get(k) for k in ("requirement", "host", "status", "summary")}
            )


class NxdomainResolver:
    """A resolver that answers NXDOMAIN to everything (a filtering or captive one), on UDP."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            wire, peer = self.sock.recvfrom(4096)
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)


def main(scenario: str, out: Path) -> int:
    ip("link", "set", "lo", "up")
    common = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark", "-q"]
    common += [f"--govmail-report-dir={out / 'reports'}"]
    common += ["--govmail-evidence-out", str(out / "evidence.json")]
    common += [f"--junitxml={out / 'junit.xml'}", "--govmail-allow-private"]
    pki = LabPki()
    ca_file = pki.write_ca_file(out / "ca.pem")
    recorder = Recorder()
    if scenario in ("no-ipv6", "no-ipv6-both"):
        domain = "dual-dept.gov.uk"
        zones = {domain: zone(domain, f"mx IN A {DUAL_V4}\nmx IN AAAA {DUAL_V6}\n")}
        fleet = LabSmtpFleet([LabMx(f"mx.{domain}", DUAL_V4, COMPLIANT)], pki=pki).start()
        with LabDnsServer(zones) as dns_server:
            args = [*common, "--govmail-domain", domain, "-m", "tls or cert"]
            args += ["--govmail-ip-version=both"] if scenario.endswith("both") else []
            args += [f"--govmail-nameserver=127.0.0.1:{dns_server.address[1]}"]
            args += [f"--govmail-smtp-port={fleet.port}", f"--govmail-ca-file={ca_file}"]
            started = time.monotonic()
            code = pytest.main(args, plugins=[recorder])
        fleet.stop()
    elif scenario == "blocked":
        swallow()
        zones = {d: zone(d, f"mx IN A {a}\n") for d, a in BLOCKED.items()}
        with LabDnsServer(zones) as dns_server:
            args = [*common, "-m", "mx or tls or cert", "--govmail-timeout=2"]
            args += [f"--govmail-domain={','.join(BLOCKED)}"]
            args += [f"--govmail-nameserver=127.0.0.1:{dns_server.address[1]}"]
            started = time.monotonic()
            code = pytest.main(args, plugins=[recorder])
    elif scenario == "give-up":
        # The scanner alone: 40 swallowed addresses of 5 providers, 4 at a time (10 s of
        # timeouts, one round after another, if it never gave up).
        from pytest_govmail.collect.tls import AddressScanner, ScanRequest, TlsScanSettings
        from pytest_govmail.collect.vantage import Port25Watch

        swallow()
        settings = TlsScanSettings(timeout=1.0, allow_private=True, max_parallel_addresses=4)
        scanner = AddressScanner(settings, watch=Port25Watch())
        requests = [
            ScanRequest(f"mx{n}.provider{n % 5}.example", f"10.99.{n}.25") for n in range(40)
        ]
        started = time.monotonic()
        scanner.submit(requests)
        scans = scanner.results()
        seconds = time.monotonic() - started
        kinds = [s.error.kind.value if s.error else "" for s in scans.values()]
        result = {"seconds": seconds, "kinds": kinds}
        (out / "outcomes.json").write_text(json.dumps(result, indent=1))
        return 0
    elif scenario == "nxdomain":
        resolver = NxdomainResolver()
        args = [*common, "--govmail-domain", "real-dept.gov.uk", "--govmail-timeout=2"]
        args += [f"--govmail-nameserver=127.0.0.1:{resolver.port}"]
        started = time.monotonic()
        code = pytest.main(args, plugins=[recorder])
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    seconds = time.monotonic() - started
    result = {"exit": int(code), "seconds": seconds, "tests": recorder.tests}
    (out / "outcomes.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
