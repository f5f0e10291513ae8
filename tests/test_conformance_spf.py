"""The OpenSPF RFC 7208 test suite, run through the project's SPF judges on a loopback DNS server.

``tests/conformance/rfc7208-tests.yml`` (release 2014.04, vendored from the pyspf 2.0.14 sdist
with its licence, ``rfc7208-tests.LICENSE``) gives, per scenario, DNS zone data and cases: a
client address, a HELO name and a MAIL FROM, and the result check_host() must return (RFC 7208
section 2.6: none, neutral, pass, fail, softfail, temperror, permerror; some cases accept two).

Each scenario's zone data is served by :class:`~pytest_govmail.lab.dns_server.LabDnsServer`
(a name the suite marks ``TIMEOUT`` is a zone that never answers; ``SPF`` records are also
published as TXT when the name has no TXT, as the suite's own drivers do). For each case the
checked domain is the MAIL FROM domain, or the HELO name when MAIL FROM is empty (section 2.4).
The collector asks what the SPF planner wants, then the judges SPF-01..SPF-04 give the project's
reading of that domain's record, which maps to a check_host() result as follows:

* SPF-01 FAIL "no record": ``none``;
* SPF-01 INCONCLUSIVE (the domain's TXT lookup failed): ``temperror``;
* SPF-01 FAIL "several records", or SPF-02 FAIL: ``permerror`` for every client;
* SPF-03 or SPF-04 FAIL (more than 10 lookups, more than 2 void lookups, a loop, an include or
  redirect target without one valid record): ``permerror`` for a client that matches no earlier
  term. The judges assess the worst case, the client that evaluation runs to the end for;
* SPF-03 or SPF-04 INCONCLUSIVE (a target that failed to resolve, or a redirect whose macros
  name the client): ``temperror`` or a result that depends on the client;
* otherwise the record evaluates without error for every client: ``pass``, ``fail``,
  ``softfail`` or ``neutral``, which one depending on the client.

A case agrees when the suite accepts a result in the project's class. The project does not
evaluate check_host() for one client (it assesses what a domain publishes, for every client), so
it compares classes, not the exact pass/fail of one client; and a case whose expected result
turns on the client's path through the record can disagree. Every such case is listed in
:data:`DELIBERATE` with its reason; the tests check that each listed case does disagree (so the
list cannot go stale), that every other case agrees, and the count below.

Agreement: **197 of 203** cases. The 6 deliberate disagreements:

* ``include-at-limit`` (expects pass; SPF-03 fails): ``v=spf1 a include:inc.example.com
  ip4:1.2.3.4 mx -all`` with eight ``a`` terms in the include reaches 10 lookups at ``ip4``,
  which this client matches; the ``mx`` after it is the 11th for every client that does not
  match earlier, and those get a permerror. The judges assess the worst case, the client that
  evaluation runs to the end for (RFC 7208 section 4.6.4 counts the lookups evaluation makes).
* ``toolonglabel``, ``emptylabel``, ``helo-not-fqdn``, ``helo-domain-literal``,
  ``domain-literal`` (expect none): the checked identity is not a domain name at all (a label over
  63 octets, an empty label, a single label, an address literal; section 4.3). The project
  assesses domain names given by its user and never meets such an identity: out of scope.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SPF
import dns.rdtypes.ANY.TXT
import dns.zone
import pytest

from pytest_govmail.collect.dns import DnsCollector, Nameserver
from pytest_govmail.judge.spf import (
    spf_lookup_limit,
    spf_lookups_resolve,
    spf_single_record,
    spf_syntax_valid,
)
from pytest_govmail.lab.dns_server import Fault, LabDnsServer
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status
from pytest_govmail.plan.spf import spf_queries

yaml = pytest.importorskip("yaml")

SUITE = Path(__file__).parent / "conformance" / "rfc7208-tests.yml"
TIMEOUT = 0.3  # seconds the collector waits for a name the suite marks TIMEOUT


class Reading(enum.Enum):
    """The project's record-wide reading of a case, as a set of check_host() results."""

    NONE = frozenset({"none"})
    TEMPERROR = frozenset({"temperror"})
    PERMERROR = frozenset({"permerror"})
    WORST_PERMERROR = frozenset({"permerror"}) | frozenset({"worst"})
    UNKNOWN = frozenset({"temperror", "unknown"})
    EVALUATES = frozenset({"pass", "fail", "softfail", "neutral"})
    OUT_OF_SCOPE = frozenset({"out of scope"})


#: Every case the project deliberately reads otherwise than the suite, and why (see above).
DELIBERATE: dict[str, str] = {
    "include-at-limit": "worst case: this client matches before the 11th lookup; others do not",
    "toolonglabel": "identity not a domain name (label over 63 octets): out of scope",
    "emptylabel": "identity not a domain name (empty label): out of scope",
    "helo-not-fqdn": "identity not a domain name (one label): out of scope",
    "helo-domain-literal": "identity not a domain name (address literal): out of scope",
    "domain-literal": "identity not a domain name (address literal): out of scope",
}
AGREEING = 197


@dataclass(frozen=True)
class Case:
    scenario: int
    name: str
    helo: str
    host: str
    mailfrom: str
    results: frozenset[str]
    spec: str

    @property
    def domain(self) -> str:
        """The checked identity's domain: MAIL FROM's, or HELO's when it is empty (2.4, 4.3)."""
        if self.mailfrom:
            return self.mailfrom.rpartition("@")[2]
        return self.helo


def _load() -> tuple[list[dict[str, Any]], list[Case]]:
    scenarios = list(yaml.safe_load_all(SUITE.read_text("utf-8")))
    cases = []
    for index, scenario in enumerate(scenarios):
        for name, data in scenario["tests"].items():
            result = data["result"]
            results = frozenset(result if isinstance(result, list) else [result])
            spec = data.get("spec", "")
            spec = ", ".join(spec) if isinstance(spec, list) else str(spec)
            cases.append(
                Case(
                    index,
                    name,
                    str(data.get("helo", "")),
                    str(data["host"]),
                    str(data.get("mailfrom", "")),
                    results,
                    spec,
                )
            )
    return scenarios, cases


SCENARIOS, CASES = _load()


def _strings(value: str | list[str]) -> list[bytes]:
    strings = [s.encode("utf-8") for s in ([value] if isinstance(value, str) else value)]
    return strings or [b""]  # an empty record is one empty string on the wire


def _soa(zone: dns.zone.Zone, origin: dns.name.Name) -> None:
    soa = dns.rdata.from_text("IN", "SOA", "ns. hostmaster. 1 3600 600 604800 300")
    zone.find_rdataset(origin, dns.rdatatype.SOA, create=True).add(soa, 300)


def _rdata(kind: str, value: Any) -> dns.rdata.Rdata:
    if kind == "TXT":
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, _strings(value))
    if kind == "SPF":
        return dns.rdtypes.ANY.SPF.SPF(dns.rdataclass.IN, dns.rdatatype.SPF, _strings(value))
    if kind == "MX":
        return dns.rdata.from_text("IN", "MX", f"{value[0]} {str(value[1]).rstrip('.')}.")
    if kind in ("PTR", "CNAME"):
        return dns.rdata.from_text("IN", kind, f"{str(value).rstrip('.')}.")
    return dns.rdata.from_text("IN", kind, str(value))


def _zones(zonedata: Mapping[str, list[Any]]) -> tuple[dict[str, dns.zone.Zone], list[str]]:
    """The scenario's records, one zone per owner name (so that a name the suite marks TIMEOUT
    times out alone, not its children), an empty root zone for every other name (NXDOMAIN), and
    the owners that must time out.

    The suite's drivers time out every type that no record listed before ``TIMEOUT`` has; the
    project asks such owners for TXT (and A/MX of targets), so an owner whose TXT record comes
    before ``TIMEOUT`` answers, and any other owner marked ``TIMEOUT`` never answers.
    """
    root = dns.zone.Zone(dns.name.root, relativize=False)
    _soa(root, dns.name.root)
    zones: dict[str, dns.zone.Zone] = {".": root}
    timeouts: list[str] = []
    aliases: list[tuple[dns.name.Name, list[Any]]] = []
    for owner, records in zonedata.items():
        try:
            name = dns.name.from_text(owner)
        except dns.exception.DNSException:
            continue  # a name DNS cannot carry: no client could look it up either
        if name.to_text() in zones:
            continue
        if any(isinstance(r, dict) and "CNAME" in r for r in records):
            aliases.append((name, records))  # a CNAME cannot share its name with an SOA
            continue
        zone = dns.zone.Zone(name, relativize=False)
        _soa(zone, name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        answered: set[str] = set()
        for record in records:
            if record == "TIMEOUT":
                if "TXT" not in answered:
                    timeouts.append(name.to_text())
                continue
            for rdtype, value in record.items():
                if value == "NONE":
                    continue
                kinds = [rdtype]
                if rdtype == "SPF" and not has_txt:
                    kinds.append("TXT")  # the drivers publish SPF records as TXT too
                for kind in kinds:
                    answered.add(kind)
                    rdataset = zone.find_rdataset(name, dns.rdatatype.from_text(kind), create=True)
                    rdataset.add(_rdata(kind, value), 300)
        zones[name.to_text()] = zone
    for name, records in aliases:
        parent = name
        while parent.to_text() not in zones:
            parent = parent.parent()
        for record in records:
            for kind, value in record.items():
                rdataset = zones[parent.to_text()].find_rdataset(
                    name, dns.rdatatype.from_text(kind), create=True
                )
                rdataset.add(_rdata(kind, value), 300)
    return zones, timeouts


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[int, tuple[str, int]]]:
    """One loopback DNS server per scenario (their zone data conflict with each other)."""
    started: dict[int, tuple[str, int]] = {}
    running: list[LabDnsServer] = []
    try:
        for index, scenario in enumerate(SCENARIOS):
            zones, timeouts = _zones(scenario["zonedata"])
            served: dict[str, str | dns.zone.Zone] = dict(zones)
            server = LabDnsServer(served, faults={o: Fault.DROP for o in timeouts})
            server.start()
            running.append(server)
            started[index] = server.address
        yield started
    finally:
        for server in running:
            server.stop()


def reading(case: Case, address: tuple[str, int]) -> tuple[Reading, str]:
    """The project's reading of the case's domain, and the verdicts it rests on."""
    try:
        name = dns.name.from_text(case.domain)
    except dns.exception.DNSException:
        return Reading.OUT_OF_SCOPE, "not a domain name"
    if len(name.labels) < 3 or case.domain.startswith("["):
        return Reading.OUT_OF_SCOPE, "not a domain name"
    target = Target(case.domain.lower().rstrip("."))
    collector = DnsCollector([Nameserver(*address)], timeout=TIMEOUT)
    snapshot = collector.settle_sync([target], [spf_queries])
    subject = Subject(target, snapshot)
    one, syntax, limit, resolve = (
        judge(subject)
        for judge in (spf_single_record, spf_syntax_valid, spf_lookup_limit, spf_lookups_resolve)
    )
    said = f"SPF-01 {one.status.value}, 02 {syntax.status.value}, 03 {limit.status.value}, "
    said += f"04 {resolve.status.value}: {limit.summary} / {resolve.summary}"
    codes = [f.code for f in one.findings]
    if one.status is Status.INCONCLUSIVE:
        return Reading.TEMPERROR, said
    if "spf.record.missing" in codes:
        return Reading.NONE, said
    if "spf.record.multiple" in codes or syntax.status is Status.FAIL:
        return Reading.PERMERROR, said
    if Status.FAIL in (limit.status, resolve.status):
        return Reading.WORST_PERMERROR, said
    if Status.INCONCLUSIVE in (limit.status, resolve.status):
        return Reading.UNKNOWN, said
    return Reading.EVALUATES, said


def agrees(case: Case, got: Reading) -> bool:
    return bool(case.results & got.value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.scenario}-{c.name}")
def test_rfc7208_case(servers: dict[int, tuple[str, int]], case: Case) -> None:
    got, said = reading(case, servers[case.scenario])
    if case.name in DELIBERATE:
        assert not agrees(case, got), f"{case.name} now agrees ({said}): remove it from DELIBERATE"
    else:
        assert agrees(case, got), f"expected {sorted(case.results)}, read {got.name}: {said}"


def test_the_stated_agreement_count() -> None:
    """The docstring's figure: cases not listed as deliberate disagreements (each listed case
    is checked to disagree, and every other case to agree, by ``test_rfc7208_case``)."""
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) == 203
    assert set(DELIBERATE) <= set(names)
    assert len(CASES) - len(DELIBERATE) == AGREEING
