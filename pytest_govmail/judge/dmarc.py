"""DMARC-01..09 and PARK-02: the DMARC record that applies to a domain, and what it asks for.

Sources: RFC 7489 (sections 6.3 tags, 6.4 grammar, 6.6.3 policy discovery, 7.1 external report
destinations), RFC 9989 (sections 4.7 tags, 4.8 grammar, 4.10 discovery; Appendix A.6 on ``pct``),
GOV.UK "Securing government email" (G1: DMARC in place, DMARC reporting), "Set up government
email services securely" (G2: from ``p=none`` towards quarantine/reject), "Protect domains that
do not send email" (G3: ``p=reject; sp=reject`` for parked domains), GOV.UK's DMARC standard
(GS2: failing mail treated as spam, ``p=quarantine``) and NCSC Mail Check's published DMARC
rules (MC: pct=100, sp not none). Mail Check itself was retired on 31 March 2026: its addresses
are in the retired-reporting list (:mod:`pytest_govmail.inputs.retired_reporting`), which
DMARC-09 judges ``rua`` by, and no fix text here recommends them.

Which record applies (DMARC-01) follows RFC 9989 section 4.10.1 (:func:`discover`): the TXT
record at ``_dmarc.<domain>`` that starts with ``v=DMARC1``; when there is none, the DNS tree
walk (section 4.10, at most eight queries, see :func:`~pytest_govmail.records.dmarc.tree_walk`)
finds the organisational domain's record, else the public suffix domain's (``psd=y``), which
receivers apply but which is not the organisation's own record. Where RFC 7489's discovery
(section 6.6.3, Public Suffix List) finds another organisational domain, record or policy, the
verdict's details say so. Several DMARC records at one name mean none of them applies.

Each record is judged as RFC 9989 (DMARCbis) reads it: DMARC-02, -04, -05 and PARK-02 carry
:func:`dmarcbis_details` (what receivers apply, a warning per tag RFC 9989 removed, and each
point where an RFC 7489 receiver reads the record otherwise), and DMARC-02's failure says how
each kind of receiver reads an invalid record (:func:`invalid_record_details`).

Conventions for every judge here:

- Answers are read only through :func:`~pytest_govmail.judge.common.lookup`: a timeout or
  SERVFAIL is INCONCLUSIVE, never a missing record. So is a failed fallback lookup at the
  organisational domain when the domain itself has no record.
- DMARC-02..09 and PARK-02 judge *the record that applies*. When none applies they FAIL with
  code ``dmarc.record.missing`` (none found, or several at one name), and when the record that
  applies does not parse they FAIL with ``dmarc.record.invalid`` (DMARC-02 itself reports the
  syntax error under its own code ``dmarc.syntax.*``). They never raise for bad DNS data.
- A finding quotes the record (truncated to 300 characters, control characters escaped, see
  :func:`show_value`) and where it was found (name, TTL), and its remediation gives the record
  to publish: the user's record with its tags kept and only what our checks need changed
  (:func:`recommended_record`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pytest_govmail.inputs.retired_reporting import RetiredReporting, packaged_retired
from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.model.dns import DnsResult
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.dmarc import (
    MAX_TREE_WALK_QUERIES,
    ONE_LEVEL_BELOW,
    REMOVED_TAGS,
    DmarcRecord,
    DmarcSyntaxError,
    Policy,
    PolicyDiscovery,
    authorisation_name,
    discover_policy,
    dmarc_records,
    domain_exists,
    inherited_policy,
    invalid_tags,
    is_dmarc_record,
    is_public_suffix,
    looks_like_dmarc,
    needs_authorisation,
    organisational_domain,
    parse_dmarc,
    rfc7489_differences,
    rfc9989_reading,
    salvage_dmarc,
    tree_walk,
)
from pytest_govmail.records.txt import txt_values

#: The local part of the aggregate-report mailbox a fix suggests, at the organisational domain
#: (an address there needs no external-report authorisation, DMARC-08).
REPORT_MAILBOX = "dmarc-reports"
#: Receivers need send aggregate reports to only this many URIs (RFC 7489 section 6.2).
REPORT_URIS_SENT = 2


def report_mailbox(domain: str) -> str:
    """The aggregate-report mailbox a fix suggests for ``domain``: at its organisational domain."""
    return f"{REPORT_MAILBOX}@{organisational_domain(domain)}"


def baseline_record(domain: str) -> str:
    """The smallest record that passes DMARC-02..09 for ``domain``."""
    return f"v=DMARC1; p=reject; rua=mailto:{report_mailbox(domain)}"


@dataclass(frozen=True, slots=True)
class Applicable:
    """The one DMARC record that applies to a domain, and where it was found."""

    text: str
    result: DnsResult
    policy_domain: str  # the domain that published it: the target, or its organisational domain
    inherited: bool  # True when it came from the organisational domain
    evidence: tuple[str, ...]
    passed_over: str = ""  # when inherited: what the domain's own _dmarc name held
    exists: bool = True  # False when the domain is NXDOMAIN: an inherited np applies to it
    details: tuple[tuple[str, str], ...] = ()  # the tree walk, and where RFC 7489 differs

    def quoted(self) -> str:
        origin = "inherited from the organisational domain, " if self.inherited else ""
        return f"{show_value(self.text)} ({origin}at {where(self.result)})"


@dataclass(frozen=True, slots=True)
class NoRecord:
    """Why no DMARC record applies: none at either name, or several at one."""

    code: str
    observed: str
    evidence: tuple[str, ...]
    details: tuple[tuple[str, str], ...] = ()


def _found(
    result: DnsResult, published_at: str, inherited: bool, evidence: list[str]
) -> Applicable | NoRecord | None:
    records = dmarc_records(result)
    if len(records) == 1:
        return Applicable(records[0], result, published_at, inherited, tuple(evidence))
    if len(records) > 1:
        shown = "; ".join(show_value(r, 120) for r in records[:5])
        return NoRecord(
            "dmarc.record.multiple",
            f"{len(records)} DMARC records at {where(result)}, so receivers apply none of "
            f"them: {shown}",
            tuple(evidence),
        )
    return None


def _absent(result: DnsResult) -> str:
    text = describe_answer(result, "DMARC")
    lookalikes = [v for v in txt_values(result) if looks_like_dmarc(v) and not is_dmarc_record(v)]
    if lookalikes:
        text += (
            " (a record that is meant as DMARC must start with exactly 'v=DMARC1', "
            "case-sensitive, or receivers discard it)"
        )
    return text


def _rfc7489_discover(subject: Subject) -> Applicable | NoRecord | Verdict:
    """The DMARC record RFC 7489 section 6.6.3 finds: the domain's, else its organisational
    domain's by the Public Suffix List. Used for evidence recorded before the tree walk."""
    domain = subject.domain
    own = lookup(subject, f"_dmarc.{domain}", "TXT")
    if isinstance(own, Verdict):
        return own
    evidence = [own.query.key]
    found = _found(own, domain, False, evidence)
    if found is not None:
        return found
    org = organisational_domain(domain)
    if org == domain:
        return NoRecord("dmarc.record.missing", _absent(own), tuple(evidence))
    fallback = lookup(subject, f"_dmarc.{org}", "TXT")
    if isinstance(fallback, Verdict):
        return Verdict.inconclusive(
            f"no DMARC record at _dmarc.{domain}, and the organisational domain's record could "
            f"not be read: {fallback.summary}",
            [*evidence, *fallback.evidence],
        )
    evidence.append(fallback.query.key)
    found = _found(fallback, org, True, evidence)
    if isinstance(found, Applicable):
        return replace(found, passed_over=_absent(own))
    if found is not None:
        return found
    return NoRecord(
        "dmarc.record.missing",
        f"{_absent(own)}; and at the organisational domain {_absent(fallback)}",
        tuple(evidence),
    )


def _policy_text(text: str, exists: bool) -> str:
    """``tag=policy`` that a record inherited by a subdomain applies (RFC 9989 section 4.10.1)."""
    tag, policy = inherited_policy(salvage_dmarc(text), exists)
    return f"{tag}={policy}"


def _rfc7489_lines(
    subject: Subject, found: PolicyDiscovery, exists: bool
) -> tuple[tuple[str, str], ...]:
    """Where an RFC 7489 receiver (Public Suffix List, section 6.6.3) finds another
    organisational domain, record or policy than RFC 9989's tree walk (section 4.10)."""
    walk = found.walk
    domain = walk.domain
    psl_org = organisational_domain(domain)
    lines: list[str] = []
    if found.organisational_domain is not None and psl_org != found.organisational_domain:
        lines.append(
            f"organisational domain: RFC 9989's tree walk gives {found.organisational_domain}, "
            f"RFC 7489's Public Suffix List gives {psl_org}"
        )
    old: tuple[str, str] | None = None  # (name, record) an RFC 7489 receiver applies
    if len(walk.steps[0].records) > 1:
        why = "several records at the domain's own name end its discovery (section 6.6.3)"
    elif psl_org == domain:
        why = "the Public Suffix List makes the domain its own organisational domain"
    else:
        answer = subject.dns.get(f"_dmarc.{psl_org}", "TXT")
        problem = "not collected" if answer is None else answer.error
        if problem is not None:
            reason = problem if isinstance(problem, str) else problem.describe()
            lines.append(f"could not tell what they apply: _dmarc.{psl_org}/TXT {reason}")
            return tuple(("RFC 7489 receivers", line) for line in lines)
        records = dmarc_records(answer) if answer is not None else ()
        if len(records) == 1:
            old = (psl_org, records[0])
        why = f"no single DMARC record at _dmarc.{psl_org}"
    new = (found.step.name, found.step.record or "") if found.step is not None else None
    if old != new:
        theirs = (
            f"the record at _dmarc.{old[0]} ({_policy_text(old[1], True)})"
            if old is not None
            else f"no DMARC policy ({why})"
        )
        ours = (
            f"the record at _dmarc.{new[0]} ({_policy_text(new[1], exists)})"
            if new is not None
            else "no DMARC policy"
        )
        lines.append(f"they apply {theirs}, where RFC 9989 receivers apply {ours}")
    elif new is not None and _policy_text(new[1], exists) != _policy_text(new[1], True):
        lines.append(
            f"the domain does not exist, so RFC 9989 receivers apply "
            f"{_policy_text(new[1], exists)}; RFC 7489 has no np and applies "
            f"{_policy_text(new[1], True)}"
        )
    return tuple(("RFC 7489 receivers", line) for line in lines)


def _walk_detail(found: PolicyDiscovery) -> tuple[str, str]:
    asked = ", ".join(found.walk.asked)
    where_found = {
        "own": "the domain's own record applies",
        "organisational": f"the organisational domain {found.organisational_domain}'s record "
        "applies",
        "public suffix": f"only the public suffix domain {found.policy_domain}'s record (psd=y) "
        "applies",
        "none": "no record applies",
    }[found.kind]
    return (
        "RFC 9989 tree walk",
        f"asked {asked} ({len(found.walk.asked)} of at most {MAX_TREE_WALK_QUERIES} queries, "
        f"section 4.10): {where_found}",
    )


def discover(subject: Subject) -> Applicable | NoRecord | Verdict:
    """The DMARC record that applies to the subject's domain (RFC 9989 section 4.10.1).

    The domain's own record; otherwise the DNS tree walk's (section 4.10): the organisational
    domain's record, else the public suffix domain's (``psd=y``). Only the organisation's own
    records count as "a record applies" here: when only the public suffix's record applies,
    G1's "DMARC in place" is not met, and the verdict says what receivers apply meanwhile.
    Several records at the domain's own name apply none (RFC 7489 section 6.6.3; RFC 9989
    discards them and walks on, which the verdict also says). Where an RFC 7489 receiver
    (Public Suffix List) would find another organisational domain, record or policy, the
    details say so. Evidence recorded before the walk existed (a replay of an older run) is
    judged by RFC 7489's discovery, with a detail saying so.
    """
    domain = subject.domain
    own = lookup(subject, f"_dmarc.{domain}", "TXT")
    if isinstance(own, Verdict):
        return own
    walk = tree_walk(domain, subject.dns)
    evidence = [f"{name}/TXT" for name in walk.asked]
    if walk.failed is not None:
        error = walk.failed.error
        return Verdict.inconclusive(
            f"no DMARC record at _dmarc.{domain}, and the DNS tree walk (RFC 9989 section 4.10) "
            f"could not read {walk.failed.name}/TXT ({error.describe() if error else 'failed'})"
            + (f" at {walk.failed.resolver}" if walk.failed.resolver else ""),
            evidence,
        )
    if walk.pending is not None:
        legacy = _rfc7489_discover(subject)
        if isinstance(legacy, Verdict):
            return legacy
        note = (
            "discovery",
            f"the evidence holds no answer for _dmarc.{walk.pending} (recorded without RFC "
            "9989's tree walk): discovered as RFC 7489 section 6.6.3 says",
        )
        return replace(legacy, details=(*legacy.details, note))
    found = discover_policy(walk)
    own_step = walk.steps[0]
    if found.kind == "own":
        return Applicable(own_step.record or "", own, domain, False, tuple(evidence))
    existence = domain_exists(domain, subject.dns)
    exists = existence is not False
    details = [_walk_detail(found), *_rfc7489_lines(subject, found, exists)]
    if existence is None:
        details.append(
            (
                "existence",
                f"whether {domain} exists could not be read ({domain}/MX): judged as existing, "
                "so np does not apply",
            )
        )
    if not exists:
        details.append(("existence", f"{domain} does not exist (NXDOMAIN): np applies to it"))
    if existence is not True:
        evidence.append(f"{domain}/MX")
    step = found.step
    applies = ""
    if step is not None and step.record is not None:
        applies = (
            f"the {found.kind} domain's record at {where(step.result)} ("
            f"{_policy_text(step.record, exists)} for this domain): {show_value(step.record, 200)}"
        )
    if len(own_step.records) > 1:
        multiple = _found(own, domain, False, evidence)
        assert isinstance(multiple, NoRecord)
        then = f"; RFC 9989 receivers discard them and apply {applies}" if applies else ""
        return replace(multiple, observed=multiple.observed + then, details=tuple(details))
    suffix_org = found.kind == "organisational" and step is not None and is_public_suffix(step.name)
    if (
        found.kind == "organisational"
        and not suffix_org
        and step is not None
        and step.record is not None
    ):
        return Applicable(
            step.record,
            step.result,
            step.name,
            True,
            tuple(evidence),
            passed_over=_absent(own),
            exists=exists,
            details=tuple(details),
        )
    if found.kind == "public suffix" or suffix_org:
        whose = (
            f" ({found.policy_domain} is a public suffix on the Public Suffix List, though its "
            "record has no psd=y)"
            if suffix_org
            else ""
        )
        observed = (
            f"{_absent(own)}; the record the DNS tree walk settles on is {applies}, which "
            "receivers apply (RFC 9989 section 4.10.1) but which is not the organisation's own"
            + whose
        )
    else:
        above = ", ".join(f"_dmarc.{s.name}" for s in walk.steps[1:])
        observed = _absent(own) + (
            f"; and no DMARC record at {above} (RFC 9989 tree walk)" if above else ""
        )
    return NoRecord("dmarc.record.missing", observed, tuple(evidence), tuple(details))


def _missing(subject: Subject, found: NoRecord) -> Verdict:
    return Verdict.failed(
        Finding(
            "dmarc.record.missing",
            f"no DMARC record applies: {found.observed}",
            f"one DMARC record at _dmarc.{subject.domain} (DMARC-01)",
            f"Publish one TXT record at _dmarc.{subject.domain}: "
            f'"{baseline_record(subject.domain)}".',
        ),
        evidence=found.evidence,
    )


def _record(subject: Subject) -> tuple[Applicable, DmarcRecord] | Verdict:
    """The applicable record, parsed; or the verdict DMARC-03..08 and PARK-02 return without one."""
    found = discover(subject)
    if isinstance(found, Verdict):
        return found
    if isinstance(found, NoRecord):
        return _missing(subject, found)
    try:
        return found, parse_dmarc(found.text)
    except DmarcSyntaxError as exc:
        return Verdict.failed(
            Finding(
                "dmarc.record.invalid",
                f"the DMARC record that applies is invalid ({exc}): {found.quoted()}",
                "a valid DMARC record (DMARC-02)",
                _fix(subject, found, salvage_dmarc(found.text), f"Correct the record: {exc}."),
            ),
            evidence=found.evidence,
        )


def _publish(subject: Subject, found: Applicable, record: str, action: str = "") -> str:
    prefix = f"{action} " if action else ""
    if found.inherited:
        return (
            f'{prefix}Publish a record of its own at _dmarc.{subject.domain}: "{record}" '
            f"(or fix the record at _dmarc.{found.policy_domain}, which every subdomain without "
            "a record of its own inherits)."
        )
    return f'{prefix}Publish at _dmarc.{subject.domain}, replacing the record: "{record}".'


def recommended_record(
    record: DmarcRecord,
    *,
    parked: bool = False,
    for_subdomain: bool = False,
    mailbox: str = f"{REPORT_MAILBOX}@example.gov.uk",
    retired: RetiredReporting | None = None,
) -> str:
    """The user's record changed just enough to pass DMARC-03..09 (and PARK-02 if ``parked``).

    ``p=none`` (or no ``p``) becomes ``p=reject``; ``sp=none`` is removed, so subdomains take
    ``p``; ``t=y`` and a partial ``pct`` are removed; ``rua`` keeps its ``mailto:`` addresses
    except those of retired reporting services (``retired``), and gains ``mailbox`` when none is
    left; ``ruf`` loses retired addresses too. Every other tag stays as the user wrote it,
    except that a copy of the organisational domain's record meant for a subdomain
    (``for_subdomain``) loses ``psd``, which would make the subdomain an organisational domain
    of its own (RFC 9989 section 4.7).
    """
    retired = retired if retired is not None else packaged_retired()
    changes: dict[str, str] = {}
    drop: list[str] = ["psd"] if for_subdomain and record.psd is not None else []
    if record.p in (None, "none") or parked:
        changes["p"] = "reject"
    if parked:
        changes["sp"] = "reject"
    elif record.sp == "none":
        drop.append("sp")
    if record.t == "y":
        drop.append("t")
    if record.pct is not None and record.pct != 100:
        drop.append("pct")
    mailtos = [u for u in record.rua if u.is_mailto and retired.find("dmarc", u) is None]
    rua = ",".join(u.text for u in mailtos) or f"mailto:{mailbox}"
    if rua != record.tag("rua"):
        changes["rua"] = rua
    if record.ruf:
        ruf = [u for u in record.ruf if retired.find("dmarc", u) is None]
        if len(ruf) != len(record.ruf):
            if ruf:
                changes["ruf"] = ",".join(u.text for u in ruf)
            else:
                drop.append("ruf")
    return record.with_changes(changes, drop)


def _fix(subject: Subject, found: Applicable, record: DmarcRecord, action: str) -> str:
    return _publish(subject, found, _recommended(subject, found, record), action)


def _recommended(
    subject: Subject, found: Applicable, record: DmarcRecord, parked: bool = False
) -> str:
    return recommended_record(
        record,
        parked=parked,
        for_subdomain=found.inherited,
        mailbox=report_mailbox(subject.domain),
        retired=subject.retired,
    )


# --- DMARCbis (RFC 9989): how the record reads, and where RFC 7489 receivers differ -------------


def dmarcbis_details(record: DmarcRecord) -> tuple[tuple[str, str], ...]:
    """Verdict details for a record judged under RFC 9989.

    One "RFC 9989 reading" line (the policies applied to the domain, its existing and its
    non-existent subdomains, after ``t=y``; or that no DMARC processing applies), a "warning" for
    each tag RFC 9989 removed (``pct``, ``rf``, ``ri``: kept valid, never failed for), and an
    "RFC 7489 receivers" line for each difference :func:`rfc7489_differences` finds.
    """
    reading = rfc9989_reading(record)
    if reading.processed:
        parts = [
            f"the domain {reading.applied(reading.domain)}",
            f"existing subdomains {reading.applied(reading.subdomains)}",
            f"non-existent subdomains {reading.applied(reading.nonexistent)}",
        ]
        text = "receivers apply: " + ", ".join(parts)
        if reading.testing:
            text += " (t=y: one level below the policy written)"
    else:
        text = "no p and no rua: receivers apply no DMARC processing (section 4.10.1)"
    details: list[tuple[str, str]] = [("RFC 9989 reading", text)]
    for tag in REMOVED_TAGS:
        if record.tag(tag) is not None:
            details.append(
                (
                    "warning",
                    f"{tag}={show_value(record.tag(tag) or '', 40)}: RFC 9989 removed {tag}; "
                    "its receivers ignore it. Remove the tag when RFC 7489 receivers no longer "
                    "matter to you.",
                )
            )
    details.extend(("RFC 7489 receivers", line) for line in rfc7489_differences(record))
    return tuple(details)


def invalid_record_details(text: str) -> tuple[tuple[str, str], ...]:
    """How receivers read a record that is not valid: RFC 9989 and RFC 7489 part ways here.

    RFC 9989 section 4.8 discards each invalid tag for its default, but section 4.10.1 says a
    record whose ``p``, ``sp`` or ``np`` is not valid is read "as if a record containing p=none
    was retrieved" when ``rua`` holds a valid URI, and with no DMARC processing otherwise. RFC
    7489 section 6.6.3 says the same of an invalid ``p`` or ``sp``, but it has no ``np``, ``t``
    or ``psd``: it ignores those tags whatever their value, so an invalid ``np`` lowers the whole
    policy to none for one kind of receiver and changes nothing for the other.
    """
    bad = invalid_tags(text)
    if not bad:
        return ()
    kept = salvage_dmarc(text)
    shown = ", ".join(show_value(t, 40) for t in bad)
    policy_bad = [t for t in bad if t in ("p", "sp", "np")]
    if policy_bad or kept.p is None:
        what = f"{'/'.join(policy_bad)} not valid" if policy_bad else "no valid p"
        if kept.rua:
            reading = f"{what}: receivers act as if the record held p=none (section 4.10.1)"
        else:
            reading = f"{what} and no valid rua: receivers apply no DMARC processing"
    else:
        reading = (
            f"receivers discard the invalid {shown} for the defaults (section 4.8) and read "
            "the rest: " + dict(dmarcbis_details(kept))["RFC 9989 reading"]
        )
    old_bad = [t for t in bad if t in ("p", "sp")]
    if old_bad:
        same = "read p=none" if kept.rua else "apply no DMARC processing"
        old = f"{'/'.join(old_bad)} not valid: RFC 7489 receivers {same} too (section 6.6.3)"
    elif set(bad) <= {"np", "t", "psd"}:
        old = (
            f"RFC 7489 has no tag {shown} and ignores it, so its receivers apply the policy "
            f"as written (p={kept.p or 'none'})"
        )
    else:
        old = (
            f"the invalid {shown} break RFC 7489's grammar: how its receivers read the record "
            "varies (many discard it)"
        )
    return (("RFC 9989 reading", reading), ("RFC 7489 receivers", old))


def _without_weak_np(record: DmarcRecord) -> DmarcRecord:
    """The record without an ``np`` weaker than reject (for a parked domain's fix)."""
    if record.np in (None, "reject"):
        return record
    return parse_dmarc(record.with_changes(drop=["np"]))


# --- the requirements ---------------------------------------------------------------------------


def dmarc_record_applies(subject: Subject) -> Verdict:
    """DMARC-01: exactly one DMARC record applies: at ``_dmarc.<domain>``, else at the
    organisational domain (RFC 7489 section 6.6.3; RFC 9989 section 4.10; G1 "DMARC in place").

    Several ``v=DMARC1`` records at the name where discovery stops mean none applies: FAIL.
    """
    found = discover(subject)
    if isinstance(found, Verdict):
        return found
    if isinstance(found, NoRecord):
        if found.code == "dmarc.record.multiple":
            expected = "exactly one TXT record starting v=DMARC1 at that name"
            fix = (
                "Delete all but one of the DMARC records (merge their tags into one), e.g. "
                f'"{baseline_record(subject.domain)}".'
            )
        else:
            expected = (
                f"one TXT record starting v=DMARC1 at _dmarc.{subject.domain} (or at the "
                "organisational domain)"
            )
            fix = (
                f"Publish one TXT record at _dmarc.{subject.domain}: "
                f'"{baseline_record(subject.domain)}".'
            )
        return Verdict.failed(
            Finding(found.code, found.observed, expected, fix),
            evidence=found.evidence,
            details=found.details,
        )
    if found.inherited:
        summary = f"{found.passed_over}; the organisational domain's record applies: " + (
            found.quoted()
        )
    else:
        summary = f"one DMARC record applies: {found.quoted()}"
    return Verdict.passed(summary, evidence=found.evidence, details=found.details)


def dmarc_syntax_valid(subject: Subject) -> Verdict:
    """DMARC-02: the record that applies starts with ``v=DMARC1``, every tag value is valid and no
    tag appears twice (RFC 7489 sections 6.3-6.4; RFC 9989 sections 4.7-4.8; RFC 6376 section 3.2
    for duplicates). See :mod:`pytest_govmail.records.dmarc` for each rule and its source.

    What RFC 7489 and RFC 9989 disagree on (``pct``, ``p`` missing or not second, ``!size``,
    unknown tags) passes, with the parser's notes in the verdict's details.
    """
    found = discover(subject)
    if isinstance(found, Verdict):
        return found
    if isinstance(found, NoRecord):
        return _missing(subject, found)
    try:
        record = parse_dmarc(found.text)
    except DmarcSyntaxError as exc:
        return Verdict.failed(
            Finding(
                exc.code,
                f"{exc}: {found.quoted()}",
                "v=DMARC1 first, then ';'-separated tags, each valid and none twice "
                "(RFC 7489 section 6.4, RFC 9989 section 4.8)",
                _fix(subject, found, salvage_dmarc(found.text), f"Correct the record: {exc}."),
            ),
            evidence=found.evidence,
            details=invalid_record_details(found.text),
        )
    notes = tuple(("note", note) for note in record.notes)
    extra = f" ({len(notes)} note(s))" if notes else ""
    return Verdict.passed(
        f"valid DMARC record{extra}: {found.quoted()}",
        evidence=found.evidence,
        details=(*dmarcbis_details(record), *notes),
    )


def _applied_policy(found: Applicable, record: DmarcRecord) -> tuple[str, Policy]:
    """(tag, value) of the policy that applies to the domain: p, or when inherited sp/p (np
    first for a domain that does not exist, RFC 9989 section 4.10.1)."""
    if found.inherited:
        return inherited_policy(record, found.exists)
    return "p", record.policy


#: The rollout stages a DMARC-03 failure names: a record that asks receivers to do nothing yet.
ROLLOUT_MONITORING = "monitoring"
ROLLOUT_TESTING = "testing"


def dmarc_policy_enforced(subject: Subject) -> Verdict:
    """DMARC-03: the policy that applies is quarantine or reject (GS2 "failing mail treated as
    spam", G2, MC; RFC 7489 section 6.3, RFC 9989 sections 4.7 and 4.10.1). A SHOULD since
    catalogue version 2: G1's MUST is a DMARC record in place (DMARC-01).

    A failure names the rollout stage the record is at, in its summary and as the detail
    ``rollout stage``: *monitoring* (the policy that applies is none: receivers report but act
    on nothing) or *testing* (``t=y`` lowers quarantine to none).

    The policy that applies is ``p`` of the domain's own record (absent ``p`` reads as none, RFC
    9989 section 4.7), or for a record inherited from the organisational domain its ``sp``, else
    its ``p``. RFC 9989's ``np`` (non-existent subdomains) never applies to an assessed domain.
    RFC 9989's test mode ``t=y`` asks receivers to apply one level less (reject becomes
    quarantine, quarantine becomes none), so ``p=quarantine; t=y`` fails. ``pct`` is DMARC-04's.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    tag, policy = _applied_policy(found, record)
    written = f"{tag}={policy}" if record.tag(tag) is not None else "no p tag (read as p=none)"
    if policy != "none" and record.t == "y" and ONE_LEVEL_BELOW[policy] == "none":
        return Verdict.failed(
            Finding(
                "dmarc.policy.testing",
                f"rollout stage {ROLLOUT_TESTING}: {written} with t=y (RFC 9989 test mode: "
                f"receivers apply none) in {found.quoted()}",
                "a policy of quarantine or reject, not in test mode",
                _fix(subject, found, record, "Remove t=y (test mode) when the policy is ready."),
            ),
            evidence=found.evidence,
            details=(("rollout stage", f"{ROLLOUT_TESTING} ({written}, t=y)"),),
        )
    if policy == "none":
        return Verdict.failed(
            Finding(
                "dmarc.policy.none",
                f"rollout stage {ROLLOUT_MONITORING}: {written} applies: {found.quoted()}",
                f"{tag}=quarantine or {tag}=reject",
                _fix(
                    subject,
                    found,
                    record,
                    "Move the policy to p=reject (p=quarantine as a step) once the DMARC reports "
                    "show legitimate mail aligned.",
                ),
            ),
            evidence=found.evidence,
            details=(("rollout stage", f"{ROLLOUT_MONITORING} ({written})"),),
        )
    effective = f" (t=y: receivers apply {ONE_LEVEL_BELOW[policy]})" if record.t == "y" else ""
    return Verdict.passed(
        f"{tag}={policy} applies{effective}: {found.quoted()}", evidence=found.evidence
    )


def dmarc_pct_full(subject: Subject) -> Verdict:
    """DMARC-04: ``pct`` is absent or 100 (MC; RFC 7489 section 6.3). RFC 9989 (Appendix A.6)
    removed ``pct``, so removing the tag is the fix."""
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    details = dmarcbis_details(record)
    if record.pct is None or record.pct == 100:
        shown = "no pct tag" if record.pct is None else "pct=100"
        return Verdict.passed(f"{shown}: {found.quoted()}", found.evidence, details)
    return Verdict.failed(
        Finding(
            "dmarc.pct.partial",
            f"pct={record.pct}: the policy is applied to only {record.pct}% of failing mail by "
            f"RFC 7489 receivers: {found.quoted()}",
            "no pct tag (or pct=100)",
            _fix(subject, found, record, "Remove pct (RFC 9989 removed the tag)."),
        ),
        evidence=found.evidence,
        details=details,
    )


def dmarc_subdomain_policy(subject: Subject) -> Verdict:
    """DMARC-05: ``sp`` is not none (MC "sp should be quarantine or reject"; RFC 7489 section 6.3),
    nor is RFC 9989's ``np`` (section 4.7: the policy for non-existent subdomains) when
    subdomains are otherwise protected.

    Only an explicit ``sp=none`` fails, as Mail Check's rule does. Without ``sp`` subdomains take
    ``p`` (RFC 9989 section 4.7), and ``p=none`` is DMARC-03's failure, not reported twice. Mail
    Check looks only at records of organisational domains; this reads the requirement as written
    and checks the record that applies wherever it is published (receivers ignore ``sp`` on a
    record below the organisational domain, so there the fix is simply to delete it).
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    details = dmarcbis_details(record)
    findings = []
    if record.sp == "none":
        findings.append(
            Finding(
                "dmarc.sp.none",
                f"sp=none leaves subdomains unprotected: {found.quoted()}",
                "no sp tag, or sp=quarantine or sp=reject",
                _fix(subject, found, record, "Remove sp=none (subdomains then take p)."),
            )
        )
    if record.np == "none" and record.subdomain_policy != "none":
        findings.append(
            Finding(
                "dmarc.np.none",
                "np=none leaves non-existent subdomains unprotected: RFC 9989 receivers apply "
                f"none to mail from them (section 4.7): {found.quoted()}",
                "no np tag (non-existent subdomains then take sp, else p), or np=quarantine or "
                "np=reject",
                _publish(
                    subject,
                    found,
                    record.with_changes(drop=["np"]),
                    "Remove np=none: made-up subdomains are what spoofers use.",
                ),
            )
        )
    if findings:
        return Verdict.failed(*findings, evidence=found.evidence, details=details)
    shown = f"sp={record.sp}" if record.sp else f"no sp tag (subdomains take p={record.policy})"
    if record.np is not None:
        shown += f", np={record.np}"
    return Verdict.passed(f"{shown}: {found.quoted()}", found.evidence, details)


def dmarc_aggregate_reporting(subject: Subject) -> Verdict:
    """DMARC-06: ``rua`` lists ``mailto:`` URIs only, at least one, so aggregate reports are sent
    (G1 "set up DMARC and TLS reporting"; RFC 7489 section 6.3 and RFC 9989 section 4.7: without
    rua receivers send no aggregate reports).

    More than two URIs passes with a note: Mail Check failed it, but RFC 7489 section 6.2 only
    lets receivers stop at two ("MUST support the ability to send to at least two"), so the
    third and later addresses may get nothing. Catalogue version 2 made it a note."""
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    findings = []
    if not record.rua:
        findings.append(
            Finding(
                "dmarc.rua.missing",
                f"no rua tag, so no aggregate reports are sent: {found.quoted()}",
                "rua with one or two mailto: addresses",
                _fix(subject, found, record, "Add rua with a mailbox you read."),
            )
        )
    others = [u for u in record.rua if not u.is_mailto]
    if others:
        listed = ", ".join(show_value(u.text, 80) for u in others)
        findings.append(
            Finding(
                "dmarc.rua.not_mailto",
                f"rua holds URIs that are not mailto: ({listed}): {found.quoted()}",
                "only mailto: URIs in rua",
                _fix(subject, found, record, "Keep only mailto: addresses in rua."),
            )
        )
    if findings:
        return Verdict.failed(*findings, evidence=found.evidence)
    listed = ", ".join(show_value(u.text, 100) for u in record.rua)
    notes: tuple[tuple[str, str], ...] = ()
    if len(record.rua) > REPORT_URIS_SENT:
        notes = (
            (
                "note",
                f"rua lists {len(record.rua)} URIs; receivers need send to only the first "
                f"{REPORT_URIS_SENT} (RFC 7489 section 6.2), so list the most important first",
            ),
        )
    return Verdict.passed(
        f"rua={listed} at {where(found.result)}", evidence=found.evidence, details=notes
    )


def dmarc_external_reports_authorised(subject: Subject) -> Verdict:
    """DMARC-08: each ``rua``/``ruf`` address outside the organisational domain is authorised by a
    TXT record starting ``v=DMARC1`` at ``<domain>._report._dmarc.<destination host>`` (RFC 7489
    section 7.1; RFC 9989 section 4.7 and its reporting companions keep the mechanism).

    ``<domain>`` is "the domain name from which the policy was retrieved": the assessed domain
    when its own record applies, the organisational domain when the record was inherited.
    "Outside" compares organisational domains (RFC 7489 section 7.1). NXDOMAIN or no such record
    fails, naming the record to publish; a timeout or SERVFAIL is inconclusive unless another
    destination already fails. Only ``mailto:`` URIs are checked (a mailto address's domain is
    its destination host); DMARC-06 already fails other schemes in ``rua``.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    evidence = list(found.evidence)
    findings: list[Finding] = []
    unresolved: list[str] = []
    authorised: list[str] = []
    checked: set[str] = set()
    for tag, uri in [*(("rua", u) for u in record.rua), *(("ruf", u) for u in record.ruf)]:
        host = uri.host
        if not uri.is_mailto or not host or not needs_authorisation(found.policy_domain, host):
            continue
        name = authorisation_name(found.policy_domain, host)
        if name in checked:
            continue
        checked.add(name)
        answer = lookup(subject, name, "TXT")
        if isinstance(answer, Verdict):
            unresolved.append(answer.summary)
            evidence.extend(answer.evidence)
            continue
        evidence.append(answer.query.key)
        if any(is_dmarc_record(v) for v in txt_values(answer)):
            authorised.append(f"{host} (by {name})")
            continue
        findings.append(
            Finding(
                "dmarc.external.unauthorised",
                f"{tag} sends reports to {show_value(uri.address, 120)} outside "
                f"{organisational_domain(found.policy_domain)}, "
                f"but {describe_answer(answer, 'DMARC')}",
                f"a TXT record starting v=DMARC1 at {name}",
                f'Ask the operator of {host} to publish TXT "v=DMARC1" at {name} (RFC 7489 '
                f"section 7.1), or remove the address from {tag}; until then receivers send no "
                "reports to it.",
            )
        )
    if findings:
        details = tuple(("inconclusive", u) for u in unresolved)
        return Verdict.failed(*findings, evidence=evidence, details=details)
    if unresolved:
        return Verdict.inconclusive(
            "could not read the external-report authorisation: " + "; ".join(unresolved),
            evidence,
        )
    if not authorised:
        return Verdict.passed(
            f"every mailto: report address is within {organisational_domain(found.policy_domain)}",
            evidence=evidence,
        )
    return Verdict.passed(
        "external report addresses authorised: " + ", ".join(authorised), evidence=evidence
    )


def dmarc_reports_reach_live_address(subject: Subject) -> Verdict:
    """DMARC-09: ``rua`` holds at least one ``mailto:`` address that is not at a retired reporting
    service (G1 "set up DMARC and TLS reporting ... and reviewing the data regularly").

    Replaces DMARC-07 (reports to NCSC Mail Check), withdrawn when Mail Check was retired on 31
    March 2026: reports sent only to a retired service reach no one. The retired addresses are
    the subject's list (:mod:`pytest_govmail.inputs.retired_reporting`: Mail Check's, and any
    the user added). A mailbox's domain is compared case-insensitively, its local part exactly,
    and a ``!size`` suffix is ignored. Retired addresses in ``ruf`` are noted, not failed: no
    source requires failure reports.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    retired = subject.retired
    live = [u for u in record.rua if u.is_mailto and retired.find("dmarc", u) is None]
    gone = [(u, e) for u in record.rua if (e := retired.find("dmarc", u)) is not None]
    gone_ruf = [(u, e) for u in record.ruf if (e := retired.find("dmarc", u)) is not None]
    notes = tuple(
        ("retired", f"{tag} {show_value(u.uri, 100)}: {e.describe()}")
        for tag, pairs in (("rua", gone), ("ruf", gone_ruf))
        for u, e in pairs
    )
    if live:
        listed = ", ".join(show_value(u.uri, 100) for u in live)
        return Verdict.passed(
            f"aggregate reports go to {listed} at {where(found.result)}",
            evidence=found.evidence,
            details=notes,
        )
    if gone:
        services = ", ".join(sorted({e.service for _, e in gone}))
        observed = (
            f"rua sends aggregate reports only to retired services ({services}), so they reach "
            f"no one: {found.quoted()}"
        )
    elif record.rua:
        observed = f"rua holds no mailto: address: {found.quoted()}"
    else:
        observed = f"no rua tag, so no aggregate reports are sent: {found.quoted()}"
    return Verdict.failed(
        Finding(
            "dmarc.rua.no_live_address",
            observed,
            "rua with at least one mailto: address that is not at a retired reporting service",
            _fix(
                subject,
                found,
                record,
                "Send aggregate reports to a mailbox you read or to your DMARC reporting "
                "service, and remove retired addresses.",
            ),
        ),
        evidence=found.evidence,
        details=notes,
    )


def parked_dmarc_reject(subject: Subject) -> Verdict:
    """PARK-02: the DMARC record that applies has ``p=reject`` and ``sp=reject`` (G3, which asks
    parked domains to publish ``v=DMARC1;p=reject;sp=reject;...``).

    An absent ``sp`` inherits ``p`` (RFC 9989 section 4.7), so ``p=reject`` alone passes. For a
    record inherited from the organisational domain, what applies to the domain and to its
    subdomains alike is that record's ``sp`` (else ``p``), so that must be reject. ``t=y``
    (RFC 9989 test mode) downgrades reject to quarantine, so it fails.
    """
    got = _record(subject)
    if isinstance(got, Verdict):
        return got
    found, record = got
    if found.inherited:
        problems = (
            []
            if record.subdomain_policy == "reject"
            else [
                f"the inherited policy is {_applied_policy(found, record)[0]}="
                f"{record.subdomain_policy}"
            ]
        )
    else:
        problems = []
        if record.policy != "reject":
            problems.append(f"p={record.policy}" if record.p else "no p tag (read as p=none)")
        if record.subdomain_policy != "reject":
            problems.append(
                f"sp={record.sp}" if record.sp else f"no sp tag (subdomains take p={record.policy})"
            )
    if not problems and record.np not in (None, "reject"):
        problems.append(
            f"np={record.np} (RFC 9989: mail from non-existent subdomains gets {record.np})"
        )
    if not problems and record.t == "y":
        problems.append("t=y (RFC 9989 test mode: receivers apply quarantine, not reject)")
    details = dmarcbis_details(record)
    if not problems:
        return Verdict.passed(
            f"reject for the domain and its subdomains: {found.quoted()}",
            found.evidence,
            details,
        )
    return Verdict.failed(
        Finding(
            "park.dmarc.not_reject",
            f"{', '.join(problems)}: {found.quoted()}",
            "p=reject and sp=reject (G3)",
            _publish(
                subject,
                found,
                _recommended(subject, found, _without_weak_np(record), parked=True),
                "A domain that sends no mail should reject everything in its name.",
            ),
        ),
        evidence=found.evidence,
        details=details,
    )
