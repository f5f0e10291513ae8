"""pytest-govmail against real mail servers: Debian's Postfix and Exim, judged as testssl.sh does.

:mod:`pytest_govmail.lab.real_mtas` starts Postfix 3.7 in seven configurations and Exim 4.96
with Debian's configuration on loopback (once for this module); one pytest-govmail run over
their domains, at the default timeouts, is then held to :data:`EXPECTED`: for each listener the
versions offered, the suites accepted per version, and the verdicts of MX-04, TLS-01..10 and
CERT-01..07. The table is testssl.sh's (3.0.8, Debian's package): the facts are what it found
at these listeners, and the verdicts are what its facts imply under the criteria of
``bench/testssl_compare.py``, which reproduces the comparison (``--json`` gives these figures).
It is not what the code said when it was written: issue 19's five faults made it differ on the
postscreen host (every verdict), on TLS-09 at four listeners and on two anonymous suites.

The connections a run opens are counted at the listener too (Postfix's own log), and held
below what testssl.sh needed for the same facts.

Where Postfix or Exim is not installed (``.ci/run`` installs both) or the run is not root,
the listener's tests skip with the reason.
"""

from __future__ import annotations

import datetime
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from pytest_govmail.inputs.tls_profile import iana_name
from pytest_govmail.lab.real_mtas import (
    LISTENERS,
    REQUIREMENTS,
    RealListener,
    RealMtaDeployment,
    start_real_mta_lab,
)

VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def suites(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The suites testssl.sh found accepted (IANA names), per version.
MOZILLA_RSA_TLS12 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    """
)
OPENSSL_TLS13 = suites(
    """
    TLS_AES_128_GCM_SHA256
    TLS_AES_256_GCM_SHA384
    TLS_CHACHA20_POLY1305_SHA256
    """
)
POSTFIX_DEBIAN_TLS10_11 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_DH_ANON_WITH_AES_128_CBC_SHA
    TLS_DH_ANON_WITH_AES_256_CBC_SHA
    TLS_DH_ANON_WITH_CAMELLIA_128_CBC_SHA
    TLS_DH_ANON_WITH_CAMELLIA_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_ECDH_ANON_WITH_AES_128_CBC_SHA
    TLS_ECDH_ANON_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
    """
)
POSTFIX_DEBIAN_TLS12 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
    TLS_DHE_RSA_WITH_AES_128_CCM
    TLS_DHE_RSA_WITH_AES_128_CCM_8
    TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
    TLS_DHE_RSA_WITH_AES_256_CCM
    TLS_DHE_RSA_WITH_AES_256_CCM_8
    TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256
    TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_DH_ANON_WITH_AES_128_CBC_SHA
    TLS_DH_ANON_WITH_AES_128_CBC_SHA256
    TLS_DH_ANON_WITH_AES_128_GCM_SHA256
    TLS_DH_ANON_WITH_AES_256_CBC_SHA
    TLS_DH_ANON_WITH_AES_256_CBC_SHA256
    TLS_DH_ANON_WITH_AES_256_GCM_SHA384
    TLS_DH_ANON_WITH_CAMELLIA_128_CBC_SHA
    TLS_DH_ANON_WITH_CAMELLIA_128_CBC_SHA256
    TLS_DH_ANON_WITH_CAMELLIA_256_CBC_SHA
    TLS_DH_ANON_WITH_CAMELLIA_256_CBC_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_ECDH_ANON_WITH_AES_128_CBC_SHA
    TLS_ECDH_ANON_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA256
    TLS_RSA_WITH_AES_128_CCM
    TLS_RSA_WITH_AES_128_CCM_8
    TLS_RSA_WITH_AES_128_GCM_SHA256
    TLS_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA256
    TLS_RSA_WITH_AES_256_CCM
    TLS_RSA_WITH_AES_256_CCM_8
    TLS_RSA_WITH_AES_256_GCM_SHA384
    TLS_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256
    """
)
POSTFIX_LEGACY_TLS10_11 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
    """
)
POSTFIX_LEGACY_TLS12 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
    TLS_DHE_RSA_WITH_AES_128_CCM
    TLS_DHE_RSA_WITH_AES_128_CCM_8
    TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
    TLS_DHE_RSA_WITH_AES_256_CCM
    TLS_DHE_RSA_WITH_AES_256_CCM_8
    TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256
    TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA256
    TLS_RSA_WITH_AES_128_CCM
    TLS_RSA_WITH_AES_128_CCM_8
    TLS_RSA_WITH_AES_128_GCM_SHA256
    TLS_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA256
    TLS_RSA_WITH_AES_256_CCM
    TLS_RSA_WITH_AES_256_CCM_8
    TLS_RSA_WITH_AES_256_GCM_SHA384
    TLS_RSA_WITH_ARIA_128_GCM_SHA256
    TLS_RSA_WITH_ARIA_256_GCM_SHA384
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
    TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256
    """
)
POSTFIX_WEAK_TLS12 = suites(
    """
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA
    """
)
MOZILLA_EC_TLS12 = suites(
    """
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    """
)
EXIM_DEBIAN_TLS10_11 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_256_CBC_SHA
    """
)
EXIM_DEBIAN_TLS12 = suites(
    """
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    TLS_DHE_RSA_WITH_AES_128_CCM
    TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    TLS_DHE_RSA_WITH_AES_256_CCM
    TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    TLS_RSA_WITH_AES_128_CBC_SHA
    TLS_RSA_WITH_AES_128_CCM
    TLS_RSA_WITH_AES_128_GCM_SHA256
    TLS_RSA_WITH_AES_256_CBC_SHA
    TLS_RSA_WITH_AES_256_CCM
    TLS_RSA_WITH_AES_256_GCM_SHA384
    """
)
GNUTLS_TLS13 = suites(
    """
    TLS_AES_128_CCM_SHA256
    TLS_AES_128_GCM_SHA256
    TLS_AES_256_GCM_SHA384
    TLS_CHACHA20_POLY1305_SHA256
    """
)


@dataclass(frozen=True)
class Expected:
    """One listener: suites accepted per version (the versions offered are its keys), the
    verdicts that are not "pass", and how many connections testssl.sh opened there."""

    suites: Mapping[str, frozenset[str]]
    verdicts: Mapping[str, str] = field(default_factory=dict)
    testssl_connections: int = 0


EXPECTED: Mapping[str, Expected] = {
    "postfix-modern": Expected(
        {"TLSv1.2": MOZILLA_RSA_TLS12, "TLSv1.3": OPENSSL_TLS13},
        {"TLS-07": "fail"},
        testssl_connections=57,
    ),
    "postfix-debian": Expected(
        {
            "TLSv1.0": POSTFIX_DEBIAN_TLS10_11,
            "TLSv1.1": POSTFIX_DEBIAN_TLS10_11,
            "TLSv1.2": POSTFIX_DEBIAN_TLS12,
            "TLSv1.3": OPENSSL_TLS13,
        },
        {"TLS-04": "fail", "TLS-06": "fail", "TLS-07": "fail", "TLS-09": "fail"},
        testssl_connections=146,
    ),
    "postfix-legacy": Expected(
        {
            "TLSv1.0": POSTFIX_LEGACY_TLS10_11,
            "TLSv1.1": POSTFIX_LEGACY_TLS10_11,
            "TLSv1.2": POSTFIX_LEGACY_TLS12,
            "TLSv1.3": OPENSSL_TLS13,
        },
        {"TLS-04": "fail", "TLS-07": "fail", "TLS-09": "fail"},
        testssl_connections=195,
    ),
    "postfix-weak": Expected(
        {"TLSv1.2": POSTFIX_WEAK_TLS12, "TLSv1.3": OPENSSL_TLS13},
        {"TLS-07": "fail", "TLS-09": "fail"},
        testssl_connections=58,
    ),
    "postfix-self-signed": Expected(
        {"TLSv1.2": MOZILLA_RSA_TLS12, "TLSv1.3": OPENSSL_TLS13},
        {"TLS-07": "fail", "CERT-01": "fail"},
        testssl_connections=57,
    ),
    "postfix-expired": Expected(
        {"TLSv1.2": MOZILLA_EC_TLS12, "TLSv1.3": OPENSSL_TLS13},
        {"CERT-01": "fail", "CERT-03": "fail", "CERT-04": "fail"},
        testssl_connections=54,
    ),
    "postfix-postscreen": Expected(
        {
            "TLSv1.0": POSTFIX_DEBIAN_TLS10_11,
            "TLSv1.1": POSTFIX_DEBIAN_TLS10_11,
            "TLSv1.2": POSTFIX_DEBIAN_TLS12,
            "TLSv1.3": OPENSSL_TLS13,
        },
        {"TLS-04": "fail", "TLS-06": "fail", "TLS-07": "fail", "TLS-09": "fail"},
        testssl_connections=146,
    ),
    "exim-debian": Expected(
        {
            "TLSv1.0": EXIM_DEBIAN_TLS10_11,
            "TLSv1.1": EXIM_DEBIAN_TLS10_11,
            "TLSv1.2": EXIM_DEBIAN_TLS12,
            "TLSv1.3": GNUTLS_TLS13,
        },
        {"TLS-04": "fail", "TLS-07": "fail", "TLS-09": "fail"},
        testssl_connections=87,
    ),
}


@dataclass
class Seen:
    """What the module's one pytest-govmail run recorded for a listener."""

    offered: dict[str, bool] = field(default_factory=dict)
    suites: dict[str, frozenset[str]] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    #: Each requirement's JUnit message (the verdict's headline), when it did not pass.
    messages: dict[str, str] = field(default_factory=dict)
    connections: int | None = None


@dataclass
class Run:
    lab: RealMtaDeployment
    seen: dict[str, Seen]
    output: str


@pytest.fixture(scope="module")
def lab() -> Iterator[RealMtaDeployment]:
    running = start_real_mta_lab()
    yield running
    running.stop()


def _outcome(case: ET.Element) -> str:
    for tag, word in (("failure", "fail"), ("error", "error"), ("skipped", "skip")):
        if case.find(tag) is not None:
            return word
    return "pass"


@pytest.fixture(scope="module")
def run(lab: RealMtaDeployment, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One pytest-govmail run over every running listener, at the default timeouts."""
    if not lab.listeners:
        pytest.skip("; ".join(sorted(set(lab.mtas.skipped.values()))))
    done = lab.run_govmail(tmp_path_factory.mktemp("real-mtas"))
    result, junit, evidence = done.process, done.junit, done.evidence
    seen = {x.name: Seen() for x in lab.listeners}
    by_host = {x.host: x.name for x in lab.listeners}
    by_domain = {x.domain: x.name for x in lab.listeners}
    assert evidence.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    for scan in json.loads(evidence.read_text("utf-8"))["tls"]:
        found = seen[by_host[scan["host"]]]
        found.connections = scan["connections"]
        for probe in scan["versions"]:
            found.offered[probe["version"]] = bool(probe["accepted"])
            if probe["accepted"]:
                names = frozenset(iana_name(s) for s in probe["cipher_suites"])
                found.suites[probe["version"]] = names
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        domain, requirement = props.get("govmail.domain"), props.get("govmail.requirement")
        if domain in by_domain and requirement in REQUIREMENTS:
            seen[by_domain[domain]].verdicts[requirement] = _outcome(case)
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    text = f"{child.get('message', '')}\n{child.text or ''}"
                    seen[by_domain[domain]].messages[requirement] = text
    return Run(lab, seen, result.stdout)


def _seen(run: Run, listener: RealListener) -> Seen:
    if listener.name in run.lab.mtas.skipped:
        pytest.skip(f"{listener.name}: {run.lab.mtas.skipped[listener.name]}")
    return run.seen[listener.name]


BY_NAME = {x.name: x for x in LISTENERS}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_versions_offered(run: Run, name: str) -> None:
    seen = _seen(run, BY_NAME[name])
    offered = {v for v, on in seen.offered.items() if on}
    assert offered == set(EXPECTED[name].suites)
    assert set(seen.offered) == set(VERSIONS), "every version was probed to an answer"


@pytest.mark.parametrize(
    ("name", "version"),
    [(name, version) for name, expected in EXPECTED.items() for version in expected.suites],
)
def test_suites_accepted_per_version(run: Run, name: str, version: str) -> None:
    seen = _seen(run, BY_NAME[name])
    expected = EXPECTED[name].suites[version]
    found = seen.suites.get(version, frozenset())
    assert (sorted(expected - found), sorted(found - expected)) == ([], [])


def _verdict_cases() -> Iterator[object]:
    for name, expected in EXPECTED.items():
        for requirement in REQUIREMENTS:
            verdict = expected.verdicts.get(requirement, "pass")
            yield pytest.param(name, requirement, verdict, id=f"{name}-{requirement}")


@pytest.mark.parametrize(("name", "requirement", "verdict"), list(_verdict_cases()))
def test_verdict_agrees_with_testssl(run: Run, name: str, requirement: str, verdict: str) -> None:
    seen = _seen(run, BY_NAME[name])
    assert seen.verdicts.get(requirement) == verdict


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fewer_connections_than_testssl_counted_at_the_listener(run: Run, name: str) -> None:
    listener = BY_NAME[name]
    seen = _seen(run, listener)
    assert seen.connections is not None
    assert seen.connections < EXPECTED[name].testssl_connections
    if listener.mta == "postfix":
        # Postfix logs every connection it accepts (smtpd, or postscreen in front of it):
        # the run's own count is the listener's.
        log = run.lab.mtas.running[name].log_text()
        accepted = re.findall(r"postscreen\[\d+\]: CONNECT from|smtpd\[\d+\]: connect from", log)
        if listener.postscreen:
            accepted = [line for line in accepted if "postscreen" in line]
        assert len(accepted) == seen.connections


def test_the_zone_names_every_listener(lab: RealMtaDeployment) -> None:
    import dns.message
    import dns.query

    host, port = lab.dns.address
    for listener in LISTENERS:
        for name, rdtype, wanted in (
            (listener.domain, "MX", f"10 {listener.host}."),
            (listener.host, "A", listener.address),
        ):
            reply = dns.query.udp(dns.message.make_query(name, rdtype), host, port=port, timeout=2)
            assert [r.to_text() for rrset in reply.answer for r in rrset] == [wanted]


def test_postscreen_kept_the_first_connection_waiting_past_the_timeout(run: Run) -> None:
    # The listener reproduces issue 19's shape: postscreen's greeting took longer than the
    # default --govmail-timeout (5 s), and the run waited it out (PASS NEW: not a hang-up).
    listener = next(x for x in LISTENERS if x.postscreen)
    _seen(run, listener)
    log = run.lab.mtas.running[listener.name].log_text()
    stamps = re.findall(
        r"^(\w{3} \d\d \d\d:\d\d:\d\d) \S+ postfix/postscreen\[\d+\]: "
        r"(CONNECT from|PASS NEW)",
        log,
        re.MULTILINE,
    )
    kinds = [kind for _, kind in stamps]
    assert kinds.count("PASS NEW") == 1, log[-2000:]
    first = kinds.index("CONNECT from")
    assert first < kinds.index("PASS NEW")

    def when(stamp: str) -> datetime.datetime:  # syslog's stamp has no year: give it one
        return datetime.datetime.strptime(f"2000 {stamp}", "%Y %b %d %H:%M:%S")

    waited = when(stamps[kinds.index("PASS NEW")][0]) - when(stamps[first][0])
    assert waited.total_seconds() >= 5


def test_a_self_signed_certificate_without_aki_is_named_for_people(run: Run) -> None:
    """Issue 19's fifth fault, on the real Postfix listener: its self-signed certificate has no
    Authority Key Identifier, and CERT-01 says it is self-signed and not trusted, not the
    validator's "missing required extension 2.5.29.35"."""
    seen = _seen(run, BY_NAME["postfix-self-signed"])
    message = seen.messages["CERT-01"]
    assert "2.5.29.35" not in message and "missing required extension" not in message
    assert "self-signed" in message.lower(), message[:500]
