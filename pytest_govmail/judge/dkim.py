"""Judges for DKIM (DKIM-01..DKIM-08): the keys a domain publishes, and sample messages' signatures.

Sources: RFC 6376 (section 3.6.1 key records, 3.6.2 key lookup, 3.5 and 6 signatures and their
verification), RFC 8301 (section 3.1 no SHA-1, 3.2 RSA key sizes), RFC 8463 (ed25519-sha256),
RFC 7489 section 3.1.1 (DKIM identifier alignment), GOV.UK "Securing government email" (G1:
DKIM in place) and "Set up government email services securely" (G2: DKIM for every sending
service).

Selectors cannot be listed from DNS, so every judge here first *surveys* the selectors
:func:`pytest_govmail.records.dkim_selectors.selectors_for` names (the ones given, those in the
domain's sample messages, then the common list), and each verdict carries, as the detail
"selectors tried", every selector with where it came from and what its lookup found. Rules kept
the same in every judge:

- A TXT value at a selector name is a key record when it looks like one
  (:func:`~pytest_govmail.records.dkim.looks_like_key_record`: ``v=DKIM1`` first, or a ``p=`` or
  ``k=`` tag). Anything else there (NXDOMAIN, NODATA, a wildcard's site-verification string) is
  "no key": guessing that finds nothing is never a fault of the domain.
- A lookup that timed out, failed or was not collected is INCONCLUSIVE, never "no key": a key
  query that fails to respond is a temporary failure, "key unavailable", not a missing key
  (RFC 6376 section 6.1.2, TEMPFAIL). A requirement whose keys found already fail it still
  FAILS, with the failed lookups in the details.
- DKIM-01 passes with one valid, non-revoked key at any selector. Without one it FAILS only when a
  selector was *known* (given with ``--govmail-dkim-selector``, the domains file, or read from a
  sample message) and every known selector answers with no key, a revoked key or a broken record.
  When only the common selectors were tried, it is INCONCLUSIVE and says how to give the selector.
- DKIM-02 judges every key record found (guessed selectors included); DKIM-03..06 judge every
  valid, non-revoked key found. With nothing to judge they return DKIM-01's verdict (FAIL with
  ``dkim.key.missing``/``revoked``/``invalid`` when the known selectors have no usable key,
  INCONCLUSIVE otherwise), as DMARC-02..08 do when no DMARC record applies.
- DKIM-08 compares the live keys found: two selectors with one key FAIL (GOV.UK's DKIM
  standard: a separate key and DNS entry per sending service); what DNS cannot show (which
  services sign with which selector) is said in the details.
- DKIM-07 verifies each sample message given for the domain with dkimpy, answering its key
  lookups from the run's DNS evidence only (so replay re-verifies offline with the same result):
  no sample message is NOT APPLICABLE. See :func:`dkim_signature_valid`.

dkimpy is imported inside :func:`verify_signature` only, never at module level: importing
``dkim`` imports dnspython's resolver, its query modules, ``socket`` and ``ssl``
(``dkim/dnsplug.py`` picks its default resolver at import), and importing a judge must load no
network library (tests/test_layers.py checks it). dkimpy only uses that resolver when no
``dnsfunc`` is passed; here every lookup goes to :class:`EvidenceDns`, so verification never
touches the network.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.judge.dmarc import Applicable, discover
from pytest_govmail.model.dkim import SampleMessage, SignatureTags
from pytest_govmail.model.dns import DnsResult, normalise_name
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.dkim import DkimKey, DkimKeyError, looks_like_key_record, parse_dkim_key
from pytest_govmail.records.dkim_selectors import (
    MAX_SIGNATURES_PER_MESSAGE,
    SOURCE_COMMON,
    key_name,
    selectors_for,
)
from pytest_govmail.records.dmarc import DmarcSyntaxError, organisational_domain, parse_dmarc
from pytest_govmail.records.txt import TxtSyntaxError, txt_strings, txt_values

#: RFC 8301 section 3.2: verifiers MUST NOT accept RSA keys under 1024 bits; signers MUST use at
#: least 1024 and SHOULD use at least 2048.
MIN_RSA_BITS = 1024
RECOMMENDED_RSA_BITS = 2048
#: dkimpy's leeway for signers' clocks when checking ``t=`` and ``x=`` (10 hours).
CLOCK_SLOP_SECONDS = 36000

HOW_TO_GIVE_SELECTOR = (
    "give the selector the domain signs with (the s= of a DKIM-Signature in its mail) using "
    "--govmail-dkim-selector SELECTOR or the domains file's dkim_selectors column, or give a "
    "message it sent with --govmail-eml FILE"
)
_KEY_EXAMPLE = "v=DKIM1; k=rsa; p=<base64 public key>"


# --- the survey of selectors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key record found at a selector: parsed (``key``) or not (``error``)."""

    selector: str
    source: str
    name: str
    text: str
    found_at: str
    key: DkimKey | None = None
    error: str | None = None

    @property
    def live(self) -> bool:
        """A valid key that is not revoked: what DKIM-01 looks for and DKIM-03..06 judge."""
        return self.key is not None and not self.key.revoked

    @property
    def label(self) -> str:
        return f"{self.name} ({self.source})"

    def quoted(self) -> str:
        return f"{show_value(self.text, 200)} at {self.found_at}"


@dataclass(frozen=True, slots=True)
class Survey:
    """What every selector tried for a domain answered."""

    records: tuple[KeyRecord, ...]
    missing: tuple[tuple[str, str, str, str], ...]  # known selectors with no key record
    failed: tuple[str, ...]
    tried: tuple[str, ...]
    evidence: tuple[str, ...]
    known: bool
    guessed: tuple[str, ...]
    order: tuple[str, ...] = ()

    @property
    def live(self) -> tuple[KeyRecord, ...]:
        return tuple(r for r in self.records if r.live)

    @property
    def details(self) -> tuple[tuple[str, str], ...]:
        return (("selectors tried (source: answer)", "\n".join(self.tried)),)


def survey(subject: Subject) -> Survey:
    """Look up every selector :func:`selectors_for` names, in its order, from the evidence."""
    records: list[KeyRecord] = []
    missing: list[tuple[str, str, str, str]] = []
    failed: list[str] = []
    tried: list[str] = []
    evidence: list[str] = []
    known = False
    guessed: list[str] = []
    pairs = selectors_for(subject.target, subject.messages)
    for selector, source in pairs:
        name = key_name(selector, subject.domain)
        if name is None:  # selectors_for only returns selectors that form a name
            continue
        if source == SOURCE_COMMON:
            guessed.append(selector)
        else:
            known = True
        answer = lookup(subject, name, "TXT")
        if isinstance(answer, Verdict):
            failed.append(answer.summary)
            evidence.extend(answer.evidence)
            tried.append(f"{selector} ({source}): INCONCLUSIVE, {answer.summary}")
            continue
        evidence.append(answer.query.key)
        values = [v for v in txt_values(answer) if looks_like_key_record(v)]
        if not values:
            observed = describe_answer(answer, "DKIM key")
            tried.append(f"{selector} ({source}): {observed}")
            if source != SOURCE_COMMON:
                missing.append((selector, source, name, observed))
            continue
        for text in values:
            found_at = _found_at(answer)
            try:
                key: DkimKey | None = parse_dkim_key(text)
                error = None
            except DkimKeyError as exc:
                key, error = None, str(exc)
            records.append(KeyRecord(selector, source, name, text, found_at, key, error))
            what = key.describe() if key is not None else f"invalid key record ({error})"
            tried.append(f"{selector} ({source}): {what}: {show_value(text, 120)} at {found_at}")
    return Survey(
        tuple(records),
        tuple(missing),
        tuple(failed),
        tuple(tried),
        tuple(dict.fromkeys(evidence)),
        known,
        tuple(guessed),
        tuple(s for s, _ in pairs),
    )


def _found_at(result: DnsResult) -> str:
    via = f" via CNAME {' -> '.join(result.cname_chain)}" if result.cname_chain else ""
    return f"{where(result)}{via}"


def _inconclusive_lookups(found: Survey, lead: str) -> Verdict:
    shown = "; ".join(found.failed[:5])
    more = f" and {len(found.failed) - 5} more" if len(found.failed) > 5 else ""
    return Verdict.inconclusive(
        f"{lead}, and {len(found.failed)} selector lookup(s) failed: {shown}{more}",
        found.evidence,
        found.details,
    )


def _invalid_finding(record: KeyRecord) -> Finding:
    return Finding(
        "dkim.key.invalid",
        f"{record.label} is not a valid DKIM key record ({record.error}): {record.quoted()}",
        "a key record that parses: v=DKIM1 first if present, k=rsa or k=ed25519, and p= the "
        "base64 of the public key (RFC 6376 section 3.6.1, RFC 8463)",
        f'Republish the TXT record at {record.name} as "{_KEY_EXAMPLE}" (or k=ed25519), copying '
        "the key exactly as the signing service gives it, with no stray quotes or characters "
        'inside p=; if the selector is no longer used, publish "v=DKIM1; p=" there instead.',
    )


def _no_live_key(subject: Subject, found: Survey) -> Verdict:
    """DKIM-01's verdict when no selector has a valid, non-revoked key."""
    if found.failed:
        lead = "no valid DKIM key found"
        if not found.known:
            lead += f" at the common selectors ({HOW_TO_GIVE_SELECTOR})"
        return _inconclusive_lookups(found, lead)
    if not found.known:
        dead = sorted({r.selector for r in found.records})
        extra = f"; {', '.join(dead)} hold only revoked or invalid key records" if dead else ""
        return Verdict.inconclusive(
            f"no DKIM key found for {subject.domain} at the {len(found.guessed)} common "
            f"selectors tried ({', '.join(found.guessed)}){extra}. DKIM selectors cannot be "
            f"listed from DNS, so the domain's own selector is not known: {HOW_TO_GIVE_SELECTOR}",
            found.evidence,
            found.details,
        )
    findings: list[tuple[str, Finding]] = []
    for selector, source, name, observed in found.missing:
        findings.append(
            (
                selector,
                Finding(
                    "dkim.key.missing",
                    f"selector {selector} ({source}): {observed}",
                    f"a DKIM key record at {name}",
                    f"Publish the signing service's public key as TXT at {name}: "
                    f'"{_KEY_EXAMPLE}" (or k=ed25519), or give the selector the domain actually '
                    "signs with.",
                ),
            )
        )
    for record in found.records:
        if record.source == SOURCE_COMMON:
            continue
        if record.key is None:
            findings.append((record.selector, _invalid_finding(record)))
        elif record.key.revoked:
            findings.append((record.selector, _revoked_finding(record)))
    if not findings:  # unreachable: a known selector is missing, revoked or invalid here
        return Verdict.inconclusive("no valid DKIM key found", found.evidence, found.details)
    position = {selector: i for i, selector in enumerate(found.order)}
    findings.sort(key=lambda pair: position.get(pair[0], len(position)))
    return Verdict.failed(*(f for _, f in findings), evidence=found.evidence, details=found.details)


def _revoked_finding(record: KeyRecord) -> Finding:
    return Finding(
        "dkim.key.revoked",
        f"{record.label} holds a revoked key (empty p=): {record.quoted()}",
        "a valid, non-revoked key at a selector the domain signs with",
        f'Publish the current public key at the selector in use ("{_KEY_EXAMPLE}"); if '
        f"{record.selector} was retired on purpose, give the selector that replaced it.",
    )


def _judge_keys(
    subject: Subject,
    check: Callable[[Subject, KeyRecord], Finding | None],
    passed: Callable[[tuple[KeyRecord, ...]], str],
) -> Verdict:
    """DKIM-03..06: ``check`` every valid, non-revoked key found."""
    found = survey(subject)
    live = found.live
    if not live:
        return _no_live_key(subject, found)
    findings = [f for r in live if (f := check(subject, r)) is not None]
    if findings:
        return Verdict.failed(*findings, evidence=found.evidence, details=found.details)
    if found.failed:
        return _inconclusive_lookups(found, f"the {len(live)} key(s) found pass")
    return Verdict.passed(passed(live), found.evidence, found.details)


def _list_keys(records: Iterable[KeyRecord]) -> str:
    return "; ".join(
        f"{r.selector} ({r.source}): {r.key.describe() if r.key else 'invalid'}" for r in records
    )


def _rotate(subject: Subject, record: KeyRecord, what: str) -> str:
    return (
        f"Generate {what}, publish it at a new selector (say <new>._domainkey.{subject.domain}), "
        f'switch signing to that selector, then revoke the old key by publishing "v=DKIM1; p=" '
        f"at {record.name}."
    )


# --- DKIM-01..06 ---------------------------------------------------------------------------------


def dkim_key_published(subject: Subject) -> Verdict:
    """DKIM-01: at least one selector has a valid, non-revoked key (RFC 6376 section 3.6.1; G1
    "DKIM in place", G2 "DKIM for every sending service").

    Selectors from ``--govmail-dkim-selector``, the domains file and sample messages are known;
    the common list is guessed. A known selector without a key FAILS; guessing that finds
    nothing is INCONCLUSIVE with how to give the selector; a failed lookup is INCONCLUSIVE.
    """
    found = survey(subject)
    live = found.live
    if live:
        return Verdict.passed(
            f"{len(live)} valid DKIM key(s): {_list_keys(live)}", found.evidence, found.details
        )
    return _no_live_key(subject, found)


def dkim_keys_valid(subject: Subject) -> Verdict:
    """DKIM-02: every key record found parses: ``v=DKIM1`` first if present, ``k`` rsa or ed25519,
    ``p`` base64 that decodes to a key (RFC 6376 sections 3.2 and 3.6.1, RFC 8463 section 4.2).

    A revoked key (empty ``p=``) is a valid record. See :mod:`pytest_govmail.records.dkim`.
    """
    found = survey(subject)
    if not found.records:
        return _no_live_key(subject, found)
    findings = [_invalid_finding(r) for r in found.records if r.key is None]
    if findings:
        return Verdict.failed(*findings, evidence=found.evidence, details=found.details)
    if found.failed:
        return _inconclusive_lookups(found, f"the {len(found.records)} key record(s) found parse")
    return Verdict.passed(
        f"{len(found.records)} key record(s) parse: {_list_keys(found.records)}",
        found.evidence,
        found.details,
    )


def _check_rsa_minimum(subject: Subject, record: KeyRecord) -> Finding | None:
    key = record.key
    if key is None or key.key_type != "rsa" or (key.bits or 0) >= MIN_RSA_BITS:
        return None
    return Finding(
        "dkim.rsa.weak",
        f"{record.label}: RSA key of {key.bits} bits",
        f"RSA keys of at least {MIN_RSA_BITS} bits (RFC 8301 section 3.2: verifiers must not "
        "accept signatures made with smaller keys)",
        _rotate(subject, record, f"a {RECOMMENDED_RSA_BITS}-bit RSA key"),
    )


def dkim_rsa_minimum(subject: Subject) -> Verdict:
    """DKIM-03: every RSA key has at least 1024 bits (RFC 8301 section 3.2: "Verifiers MUST NOT
    consider signatures using RSA keys of less than 1024 bits as valid signatures")."""

    def passed(live: tuple[KeyRecord, ...]) -> str:
        return f"no RSA key under {MIN_RSA_BITS} bits: {_list_keys(live)}"

    return _judge_keys(subject, _check_rsa_minimum, passed)


def _check_rsa_recommended(subject: Subject, record: KeyRecord) -> Finding | None:
    key = record.key
    if key is None or key.key_type != "rsa" or (key.bits or 0) >= RECOMMENDED_RSA_BITS:
        return None
    return Finding(
        "dkim.rsa.short",
        f"{record.label}: RSA key of {key.bits} bits",
        f"RSA keys of at least {RECOMMENDED_RSA_BITS} bits, or ed25519 (RFC 8301 section 3.2: "
        "signers SHOULD use at least 2048 bits)",
        _rotate(
            subject, record, f"a {RECOMMENDED_RSA_BITS}-bit RSA key (or add an ed25519 key too)"
        ),
    )


def dkim_rsa_recommended(subject: Subject) -> Verdict:
    """DKIM-04: every RSA key has at least 2048 bits, or the key is ed25519 (RFC 8301 section 3.2,
    RFC 8463; NCSC Mail Check)."""

    def passed(live: tuple[KeyRecord, ...]) -> str:
        return f"every RSA key has at least {RECOMMENDED_RSA_BITS} bits: {_list_keys(live)}"

    return _judge_keys(subject, _check_rsa_recommended, passed)


def _check_hashes(subject: Subject, record: KeyRecord) -> Finding | None:
    key = record.key
    if key is None or key.hashes is None or key.sha256_allowed:
        return None
    sha1 = "sha1" in key.hashes
    return Finding(
        "dkim.sha1_only" if sha1 else "dkim.hash.unusable",
        f"{record.label}: h={':'.join(key.hashes)} "
        + (
            "limits the key to SHA-1"
            if sha1
            else "names no hash algorithm verifiers accept (names are case-sensitive)"
        )
        + f": {record.quoted()}",
        "no h= tag, or h= including sha256 (RFC 8301 section 3.1: verifiers must not accept "
        "SHA-1 signatures)",
        f"Remove h= from the key record at {record.name} (or set h=sha256) and make sure the "
        "signer uses rsa-sha256 or ed25519-sha256.",
    )


def dkim_no_sha1_only(subject: Subject) -> Verdict:
    """DKIM-05: no key is limited to ``h=sha1`` (RFC 8301 section 3.1: signers MUST use and
    verifiers MUST accept only sha256; RFC 6376 section 3.6.1 ``h=``).

    A key whose ``h=`` names no algorithm a verifier knows (``h=SHA256``: names are
    case-sensitive) can sign nothing verifiable either, and fails with ``dkim.hash.unusable``.
    """

    def passed(live: tuple[KeyRecord, ...]) -> str:
        return f"every key allows sha256: {_list_keys(live)}"

    return _judge_keys(subject, _check_hashes, passed)


def _check_testing(subject: Subject, record: KeyRecord) -> Finding | None:
    key = record.key
    if key is None or not key.testing:
        return None
    return Finding(
        "dkim.testing",
        f"{record.label} is in test mode (t=y): {record.quoted()}",
        "no t=y flag (RFC 6376 section 3.6.1: verifiers must not treat mail signed in test mode "
        "differently from unsigned mail)",
        f"Remove y from the t= tag of the key record at {record.name} once signing is confirmed "
        "to work.",
    )


def dkim_not_testing(subject: Subject) -> Verdict:
    """DKIM-06: no key is in test mode, ``t=y`` (RFC 6376 section 3.6.1 ``t=``)."""

    def passed(live: tuple[KeyRecord, ...]) -> str:
        return f"no key in test mode: {_list_keys(live)}"

    return _judge_keys(subject, _check_testing, passed)


# --- DKIM-08: a selector (and key) per sending service ------------------------------------------

#: What DNS cannot show about DKIM-08, said in every verdict.
SELECTOR_LIMITS = (
    "DNS shows which selectors publish which keys, not which services sign with them: one "
    "selector used by several services, or a key copied between services under different "
    "names elsewhere, cannot be seen here. Only the selectors tried are compared (those given, "
    "those in sample messages, and the common list)"
)


def dkim_selector_per_service(subject: Subject) -> Verdict:
    """DKIM-08: no two selectors publish the same public key, so each sending service can have,
    rotate and revoke its own (GOV.UK DKIM standard: "You need a separate DKIM key and DNS entry
    for each service you send email from").

    Selectors are compared by the key they publish (key type and the decoded ``p=``), following
    CNAMEs as a receiver does: ``selector2`` made a CNAME to ``selector1``, the same key pasted
    at two selectors, or a wildcard ``*._domainkey`` with a live key (every selector tried then
    answers it) all FAIL. A single key passes: DNS cannot tell how many services use it, and the
    details say so (:data:`SELECTOR_LIMITS`). With no live key this returns DKIM-01's verdict.
    """
    found = survey(subject)
    live = found.live
    if not live:
        return _no_live_key(subject, found)
    details = (*found.details, ("limits", SELECTOR_LIMITS))
    groups: dict[tuple[str, bytes], list[KeyRecord]] = {}
    for record in live:
        if record.key is None:  # never: a live record has parsed
            continue
        groups.setdefault((record.key.key_type, record.key.public_key), []).append(record)
    shared = [g for g in groups.values() if len({r.selector for r in g}) > 1]
    if shared:
        findings = []
        for group in shared:
            selectors = list(dict.fromkeys(r.selector for r in group))
            via = sorted({r.found_at for r in group if " via CNAME " in r.found_at})
            wildcard = len(selectors) > 3 and all(r.source == SOURCE_COMMON for r in group)
            why = (
                "; so many guessed selectors answering one key suggests a wildcard "
                "*._domainkey record with a live key"
                if wildcard
                else ""
            )
            cname = f" (reached via CNAME: {'; '.join(via)})" if via else ""
            findings.append(
                Finding(
                    "dkim.key.shared",
                    f"selectors {', '.join(selectors)} publish the same "
                    f"{group[0].key.describe() if group[0].key else 'key'}{cname}{why}",
                    "a different key at each selector: one selector and key per sending service",
                    "Give each service that signs for the domain its own selector and key pair "
                    f"(<service>._domainkey.{subject.domain}), so that one can be rotated or "
                    "revoked without touching the others; replace a CNAME or copy that points "
                    "one selector at another's key with that service's own key, and delete a "
                    "wildcard *._domainkey record that holds a live key.",
                )
            )
        return Verdict.failed(*findings, evidence=found.evidence, details=details)
    if found.failed:
        return _inconclusive_lookups(found, f"the {len(live)} key(s) found are all different")
    listed = ", ".join(dict.fromkeys(r.selector for r in live))
    what = "one selector" if len(groups) == 1 else f"{len(groups)} selectors, each its own key"
    return Verdict.passed(f"{what}: {listed}", found.evidence, details)


# --- DKIM-07: sample messages -------------------------------------------------------------------


class EvidenceDns:
    """dkimpy's ``dnsfunc``: TXT answers from the run's evidence, never from the network.

    A failed lookup (timeout, SERVFAIL, or a question not collected) raises
    ``dkim.DnsTimeoutError``, which dkimpy reports as a failed verification; :attr:`failure`
    keeps the reason so that the judge reports INCONCLUSIVE instead. Of several TXT records at
    the name, the first that looks like a key record is returned (RFC 6376 section 3.6.2.2 lets
    the verifier choose).
    """

    def __init__(self, subject: Subject) -> None:
        self._subject = subject
        self.failure: str | None = None
        self.asked: list[str] = []
        self.key_text: str | None = None

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        try:
            text = normalise_name(bytes(name).decode("ascii"))
        except UnicodeDecodeError:
            return None
        answer = lookup(self._subject, text, "TXT")
        self.asked.extend(answer.evidence if isinstance(answer, Verdict) else [answer.query.key])
        if isinstance(answer, Verdict):
            import dkim  # loaded already: dkimpy calls this from within verify_signature

            self.failure = answer.summary
            raise dkim.DnsTimeoutError(answer.summary)
        for record in answer.records:
            try:
                value = b"".join(txt_strings(record))
            except TxtSyntaxError:
                continue
            decoded = value.decode("utf-8", errors="replace")
            if looks_like_key_record(decoded):
                self.key_text = decoded
                return value
        return None


class _Messages(logging.Handler):
    """Collects what dkimpy logs at ERROR while it verifies: its reason for a failed key load."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []
        self.logger = logging.Logger("pytest_govmail.dkim.verify", logging.ERROR)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


Outcome = Literal["verified", "invalid", "unknown"]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What verifying one DKIM-Signature of a message gave."""

    index: int
    tags: SignatureTags
    outcome: Outcome
    reason: str
    evidence: tuple[str, ...] = ()

    def describe(self) -> str:
        t = self.tags
        what = f"signature {self.index + 1} (d={t.domain} s={t.selector} a={t.algorithm})"
        return f"{what}: {self.outcome} ({self.reason})"


def verify_signature(
    subject: Subject, message: SampleMessage, index: int, now: float | None = None
) -> SignatureCheck:
    """Verify the ``index``-th DKIM-Signature of ``message`` with dkimpy, keys from the evidence.

    This is ``dkim.DKIM.verify`` step by step, with three differences: ``t=`` and ``x=`` are
    checked against the time the evidence was collected (``subject.now``) rather than the
    clock, so replay gives the same answer; ``rsa-sha1`` is refused (RFC 8301 section 3.1); and
    the key's ``h=`` and ``t=s`` are enforced (RFC 6376 section 3.6.1), which dkimpy skips.
    """
    tags = message.dkim_signatures[index]
    if tags.error is not None:
        return SignatureCheck(index, tags, "invalid", tags.error)
    name = key_name(tags.selector, tags.domain)
    if name is None:
        return SignatureCheck(
            index,
            tags,
            "invalid",
            f"s={show_value(tags.selector, 80)} and d={show_value(tags.domain, 80)} do not form "
            "a DNS name to look the key up at",
        )
    if now is None:
        now = subject.now.timestamp() if subject.now is not None else time.time()
    # Not at module level: importing dkimpy loads dnspython's resolver (see the module docstring).
    import dkim
    import dkim.util

    answers = EvidenceDns(subject)
    log = _Messages()

    def result(outcome: Outcome, reason: str) -> SignatureCheck:
        return SignatureCheck(index, tags, outcome, reason, tuple(dict.fromkeys(answers.asked)))

    try:
        verifier = dkim.DKIM(message.raw, logger=log.logger, minkey=MIN_RSA_BITS)
        fields = [(n, v) for n, v in verifier.headers if bytes(n).lower() == b"dkim-signature"]
        header = fields[index]
        sig = dkim.util.parse_tag_value(header[1])
        dkim.validate_signature_fields({k: v for k, v in sig.items() if k not in (b"t", b"x")})
        problem = _time_problem(sig, now)
        if problem is not None:
            return result("invalid", problem)
        if sig[b"a"] == b"rsa-sha1":
            return result(
                "invalid",
                "a=rsa-sha1: RFC 8301 section 3.1 says verifiers must not accept SHA-1 signatures",
            )
        include = [h.lower() for h in re.split(rb"\s*:\s*", sig[b"h"])]
        verifier.signature_fields = sig
        verifier.domain = sig[b"d"]
        verifier.selector = sig[b"s"]
        verifier.include_headers = tuple(include)
        verified = bool(verifier.verify_sig(sig, include, header, answers))
    except dkim.NaClNotFoundError:
        return result(
            "unknown",
            "verifying ed25519 signatures needs PyNaCl (install dkimpy[ed25519])",
        )
    except dkim.DKIMException as exc:
        if answers.failure is not None:
            return result("unknown", f"the key could not be read: {answers.failure}")
        return result("invalid", f"{_exception_text(exc)}")
    except Exception as exc:  # dkimpy on a hostile message: any error means "does not verify"
        return result("invalid", f"dkimpy could not verify it ({_exception_text(exc)})")
    if answers.failure is not None:
        return result("unknown", f"the key could not be read: {answers.failure}")
    if not verified:
        return result("invalid", _why_not(answers.key_text, name, log.messages))
    return _check_key_use(result, tags, sig, answers.key_text, name)


def _why_not(key_text: str | None, name: str, logged: list[str]) -> str:
    """Why dkimpy said no: the key is absent or revoked, or what dkimpy logged, or b=."""
    if key_text is None:
        return f"no DKIM key record at {name}"
    try:
        if parse_dkim_key(key_text).revoked:
            return f"the key at {name} is revoked (empty p=)"
    except DkimKeyError as exc:
        return f"the key record at {name} is invalid: {exc}"
    return _bounded("; ".join(logged[:3]) if logged else "b= does not match the message")


def _check_key_use(
    result: Callable[[Outcome, str], SignatureCheck],
    tags: SignatureTags,
    sig: dict[bytes, bytes],
    key_text: str | None,
    name: str,
) -> SignatureCheck:
    """The key-record rules dkimpy does not apply (RFC 6376 section 3.6.1 ``h=`` and ``t=s``)."""
    try:
        key = parse_dkim_key(key_text) if key_text is not None else None
    except DkimKeyError:
        key = None  # dkimpy could use it; DKIM-02 reports what is wrong with it
    note = ""
    if key is not None:
        if not key.allows("sha256"):
            return result("invalid", f"the key at {name} has h={':'.join(key.hashes or ())}")
        identity = bytes(sig.get(b"i", b"")).decode("utf-8", errors="replace")
        i_domain = normalise_name(identity.rpartition("@")[2]) if identity else ""
        if key.strict_identity and i_domain and i_domain != normalise_name(tags.domain):
            return result(
                "invalid",
                f"i={identity} is in a subdomain of d=, which the key's t=s forbids",
            )
        if key.testing:
            note = " (the key is in test mode, t=y: see DKIM-06)"
    return result("verified", f"key at {name}{note}")


def _time_problem(sig: dict[bytes, bytes], now: float) -> str | None:
    """dkimpy's ``t=``/``x=`` checks (RFC 6376 section 3.5), against the collection time."""
    signed = sig.get(b"t")
    expires = sig.get(b"x")
    t_value = x_value = None
    if signed is not None:
        if not re.fullmatch(rb"\d{1,12}", signed):
            return "t= is not a decimal timestamp"
        t_value = int(signed)
        if t_value > now + CLOCK_SLOP_SECONDS:
            return f"t={t_value} is in the future of the assessment time ({int(now)})"
    if expires is not None:
        if not re.fullmatch(rb"\d{1,12}", expires):
            return "x= is not a decimal timestamp"
        x_value = int(expires)
        if x_value < now - CLOCK_SLOP_SECONDS:
            return f"the signature expired (x={x_value}) before the assessment time ({int(now)})"
        if t_value is not None and x_value < t_value:
            return f"x={x_value} is before t={t_value}"
    return None


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return _bounded(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _bounded(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True, slots=True)
class Alignment:
    """How a From domain's DMARC record asks DKIM to align: ``r``, ``s``, or None if unknown."""

    mode: Literal["r", "s"] | None
    why: str
    evidence: tuple[str, ...] = ()


def alignment_mode(subject: Subject, from_domain: str) -> Alignment:
    """``adkim`` of the DMARC record that applies to ``from_domain`` (RFC 7489 section 6.3);
    relaxed when there is no record or it does not parse (the default, and what receivers
    without a policy do); None when the DMARC lookup failed."""
    probe = replace(subject, target=Target(from_domain))
    found = discover(probe)
    if isinstance(found, Verdict):
        return Alignment(None, found.summary, found.evidence)
    if not isinstance(found, Applicable):
        return Alignment("r", "no DMARC record applies: relaxed, the default", found.evidence)
    try:
        record = parse_dmarc(found.text)
    except DmarcSyntaxError:
        return Alignment("r", "the DMARC record does not parse: relaxed", found.evidence)
    if record.adkim == "s":
        return Alignment("s", "adkim=s: strict", found.evidence)
    word = "adkim=r: relaxed" if record.adkim == "r" else "no adkim: relaxed, the default"
    return Alignment("r", word, found.evidence)


def aligned(signing_domain: str, from_domain: str, mode: Literal["r", "s"] | None) -> bool | None:
    """RFC 7489 section 3.1.1: strict means the same name, relaxed the same organisational
    domain. None when only relaxed alignment holds and the mode is unknown."""
    d = normalise_name(signing_domain)
    if d == from_domain:
        return True
    if organisational_domain(d) != organisational_domain(from_domain):
        return False
    return {"r": True, "s": False, None: None}[mode]


@dataclass(slots=True)
class _Tally:
    findings: list[Finding] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def _message_title(message: SampleMessage) -> str:
    return f"message {message.source} ({message.size} bytes, sha256 {message.sha256[:16]})"


def _judge_message(subject: Subject, message: SampleMessage, tally: _Tally) -> None:
    title = _message_title(message)
    if message.error is not None:
        tally.unresolved.append(f"{message.source}: {message.error}")
        tally.lines.append((title, f"not usable: {message.error}"))
        return
    from_domain = message.from_domain
    if from_domain is None:
        shown = show_value(message.from_header, 120) if message.from_header else "no From field"
        reason = f"{message.source} has no single From address with a domain ({shown})"
        tally.unresolved.append(reason)
        tally.lines.append((title, reason))
        return
    if not message.dkim_signatures:
        tally.findings.append(
            Finding(
                "dkim.signature.missing",
                f"{message.source} (From {from_domain}) carries no DKIM-Signature",
                f"a DKIM signature that verifies and aligns with {from_domain}",
                f"Turn on DKIM signing, with d={from_domain}, in the service that sent this "
                "message (the gateway or mail service every outbound message passes through).",
            )
        )
        tally.lines.append((title, f"From {from_domain}: no DKIM-Signature"))
        return
    alignment = alignment_mode(subject, from_domain)
    tally.evidence.extend(alignment.evidence)
    checks = [
        verify_signature(subject, message, i)
        for i in range(min(len(message.dkim_signatures), MAX_SIGNATURES_PER_MESSAGE))
    ]
    lines = [f"From {from_domain}; DKIM alignment: {alignment.why}"]
    good: list[SignatureCheck] = []
    maybe: list[str] = []
    unaligned: list[SignatureCheck] = []
    for check in checks:
        tally.evidence.extend(check.evidence)
        lines.append(check.describe())
        if check.outcome == "unknown":
            maybe.append(check.describe())
            continue
        if check.outcome != "verified":
            continue
        fits = aligned(check.tags.domain, from_domain, alignment.mode)
        if fits is True:
            good.append(check)
        elif fits is None:
            maybe.append(
                f"{check.describe()}, aligned only under relaxed alignment, and the DMARC "
                f"record could not be read ({alignment.why})"
            )
        else:
            unaligned.append(check)
    skipped = len(message.dkim_signatures) - len(checks)
    if skipped > 0:
        lines.append(f"{skipped} further signature(s) not checked")
    tally.lines.append((title, "\n".join(lines)))
    if good:
        tally.passed.append(f"{message.source}: d={good[0].tags.domain} verifies and aligns")
        return
    if maybe:
        tally.unresolved.append(f"{message.source}: " + "; ".join(maybe))
        return
    if unaligned:
        signers = ", ".join(dict.fromkeys(f"d={c.tags.domain}" for c in unaligned))
        mode = "strict (adkim=s)" if alignment.mode == "s" else "relaxed"
        org = organisational_domain(from_domain)
        tally.findings.append(
            Finding(
                "dkim.signature.unaligned",
                f"{message.source} (From {from_domain}): the signature(s) that verify are by "
                f"{signers}, which do not align with {from_domain} under {mode} alignment",
                f"a verifying DKIM signature with d={from_domain}"
                + ("" if alignment.mode == "s" else f" or another domain under {org}"),
                f"Have the sending service sign with d={from_domain} (a custom signing domain; "
                "most services call it domain authentication) and publish its key under "
                f"_domainkey.{from_domain}.",
            )
        )
        return
    reasons = "; ".join(c.describe() for c in checks)
    tally.findings.append(
        Finding(
            "dkim.signature.invalid",
            f"{message.source} (From {from_domain}): no DKIM signature verifies: {reasons}",
            "at least one DKIM signature that verifies (RFC 6376 section 6)",
            "Check that the signing service's current public key is published at the selector "
            "in its s= tag, and that nothing (a footer, a disclaimer, a list manager, a gateway "
            "rewriting headers) alters the message after it is signed; if something must, sign "
            "after it.",
        )
    )


def dkim_signature_valid(subject: Subject) -> Verdict:
    """DKIM-07: each sample message given for the domain carries a DKIM signature that verifies
    and aligns with its From domain (RFC 6376 section 6, RFC 8301, RFC 8463; RFC 7489 section
    3.1.1 for alignment; G1 and SEED: DKIM signing at the gateway).

    No sample message for the domain: NOT APPLICABLE, saying how to give one (``--govmail-eml``);
    the criterion is about the messages given, and there is nothing to verify. A message
    passes when one of its first :data:`MAX_SIGNATURES_PER_MESSAGE` signatures verifies and its
    ``d=`` aligns with the From domain: the same name under ``adkim=s``, the same
    organisational domain otherwise. Keys come from the run's DNS evidence only; a key lookup
    that failed, a DMARC record that could not be read when only relaxed alignment holds, or an
    unusable file is INCONCLUSIVE, unless another message fails.
    """
    messages = subject.messages
    if not messages:
        return Verdict.not_applicable(
            f"no sample message given for {subject.domain}: give a message it sent with "
            "--govmail-eml FILE to have its DKIM signature verified (a message counts for the "
            "domain in its From address)"
        )
    tally = _Tally()
    for message in messages:
        _judge_message(subject, message, tally)
    evidence = tuple(dict.fromkeys(tally.evidence))
    details = tuple(tally.lines)
    if tally.findings:
        extra = tuple(("inconclusive", u) for u in tally.unresolved)
        return Verdict.failed(*tally.findings, evidence=evidence, details=details + extra)
    if tally.unresolved:
        return Verdict.inconclusive(
            "could not verify every sample message: " + "; ".join(tally.unresolved),
            evidence,
            details,
        )
    return Verdict.passed(
        f"{len(tally.passed)} sample message(s) carry a verifying, aligned DKIM signature: "
        + "; ".join(tally.passed),
        evidence,
        details,
    )


#: Every DKIM judge by requirement ID, for the suite module and the catalogue tests.
JUDGES: dict[str, Callable[[Subject], Verdict]] = {
    "DKIM-01": dkim_key_published,
    "DKIM-02": dkim_keys_valid,
    "DKIM-03": dkim_rsa_minimum,
    "DKIM-04": dkim_rsa_recommended,
    "DKIM-05": dkim_no_sha1_only,
    "DKIM-06": dkim_not_testing,
    "DKIM-07": dkim_signature_valid,
}
