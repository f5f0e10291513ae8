"""Where a domain's DKIM keys are looked for: the selectors to try and the names they give.

A key lives at ``<selector>._domainkey.<domain>`` (RFC 6376 section 3.6.2.1), and selectors
cannot be listed from DNS, so the selectors tried come from three sources, in this order:

1. ``option/file``: ``--govmail-dkim-selector`` and the domains file's ``dkim_selectors``
   column, which the plugin has already merged into :attr:`Target.dkim_selectors`;
2. ``message <path>``: the ``s=`` of each ``DKIM-Signature`` with ``d=`` equal to the domain in
   the sample messages given for it (``--govmail-eml``);
3. ``DMARC report <org> <id> (<file>)``: each selector that DMARC aggregate reports
   (``--govmail-dmarc-reports``) show signing for the domain (``auth_results/dkim`` with
   ``domain`` equal to it), as :attr:`pytest_govmail.model.feedback.DomainFeedback.selectors`
   holds them: the selectors really in use, which neither DNS nor guessing can list;
4. ``common list``: :data:`COMMON_SELECTORS`, the defaults of widely used mail services. They
   are always asked, whatever else is known, so every run asks the same names (and replay finds
   them in the evidence), and so an old key left at a default selector is still judged.

A selector found in several sources keeps the first. The DKIM planner asks these names and the
DKIM judges read the answers at the same names, so both import them from here; so does PARK-03,
whose made-up selector (:func:`parked_probe_selector`) tests for a wildcard key record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping

from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.dns import normalise_name
from pytest_govmail.model.target import Target

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
    """The source a selector read from ``message`` is reported under: ``message <path>``."""
    return f"message {message.source}"


def selectors_for(
    target: Target,
    messages: Iterable[SampleMessage] = (),
    reported: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str], ...]:
    """Every selector to try for ``target.domain``, in order, each with its source;
    ``reported`` maps the selectors seen in DMARC reports to where each was seen."""
    found: dict[str, str] = {}
    for selector in target.dkim_selectors:
        found.setdefault(selector.lower(), SOURCE_GIVEN)
    for message in messages:
        for signature in message.dkim_signatures[:MAX_SIGNATURES_PER_MESSAGE]:
            if signature.error is None and normalise_name(signature.domain) == target.domain:
                found.setdefault(signature.selector.lower(), message_source(message))
    for selector, where in (reported or {}).items():
        found.setdefault(selector.lower(), where)
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


def parked_probe_selector(domain: str) -> str:
    """A DKIM selector no real signer uses, stable per domain so that replay asks the same name.

    PARK-03 looks it up to see whether a wildcard ``*._domainkey`` record answers every selector
    (GOV.UK "Protect domains that do not send email").
    """
    digest = hashlib.sha256(domain.encode("ascii")).hexdigest()[:12]
    return f"govmail-probe-{digest}"
