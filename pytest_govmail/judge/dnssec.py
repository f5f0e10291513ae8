"""DNSSEC-01: the domain's answers validate with DNSSEC from the configured trust anchor.

Sources: RFC 9364 (DNSSEC as a Best Current Practice; section 2 names RFC 4033, 4034 and 4035
as the core), RFC 4035 section 4.3 (secure, insecure, bogus, indeterminate) and RFC 7672
section 2.1 (SMTP clients rely on DNSSEC for MX and TLSA). The UK guidance does not require
DNSSEC for email domains, so the catalogue's level is advisory.

The validation itself was done when the evidence was collected
(:mod:`pytest_govmail.collect.dnssec`): the walk from the trust anchor, step by step, is in
``subject.dnssec``. The judge reads the domain's MX and DMARC answers
(:func:`~pytest_govmail.model.dnssec.domain_answers`):

- every one secure: PASS;
- one bogus (a signature expired, made with a key the zone does not publish, missing where the
  zone is signed; a DS that matches no key; an absence not proven): FAIL, naming the RRset and
  why; a validating resolver answers SERVFAIL for it, so mail to the domain may stop;
- one insecure (the parent proves there is no DS: the zone is unsigned): FAIL, advisory;
- otherwise (a lookup failed, no trust anchor covers the name, not validated in this run):
  INCONCLUSIVE, saying which.
"""

from __future__ import annotations

from pytest_govmail.model.dnssec import DnssecChain, Security, domain_answers
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict

__all__ = ["chain_details", "dnssec_validates"]

#: Steps shown per chain in a verdict's details (the evidence file keeps them all).
_SHOWN_STEPS = 8


def chain_details(chain: DnssecChain) -> tuple[str, str]:
    """One (label, text) detail: the chain of trust for an answer, step by step."""
    steps = [step.describe() for step in chain.steps[:_SHOWN_STEPS]]
    if len(chain.steps) > _SHOWN_STEPS:
        steps.append(f"... {len(chain.steps) - _SHOWN_STEPS} more steps in the evidence")
    anchor = f"from {chain.anchor}: " if chain.anchor else ""
    text = f"{anchor}{chain.result.value}" + "".join(f"\n  {s}" for s in steps)
    return (f"DNSSEC {chain.name}/{chain.rdtype}", text)


def dnssec_validates(subject: Subject) -> Verdict:
    """DNSSEC-01: the domain's MX and DMARC answers are DNSSEC-secure (RFC 4035 s. 4.3)."""
    queries = domain_answers(subject.domain)
    keys = [q.key for q in queries]
    chains = [subject.dnssec.get(q) for q in queries]
    known = [c for c in chains if c is not None]
    if not known:
        return Verdict.inconclusive(
            f"no DNSSEC validation of {', '.join(keys)} in the evidence: it was not collected "
            "in this run",
            keys,
        )
    details = [chain_details(c) for c in known]
    bogus = [c for c in known if c.result is Security.BOGUS]
    if bogus:
        return Verdict.failed(
            *(
                Finding(
                    "dnssec.bogus",
                    f"{c.name}/{c.rdtype} fails DNSSEC validation: {c.reason}",
                    "every answer validates from the trust anchor",
                    "Re-sign the zone (signatures must not expire: check the signer runs), make "
                    "sure the DS record at the parent matches a key the zone publishes, or, if "
                    "DNSSEC is being withdrawn, remove the DS at the registrar first and wait "
                    "for its TTL before unsigning. Validating resolvers answer SERVFAIL for "
                    "bogus data, so mail to this domain can stop.",
                )
                for c in bogus
            ),
            evidence=keys,
            details=details,
        )
    insecure = [c for c in known if c.result is Security.INSECURE]
    if insecure:
        first = insecure[0]
        return Verdict.failed(
            Finding(
                "dnssec.unsigned",
                f"{first.name}/{first.rdtype} is not DNSSEC-signed: {first.reason}",
                "a signed zone whose DS record is published in the parent zone",
            ),
            evidence=keys,
            details=details,
        )
    unknown = [c for c in known if c.result is Security.INDETERMINATE]
    if unknown or len(known) < len(queries):
        reasons = [f"{c.name}/{c.rdtype}: {c.reason}" for c in unknown]
        reasons += [
            f"{q.key}: not validated in this run"
            for q, c in zip(queries, chains, strict=True)
            if c is None
        ]
        return Verdict.inconclusive(
            "could not tell whether the answers validate: " + "; ".join(reasons),
            keys,
            details,
        )
    return Verdict.passed(
        f"{' and '.join(keys)} validate with DNSSEC from {known[0].anchor or 'the trust anchor'}",
        keys,
        details,
    )
