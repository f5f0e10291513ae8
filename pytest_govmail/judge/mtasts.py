"""MTA-STS (RFC 8461): MTASTS-01, the ``_mta-sts`` TXT record, and MTASTS-02..09, the policy.

Sources: RFC 8461 section 3.1 (the record, and: records that do not begin with ``v=STSv1`` are
discarded; if not exactly one remains, or it is invalid, senders assume there is no MTA-STS
policy), section 3.2 (the policy file), section 3.3 (fetching it), section 4.1 (mx patterns) and
section 4.2 (what a sender checks at an MX: a trusted, unexpired certificate naming it), GOV.UK
"Securing government email" (G1: an MTA-STS policy for every receiving domain) and
security.gov.uk "Set up TLS-RPT and MTA-STS" (G5: staged rollout from testing to enforce; list
every MX). Answers come only through :func:`~pytest_govmail.judge.common.lookup`: a timeout or
SERVFAIL is INCONCLUSIVE.

The policy judges (MTASTS-02..07) read ``subject.policies[domain]``, a
:class:`~pytest_govmail.model.https.PolicyFetch`. Decisions:

- No fetch in the evidence: when the ``_mta-sts`` answer holds no ``v=STSv1`` record, every one of
  MTASTS-02..07 FAILS ("no MTA-STS record, see MTASTS-01"): G1 requires MTA-STS of every receiving
  domain, so a domain without it fails the whole family, not only MTASTS-01. When
  ``mta-sts.<domain>`` has no A or AAAA record, they FAIL too (senders cannot fetch the policy).
  A failed DNS answer is INCONCLUSIVE; otherwise a missing fetch is INCONCLUSIVE "not fetched in
  this run".
- MTASTS-02 FAILS on: a 3xx (naming its Location; a Location equal to the policy URL is called a
  redirect loop; redirects are never followed, section 3.3), any other status but 200, a
  certificate that does not verify for ``mta-sts.<domain>`` (wrong name, untrusted, expired:
  the collector's detail is quoted), a body over 64 KiB, and a Content-Type that is not
  ``text/plain`` (parameters such as charset ignored). The last is a FAIL, not a note: section
  3.2 says the media type MUST be text/plain and senders SHOULD check it, so some senders
  discard a policy served as anything else. Several problems give several findings. A fetch
  error FAILS when the server itself caused it (connection refused, TLS handshake failure, a
  broken HTTP response, headers too large) and is INCONCLUSIVE when the network may have
  (timeout, a private address the run was not allowed to contact, anything else).
- MTASTS-03..06 are NOT APPLICABLE, naming why, when the body arrived but senders discard it:
  the certificate of ``mta-sts.<domain>`` does not verify, or the Content-Type is not
  ``text/plain`` (RFC 8461 sections 3.2, 3.3). Such a policy has no effect, so its syntax, mode,
  max_age and mx lines cannot pass or fail; MTASTS-02 carries the failure. MTASTS-07 still
  judges the MX hosts such a policy names (whether enforcing it would be safe). Otherwise the
  policy judges read the body whenever a 200 arrived complete. With no usable body they FAIL or
  are INCONCLUSIVE as MTASTS-02 is, pointing at it; with a policy that does not parse,
  MTASTS-04..07 FAIL pointing at MTASTS-03.
- MTASTS-03 also FAILS a body that is not valid UTF-8 (the grammar is UTF-8 text).
- MTASTS-04: testing FAILS as a stage of the rollout (with the next stage as the fix); none FAILS.
- MTASTS-05, 06 and 07 are NOT APPLICABLE to ``mode: none`` (a policy being withdrawn: no mx
  lines are needed, and MTASTS-04 already fails it).
- MTASTS-06 takes the MX hosts from DNS (the implicit MX, the domain itself, when there is no MX
  record); a wildcard pattern matches exactly one left-most label (section 4.1).
- MTASTS-07 judges every MX host that an mx pattern matches with the host requirements' own
  judges: TLS-02 (:func:`pytest_govmail.judge.tls.modern_tls_negotiated`), CERT-01, CERT-02 and
  CERT-03 (:mod:`pytest_govmail.judge.cert`), from ``subject.tls`` (never a second probe). Any
  FAIL fails it, naming host and requirement; otherwise any INCONCLUSIVE (including a host not
  probed) makes it INCONCLUSIVE. A policy that matches no MX host FAILS (enforcing it would stop
  all mail; see MTASTS-06).
- MTASTS-08 (advisory) FAILS a valid ``*.`` mx pattern, naming the MX hosts it matches (G5: "Do
  not use wildcard MX records"); a ``*`` inside a label is MTASTS-03's syntax failure.
- MTASTS-09 warns (SHOULD) when the policy host's certificate is within CERT-04's window of its
  notAfter, read from the chain the fetch recorded.

Verdict ``evidence`` lists DNS questions only (the ``_mta-sts`` TXT, the policy host's A/AAAA,
the MX set); the fetch itself (URL, address, status, headers, certificate, policy text) is in the
verdict's ``details``, bounded and with control characters escaped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from pytest_govmail.judge import cert, tls
from pytest_govmail.judge.chain import load_pem_chain
from pytest_govmail.judge.common import describe_answer, lookup, show_value, where
from pytest_govmail.judge.host import expiry_days, judging_profile, judging_time
from pytest_govmail.model.dns import ErrorKind, Query
from pytest_govmail.model.https import (
    MAX_BODY_BYTES,
    PolicyFetch,
    policy_host,
    policy_url,
)
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Status, Verdict
from pytest_govmail.records.mtasts import MtaStsSyntaxError, mtasts_records, parse_mtasts_record
from pytest_govmail.records.mtasts_policy import (
    MAX_AGE_LIMIT,
    MtaStsPolicy,
    MtaStsPolicyError,
    is_wildcard_pattern,
    mx_pattern_matches,
    parse_mtasts_policy,
)
from pytest_govmail.records.mx import ADDRESS_TYPES, mail_hosts


def mtasts_txt_record(subject: Subject) -> Verdict:
    """MTASTS-01: exactly one ``_mta-sts`` TXT record starts ``v=STSv1`` and has an ``id`` of 1-32
    letters and digits (RFC 8461 section 3.1; G1, G5)."""
    name = f"_mta-sts.{subject.domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    evidence = [result.query.key]
    stamp = subject.now.strftime("%Y%m%d%H%M") if subject.now is not None else "1"
    example = f"v=STSv1; id={stamp}"
    publish = (
        f'Publish one TXT record at {name}: "{example}" (change the id whenever the '
        f"policy at https://mta-sts.{subject.domain}/.well-known/mta-sts.txt changes)."
    )
    records = mtasts_records(result)
    if not records:
        return Verdict.failed(
            Finding(
                "mtasts.record.missing",
                describe_answer(result, "MTA-STS (v=STSv1)"),
                f"one TXT record at {name} starting v=STSv1 (case-sensitive)",
                publish,
            ),
            evidence=evidence,
        )
    if len(records) > 1:
        shown = "; ".join(show_value(r, 120) for r in records[:5])
        return Verdict.failed(
            Finding(
                "mtasts.record.multiple",
                f"{len(records)} MTA-STS records at {where(result)}, so senders assume no policy "
                f"(RFC 8461 section 3.1): {shown}",
                "exactly one TXT record starting v=STSv1",
                f"Delete all but one. {publish}",
            ),
            evidence=evidence,
        )
    try:
        record = parse_mtasts_record(records[0])
    except MtaStsSyntaxError as exc:
        return Verdict.failed(
            Finding(
                "mtasts.record.invalid",
                f"invalid MTA-STS record ({exc}): {show_value(records[0])} at {where(result)}",
                "v=STSv1; id=<1 to 32 letters and digits> (RFC 8461 section 3.1)",
                f"Correct the record ({exc}). {publish}",
            ),
            evidence=evidence,
        )
    return Verdict.passed(
        f"MTA-STS record with id={record.id} at {where(result)}: {show_value(records[0])}",
        evidence=evidence,
    )


# ------------------------------------------------------------------------------------------
# MTASTS-02..07: the policy file
# ------------------------------------------------------------------------------------------

#: MTASTS-05's minimum max_age per mode (G5, Mail Check): 14 days enforcing, 1 day testing.
MIN_MAX_AGE = {"enforce": 1209600, "testing": 86400}
#: Fetch errors that the policy host itself caused: a FAIL. Any other error is INCONCLUSIVE.
SERVER_FAULTS = frozenset(
    {
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.TLS_HANDSHAKE,
        ErrorKind.PROTOCOL,
        ErrorKind.TOO_LARGE,
    }
)
_DETAIL_LIMIT = 4000
_SERVE = (
    "Serve the policy at {url} with status 200 and Content-Type text/plain, directly (no "
    "redirect), over a publicly trusted certificate valid for {host}, in under 64 KiB."
)


def _text(text: str, limit: int = _DETAIL_LIMIT) -> str:
    """Network text for a verdict's details: lines kept, control characters escaped, bounded."""
    out = []
    for ch in text[:limit]:
        if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    more = f"\n... ({len(text)} characters in all)" if len(text) > limit else ""
    return "".join(out) + more


def _fetch_details(fetch: PolicyFetch) -> list[tuple[str, str]]:
    details = [("policy fetch", _text(fetch.describe(), 600))]
    if fetch.attempts:
        details.append(("addresses", _text("\n".join(fetch.attempts), 2000)))
    if fetch.certificate is not None:
        c = fetch.certificate
        state = "verified" if c.verified else f"NOT verified: {c.detail}"
        trust = "; ".join(
            f"{t.store}: {'ok' if t.verified else t.detail or 'failed'}" for t in c.trust
        )
        names = ", ".join(c.names[:20]) or "no DNS names"
        details.append(("certificate", _text(f"{state}\nnames: {names}\ntrust: {trust}", 2000)))
    if fetch.headers:
        lines = "\n".join(f"{k}: {v}" for k, v in fetch.headers)
        details.append(("response headers", _text(lines, 2000)))
    if fetch.status == 200 and (fetch.body or fetch.body_bytes_read):
        note = " (cut at 64 KiB)" if fetch.body_truncated else ""
        details.append((f"policy{note}", _text(fetch.body)))
    return details


def _policy_keys(domain: str) -> list[str]:
    host = policy_host(domain)
    return [Query.of(f"_mta-sts.{domain}", "TXT").key] + [
        Query.of(host, t).key for t in ADDRESS_TYPES
    ]


def _without_fetch(subject: Subject) -> Verdict:
    """Why there is no fetch in the evidence: no record, no policy host, a DNS failure, or none."""
    domain = subject.domain
    url = policy_url(domain)
    host = policy_host(domain)
    name = f"_mta-sts.{domain}"
    result = lookup(subject, name, "TXT")
    if isinstance(result, Verdict):
        return result
    evidence = [result.query.key]
    if not mtasts_records(result):
        return Verdict.failed(
            Finding(
                "mtasts.policy.no_record",
                f"no MTA-STS record at {name} ({describe_answer(result, 'v=STSv1')}), so senders "
                f"never fetch a policy (see MTASTS-01)",
                f'a "v=STSv1; id=..." TXT record at {name} and a policy at {url}',
                f"Publish an MTA-STS policy at {url} (start with mode: testing) and a TXT record "
                f'at {name}: "v=STSv1; id=<1 to 32 letters and digits>".',
            ),
            evidence=evidence,
        )
    answers = []
    for rdtype in ADDRESS_TYPES:
        found = lookup(subject, host, rdtype)
        if isinstance(found, Verdict):
            return replace(found, evidence=(*evidence, *found.evidence))
        evidence.append(found.query.key)
        answers.append(found)
    if all(a.void for a in answers):
        what = "NXDOMAIN" if any(a.nxdomain for a in answers) else "no A or AAAA record"
        return Verdict.failed(
            Finding(
                "mtasts.policy.no_host",
                f"{host}: {what}, so senders cannot fetch the policy",
                f"{host} resolves to the web server that serves {url}",
                f"Publish A (and AAAA) records (or a CNAME) for {host} pointing at the server "
                f"that serves the policy. {_SERVE.format(url=url, host=host)}",
            ),
            evidence=evidence,
        )
    return Verdict.inconclusive(f"the policy at {url} was not fetched in this run", evidence)


def _fetch_error(fetch: PolicyFetch, evidence: Sequence[str], see: str) -> Verdict | None:
    """The verdict for a fetch that stopped with an error before a usable status, else None."""
    error = fetch.error
    if error is None or (fetch.status is not None and fetch.status != 200):
        return None
    details = _fetch_details(fetch)
    if error.kind in SERVER_FAULTS:
        return Verdict.failed(
            Finding(
                f"mtasts.policy.{error.kind.value}",
                f"{_text(fetch.describe(), 600)}{see}",
                f"HTTP 200 with the policy from {fetch.url}",
                _SERVE.format(url=fetch.url, host=fetch.host),
            ),
            evidence=evidence,
            details=details,
        )
    hint = ""
    if error.kind is ErrorKind.PRIVATE_ADDRESS:
        hint = (
            " (the run's resolver gave only non-public addresses for the policy host; run from "
            "outside the network, or allow private addresses with --govmail-allow-private)"
        )
    return Verdict.inconclusive(f"{_text(fetch.describe(), 600)}{hint}", evidence, details)


def _status_finding(fetch: PolicyFetch, see: str) -> Finding | None:
    status = fetch.status
    if status is None or status == 200:
        return None
    serve = _SERVE.format(url=fetch.url, host=fetch.host)
    if 300 <= status < 400:
        location = fetch.redirect_location
        if location is None:
            where_to = "with no Location"
        elif _same_url(location, fetch):
            where_to = f"to itself ({show_value(location, 200)}): a redirect loop"
        else:
            where_to = f"to {show_value(location, 200)}"
        return Finding(
            "mtasts.policy.redirect",
            f"{fetch.url} answers HTTP {status} {where_to}; senders do not follow redirects "
            f"(RFC 8461 section 3.3){see}",
            f"HTTP 200 with the policy at {fetch.url} itself",
            f"Remove the redirect for /.well-known/mta-sts.txt on {fetch.host}. {serve}",
        )
    return Finding(
        "mtasts.policy.status",
        f"{fetch.url} answers HTTP {status} {show_value(fetch.reason, 80)}{see}",
        f"HTTP 200 with the policy at {fetch.url}",
        serve,
    )


def _same_url(location: str, fetch: PolicyFetch) -> bool:
    target = location.strip().lower().rstrip("/")
    return target in (fetch.url.lower(), f"https://{fetch.host}/.well-known/mta-sts.txt")


def _certificate_finding(fetch: PolicyFetch) -> Finding | None:
    check = fetch.certificate
    if check is None or check.verified:
        return None
    return Finding(
        "mtasts.policy.certificate",
        f"the certificate of {fetch.host} does not verify: {show_value(check.detail, 600)}",
        f"a publicly trusted, unexpired certificate whose subjectAltName covers {fetch.host}",
        f"Install a certificate for {fetch.host} from a public CA (with its intermediates) on "
        "the server that answers for it; senders discard a policy fetched without one.",
    )


def _size_finding(fetch: PolicyFetch, see: str) -> Finding | None:
    if not fetch.body_truncated:
        return None
    return Finding(
        "mtasts.policy.too_large",
        f"the policy body is over {MAX_BODY_BYTES} bytes (64 KiB; "
        f"{fetch.body_bytes_read} or more were sent){see}",
        "a policy of a few hundred bytes, well under 64 KiB",
        f"Serve only the policy text at {fetch.url}: version, mode, mx and max_age lines.",
    )


def _content_type_finding(fetch: PolicyFetch) -> Finding | None:
    if fetch.status != 200 or fetch.media_type == "text/plain":
        return None
    shown = (
        "no Content-Type"
        if fetch.content_type is None
        else (f"Content-Type {show_value(fetch.content_type, 120)}")
    )
    return Finding(
        "mtasts.policy.content_type",
        f"{fetch.url} is served with {shown}; RFC 8461 section 3.2 says the media type MUST be "
        "text/plain, and senders that check it discard the policy",
        "Content-Type: text/plain (a charset parameter is fine)",
        f"Configure the web server for {fetch.host} to send Content-Type: text/plain for "
        "/.well-known/mta-sts.txt.",
    )


def mtasts_policy_served(subject: Subject) -> Verdict:
    """MTASTS-02: the policy is served with 200, over a valid certificate for
    ``mta-sts.<domain>``, as text/plain, under 64 KiB, with no redirect (RFC 8461 3.2, 3.3)."""
    fetch = subject.policies.get(subject.domain)
    if fetch is None:
        return _without_fetch(subject)
    evidence = _policy_keys(subject.domain)
    stopped = _fetch_error(fetch, evidence, "")
    if stopped is not None:
        cert_finding = _certificate_finding(fetch)
        if stopped.status is Status.FAIL and cert_finding is not None:
            return replace(stopped, findings=(*stopped.findings, cert_finding))
        return stopped
    findings = [
        f
        for f in (
            _status_finding(fetch, ""),
            _certificate_finding(fetch),
            _size_finding(fetch, ""),
            _content_type_finding(fetch),
        )
        if f is not None
    ]
    details = _fetch_details(fetch)
    if findings:
        return Verdict.failed(*findings, evidence=evidence, details=details)
    if fetch.certificate is None:
        return Verdict.inconclusive(
            f"{_text(fetch.describe(), 600)}, but the evidence holds no certificate check",
            evidence,
            details,
        )
    stores = [t.store for t in fetch.certificate.trust if t.verified]
    trust = f", certificate verified ({', '.join(stores)})"
    return Verdict.passed(
        f"{fetch.url}: HTTP 200 text/plain, {fetch.body_bytes_read} bytes{trust}"
        + (f", from {fetch.address}" if fetch.address else ""),
        evidence,
        details,
    )


def _discarded(fetch: PolicyFetch) -> str | None:
    """Why a sender discards a policy that did arrive, or None: RFC 8461 section 3.3.

    Section 3.3: the HTTPS GET "MUST" be validated as in RFC 6125 (a certificate that does not
    verify for ``mta-sts.<domain>``), and section 3.2: the media type "MUST" be ``text/plain``.
    A sender that applies these never reads the policy, so its content has no effect.
    """
    if fetch.certificate is not None and not fetch.certificate.verified:
        return f"the certificate of {fetch.host} does not verify"
    if fetch.status == 200 and fetch.media_type != "text/plain":
        if fetch.content_type is None:
            return "it is served with no Content-Type, not as text/plain"
        return f"it is served as Content-Type {show_value(fetch.content_type, 80)}, not text/plain"
    return None


def _served_policy(
    subject: Subject, *, judge_discarded: bool = False
) -> tuple[PolicyFetch, list[str]] | Verdict:
    """The fetch whose body the policy judges read, or the verdict when there is none.

    A policy that senders discard (:func:`_discarded`) gives NOT APPLICABLE, naming why, unless
    ``judge_discarded`` (MTASTS-07, whose question is whether enforcing would be safe).
    """
    see = " (see MTASTS-02)"
    fetch = subject.policies.get(subject.domain)
    if fetch is None:
        return _without_fetch(subject)
    evidence = _policy_keys(subject.domain)
    stopped = _fetch_error(fetch, evidence, see)
    if stopped is not None:
        if stopped.status is Status.INCONCLUSIVE:
            return Verdict.inconclusive(
                f"no policy to judge: {stopped.summary}", evidence, stopped.details
            )
        return stopped
    for finding in (_status_finding(fetch, see), _size_finding(fetch, see)):
        if finding is not None:
            return Verdict.failed(
                replace(finding, code="mtasts.policy.unavailable"),
                evidence=evidence,
                details=_fetch_details(fetch),
            )
    why = _discarded(fetch)
    if why is not None and not judge_discarded:
        return Verdict.not_applicable(
            f"senders discard the policy at {fetch.url}: {why} (RFC 8461 section 3.3; "
            "see MTASTS-02)",
            evidence,
        )
    return fetch, evidence


def _parsed(
    subject: Subject, *, judge_discarded: bool = False
) -> tuple[MtaStsPolicy, PolicyFetch, list[str]] | Verdict:
    """The parsed policy, or the verdict (see MTASTS-02 or MTASTS-03) when there is none."""
    served = _served_policy(subject, judge_discarded=judge_discarded)
    if isinstance(served, Verdict):
        return served
    fetch, evidence = served
    try:
        policy = parse_mtasts_policy(fetch.body)
    except MtaStsPolicyError as exc:
        return Verdict.failed(
            Finding(
                "mtasts.policy.invalid",
                f"the policy at {fetch.url} does not parse ({show_value(str(exc), 300)}; "
                "see MTASTS-03)",
                "a policy that parses (RFC 8461 section 3.2)",
                "Correct the policy file; see MTASTS-03 for the error.",
            ),
            evidence=evidence,
            details=_fetch_details(fetch),
        )
    return policy, fetch, evidence


def _example_policy(subject: Subject, mode: str = "enforce", max_age: int = 1209600) -> str:
    hosts = mail_hosts(subject.target, subject.dns) or (f"mail.{subject.domain}",)
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {h}" for h in hosts)]
    return "\\n".join([*lines, f"max_age: {max_age}"])


def mtasts_policy_valid(subject: Subject) -> Verdict:
    """MTASTS-03: the policy parses: version STSv1, mode, max_age 0..31557600, mx lines, no
    duplicate single keys, LF or CRLF lines (RFC 8461 section 3.2)."""
    served = _served_policy(subject)
    if isinstance(served, Verdict):
        return served
    fetch, evidence = served
    details = _fetch_details(fetch)
    example = _example_policy(subject, "testing", 86400)
    if not fetch.body_utf8:
        return Verdict.failed(
            Finding(
                "mtasts.policy.encoding",
                f"the policy at {fetch.url} is not valid UTF-8 text",
                "a policy in UTF-8 (plain ASCII in practice)",
                f"Save the policy as plain ASCII text, e.g. {example}",
            ),
            evidence=evidence,
            details=details,
        )
    try:
        policy = parse_mtasts_policy(fetch.body)
    except MtaStsPolicyError as exc:
        return Verdict.failed(
            Finding(
                exc.code,
                f"the policy at {fetch.url} is invalid: {show_value(str(exc), 400)}",
                "version: STSv1, one mode (enforce, testing or none), one max_age of at most "
                f"{MAX_AGE_LIMIT}, one mx line per mail host, one 'key: value' per line",
                f"Correct the policy ({show_value(str(exc), 200)}). A valid policy: {example}",
            ),
            evidence=evidence,
            details=details,
        )
    mx = ", ".join(policy.mx) or "none"
    return Verdict.passed(
        f"policy at {fetch.url} parses: mode {policy.mode}, max_age {policy.max_age}, mx {mx}",
        evidence,
        details,
    )


def mtasts_policy_enforced(subject: Subject) -> Verdict:
    """MTASTS-04: ``mode: enforce`` (testing is a stage of the rollout; none fails) (G5)."""
    parsed = _parsed(subject)
    if isinstance(parsed, Verdict):
        return parsed
    policy, fetch, evidence = parsed
    details = _fetch_details(fetch)
    if policy.mode == "enforce":
        return Verdict.passed(f"mode: enforce at {fetch.url}", evidence, details)
    if policy.mode == "testing":
        return Verdict.failed(
            Finding(
                "mtasts.mode.testing",
                "mode: testing: a stage of the staged rollout, not the end of it (senders "
                "report failures but still deliver without TLS)",
                "mode: enforce",
                "Next stage: once TLS-RPT reports show no failures for a few weeks and MTASTS-07 "
                "passes, change the policy to mode: enforce (max_age at least 1209600) and "
                "change the id in the _mta-sts TXT record.",
            ),
            evidence=evidence,
            details=details,
        )
    return Verdict.failed(
        Finding(
            "mtasts.mode.none",
            "mode: none: the policy is switched off, senders apply no MTA-STS",
            "mode: enforce",
            "Restart the staged rollout: mode: testing with every MX listed, then mode: "
            "enforce; change the id in the _mta-sts TXT record with each policy change.",
        ),
        evidence=evidence,
        details=details,
    )


def mtasts_max_age(subject: Subject) -> Verdict:
    """MTASTS-05: max_age >= 1209600 (14 days) in enforce, >= 86400 (1 day) in testing (G5, MC)."""
    parsed = _parsed(subject)
    if isinstance(parsed, Verdict):
        return parsed
    policy, fetch, evidence = parsed
    details = _fetch_details(fetch)
    minimum = MIN_MAX_AGE.get(policy.mode)
    if minimum is None:
        return Verdict.not_applicable(
            "mode: none (the policy is being withdrawn): max_age is not judged", evidence
        )
    if policy.max_age >= minimum:
        return Verdict.passed(
            f"max_age {policy.max_age} ({_days(policy.max_age)}) in mode {policy.mode} "
            f"(at least {minimum})",
            evidence,
            details,
        )
    return Verdict.failed(
        Finding(
            "mtasts.max_age.short",
            f"max_age {policy.max_age} ({_days(policy.max_age)}) in mode {policy.mode}",
            f"max_age of at least {minimum} ({_days(minimum)}) in mode {policy.mode}",
            f"Set max_age: {minimum if policy.mode == 'testing' else 1209600} or more (up to "
            f"{MAX_AGE_LIMIT}) and change the id in the _mta-sts TXT record.",
        ),
        evidence=evidence,
        details=details,
    )


def _days(seconds: int) -> str:
    days = seconds / 86400
    return f"{days:g} day" + ("" if days == 1 else "s")


def _hosts(subject: Subject) -> tuple[str, ...] | Verdict:
    hosts = mail_hosts(subject.target, subject.dns)
    if hosts is not None:
        return hosts
    found = lookup(subject, subject.domain, "MX")
    if isinstance(found, Verdict):
        return found
    return Verdict.inconclusive(
        f"the MX hosts of {subject.domain} are not known (see MX-01)", [found.query.key]
    )


def mtasts_mx_listed(subject: Subject) -> Verdict:
    """MTASTS-06: every MX host matches an mx pattern (RFC 8461 section 4.1; G5)."""
    parsed = _parsed(subject)
    if isinstance(parsed, Verdict):
        return parsed
    policy, fetch, evidence = parsed
    if policy.mode == "none":
        return Verdict.not_applicable("mode: none: the policy lists no MX hosts", evidence)
    hosts = _hosts(subject)
    if isinstance(hosts, Verdict):
        return replace(hosts, evidence=(*evidence, *hosts.evidence))
    evidence = [*evidence, Query.of(subject.domain, "MX").key]
    if not hosts:
        return Verdict.not_applicable(f"{subject.domain} has no MX hosts to match", evidence)
    details = _fetch_details(fetch)
    matched = [(h, policy.matching_pattern(h)) for h in hosts]
    table = "\n".join(f"{h}: {p if p is not None else 'NO MATCH'}" for h, p in matched)
    details.insert(0, ("MX hosts", table))
    missing = [h for h, p in matched if p is None]
    if missing:
        patterns = ", ".join(policy.mx) or "none"
        lines = "\\n".join(f"mx: {h}" for h in missing)
        return Verdict.failed(
            Finding(
                "mtasts.mx.unlisted",
                f"MX host(s) {', '.join(missing)} match no mx pattern of the policy "
                f"(patterns: {show_value(patterns, 300)}); in enforce mode senders refuse to "
                "deliver to them",
                "every MX host matches an mx line (exactly, or by a *. wildcard for one label)",
                f"Add to the policy: {lines} (G5 advises exact names over wildcards), then "
                "change the id in the _mta-sts TXT record.",
            ),
            evidence=evidence,
            details=details,
        )
    return Verdict.passed(
        "every MX host is listed: " + "; ".join(f"{h} by {p}" for h, p in matched),
        evidence,
        details,
    )


#: The host requirements MTASTS-07 reuses: "safe to enforce" is these, at every matched MX.
HOST_CHECKS: tuple[tuple[str, Callable[[Subject], Verdict]], ...] = (
    ("TLS-02", tls.modern_tls_negotiated),
    ("CERT-01", cert.chain_trusted),
    ("CERT-02", cert.names_mx_host),
    ("CERT-03", cert.within_validity),
)


def mtasts_safe_to_enforce(subject: Subject) -> Verdict:
    """MTASTS-07: every MX host the policy matches passes TLS-02 and CERT-01..03 (RFC 8461
    section 4.2: what senders check before delivering under enforce)."""
    parsed = _parsed(subject, judge_discarded=True)
    if isinstance(parsed, Verdict):
        return parsed
    policy, fetch, evidence = parsed
    if policy.mode == "none":
        return Verdict.not_applicable("mode: none: no MX host is enforced", evidence)
    hosts = _hosts(subject)
    if isinstance(hosts, Verdict):
        return replace(hosts, evidence=(*evidence, *hosts.evidence))
    evidence = [*evidence, Query.of(subject.domain, "MX").key]
    if not hosts:
        return Verdict.not_applicable(f"{subject.domain} has no MX hosts", evidence)
    matched = [h for h in hosts if policy.matches(h)]
    if not matched:
        return Verdict.failed(
            Finding(
                "mtasts.mx.none_matched",
                f"no MX host of {subject.domain} ({', '.join(hosts)}) matches the policy's mx "
                "patterns, so enforcing it would stop all mail (see MTASTS-06)",
                "the MX hosts listed in the policy, each with TLS 1.2+ and a valid certificate",
                "List every MX host in the policy's mx lines (MTASTS-06) before enforcing.",
            ),
            evidence=evidence,
        )
    findings: list[Finding] = []
    unknown: list[str] = []
    rows: list[str] = []
    for host in matched:
        if host not in subject.tls:
            unknown.append(f"{host}: not probed in this run (no TLS scan of it in the evidence)")
            rows.append(f"{host}: not probed")
            continue
        for requirement, judge in HOST_CHECKS:
            verdict = judge(replace(subject, host=host))
            for key in verdict.evidence:
                if key not in evidence:
                    evidence.append(key)
            rows.append(f"{host} {requirement}: {verdict.status.value}: {verdict.summary}")
            if verdict.status is Status.FAIL:
                findings.extend(
                    Finding(
                        f"mtasts.mx.unsafe.{requirement.lower()}",
                        f"{host} fails {requirement}: {f.observed}",
                        f.expected,
                        f"{f.remediation} Until every MX host the policy lists passes TLS-02 and "
                        "CERT-01..03, keep the policy in mode: testing.",
                    )
                    for f in verdict.findings
                )
            elif verdict.status is not Status.PASS:
                unknown.append(f"{host} {requirement}: {verdict.summary}")
    details = [("MX hosts", _text("\n".join(rows), 8000)), *_fetch_details(fetch)]
    if findings:
        return Verdict.failed(*findings, evidence=evidence, details=details)
    if unknown:
        return Verdict.inconclusive("; ".join(unknown), evidence, details)
    return Verdict.passed(
        f"every MX host the policy matches ({', '.join(matched)}) passes TLS-02 and CERT-01..03",
        evidence,
        details,
    )


def mtasts_no_wildcard_mx(subject: Subject) -> Verdict:
    """MTASTS-08 (advisory): the policy names each MX host, with no ``*.`` pattern (G5: "Do not
    use wildcard MX records").

    RFC 8461 section 3.2 allows a ``*.`` leftmost label, matching any one label (section 4.1), so
    such a policy is valid (MTASTS-03 passes) and every MX it matches is enforced. The guidance
    still asks for names: a wildcard also vouches for hosts that are not, or are no longer, the
    domain's mail servers, and for a shared provider's whole fleet. The MX hosts each wildcard
    matches today are named, so the fix is a list of ``mx:`` lines. A wildcard *inside* a label
    (``mx*.example.net``) is not a pattern at all: MTASTS-03 fails it, and this judge points
    there. ``mode: none`` lists no hosts, so this does not apply to it.
    """
    parsed = _parsed(subject)
    if isinstance(parsed, Verdict):
        return parsed
    policy, fetch, evidence = parsed
    details = _fetch_details(fetch)
    if policy.mode == "none" and not policy.mx:
        return Verdict.not_applicable("mode: none: the policy lists no MX hosts", evidence)
    wildcards = [p for p in policy.mx if is_wildcard_pattern(p)]
    if not wildcards:
        listed = ", ".join(show_value(p, 100) for p in policy.mx[:10])
        return Verdict.passed(f"every mx line names one host: {listed}", evidence, details)
    hosts = mail_hosts(subject.target, subject.dns) or ()
    matched: list[str] = []
    for pattern in wildcards:
        covered = [h for h in hosts if mx_pattern_matches(pattern, h)]
        shown = ", ".join(covered) if covered else "no current MX host"
        matched.append(f"{show_value(pattern, 100)} (matches {shown})")
    named = [h for h in hosts if policy.matching_pattern(h) in wildcards]
    example = "\\n".join(f"mx: {h}" for h in named) or "one 'mx: <host>' line per MX host"
    return Verdict.failed(
        Finding(
            "mtasts.mx.wildcard",
            f"the policy at {fetch.url} uses wildcard mx patterns: {'; '.join(matched)}",
            "an mx line naming each MX host, no '*.' pattern (G5)",
            f"Replace each wildcard with the MX hosts it stands for ({example}) and change the "
            "id in the _mta-sts TXT record.",
        ),
        evidence=evidence,
        details=details,
    )


def mtasts_cert_not_expiring(subject: Subject) -> Verdict:
    """MTASTS-09: the policy host's certificate is more than N days from its notAfter, N being
    CERT-04's window (``--govmail-cert-expiry-days``, else the cipher profile's).

    RFC 8461 section 3.3: the policy is fetched over HTTPS with a certificate that validates, and
    when no policy can be fetched and none is cached "senders MUST continue with delivery as
    though the domain has not implemented MTA-STS". A policy host whose certificate lapses turns
    the domain's protection off as each sender's cache (``max_age``) runs out, so its expiry is
    warned of like an MX host's (CERT-04). The leaf is the first certificate the collector
    recorded (``PolicyFetch.chain_pem``). No fetch: the same answer as MTASTS-02..07; a fetch
    that got no certificate cannot be judged here (MTASTS-02 says why): inconclusive when the
    host could not be reached, not applicable when it was reached but the TLS handshake failed.
    """
    fetch = subject.policies.get(subject.domain)
    if fetch is None:
        return _without_fetch(subject)
    evidence = _policy_keys(subject.domain)
    details = _fetch_details(fetch)
    chain = load_pem_chain(fetch.chain_pem)
    if not chain.certs:
        if fetch.error is not None and fetch.error.kind is ErrorKind.TLS_HANDSHAKE:
            return Verdict.not_applicable(
                f"{fetch.host} presented no certificate to judge: the TLS handshake failed "
                f"({show_value(fetch.error.describe(), 200)}; see MTASTS-02)",
                evidence,
            )
        why = fetch.error.describe() if fetch.error is not None else chain.problem
        return Verdict.inconclusive(
            f"no certificate of {fetch.host} to judge ({show_value(why, 200)}; see MTASTS-02)",
            evidence,
            details,
        )
    days = expiry_days(subject, judging_profile(subject))
    now = judging_time(subject)
    end = chain.certs[0].not_valid_after_utc
    left = end - now
    window = [("judged at", f"{now.isoformat(timespec='seconds')}; warning window {days} days")]
    if left > timedelta(days=days):
        return Verdict.passed(
            f"the certificate of {fetch.host} expires {end:%Y-%m-%d}, in {left.days} days",
            evidence,
            [*window, *details],
        )
    state = f"{left.days} day(s) left" if left >= timedelta(0) else "already expired"
    return Verdict.failed(
        Finding(
            "mtasts.cert.expiry_soon",
            f"the certificate of the MTA-STS policy host {fetch.host} expires "
            f"{end:%Y-%m-%d %H:%M} UTC ({state})",
            f"more than {days} days before notAfter",
            f"Renew the certificate of {fetch.host} now and automate its renewal (for example "
            "with ACME): when it lapses, senders cannot refresh the policy and stop applying "
            "MTA-STS once their cached copy expires.",
        ),
        evidence=evidence,
        details=[*window, *details],
    )
