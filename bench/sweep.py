"""Benchmark a central sweep: N synthetic departments in the lab, with internet-like DNS delay.

    python bench/sweep.py --domains 51 --delay 0.03 --runs 3
    python bench/sweep.py --domains 1000 --runs 3
    python bench/sweep.py --domains 51 --checkdmarc     # side by side with checkdmarc
    python bench/sweep.py --domains 10000 --sweep-batch 500 --sweep-jobs 2   # govmail-sweep

The lab's DNS server serves N departments built from the demo's sample configurations (about
half compliant, the rest monitoring-only, sprawling SPF, parked or bare), sharing 20 MX hosts of
four providers, plus one zone that never answers. Every answer is delayed by ``--delay``
seconds. Each run is a fresh ``pytest`` process assessing every domain (the full suite, JUnit
and HTML reports included); the script prints medians over the runs: wall time, domains per
second, DNS queries the server answered, peak RSS (of the largest process, and summed over all
of them at once), and the plugin's own collection time. With ``--sweep-batch`` the assessment is
``govmail-sweep`` (collect once, judge in batches of pytest processes, merge the reports).
With ``--checkdmarc`` it also runs checkdmarc (installed into a private venv under
bench/.venv-checkdmarc) on the same domains, with /etc/resolv.conf bind-mounted in a
private mount namespace to point at the lab (checkdmarc's ``-n`` only speaks port 53 and it
resolves SMTP names through the system resolver), and prints the ratio.

``--mix providers`` builds the public sector's real shape instead (see :func:`provider_lab`):
most domains receive mail through a few providers, and many providers give each customer its
own MX name on shared addresses: 44 % Microsoft 365-style tenant names
(``<tenant>.mail.protection...``) all on 2 addresses, 10 % Proofpoint-style per-customer names
on 2 more, 10 % on a Mimecast-style pair, 8 % on Google-style hosts (5 addresses), 16 % on a
hosting company's per-council gateway names (9 addresses), 10 % parked (null MX), and a dead
server (connection refused) and a tarpit (accepts, never greets): 20 live MX addresses in all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from pytest_govmail.lab.demo import demo_zones
from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.smtp_server import COMPLIANT, SILENT, LabMx, LabSmtpFleet, LeafSpec
from pytest_govmail.model import evidence

SOA = (
    "@ 3600 IN SOA ns1.lab-dns.example. hostmaster.lab-dns.example. 1 3600 600 604800 300\n"
    "@ 3600 IN NS ns1.lab-dns.example.\n"
)
PROVIDERS = 4
HOSTS_PER_PROVIDER = 5
NCSC = "mailto:dmarc-rua@dmarc.service.gov.uk"
TLSRPT = '"v=TLSRPTv1; rua=mailto:tls-rua@mailcheck.service.ncsc.gov.uk"'


def provider_zone(j: int) -> str:
    lines = [f"$ORIGIN provider{j}.example.", SOA]
    for k in range(HOSTS_PER_PROVIDER):
        lines.append(f"mx{k} 3600 IN A 127.0.{10 + j}.{10 + k}")
    lines.append('spf 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"')
    return "\n".join(lines) + "\n"


def department_zone(i: int, domain: str) -> str:
    """A department in one of five shapes, its MX at one of the 20 shared provider hosts."""
    mx = f"mx{i % HOSTS_PER_PROVIDER}.provider{i % PROVIDERS}.example."
    shape = ("compliant", "compliant", "monitoring", "compliant", "sprawling",
             "compliant", "parked", "monitoring", "compliant", "bare")[i % 10]  # fmt: skip
    body = [f"$ORIGIN {domain}.", SOA]
    if shape == "parked":
        body += [
            "@ 3600 IN MX 0 .",
            '@ 3600 IN TXT "v=spf1 -all"',
            f'_dmarc 3600 IN TXT "v=DMARC1; p=reject; sp=reject; rua={NCSC}"',
            '*._domainkey 3600 IN TXT "v=DKIM1; p="',
        ]
        return "\n".join(body) + "\n"
    body.append(f"@ 3600 IN MX 10 {mx}")
    if shape == "bare":
        return "\n".join(body) + "\n"
    spf = f"v=spf1 include:spf.provider{i % PROVIDERS}.example -all"
    dmarc = f"v=DMARC1; p=reject; rua={NCSC}"
    if shape == "monitoring":
        dmarc = f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}"
    if shape == "sprawling":
        spf = (
            "v=spf1 include:spf.provider0.example include:spf.provider1.example "
            "include:spf.provider2.example include:spf.provider3.example a mx ptr "
            "include:gone.provider0.example ?all"
        )
    body += [
        f'@ 3600 IN TXT "{spf}"',
        f'_dmarc 3600 IN TXT "{dmarc}"',
        f"_smtp._tls 3600 IN TXT {TLSRPT}",
        f'_mta-sts 3600 IN TXT "v=STSv1; id=2026{i}"',
    ]
    return "\n".join(body) + "\n"


def build_lab(n: int) -> tuple[dict[str, str], list[str], dict[str, Fault]]:
    zones = demo_zones()
    for j in range(PROVIDERS):
        zones[f"provider{j}.example"] = provider_zone(j)
    domains = []
    for i in range(n - 1):
        domain = f"bench{i:05d}-dept.gov.uk"
        zones[domain] = department_zone(i, domain)
        domains.append(domain)
    silent = "silent-bench-dept.gov.uk"
    zones[silent] = f"$ORIGIN {silent}.\n{SOA}@ 3600 IN MX 10 mx0.provider0.example.\n"
    domains.append(silent)
    # One department whose MX accepts TCP and never greets.
    mute = "mute-mx-bench-dept.gov.uk"
    zones[mute] = (
        f"$ORIGIN {mute}.\n{SOA}@ 3600 IN MX 10 mx.{mute}.\nmx 3600 IN A {MUTE_ADDRESS}\n"
        '@ 3600 IN TXT "v=spf1 -all"\n'
    )
    domains.append(mute)
    return zones, domains, {silent: Fault.DROP}


MUTE_ADDRESS = "127.0.9.9"
#: An MX address where nothing listens: the connection is refused.
DEAD_ADDRESS = "127.0.9.8"

#: The provider mix: (name, share of domains in per cent, MX name pattern for domain ``i``,
#: addresses, the certificate's names). A pattern without ``{i}`` is one shared name.
PROVIDER_MIX: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "m365",
        44,
        ("t{i:05d}-gov-uk.mail.protection.m365.example",),
        ("127.0.20.10", "127.0.20.11"),
        ("*.mail.protection.m365.example",),
    ),
    (
        "pphosted",
        10,
        ("mx0a-{i:05d}.pphosted.example", "mx0b-{i:05d}.pphosted.example"),
        ("127.0.21.10", "127.0.21.11"),
        ("*.pphosted.example",),
    ),
    (
        "mimecast",
        10,
        ("eu-smtp-inbound-1.mimecast.example", "eu-smtp-inbound-2.mimecast.example"),
        ("127.0.22.10", "127.0.22.11"),
        ("*.mimecast.example",),
    ),
    (
        "google",
        8,
        ("aspmx.l.google.example", *(f"alt{k}.aspmx.l.google.example" for k in range(1, 5))),
        tuple(f"127.0.23.{10 + k}" for k in range(5)),
        ("aspmx.l.google.example", "*.aspmx.l.google.example"),
    ),
    (
        "hoster",
        16,
        ("council{i:05d}.gw.hoster.example",),
        tuple(f"127.0.24.{10 + k}" for k in range(9)),
        ("*.gw.hoster.example",),
    ),
)


def provider_lab(n: int) -> tuple[dict[str, str], list[str], dict[str, Fault], list[LabMx]]:
    """Zones, domains, DNS faults and mail servers of the provider-shaped mix (module doc).

    Each tenant name of a provider resolves to the provider's addresses (a Microsoft 365 name to
    both of its two, as the real ones answer); a hosting company's per-council name to one of
    its nine, by the council's number. The servers of a provider present one certificate whose
    names (a wildcard) cover every tenant name, as the real providers' do.
    """
    zones = demo_zones()
    shares = [(name, share, names, addresses) for name, share, names, addresses, _ in PROVIDER_MIX]
    provider_records: dict[str, list[str]] = {}
    domains: list[str] = []
    for i in range(n - 2):
        domain = f"bench{i:05d}-dept.gov.uk"
        domains.append(domain)
        slot = i % 100
        body = [f"$ORIGIN {domain}.", SOA]
        edge = 0
        chosen = None
        for name, share, names, addresses in shares:
            if edge <= slot < edge + share:
                chosen = (name, names, addresses)
            edge += share
        if chosen is None:  # the parked share
            body += [
                "@ 3600 IN MX 0 .",
                '@ 3600 IN TXT "v=spf1 -all"',
                f'_dmarc 3600 IN TXT "v=DMARC1; p=reject; sp=reject; rua={NCSC}"',
                '*._domainkey 3600 IN TXT "v=DKIM1; p="',
            ]
            zones[domain] = "\n".join(body) + "\n"
            continue
        provider, names, addresses = chosen
        for k, pattern in enumerate(names):
            host = pattern.format(i=i)
            body.append(f"@ 3600 IN MX {10 * (k + 1)} {host}.")
            # A Microsoft 365 name resolves to both addresses; a council's gateway name to one
            # of the hoster's nine; the other providers' Nth name to their Nth address.
            targets: tuple[str, ...] = addresses
            if provider == "hoster":
                targets = (addresses[i % len(addresses)],)
            elif provider != "m365":
                targets = (addresses[k],)
            records = provider_records.setdefault(provider, [])
            records += [f"{host}. 3600 IN A {a}" for a in targets]
        body += [
            f'@ 3600 IN TXT "v=spf1 include:spf.{provider}.example -all"',
            f'_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua={NCSC}"',
            f"_smtp._tls 3600 IN TXT {TLSRPT}",
            f'_mta-sts 3600 IN TXT "v=STSv1; id=2026{i}"',
        ]
        zones[domain] = "\n".join(body) + "\n"
    zone_of = {
        "m365": "m365.example",
        "pphosted": "pphosted.example",
        "mimecast": "mimecast.example",
        "google": "google.example",
        "hoster": "hoster.example",
    }
    for provider, apex in zone_of.items():
        lines = [f"$ORIGIN {apex}.", SOA, 'spf 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"']
        lines += sorted(set(provider_records.get(provider, [])))
        zones[apex] = "\n".join(lines) + "\n"
    for name, address in (("dead", DEAD_ADDRESS), ("tarpit", MUTE_ADDRESS)):
        domain = f"{name}-mx-bench-dept.gov.uk"
        zones[domain] = (
            f"$ORIGIN {domain}.\n{SOA}@ 3600 IN MX 10 mx.{domain}.\nmx 3600 IN A {address}\n"
            '@ 3600 IN TXT "v=spf1 -all"\n'
        )
        domains.append(domain)
    servers = [
        LabMx(
            f"server{k}.{provider}.example",
            address,
            replace(COMPLIANT, leaf=LeafSpec(names=leaf_names)),
        )
        for provider, _, _, addresses, leaf_names in PROVIDER_MIX
        for k, address in enumerate(addresses)
    ]
    servers.append(LabMx("mx.tarpit-mx-bench-dept.gov.uk", MUTE_ADDRESS, SILENT))
    return zones, domains, {}, servers


def department_servers() -> list[LabMx]:
    """A compliant SMTP server for each of the 20 provider MX hosts, and one that never greets."""
    hosts = [
        LabMx(f"mx{k}.provider{j}.example", f"127.0.{10 + j}.{10 + k}", COMPLIANT)
        for j in range(PROVIDERS)
        for k in range(HOSTS_PER_PROVIDER)
    ]
    hosts.append(LabMx("mx.mute-mx-bench-dept.gov.uk", MUTE_ADDRESS, SILENT))
    return hosts


def start_mail_servers(
    hosts: list[LabMx],
) -> tuple[LabSmtpFleet, Path, tempfile.TemporaryDirectory[str]]:
    pki = LabPki("pytest-govmail bench")
    folder = tempfile.TemporaryDirectory()
    ca_file = pki.write_ca_file(Path(folder.name) / "ca.pem")
    return LabSmtpFleet(hosts, pki=pki, idle_timeout=5.0).start(), ca_file, folder


class MailLab:
    """The mail servers of a mix, in a process of their own.

    The lab's DNS server runs in this process; apart, the two do not share one interpreter
    lock, so the mail servers' TLS work cannot slow the lab's answers. (It was suspected of the
    DNS timeouts of the first 10,000-domain sweeps; the cause was the client's own stalled
    event loop, fixed in pytest_govmail.engine.run.without_gc_pauses and collect/dns_udp.py.)
    """

    def __init__(self, hosts: list[LabMx]) -> None:
        context = multiprocessing.get_context("fork")  # before this process starts any thread
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_mail, args=(child, hosts), daemon=True)
        self._process.start()
        self.port, self.ca_file = self._pipe.recv()

    def connections(self) -> int:
        """TCP connections the mail servers accepted so far."""
        self._pipe.send("connections")
        return int(self._pipe.recv())

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)


def _serve_mail(pipe: Connection, hosts: list[LabMx]) -> None:
    fleet, ca_file, folder = start_mail_servers(hosts)
    pipe.send((fleet.port, str(ca_file)))
    try:
        while pipe.recv() == "connections":
            pipe.send(sum(s.connections for s in fleet))
    finally:
        fleet.stop()
        folder.cleanup()


def govmail_python(use_venv: bool) -> str:
    """The Python that runs pytest-govmail: its own venv, as a user installs it.

    checkdmarc runs from a venv of its own (below); so does this side, with this checkout
    installed (not editable, so compiled by pip as a user's copy is) and its runtime
    dependencies only, at the versions this environment has. The development environment's
    test tooling (hypothesis, pytest-benchmark, anyio's plugin, pytest-xdist) would otherwise
    load into every run: a one-domain collection took 0.82-0.87 s from the venv against
    1.55-1.66 s from the development environment. ``--no-venv`` uses this interpreter instead.
    """
    if not use_venv:
        return sys.executable
    root = Path(__file__).resolve().parents[1]
    venv = Path(__file__).with_name(".venv-govmail")
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        frozen = subprocess.run(
            [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        constraints = venv / "constraints.txt"
        constraints.write_text(frozen)
        subprocess.run([*pip, "-c", str(constraints), f"{root}[demo]"], check=True)
    # This checkout as it is now, over whatever an earlier run installed.
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(root)], check=True)
    return str(python)


class TreeRss:
    """The peak of the summed resident memory of a process and all its descendants.

    ``/usr/bin/time``'s figure is the largest single process; ``govmail-sweep`` runs several
    pytest processes at once, so the machine needs their sum. Sampled from /proc every 0.1 s.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    stat = (entry / "stat").read_text()
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                found = re.search(r"VmRSS:\s+(\d+)", status)
                rss[int(entry.name)] = int(found.group(1)) if found else 0
            tree = {self.pid}
            grown = True
            while grown:
                more = {p for p, parent in parents.items() if parent in tree} - tree
                tree |= more
                grown = bool(more)
            self.peak_kib = max(self.peak_kib, sum(rss.get(p, 0) for p in tree))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


def run_pytest(
    python: str,
    domains_file: Path,
    nameserver: str,
    folder: Path,
    timeout: float,
    extra: list[str],
    sweep: tuple[int, int] | None = None,
) -> dict[str, float]:
    """One assessment in a fresh process; wall time, peak RSS and the plugin's own figures.

    With ``sweep`` (batch size, jobs) the assessment is ``govmail-sweep`` instead of ``pytest``.
    """
    command = ["pytest"]
    if sweep is not None:
        command = ["pytest_govmail.sweep", f"--batch={sweep[0]}", f"--jobs={sweep[1]}"]
    args = [
        "/usr/bin/time",
        "-f",
        "BENCH_MAXRSS_KB=%M",
        python,
        "-m",
        *command,
        f"--govmail-domains-file={domains_file}",
        f"--govmail-nameserver={nameserver}",
        f"--govmail-timeout={timeout}",
        "--govmail-report-dir=reports",
        "--govmail-evidence-out=evidence.json",
        "-p",
        "no:cacheprovider",
        "-q",
        *extra,
    ]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            args, cwd=folder, stdout=output, stderr=subprocess.STDOUT, text=True, env=bytecode_env()
        )
        tree = TreeRss(process.pid)
        process.wait()
        wall = time.perf_counter() - start
        tree_mib = tree.stop()
        output.seek(0)
        text = output.read()
    collected = re.search(
        r"(\d+) DNS answers(?: \((\d+) failed\))?.*?collected in ([\d.]+) s", text
    )
    summary = [line for line in text.splitlines() if re.search(r" in [\d.]+s", line)]
    rss = re.search(r"BENCH_MAXRSS_KB=(\d+)", text)
    if collected is None or not summary or rss is None:
        raise SystemExit(f"pytest did not complete:\n{text[-3000:]}")
    tests = sum(int(n) for n in re.findall(r"(\d+) [a-z]+", summary[-1].split(" in ")[0]))
    session = re.search(r" in ([\d.]+)s", summary[-1])
    written = re.search(r"report written to .* in ([\d.]+) s", text)
    steps = re.search(
        r"collecting [\d.]+ s, splitting ([\d.]+) s, judging ([\d.]+) s, merging ([\d.]+) s", text
    )
    html = folder / "reports" / "govmail.html"
    handshakes = tls_figures(folder / "evidence.json")
    return {
        **handshakes,
        "session": float(session.group(1)) if session else float("nan"),
        "report_write": float(written.group(1)) if written else float("nan"),
        "wall": wall,
        "collect": float(collected.group(3)),
        "answers": float(collected.group(1)),
        "dns_failed": float(collected.group(2) or 0),
        "rss_mib": int(rss.group(1)) / 1024,
        "tree_rss_mib": tree_mib,
        "tests": float(tests),
        **(
            {
                "sweep_split": float(steps.group(1)),
                "sweep_judge": float(steps.group(2)),
                "sweep_merge": float(steps.group(3)),
            }
            if steps
            else {}
        ),
        "html_mib": html.stat().st_size / 2**20 if html.exists() else 0.0,
    }


def bytecode_env() -> dict[str, str]:
    """The environment with Python's default bytecode caching.

    pip compiles every module it installs, checkdmarc's included, and pytest caches the modules
    it rewrites the same way; ``PYTHONDONTWRITEBYTECODE`` (set on some CI images, and here) would
    stop that. Measured here it made no clear difference to start-up (a one-domain collection:
    1.41-1.67 s with it set, 1.55-1.66 s without), but the timed runs should not depend on it.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up(python: str, folder: Path, domain: str, nameserver: str) -> None:
    """One untimed collection of one domain, so that the timed runs start from compiled code."""
    subprocess.run(
        [python, "-m", "pytest", f"--govmail-domain={domain}",
         f"--govmail-nameserver={nameserver}", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=folder, capture_output=True, check=False, env=bytecode_env(),
    )  # fmt: skip


def tls_figures(path: Path) -> dict[str, float]:
    """Handshakes per MX address (every name scanned on it summed), and the worst margin
    against issue 13's bound: accepted suites + 10 + (names served on it - 1)."""
    tls = evidence.read(path).tls if path.exists() else {}
    handshakes: dict[str, int] = {}
    names: dict[str, set[str]] = {}
    suites: dict[str, int] = {}
    for (host, address), scan in tls.items():
        handshakes[address] = handshakes.get(address, 0) + scan.handshakes
        names.setdefault(address, set()).add(host)
        accepted = sum(len(p.cipher_suites) for p in scan.versions if p.accepted is True)
        suites[address] = max(suites.get(address, 0), accepted)
    over = {a: handshakes[a] - suites[a] - (len(names[a]) - 1) for a in handshakes}
    worst = max(handshakes, key=lambda a: handshakes[a], default=None)
    return {
        "addresses": float(len(handshakes)),
        "handshakes": float(sum(handshakes.values())),
        "handshakes_max_per_address": float(handshakes[worst]) if worst else 0.0,
        "names_on_worst_address": float(len(names[worst])) if worst else 0.0,
        "handshakes_over_bound_max": float(max(over.values(), default=0)),
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=51)
    parser.add_argument("--delay", type=float, default=0.03, help="seconds added to every answer")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--checkdmarc", action="store_true")
    parser.add_argument(
        "--mix",
        choices=("departments", "providers"),
        default="departments",
        help="departments on 20 shared provider hosts (default), or the provider-shaped mix: "
        "many tenant MX names on few addresses, self-hosted, parked, a dead server, a tarpit",
    )
    parser.add_argument(
        "--no-venv",
        action="store_true",
        help="run pytest-govmail from this interpreter, not from bench/.venv-govmail",
    )
    parser.add_argument(
        "--sweep-batch",
        type=int,
        metavar="N",
        help="assess with govmail-sweep in batches of N domains instead of one pytest process",
    )
    parser.add_argument("--sweep-jobs", type=int, default=2, help="govmail-sweep's --jobs")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    python = govmail_python(not args.no_venv)
    sweep = (args.sweep_batch, args.sweep_jobs) if args.sweep_batch else None
    if args.mix == "providers":
        zones, domains, faults, hosts = provider_lab(args.domains)
    else:
        zones, domains, faults = build_lab(args.domains)
        hosts = department_servers()
    mail = MailLab(hosts)
    extra = [
        f"--govmail-smtp-port={mail.port}",
        f"--govmail-ca-file={mail.ca_file}",
        "--govmail-allow-private",
        *args.pytest_args,
    ]
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            LabDnsServer(zones, delay=args.delay, faults=faults) as server,
        ):
            folder = Path(tmp)
            domains_file = folder / "domains.txt"
            domains_file.write_text("\n".join(domains) + "\n")
            host, port = server.address
            warm_up(python, folder, domains[0], f"{host}:{port}")
            results = []
            for run in range(args.runs):
                before = server.queries_served
                connections = mail.connections()
                figures = run_pytest(
                    python, domains_file, f"{host}:{port}", folder, args.timeout, extra, sweep
                )
                figures["queries"] = server.queries_served - before
                figures["smtp_connections"] = mail.connections() - connections
                results.append(figures)
                print(f"run {run + 1}: " + json.dumps({k: round(v, 2) for k, v in figures.items()}))
    finally:
        mail.stop()
    wall = median([r["wall"] for r in results])
    collect = median([r["collect"] for r in results])
    how = f" (govmail-sweep, batches of {sweep[0]}, {sweep[1]} at a time)" if sweep else ""
    print(
        f"\npytest-govmail{how}, {len(domains)} domains, {args.delay * 1000:g} ms DNS delay, "
        f"median of {args.runs}:\n"
        f"  wall {wall:.2f} s, {len(domains) / wall:.1f} domains/s, "
        f"{median([r['tests'] for r in results]):.0f} tests\n"
        f"  DNS: {median([r['queries'] for r in results]):.0f} queries answered by the lab, "
        f"{median([r['dns_failed'] for r in results]):.0f} failed (the silent zone's included); "
        f"collection (DNS, TLS, HTTPS) {collect:.2f} s ({collect / wall:.0%} of wall)\n"
        f"  TLS: {median([r['smtp_connections'] for r in results]):.0f} SMTP connections, "
        f"{median([r['addresses'] for r in results]):.0f} MX addresses scanned (the lab has "
        f"{len(hosts)} mail servers), "
        f"{median([r['handshakes'] for r in results]):.0f} handshakes; the worst address "
        f"{median([r['handshakes_max_per_address'] for r in results]):.0f} for "
        f"{median([r['names_on_worst_address'] for r in results]):.0f} MX name(s), and at most "
        f"{median([r['handshakes_over_bound_max'] for r in results]):.0f} more than its "
        f"accepted suites + (names served - 1) (target: 10)\n"
        f"  time: collecting {collect:.2f} s, judging and reporting each test "
        f"{median([r['session'] - r['collect'] - r['report_write'] for r in results]):.2f} s, "
        f"writing the HTML report {median([r['report_write'] for r in results]):.2f} s, "
        f"pytest start-up and exit {median([r['wall'] - r['session'] for r in results]):.2f} s\n"
        + (
            f"  govmail-sweep's steps after collecting: splitting "
            f"{median([r['sweep_split'] for r in results]):.2f} s, judging the batches "
            f"{median([r['sweep_judge'] for r in results]):.2f} s, merging JUnit and HTML "
            f"{median([r['sweep_merge'] for r in results]):.2f} s\n"
            if sweep
            else ""
        )
        + f"  peak RSS {median([r['rss_mib'] for r in results]):.0f} MiB in the largest process, "
        f"{median([r['tree_rss_mib'] for r in results]):.0f} MiB summed over its processes, "
        f"HTML report {median([r['html_mib'] for r in results]):.1f} MiB"
    )
    if args.checkdmarc:
        checkdmarc_wall = run_checkdmarc(
            domains, zones, faults, args.delay, args.runs, args.timeout
        )
        print(
            f"\ncheckdmarc on the same lab: median {checkdmarc_wall:.2f} s; "
            f"pytest-govmail is {checkdmarc_wall / wall:.1f}x faster.\n"
            "  checkdmarc lacks: TLS versions and suites, certificate checks per MX host, "
            "MTA-STS policy rules (mode, max_age, mx coverage, safe to enforce), DKIM key "
            "checks, per-MX-host tests, the parked-domain recipe, reports to a live address "
            "(DMARC-09, TLSRPT-03), DNSSEC validation, DMARC and TLS-RPT report ingestion, "
            "inconclusive-vs-fail (timeouts read as missing records), JUnit, baselines and "
            "evidence replay."
        )
    return 0


def run_checkdmarc(
    domains: list[str],
    zones: dict[str, str],
    faults: dict[str, Fault],
    delay: float,
    runs: int,
    timeout: float,
) -> float:
    """checkdmarc on the same zones, with the same DNS timeout as pytest-govmail's
    ``--govmail-timeout`` (its ``-t``), so that the silent zone costs both the same."""
    venv = Path(__file__).with_name(".venv-checkdmarc")
    exe = venv / "bin" / "checkdmarc"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "checkdmarc"], check=True)
    # checkdmarc's -n speaks port 53 only: serve the same zones on 127.0.0.53:53 (root).
    with LabDnsServer(zones, host="127.0.0.53", port=53, delay=delay, faults=faults), \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        resolv = Path(tmp) / "resolv.conf"
        resolv.write_text(f"nameserver 127.0.0.53\noptions timeout:{timeout:g} attempts:1\n")
        walls = []
        for _ in range(runs):
            script = (
                f"mount --bind {resolv} /etc/resolv.conf && "
                f"{exe} {' '.join(domains)} -n 127.0.0.53 -t {timeout:g} --skip-tls "
                f"-o {tmp}/out.json"
            )
            start = time.perf_counter()
            subprocess.run(["unshare", "-m", "sh", "-c", script], check=False, capture_output=True)
            walls.append(time.perf_counter() - start)
            print(f"checkdmarc run: {walls[-1]:.2f} s")
    return median(walls)


if __name__ == "__main__":
    raise SystemExit(main())
