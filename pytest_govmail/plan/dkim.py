"""The DNS questions DKIM-01..07 need: key records at ``<selector>._domainkey.<domain>``.

Selectors cannot be listed from DNS (RFC 6376 section 3.6.2.1 gives no way to enumerate them), so
REQUIREMENTS.md names the sources, in this order:

1. ``option/file``: ``--govmail-dkim-selector`` and the domains file's ``dkim_selectors``
   column, which the plugin has already merged into :attr:`Target.dkim_selectors`;
2. ``message <path>``: the ``s=`` of each ``DKIM-Signature`` with ``d=`` equal to the domain in
   the sample messages given for it (``--govmail-eml``);
3. ``common list``: :data:`COMMON_SELECTORS`, the defaults of widely used mail services. They
   are always asked, whatever else is known, so every run asks the same names (and replay finds
   them in the evidence), and so an old key left at a default selector is still judged.

A selector found in several sources keeps the first. For DKIM-07 the planner also asks for the
key of *every* signature in the domain's sample messages (a signature by ``d=sendgrid.net`` needs
``s1._domainkey.sendgrid.net`` to be verified, though it says nothing about the domain's own
keys), and the DMARC record of each message's From domain, whose ``adkim`` says whether
alignment is relaxed or strict.

The questions are bounded: the selectors given, :data:`MAX_SIGNATURES_PER_MESSAGE` signatures a
message, and the dozen common selectors. A selector or ``d=`` that cannot form a DNS name is
never asked (see :func:`key_name`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.dns import DnsView, Query, normalise_name
from pytest_govmail.model.target import Target
from pytest_govmail.plan import Planner
from pytest_govmail.plan.dmarc import dmarc_queries

SOURCE_GIVEN = "option/file"
SOURCE_COMMON = "common list"
#: Signatures verified per message (DKIM-07); later ones are reported as not checked.
MAX_SIGNATURES_PER_MESSAGE = 10

#: Default selectors of widely used mail services, each with where it comes from. Short on
#: purpose: each costs one DNS question per domain. Services that make a random or dated
#: selector per customer (Amazon SES and so GOV.UK Notify, Mimecast, Proofpoint) cannot be
#: guessed: give their selector with ``--govmail-dkim-selector`` or a sample message.
COMMON_SELECTORS: tuple[tuple[str, str], ...] = (
    ("selector1", "Microsoft 365 / Exchange Online (CNAME to the tenant's key)"),
    ("selector2", "Microsoft 365 / Exchange Online (the rotation partner of selector1)"),
    ("google", "Google Workspace's default selector"),
    ("default", "cPanel, Plesk and many MTA set-ups' default"),
    ("dkim", "Rspamd's default selector"),
    ("mail", "OpenDKIM tutorials and Mail-in-a-Box"),
    ("k1", "Mailchimp / Mandrill"),
    ("k2", "Mailchimp domain authentication"),
    ("s1", "Twilio SendGrid automated security"),
    ("s2", "Twilio SendGrid automated security (second key)"),
    ("pdk1", "Mailgun Automatic Sender Security"),
    ("pdk2", "Mailgun Automatic Sender Security (second key)"),
)

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


def key_name(selector: str, domain: str) -> str | None:
    """``<selector>._domainkey.<domain>`` (RFC 6376 section 3.6.2.1), normalised; None when the
    selector or domain (from a hostile message, say) cannot form a DNS name of letters, digits,
    ``-`` and ``_`` labels within 253 characters."""
    name = normalise_name(f"{selector}._domainkey.{domain}")
    if not selector or not domain or len(name) > 253:
        return None
    if not all(_LABEL.match(label) for label in name.split(".")):
        return None
    return name


def message_source(message: SampleMessage) -> str:
    return f"message {message.source}"


def selectors_for(
    target: Target, messages: Iterable[SampleMessage] = ()
) -> tuple[tuple[str, str], ...]:
    """Every selector to try for ``target.domain``, in order, each with its source."""
    found: dict[str, str] = {}
    for selector in target.dkim_selectors:
        found.setdefault(selector.lower(), SOURCE_GIVEN)
    for message in messages:
        for signature in message.dkim_signatures[:MAX_SIGNATURES_PER_MESSAGE]:
            if signature.error is None and normalise_name(signature.domain) == target.domain:
                found.setdefault(signature.selector.lower(), message_source(message))
    for selector, _origin in COMMON_SELECTORS:
        found.setdefault(selector, SOURCE_COMMON)
    return tuple(
        (selector, source)
        for selector, source in found.items()
        if key_name(selector, target.domain) is not None
    )


def signature_key_names(messages: Iterable[SampleMessage]) -> Iterator[str]:
    """The key record of each signature DKIM-07 verifies (the first few of each message)."""
    for message in messages:
        if message.error is not None:
            continue
        for signature in message.dkim_signatures[:MAX_SIGNATURES_PER_MESSAGE]:
            name = key_name(signature.selector, signature.domain)
            if signature.error is None and name is not None:
                yield name


def assign_messages(
    domains: Iterable[str], messages: Sequence[SampleMessage]
) -> tuple[dict[str, tuple[SampleMessage, ...]], tuple[SampleMessage, ...]]:
    """Which sample messages belong to which domain, and which belong to none.

    A message belongs to the domain of its RFC 5322.From address (the domain DMARC, and so
    DKIM-07, aligns against), exactly: a message from ``news.example.gov.uk`` is evidence about
    that domain, not about ``example.gov.uk``. Messages that could not be read or have no single
    From domain, and messages from a domain not assessed, are returned as the second item for
    the plugin to report.
    """
    wanted = {normalise_name(d) for d in domains}
    assigned: dict[str, list[SampleMessage]] = {}
    unassigned: list[SampleMessage] = []
    for message in messages:
        if message.error is None and message.from_domain in wanted:
            assigned.setdefault(message.from_domain, []).append(message)
        else:
            unassigned.append(message)
    return {d: tuple(m) for d, m in assigned.items()}, tuple(unassigned)


def make_dkim_planner(messages_by_domain: Mapping[str, Sequence[SampleMessage]]) -> Planner:
    """The DKIM planner for a run whose sample messages are ``messages_by_domain``
    (see :func:`assign_messages`)."""

    def dkim_planner(target: Target, dns: DnsView) -> Iterable[Query]:
        messages = tuple(messages_by_domain.get(target.domain, ()))
        queries: dict[Query, None] = {}
        for selector, _source in selectors_for(target, messages):
            name = key_name(selector, target.domain)
            if name is not None:
                queries[Query.of(name, "TXT")] = None
        for name in signature_key_names(messages):
            queries[Query.of(name, "TXT")] = None
        from_domains = dict.fromkeys(m.from_domain for m in messages if m.from_domain)
        for domain in from_domains:
            for query in dmarc_queries(Target(domain), dns):
                queries[query] = None
        return list(queries)

    return dkim_planner


def dkim_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """DKIM-01..06 for a run without sample messages: the selectors given and the common list."""
    return make_dkim_planner({})(target, dns)
