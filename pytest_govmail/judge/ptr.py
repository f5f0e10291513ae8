"""PTR-01 and PTR-02: addresses whose PTR names resolve back to them (forward-confirmed rDNS).

PTR-01: every address of an MX host has a PTR whose name resolves back to that address.
PTR-02: every address the domain's own SPF record authorises directly does too.

G1 asks for a valid PTR for every sending service; receivers use forward-confirmed reverse DNS
(FCrDNS) as a reputation signal, and the MX hosts of a department usually relay its outbound mail.
"""

from __future__ import annotations

from pytest_govmail.judge.common import lookup, show_value
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.mx import address_queries, host_addresses
from pytest_govmail.records.ptr import MAX_PTR_NAMES, ptr_names, reverse_name
from pytest_govmail.records.spf import (
    NodeState,
    SendingAddress,
    answer_addresses,
    sending_addresses,
)


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
        names = ptr_names(ptr)[:MAX_PTR_NAMES]
        if not names:
            problems.append(f"{address} has no PTR record")
            continue
        back: list[str] = []
        for name in names:
            forward = lookup(subject, name, rdtype)
            if isinstance(forward, Verdict):
                return Verdict.inconclusive(f"{address}: {forward.summary}", evidence=keys)
            keys.append(forward.query.key)
            if address in forward.records:
                back.append(name)
        if back:
            confirmed.append(f"{address} -> {show_value(back[0], 80)}")
        else:
            shown = ", ".join(show_value(n, 80) for n in names)
            problems.append(f"{address} has PTR {shown}, which does not resolve back to it")
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


def _confirm(subject: Subject, sender: SendingAddress, keys: list[str]) -> str | Verdict | None:
    """None when ``sender`` is forward-confirmed, else what is wrong (or why we cannot tell).

    The names of the PTR answer are followed (at most :data:`MAX_PTR_NAMES`), and the address must
    be among the A or AAAA records of one of them; addresses compare as addresses, so
    ``2001:db8::1`` matches ``2001:0db8:0:0::1``.
    """
    rname = reverse_name(sender.address)
    ptr = lookup(subject, rname, "PTR")
    if isinstance(ptr, Verdict):
        return ptr
    keys.append(ptr.query.key)
    names = ptr_names(ptr)
    if not names:
        return f"{sender.address} ({_origin(sender)}) has no PTR record at {rname}" + (
            " (NXDOMAIN)" if ptr.nxdomain else ""
        )
    for name in names[:MAX_PTR_NAMES]:
        forward = lookup(subject, name, sender.rdtype)
        if isinstance(forward, Verdict):
            return forward
        keys.append(forward.query.key)
        if sender.address in answer_addresses(forward):
            return None
    shown = ", ".join(show_value(n, 80) for n in names[:MAX_PTR_NAMES])
    return (
        f"{sender.address} ({_origin(sender)}) has PTR {shown}, whose {sender.rdtype} records "
        "do not include it"
    )


def _origin(sender: SendingAddress) -> str:
    shown = show_value(sender.term, 80)
    return f"{shown}, via {sender.host}" if sender.host else shown


_RANGE_NOTE = (
    "{term} authorises a range: every address in it that sends needs its own PTR whose name "
    "resolves back, but DNS cannot show which of them send, so a range is not judged here"
)


def sending_ptr_confirmed(subject: Subject) -> Verdict:
    """PTR-02: each address the domain's own SPF record authorises directly has a PTR whose name
    resolves back to it (forward-confirmed reverse DNS).

    G1 asks for PTR records for every sending service; receivers that check reverse DNS (Google's
    sender guidelines, quoted on GDS's technology blog "Missing the Point(er)", 2024) want the PTR
    name's forward record to give the address back. Which addresses send is read from SPF
    (:func:`~pytest_govmail.records.spf.sending_addresses`): single ``ip4``/``ip6`` addresses,
    and the A/AAAA of ``a``/``mx`` terms naming the domain or a name under it, in the domain's
    record and in the ``include``/``redirect`` records of names under it (its own lists). Ranges
    and the addresses of other parties' ``include``/``redirect`` are named in the details, not
    judged: a range cannot be enumerated, and a provider's reverse DNS is the provider's. No SPF
    record, or none that parses, does not apply here (SPF-01/02 carry it); neither does a record
    that authorises no single address of the domain's own.
    """
    tree = sending_addresses(subject.domain, subject.dns)
    root = lookup(subject, subject.domain, "TXT")
    if isinstance(root, Verdict):
        return root
    keys = [root.query.key]
    if tree.node.state is not NodeState.OK:
        return Verdict.not_applicable(
            f"no single valid SPF record for {subject.domain} to read the sending addresses "
            "from (SPF-01 and SPF-02 judge the record)",
            keys,
        )
    unresolved: list[str] = []
    for query in tree.queries:
        answer = lookup(subject, query.name, query.rdtype)
        if isinstance(answer, Verdict):
            unresolved.append(answer.summary)
        keys.append(query.key)
    details: list[tuple[str, str]] = [
        ("note", _RANGE_NOTE.format(term=show_value(term, 80))) for term in tree.ranges
    ]
    if tree.elsewhere:
        listed = ", ".join(show_value(t, 80) for t in tree.elsewhere[:10])
        details.append(
            (
                "note",
                f"not judged here: {listed} (the addresses of another name or provider, whose "
                "reverse DNS is theirs to set)",
            )
        )
    if tree.more:
        details.append(
            ("note", f"{tree.more} more address(es) past the first {len(tree.addresses)}")
        )
    if not tree.addresses and unresolved:
        return Verdict.inconclusive(
            "the addresses SPF authorises could not be read: " + "; ".join(unresolved),
            keys,
            details,
        )
    if not tree.addresses:
        what = "a range" if tree.ranges else "no address"
        return Verdict.not_applicable(
            f"the SPF record of {subject.domain} authorises {what} of its own directly, no single "
            "address to check"
            + (f" ({len(tree.ranges)} range(s) not enumerated)" if tree.ranges else ""),
            keys,
        )
    problems: list[str] = []
    confirmed: list[str] = []
    for sender in tree.addresses:
        outcome = _confirm(subject, sender, keys)
        if isinstance(outcome, Verdict):
            unresolved.append(f"{sender.address}: {outcome.summary}")
            keys.extend(k for k in outcome.evidence if k not in keys)
        elif outcome is None:
            confirmed.append(sender.address)
        else:
            problems.append(outcome)
    if confirmed and (problems or unresolved):
        details.append(("note", "forward-confirmed: " + ", ".join(confirmed)))
    if problems:
        details.extend(("inconclusive", u) for u in unresolved)
        return Verdict.failed(
            Finding(
                "ptr.sending.unconfirmed",
                "; ".join(problems),
                "a PTR for every address SPF authorises directly, naming a host whose A/AAAA "
                "record gives the address back",
                "Ask whoever controls each address's reverse zone (the hosting provider, ISP or "
                "mail service) to set its PTR record to the sending host's name, and publish "
                "that name's A/AAAA record with the same address. An address that no longer "
                "sends should be removed from the SPF record.",
            ),
            evidence=keys,
            details=details,
        )
    if unresolved:
        return Verdict.inconclusive(
            "could not check every address SPF authorises: " + "; ".join(unresolved),
            keys,
            details,
        )
    return Verdict.passed(
        f"{len(confirmed)} address(es) SPF authorises directly are forward-confirmed: "
        + ", ".join(confirmed),
        evidence=keys,
        details=details,
    )
