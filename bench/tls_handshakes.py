"""Handshakes, connections and seconds per MX address: pytest-govmail's collector vs sslyze.

Starts the lab's SMTP servers on loopback (one per profile, each on its own 127.0.x.y address,
all on one port), then scans each server several times with

* ``govmail``: :func:`pytest_govmail.collect.tls.scan_address` (dialogue, every version, every
  accepted suite, preferred suite, key exchange, compression, renegotiation, chain and trust);
* ``sslyze``: a default sslyze 6 scan of the same server: the six cipher-suite scan commands
  (SSL 2.0 to TLS 1.3), SMTP STARTTLS, SNI, the address given (no name resolution);
* ``sslyze+`` (with ``--extras``): sslyze's certificate, compression, renegotiation and elliptic
  curve commands, i.e. what the collector gets from its own handshakes at no extra cost.

Connections and handshakes are counted by the servers themselves (renegotiations excluded), so
both tools are measured the same way. Each figure is the median of ``--runs`` runs; the ratio is
sslyze / govmail. Nothing here touches the internet.

Then the shared-provider shape (issue 13): ``--shared`` tenant MX names on one provider address
(plus a tenant served its own certificate by SNI and a name an SNI router sends to a different
server), and one compliant self-hosted address, all scanned in one
:func:`~pytest_govmail.collect.tls.scan_addresses` call as a run would. It prints handshakes and
connections per address, the budget accepted suites + 10 + (names served - 1) for the names
that share the address's scan, and the busiest address.

    python bench/tls_handshakes.py                # all TLS-speaking profiles, 3 runs
    python bench/tls_handshakes.py --runs 5 --extras --profiles compliant weak-suites
    python bench/tls_handshakes.py --shared 200 --shared-only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import ServerScanRequest
from sslyze.scanner.scanner import Scanner
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from pytest_govmail.collect.tls import ScanRequest, TlsScanSettings, scan_address, scan_addresses
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.smtp_server import (
    COMPLIANT,
    LAB_ADDRESSES,
    PROFILES,
    SHARED_PROVIDER_OTHER_SERVER,
    SHARED_PROVIDER_OWN_CERT,
    LabMx,
    LabSmtpFleet,
    shared_provider,
    shared_provider_tenants,
)
from pytest_govmail.model.tls import TlsScan, address_loads, busiest_address

#: Profiles whose servers complete a normal SMTP greeting and TLS handshakes. The fault
#: profiles (silent, dripping, oversized lines, always 421) would measure only each tool's
#: timeouts and retries; pass them with --profiles to see that too.
DEFAULT_PROFILES = (
    "compliant",
    "legacy-tls",
    "weak-suites",
    "expired-cert",
    "wrong-hostname",
    "self-signed",
    "missing-intermediate",
    "throttling",
)

SUITE_COMMANDS = {
    ScanCommand.SSL_2_0_CIPHER_SUITES,
    ScanCommand.SSL_3_0_CIPHER_SUITES,
    ScanCommand.TLS_1_0_CIPHER_SUITES,
    ScanCommand.TLS_1_1_CIPHER_SUITES,
    ScanCommand.TLS_1_2_CIPHER_SUITES,
    ScanCommand.TLS_1_3_CIPHER_SUITES,
}
EXTRA_COMMANDS = {
    ScanCommand.CERTIFICATE_INFO,
    ScanCommand.TLS_COMPRESSION,
    ScanCommand.SESSION_RENEGOTIATION,
    ScanCommand.ELLIPTIC_CURVES,
}
EHLO = "govmail-bench.invalid"


@dataclass(frozen=True)
class Sample:
    connections: int
    handshakes: int
    seconds: float
    accepted: int = -1
    reported: int = -1


def govmail(mx: LabMx, port: int, settings: TlsScanSettings) -> tuple[int, int]:
    """``(accepted suites, handshakes the collector counted, renegotiation included)``."""
    scan = scan_address(ScanRequest(mx.hostname, mx.address, port), settings)
    return sum(len(v.cipher_suites) for v in scan.versions), scan.handshakes


def sslyze_scan(commands: set[ScanCommand], connections: int, timeout: int) -> Runner:
    def run(mx: LabMx, port: int, settings: TlsScanSettings) -> tuple[int, int]:
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(mx.hostname, port, ip_address=mx.address),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=mx.hostname,
                tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP,
                smtp_ehlo_hostname=EHLO,
                network_timeout=timeout,
                network_max_retries=1,
            ),
            scan_commands=commands,
        )
        scanner = Scanner(
            per_server_concurrent_connections_limit=connections, concurrent_server_scans_limit=1
        )
        scanner.queue_scans([request])
        accepted = 0
        for result in scanner.get_results():
            attempts = result.scan_result
            if attempts is None:
                continue
            for name in (
                "ssl_2_0_cipher_suites",
                "ssl_3_0_cipher_suites",
                "tls_1_0_cipher_suites",
                "tls_1_1_cipher_suites",
                "tls_1_2_cipher_suites",
                "tls_1_3_cipher_suites",
            ):
                attempt = getattr(attempts, name)
                if attempt.result is not None:
                    accepted += len(attempt.result.accepted_cipher_suites)
        return accepted, -1

    return run


Runner = Callable[[LabMx, int, TlsScanSettings], tuple[int, int]]


def measure(
    fleet: LabSmtpFleet, mx: LabMx, runner: Runner, settings: TlsScanSettings, runs: int
) -> Sample:
    server = fleet[mx.hostname]
    samples: list[Sample] = []
    for _ in range(runs):
        server.wait_idle()
        server.reset_stats()
        started = time.perf_counter()
        accepted, reported = runner(mx, fleet.port, settings)
        seconds = time.perf_counter() - started
        server.wait_idle()
        samples.append(Sample(server.connections, server.handshakes, seconds, accepted, reported))
    return Sample(
        int(statistics.median(s.connections for s in samples)),
        int(statistics.median(s.handshakes for s in samples)),
        statistics.median(s.seconds for s in samples),
        int(statistics.median(s.accepted for s in samples)),
        int(statistics.median(s.reported for s in samples)),
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:7.1f}x" if b else "      -"


def shared_shape(tenants: int, settings: TlsScanSettings, runs: int) -> None:
    """Handshakes and connections per address on the shared-provider shape (median of runs)."""
    provider = shared_provider()
    own = LabMx("mx.self-hosted-dept.gov.uk", "127.0.6.20", COMPLIANT)
    names = (*shared_provider_tenants(tenants), SHARED_PROVIDER_OWN_CERT)
    names += (SHARED_PROVIDER_OTHER_SERVER,)
    with LabSmtpFleet([provider, own], pki=LabPki(), idle_timeout=settings.timeout + 1) as fleet:
        requests = [ScanRequest(n, provider.address, fleet.port) for n in names]
        requests.append(ScanRequest(own.hostname, own.address, fleet.port))
        samples: list[tuple[float, dict[tuple[str, str], TlsScan], dict[str, tuple[int, int]]]]
        samples = []
        for _ in range(runs):
            for server in fleet:
                server.wait_idle()
                server.reset_stats()
            started = time.perf_counter()
            scans = scan_addresses(requests, settings)
            seconds = time.perf_counter() - started
            for server in fleet:
                server.wait_idle()
            seen = {s.address[0]: (s.connections, s.handshakes) for s in fleet}
            samples.append((seconds, scans, seen))
        samples.sort(key=lambda x: x[0])
        seconds, scans, seen = samples[len(samples) // 2]
        print(
            f"\nshared-provider shape: {len(names)} MX names on {provider.address}, 1 self-hosted;"
            f" {runs} run(s), the median by time: {seconds:.3f} s"
        )
        print(
            f"{'address':12} {'names':>5} {'full':>4} {'conns':>6} {'hshakes':>7} {'retries':>7}"
            f" {'budget':>6} {'server conns/hshakes':>21}"
        )
        for load in address_loads(scans.values()):
            shared = [s for s in scans.values() if s.address == load.address]
            lane = [s for s in shared if s.shared_with or s.host == load.full_scans[0]]
            first = next(s for s in shared if s.host == load.full_scans[0])
            accepted = sum(len(v.cipher_suites) for v in first.versions if v.accepted)
            budget = accepted + 10 + len(lane) - 1
            used = sum(s.handshakes for s in lane)
            conns, shakes = seen[load.address]
            print(
                f"{load.address:12} {len(load.names):5d} {len(load.full_scans):4d} "
                f"{load.connections:6d} {load.handshakes:7d} {load.retries:7d} {budget:6d} "
                f"{conns:>14d}/{shakes:<6d}"
                + ("" if used <= budget else f"  OVER BUDGET ({used} in the shared lane)")
            )
        for line in busiest_address(scans.values()):
            print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per server and tool (median)")
    parser.add_argument("--profiles", nargs="+", default=list(DEFAULT_PROFILES))
    parser.add_argument("--connections", type=int, default=2, help="per address, both tools")
    parser.add_argument("--timeout", type=int, default=2, help="network timeout, seconds")
    parser.add_argument("--extras", action="store_true", help="also time sslyze's other scans")
    parser.add_argument("--shared", type=int, default=40, help="tenant names on one address")
    parser.add_argument("--shared-only", action="store_true", help="only the shared shape")
    args = parser.parse_args(argv)
    unknown = [p for p in args.profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profiles {unknown}; known: {', '.join(PROFILES)}")

    # sslyze's bundled trust stores hold roots cryptography warns about; not news here.
    warnings.simplefilter("ignore")
    pki = LabPki()
    hosts = [LabMx(f"mx.{n}-dept.gov.uk", LAB_ADDRESSES[n], PROFILES[n]) for n in args.profiles]
    with tempfile.TemporaryDirectory() as folder:
        ca_file = pki.write_ca_file(Path(folder) / "lab-ca.pem")
        settings = TlsScanSettings(
            timeout=args.timeout,
            ehlo_name=EHLO,
            ca_file=ca_file,
            connections_per_address=args.connections,
            allow_private=True,
            retry_backoff=0.2,
        )
        if args.shared_only:
            shared_shape(args.shared, settings, args.runs)
            return 0
        tools: list[tuple[str, Runner]] = [
            ("govmail", govmail),
            ("sslyze", sslyze_scan(SUITE_COMMANDS, args.connections, args.timeout)),
        ]
        if args.extras:
            tools.append(("sslyze+", sslyze_scan(EXTRA_COMMANDS, args.connections, args.timeout)))
        with LabSmtpFleet(hosts, pki=pki, idle_timeout=args.timeout + 1) as fleet:
            govmail(hosts[0], fleet.port, settings)  # warm-up: catalogues and trust store
            print(
                f"{len(hosts)} lab servers on 127.0.x.y:{fleet.port}, {args.runs} runs each, "
                f"{args.connections} connections per address; counts from the servers"
            )
            header = f"{'profile':22} {'tool':8} {'accepted':>8} {'conns':>6} {'hshakes':>7}"
            header += f" {'s/host':>7} {'counted':>7} {'- acc':>6}"
            print(header)
            totals: dict[str, list[Sample]] = {name: [] for name, _ in tools}
            for mx in hosts:
                results = {
                    name: measure(fleet, mx, run, settings, args.runs) for name, run in tools
                }
                for name, sample in results.items():
                    totals[name].append(sample)
                    accepted = sample.accepted if name != "sslyze+" else ""
                    counted = sample.reported if name == "govmail" else ""
                    extra = sample.reported - sample.accepted if name == "govmail" else ""
                    print(
                        f"{mx.profile.name:22} {name:8} {accepted!s:>8} {sample.connections:6d} "
                        f"{sample.handshakes:7d} {sample.seconds:7.3f} {counted!s:>7} "
                        f"{extra!s:>6}"
                    )
                ours, theirs = results["govmail"], results["sslyze"]
                print(
                    f"{'':22} {'ratio':8} {'':8} {ratio(theirs.connections, ours.connections)}"
                    f" {ratio(theirs.handshakes, ours.handshakes)}"
                    f"{ratio(theirs.seconds, ours.seconds)}"
                )
            print()
            tls = [i for i, s in enumerate(totals["govmail"]) if s.handshakes > 0]
            print(f"medians over the {len(tls)} servers that complete a TLS handshake:")
            for name, samples in totals.items():
                chosen = [samples[i] for i in tls] or samples
                hs = statistics.median(s.handshakes for s in chosen)
                conns = statistics.median(s.connections for s in chosen)
                secs = statistics.median(s.seconds for s in chosen)
                print(
                    f"  {name:8}: {conns:6.0f} connections, {hs:6.0f} handshakes, "
                    f"{secs:6.3f} s per host"
                )
        shared_shape(args.shared, settings, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
