"""What a domain does with mail, declared by the user or read from DNS (the catalogue's
``applies_to``).

R (receiving): a non-null MX, or no MX and an A/AAAA record (the implicit MX of RFC 5321 5.1).
S (sending): an SPF record with anything but ``-all``, a live DKIM key at a known or common
selector, sample messages given for it, or declared; and a domain with a non-null MX unless it is
declared parked or receive-only (roles given without ``sending``). A mailbox domain replies, and
its replies need SPF, DKIM and DMARC like any other mail (NCSC, "Email security and
anti-spoofing"; GOV.UK, "Email security standards: set up DKIM"): inferring S from SPF alone
would let a missing SPF record mark the domain "not sending" and hide its DKIM requirements.
P (parked): declared, or a null MX together with ``v=spf1 -all``.
A role the DNS could not decide (a timeout on the MX query, say) is unknown, and a requirement
that depends on it is INCONCLUSIVE rather than skipped or failed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult, DnsView
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Role
from pytest_govmail.model.verdict import Verdict
from pytest_govmail.records.mx import mx_records
from pytest_govmail.records.spf import spf_records

#: The questions a run may ask at a domain's own name (MX and TXT always; others by planner).
OWN_NAME_TYPES = ("SOA", "NS", "MX", "TXT", "A", "AAAA", "CAA", "TLSA")


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """Each role as True, False, or None when DNS could not tell (``unknown`` says why)."""

    receiving: bool | None
    sending: bool | None
    parked: bool | None
    unknown: str = ""

    def has(self, role: Role) -> bool | None:
        return {
            Role.RECEIVING: self.receiving,
            Role.SENDING: self.sending,
            Role.PARKED: self.parked,
        }[role]


def is_deny_all_spf(record: str) -> bool:
    """True for exactly ``v=spf1 -all`` (case and surrounding space aside): G3's parked SPF."""
    return [t.lower() for t in record.split(" ") if t] == ["v=spf1", "-all"]


def infer_roles(subject: Subject) -> RoleFacts:
    declared = subject.target.roles
    reasons: list[str] = []
    receiving: bool | None = None
    mailbox = False  # a non-null MX: the domain holds mailboxes, which reply
    null_mx = False
    mx = subject.dns.get(subject.domain, "MX")
    if mx is None or mx.error is not None:
        reasons.append(mx.describe() if mx else f"{subject.domain}/MX not collected")
    else:
        try:
            records = mx_records(mx)
        except ValueError:
            records = ()
        null_mx = any(r.is_null for r in records)
        if any(not r.is_null for r in records):
            receiving = True
            mailbox = True
        elif records:
            receiving = False
        else:
            found = [subject.dns.get(subject.domain, t) for t in ("A", "AAAA")]
            if any(a is not None and a.error is None and a.records for a in found):
                receiving = True
            elif all(a is not None and a.error is None for a in found):
                receiving = False
            else:
                reasons.append(f"address lookup for the implicit MX of {subject.domain} failed")
    sending: bool | None = None
    deny_all = False
    txt = subject.dns.get(subject.domain, "TXT")
    if txt is None or txt.error is not None:
        reasons.append(txt.describe() if txt else f"{subject.domain}/TXT not collected")
    else:
        spf = spf_records(txt)
        deny_all = len(spf) == 1 and is_deny_all_spf(spf[0])
        sending = bool(spf) and not deny_all
    parked: bool | None
    if mx is not None and mx.error is None and txt is not None and txt.error is None:
        parked = null_mx and deny_all
    else:
        parked = None
    if not sending and (subject.messages or _has_live_dkim_key(subject)):
        # DKIM keys or sample messages show a sending domain even without SPF (S in the
        # catalogue); absent DKIM evidence proves nothing, so it never makes the role unknown.
        sending = True
    if mailbox and not declared and not parked:
        # A domain that receives mail also sends it (replies), whatever its SPF says; a user
        # who knows otherwise declares it receive-only or parked in the domains file.
        sending = True
    if Role.RECEIVING in declared:
        receiving = True
    if Role.SENDING in declared:
        sending = True
    if Role.PARKED in declared:
        parked = True
    return RoleFacts(receiving, sending, parked, "; ".join(reasons))


_ROLE_WORDS = {"receiving": Role.RECEIVING, "sending": Role.SENDING, "parked": Role.PARKED}
_ROLE_TEXT = {
    Role.RECEIVING: "receive mail (no usable MX and no address records)",
    Role.SENDING: "send mail (no SPF record other than 'v=spf1 -all', and none declared)",
    Role.PARKED: "look parked (it is not declared parked and lacks a null MX with 'v=spf1 -all')",
}


def applicability(
    subject: Subject, applies_to: Collection[str], facts: RoleFacts | None = None
) -> Verdict | None:
    """None when the requirement applies; otherwise NOT_APPLICABLE, or INCONCLUSIVE if unknown.

    ``applies_to`` holds catalogue words: ``all``, ``receiving``, ``sending``, ``parked``. A
    requirement applies when the domain has any one of the roles named. ``facts`` may be given
    when the caller has already inferred them (they depend only on the domain's evidence).
    """
    if "all" in applies_to:
        return None
    facts = facts or infer_roles(subject)
    roles = [_ROLE_WORDS[w] for w in applies_to]
    values = [facts.has(r) for r in roles]
    if any(v is True for v in values):
        return None
    if any(v is None for v in values):
        return Verdict.inconclusive(
            f"cannot tell whether {subject.domain} is {'/'.join(applies_to)}: {facts.unknown}"
        )
    reasons = "; ".join(_ROLE_TEXT[r] for r in roles)
    return Verdict.not_applicable(f"{subject.domain} does not {reasons}")


def _has_live_dkim_key(subject: Subject) -> bool:
    from pytest_govmail.judge.dkim import survey  # DKIM judges import this module's helpers

    return bool(survey(subject).live)


def nonexistence(dns: DnsView, domain: str) -> DnsResult | None:
    """The NXDOMAIN answer that shows ``domain`` does not exist, or None.

    A domain does not exist when every question the run asked at its own name was answered
    NXDOMAIN: the name and everything below it are absent (RFC 8020 section 2; RFC 1035
    section 4.1.1, RCODE 3). Its "missing" SPF and DMARC records are then not findings about a
    department's mail but about the name itself: a typo, a lapsed registration, or a filtering
    resolver that answers NXDOMAIN for names it blocks. One NOERROR answer, or one failed
    question (which cannot tell), and the domain is judged as usual.
    """
    answers = [r for t in OWN_NAME_TYPES if (r := dns.get(domain, t)) is not None]
    if answers and all(r.nxdomain for r in answers):
        return answers[0]
    return None


def nonexistent_verdict(domain: str, answer: DnsResult, resolver: str) -> Verdict:
    """The one verdict every test of a domain that does not exist gets: INCONCLUSIVE, so that
    none passes and none fails with a fix ("publish a DMARC record") that misleads."""
    where = answer.resolver or resolver
    return Verdict.inconclusive(
        f"domain does not exist: NXDOMAIN for {domain} from resolver {where} (a typo, a lapsed "
        "name or a filtering resolver)"
    )
