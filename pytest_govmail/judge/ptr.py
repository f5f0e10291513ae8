"""PTR-01: every address of an MX host has a PTR whose name resolves back to that address.

G1 asks for a valid PTR for every sending service; receivers use forward-confirmed reverse DNS
(FCrDNS) as a reputation signal, and the MX hosts of a department usually relay its outbound mail.
"""

from __future__ import annotations

from pytest_govmail.judge.common import lookup
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.mx import address_queries, host_addresses
from pytest_govmail.records.ptr import MAX_PTR_NAMES, reverse_name


def ptr_confirms_forward(subject: Subject) -> Verdict:
    """PTR-01: each MX address has a PTR whose name resolves back to that address (FCrDNS)."""
    host = subject.host or subject.domain
    keys: list[str] = []
    addresses: list[tuple[str, str]] = []
    for query in address_queries(host):
        result = lookup(subject, query.name, query.rdtype)
        if isinstance(result, Verdict):
            return result
        keys.append(result.query.key)
    addresses = list(host_addresses(host, subject.dns))
    if not addresses:
        return Verdict.inconclusive(f"{host} has no A or AAAA record to check", evidence=keys)
    problems: list[str] = []
    confirmed: list[str] = []
    for rdtype, address in addresses:
        rname = reverse_name(address)
        ptr = lookup(subject, rname, "PTR")
        if isinstance(ptr, Verdict):
            return Verdict.inconclusive(
                f"{address}: {ptr.summary}", evidence=[*keys, f"{rname}/PTR"]
            )
        keys.append(ptr.query.key)
        if not ptr.records:
            problems.append(f"{address} has no PTR record")
            continue
        names = [r.rstrip(".").lower() for r in ptr.records[:MAX_PTR_NAMES]]
        back: list[str] = []
        for name in names:
            forward = lookup(subject, name, rdtype)
            if isinstance(forward, Verdict):
                return Verdict.inconclusive(f"{address}: {forward.summary}", evidence=keys)
            keys.append(forward.query.key)
            if address in forward.records:
                back.append(name)
        if back:
            confirmed.append(f"{address} -> {back[0]}")
        else:
            problems.append(
                f"{address} has PTR {', '.join(names)}, which does not resolve back to it"
            )
    if problems:
        return Verdict.failed(
            Finding(
                "ptr.unconfirmed",
                "; ".join(problems),
                "a PTR for every address of the MX host whose name resolves back to the address",
                f"Ask the owner of each address of {host} (usually the hosting or mail provider) "
                "to set a PTR record to a name whose A/AAAA record points back at the address.",
            ),
            evidence=keys,
        )
    return Verdict.passed("; ".join(confirmed), evidence=keys)
