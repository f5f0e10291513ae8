"""pytest-govmail against testssl.sh on real mail servers: facts, verdicts and connections.

Starts the real MTAs of :mod:`pytest_govmail.lab.real_mtas` (Debian's Postfix in seven
configurations and Exim with Debian's configuration, each on its own loopback address) and, in
front of each, a counting TCP relay on a second port, so both tools are counted the same way at
the listener. Then

* ``govmail``: one pytest-govmail run over every listener's domain at the default timeout
  (MX-04, TLS-*, CERT-*), its evidence file (versions, suites) and JUnit outcomes (verdicts);
* ``testssl.sh`` (Debian's package, 3.0.8): ``--starttls smtp`` against each listener in turn,
  with the checks these verdicts need (protocols, ciphers per protocol, server preference,
  server defaults, renegotiation, compression) and the lab's CA as ``--add-ca``.

It prints, per listener, the versions each tool saw offered, the suites accepted per version
(and which only one tool saw), the verdicts testssl.sh's facts imply next to ours, and the
connections each tool opened; then the totals. The verdicts testssl.sh's facts imply are
worked out here from its JSON findings, with the project's TLS profile for suite classes (the
policy) and testssl.sh's own words for trust, names, dates and chain order:

    MX-04   testssl.sh got through the SMTP dialogue (it reports the service)
    TLS-01  some TLS version offered after STARTTLS
    TLS-02  TLS 1.2 or 1.3 offered          TLS-08  TLS 1.3 offered
    TLS-03  SSLv2 and SSLv3 not offered     TLS-04  TLS 1.0 and 1.1 not offered
    TLS-05  the suite picked (server order: its first at the best version; else the
            negotiated one) is recommended
    TLS-06  no accepted suite, at any version, is insecure
    TLS-07  every TLS 1.2 suite recommended or acceptable
    TLS-09  every accepted suite's key exchange is ECDHE on an allowed group or DHE >= 2048
    TLS-10  no compression (CRIME_TLS), secure renegotiation, client renegotiation refused
    CERT-01 testssl.sh's chain of trust passed (it fails on dates too: with a CA made after
            the leaf expired, as here, no instant of validity exists for pytest-govmail either)
    CERT-02 testssl.sh's name check (cert_trust) is "Ok"
    CERT-03 not expired, already valid          CERT-04 notAfter more than 14 days away
    CERT-05 RSA >= 2048 or EC >= 256            CERT-06 no SHA-1 or MD5 signature
    CERT-07 no chain ordering problem, and no missing issuer in the chain check

    python bench/testssl_compare.py                   # every listener (about 15 minutes)
    python bench/testssl_compare.py --listeners postfix-modern exim-debian --json out.json
    python bench/testssl_compare.py --testssl-from out.json   # only pytest-govmail again

Needs root, Debian's postfix and testssl.sh packages and Exim's unpacked files (``.ci/run``
installs them). Nothing here touches the internet.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_govmail.inputs.tls_profile import TlsProfile, iana_name, load_profile
from pytest_govmail.lab.real_mtas import (
    LISTENERS,
    REQUIREMENTS,
    RealListener,
    RealMtaDeployment,
    start_real_mta_lab,
)

#: testssl.sh's protocol finding ids -> the project's version names.
VERSIONS = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLS1": "TLSv1.0",
    "TLS1_1": "TLSv1.1",
    "TLS1_2": "TLSv1.2",
    "TLS1_3": "TLSv1.3",
}
#: testssl.sh's cipher-per-protocol id prefixes -> version names.
CIPHER_IDS = {
    "cipher-ssl2_": "SSLv2",
    "cipher-ssl3_": "SSLv3",
    "cipher-tls1_": "TLSv1.0",
    "cipher-tls1_1_": "TLSv1.1",
    "cipher-tls1_2_": "TLSv1.2",
    "cipher-tls1_3_": "TLSv1.3",
}
#: testssl.sh's ECDH sizes -> group names (what it prints is the curve's size in bits).
ECDH_BITS = {253: "X25519", 256: "secp256r1", 384: "secp384r1", 448: "X448", 521: "secp521r1"}
TESTSSL_CHECKS = ("-p", "-E", "-P", "-S", "-R", "-C")
EXPIRY_DAYS = 14


# ---------------------------------------------------------------------------------------------
# A relay that counts connections at the listener
# ---------------------------------------------------------------------------------------------


class CountingRelay:
    """TCP relays ``(address, port) -> (address, target_port)``, counting accepted connections."""

    def __init__(self, addresses: Sequence[str], target_port: int) -> None:
        self.target_port = target_port
        self.counts = dict.fromkeys(addresses, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listeners: list[socket.socket] = []
        self.port = 0
        for attempt in range(50):
            try:
                self._bind(addresses)
                break
            except OSError:
                for sock in self._listeners:
                    sock.close()
                self._listeners = []
                if attempt == 49:
                    raise
        for sock in self._listeners:
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _bind(self, addresses: Sequence[str]) -> None:
        for address in addresses:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listeners.append(sock)
            sock.bind((address, self.port if self.port else 0))
            self.port = sock.getsockname()[1]
            sock.listen(128)
            sock.settimeout(0.2)

    def reset(self) -> None:
        with self._lock:
            self.counts = dict.fromkeys(self.counts, 0)

    def _accept(self, listener: socket.socket) -> None:
        address = listener.getsockname()[0]
        while not self._stop.is_set():
            try:
                client, _peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.counts[address] += 1
            threading.Thread(target=self._pipe, args=(client, address), daemon=True).start()

    def _pipe(self, client: socket.socket, address: str) -> None:
        try:
            upstream = socket.create_connection((address, self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        client.settimeout(None)
        upstream.settimeout(None)

        def forward(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := source.recv(65536):
                    sink.sendall(data)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        other = threading.Thread(target=forward, args=(upstream, client), daemon=True)
        other.start()
        forward(client, upstream)
        other.join(120)
        client.close()
        upstream.close()

    def close(self) -> None:
        self._stop.set()
        for sock in self._listeners:
            sock.close()


# ---------------------------------------------------------------------------------------------
# Facts and verdicts
# ---------------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What one tool saw at one listener."""

    offered: dict[str, bool] = field(default_factory=dict)  # version -> offered
    suites: dict[str, list[str]] = field(default_factory=dict)  # version -> IANA names
    verdicts: dict[str, str] = field(default_factory=dict)  # requirement -> pass/fail/...
    connections: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _word(ok: bool) -> str:
    return "pass" if ok else "fail"


def _kex_ok(kex: str, profile: TlsProfile) -> bool:
    """testssl.sh's key-exchange column ("ECDH 253", "DH 2048", "RSA") against TLS-09."""
    match = re.fullmatch(r"(ECDH|DH)\s+(\d+)", kex.strip())
    if match is None:
        return False  # static RSA (no ephemeral key) or something unknown
    bits = int(match.group(2))
    if match.group(1) == "DH":
        return bits >= profile.min_dhe_bits
    group = ECDH_BITS.get(bits)
    return group is not None and profile.group_allowed(group)


def testssl_facts(findings: Sequence[Mapping[str, Any]], profile: TlsProfile) -> Facts:
    """Versions, suites and implied verdicts from testssl.sh's JSON findings."""
    by_id: dict[str, str] = {}
    facts = Facts()
    kex: dict[str, str] = {}
    for item in findings:
        ident, finding = str(item.get("id", "")), str(item.get("finding", ""))
        by_id.setdefault(ident, finding)
        if ident in VERSIONS:
            facts.offered[VERSIONS[ident]] = finding.startswith("offered")
        for prefix, version in sorted(CIPHER_IDS.items(), key=lambda kv: -len(kv[0])):
            if ident.startswith(prefix) and re.fullmatch(r"x[0-9a-f]+", ident[len(prefix) :]):
                columns = re.split(r"\s{2,}", finding.strip())
                # "TLS 1.2   xc030   ECDHE-RSA-AES256-GCM-SHA384   ECDH 253   AESGCM   256   IANA"
                name = iana_name(columns[-1])
                facts.suites.setdefault(version, []).append(name)
                kex[name] = columns[3] if len(columns) > 3 else ""
                break
    if not facts.offered:
        facts.verdicts = dict.fromkeys(REQUIREMENTS, "error")
        facts.notes.append(by_id.get("scanProblem", "testssl.sh reported no protocol"))
        return facts
    any_tls = any(facts.offered.values())
    verdicts = facts.verdicts
    verdicts["MX-04"] = _word(by_id.get("service") == "smtp")
    verdicts["TLS-01"] = _word(any_tls)
    verdicts["TLS-02"] = _word(
        facts.offered.get("TLSv1.2", False) or facts.offered.get("TLSv1.3", False)
    )
    verdicts["TLS-03"] = _word(not facts.offered.get("SSLv2") and not facts.offered.get("SSLv3"))
    verdicts["TLS-04"] = _word(
        not facts.offered.get("TLSv1.0") and not facts.offered.get("TLSv1.1")
    )
    best = next(
        (v for v in ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0") if facts.offered.get(v)), None
    )
    picked = ""
    if by_id.get("cipher_order", "").startswith("server") and best:
        order = by_id.get(f"cipher_order_{best}", "").split()
        picked = order[0] if order else ""
    if not picked:
        picked = by_id.get("cipher_negotiated", "").split(",")[0].strip()
    verdicts["TLS-05"] = _word(bool(picked) and profile.classify(picked) == "recommended")
    accepted = [s for names in facts.suites.values() for s in names]
    verdicts["TLS-06"] = _word(not any(profile.is_insecure(s) for s in accepted))
    tls12 = facts.suites.get("TLSv1.2", [])
    verdicts["TLS-07"] = _word(
        all(profile.classify(s) in ("recommended", "acceptable") for s in tls12)
    )
    verdicts["TLS-08"] = _word(facts.offered.get("TLSv1.3", False))
    verdicts["TLS-09"] = _word(all(_kex_ok(kex.get(s, ""), profile) for s in set(accepted)))
    verdicts["TLS-10"] = _word(
        by_id.get("CRIME_TLS", "").startswith("not vulnerable")
        and by_id.get("secure_renego", "").startswith("supported")
        and by_id.get("secure_client_renego", "").startswith("not vulnerable")
    )
    trust = by_id.get("cert_chain_of_trust", "")
    verdicts["CERT-01"] = _word(trust.startswith("passed"))
    verdicts["CERT-02"] = _word(by_id.get("cert_trust", "").startswith("Ok"))
    status = by_id.get("cert_expirationStatus", "")
    verdicts["CERT-03"] = _word("expired" not in status and "not yet valid" not in status)
    verdicts["CERT-04"] = _word(_days_left(by_id.get("cert_notAfter", "")) > EXPIRY_DAYS)
    verdicts["CERT-05"] = _word(_key_ok(by_id.get("cert_keySize", ""), profile))
    signature = by_id.get("cert_signatureAlgorithm", "").upper()
    verdicts["CERT-06"] = _word("SHA1" not in signature and "MD5" not in signature)
    missing_issuer = "issuer" in trust.lower() and "missing" in trust.lower()
    verdicts["CERT-07"] = _word(
        by_id.get("certs_list_ordering_problem", "no") == "no" and not missing_issuer
    )
    if not any_tls:
        for requirement in REQUIREMENTS[2:]:
            verdicts[requirement] = "skip"
    facts.notes.append(f"chain of trust: {trust or '-'}; picked: {picked or '-'}")
    return facts


def _days_left(not_after: str) -> float:
    try:
        when = datetime.datetime.strptime(not_after.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        return -1.0
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return (when - now).total_seconds() / 86400


def _key_ok(text: str, profile: TlsProfile) -> bool:
    match = re.match(r"(RSA|EC)\D*(\d+)", text.strip())
    if match is None:
        return False
    floor = profile.min_rsa_bits if match.group(1) == "RSA" else profile.min_ec_bits
    return int(match.group(2)) >= floor


def govmail_facts(
    evidence: Mapping[str, Any], junit: Path, listeners: Sequence[RealListener]
) -> dict[str, Facts]:
    """Versions and suites from a run's evidence file, verdicts from its JUnit XML."""
    by_host = {listener.host: listener.name for listener in listeners}
    facts = {listener.name: Facts() for listener in listeners}
    for scan in evidence.get("tls", ()):
        name = by_host.get(scan.get("host", ""))
        if name is None:
            continue
        for probe in scan.get("versions", ()):
            version = probe["version"]
            facts[name].offered[version] = bool(probe.get("accepted"))
            if probe.get("cipher_suites"):
                facts[name].suites[version] = [iana_name(s) for s in probe["cipher_suites"]]
            if not probe.get("suites_complete", True):
                facts[name].notes.append(f"{version} suite list marked incomplete")
        facts[name].notes.append(f"scan: {scan.get('connections')} connections")
    by_domain = {listener.domain: listener.name for listener in listeners}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        name = by_domain.get(props.get("govmail.domain") or "")
        requirement = props.get("govmail.requirement") or ""
        if name is None or requirement not in REQUIREMENTS:
            continue
        outcome = "pass"
        for tag, word in (("failure", "fail"), ("error", "error"), ("skipped", "skip")):
            if case.find(tag) is not None:
                outcome = word
        facts[name].verdicts[requirement] = outcome
    return facts


# ---------------------------------------------------------------------------------------------
# Running the tools
# ---------------------------------------------------------------------------------------------


def run_govmail(
    lab: RealMtaDeployment, relay: CountingRelay, folder: Path, listeners: Sequence[RealListener]
) -> dict[str, Facts]:
    relay.reset()
    started = time.monotonic()
    done = lab.run_govmail(folder, smtp_port=relay.port, timeout=900)
    seconds = time.monotonic() - started
    facts = govmail_facts(json.loads(done.evidence.read_text("utf-8")), done.junit, listeners)
    for listener in listeners:
        facts[listener.name].connections = relay.counts[listener.address]
        facts[listener.name].seconds = seconds
    return facts


def run_testssl(
    lab: RealMtaDeployment, relay: CountingRelay, folder: Path, listener: RealListener
) -> Facts:
    out = folder / f"testssl-{listener.name}.json"
    args = [
        "testssl",
        "--quiet",
        "--warnings",
        "off",
        "--color",
        "0",
        "--starttls",
        "smtp",
        "--add-ca",
        str(lab.ca_file),
        "--ip",
        listener.address,
        "--jsonfile",
        str(out),
        *TESTSSL_CHECKS,
        f"{listener.host}:{relay.port}",
    ]
    relay.reset()
    started = time.monotonic()
    subprocess.run(args, cwd=folder, capture_output=True, check=False, timeout=1800)
    seconds = time.monotonic() - started
    findings = json.loads(out.read_text("utf-8")) if out.exists() else []
    facts = testssl_facts(findings, load_profile())
    facts.connections = relay.counts[listener.address]
    facts.seconds = seconds
    return facts


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _versions(facts: Facts) -> str:
    return " ".join(v.removeprefix("TLSv") for v, on in facts.offered.items() if on) or "-"


def compare(name: str, story: str, ours: Facts, theirs: Facts) -> dict[str, Any]:
    """Print one listener's comparison; return its figures."""
    print(f"\n{name}: {story}")
    print(f"  {'':24} {'govmail':>30}   {'testssl.sh':<30}")
    print(f"  {'versions offered':24} {_versions(ours):>30}   {_versions(theirs):<30}")
    version_same = {v for v, on in ours.offered.items() if on} == {
        v for v, on in theirs.offered.items() if on
    }
    suites_same = True
    for version in VERSIONS.values():
        mine, other = set(ours.suites.get(version, ())), set(theirs.suites.get(version, ()))
        if not mine and not other:
            continue
        mark = "" if mine == other else "  *"
        suites_same = suites_same and mine == other
        print(f"  {'suites ' + version:24} {len(mine):>30}   {len(other):<30}{mark}")
        for suite in sorted(other - mine):
            print(f"      only testssl.sh: {suite}")
        for suite in sorted(mine - other):
            print(f"      only govmail:    {suite}")
    differ = []
    for requirement in REQUIREMENTS:
        mine_v = ours.verdicts.get(requirement, "-")
        other_v = theirs.verdicts.get(requirement, "-")
        mark = "" if mine_v == other_v else "  *"
        if mark:
            differ.append(requirement)
        print(f"  {requirement:24} {mine_v:>30}   {other_v:<30}{mark}")
    print(f"  {'connections':24} {ours.connections:>30}   {theirs.connections:<30}")
    print(f"  {'seconds (govmail: all)':24} {ours.seconds:>30.1f}   {theirs.seconds:<30.1f}")
    for note in theirs.notes:
        print(f"  testssl.sh: {note}")
    for note in ours.notes:
        print(f"  govmail:    {note}")
    return {
        "listener": name,
        "versions_agree": version_same,
        "suites_agree": suites_same,
        "verdicts_differ": differ,
        "verdicts_compared": len(REQUIREMENTS),
        "connections": {"govmail": ours.connections, "testssl": theirs.connections},
        "govmail": ours.__dict__,
        "testssl": theirs.__dict__,
    }


@contextlib.contextmanager
def deployment(names: Sequence[str]) -> Iterator[tuple[RealMtaDeployment, CountingRelay]]:
    wanted = [x for x in LISTENERS if not names or x.name in names]
    lab = start_real_mta_lab(wanted)
    relay = None
    try:
        for name, reason in lab.mtas.skipped.items():
            print(f"{name}: not started: {reason}")
        relay = CountingRelay([x.address for x in lab.listeners], lab.mtas.port)
        yield lab, relay
    finally:
        if relay is not None:
            relay.close()
        lab.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listeners", nargs="+", default=[], help="names (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--testssl-from",
        type=Path,
        help="take testssl.sh's facts and counts from this earlier --json file (its findings "
        "do not depend on this checkout) instead of running it again",
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (the MTAs' daemons)", file=sys.stderr)
        return 2
    results = []
    with deployment(args.listeners) as (lab, relay), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours = run_govmail(lab, relay, folder, lab.listeners)
        earlier = {}
        if args.testssl_from:
            earlier = {
                r["listener"]: r["testssl"] for r in json.loads(args.testssl_from.read_text())
            }
        for listener in lab.listeners:
            if listener.name in earlier:
                theirs = Facts(**earlier[listener.name])
            else:
                theirs = run_testssl(lab, relay, folder, listener)
            results.append(compare(listener.name, listener.story, ours[listener.name], theirs))
            sys.stdout.flush()
    agree_versions = sum(r["versions_agree"] for r in results)
    agree_suites = sum(r["suites_agree"] for r in results)
    verdicts = sum(r["verdicts_compared"] for r in results)
    differ = sum(len(r["verdicts_differ"]) for r in results)
    print(
        f"\n{len(results)} listener(s): versions agree on {agree_versions}, suites per version on"
    )
    print(f"{agree_suites}; verdicts agree on {verdicts - differ} of {verdicts}.")
    for r in results:
        if r["verdicts_differ"]:
            print(f"  {r['listener']}: differ on {', '.join(r['verdicts_differ'])}")
    ours_c = [r["connections"]["govmail"] for r in results]
    theirs_c = [r["connections"]["testssl"] for r in results]
    if results:
        print(
            f"connections per listener: govmail {min(ours_c)} to {max(ours_c)}, "
            f"testssl.sh {min(theirs_c)} to {max(theirs_c)}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
