"""What one test judges: a target with the run's evidence and the inputs that judging takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pytest_govmail.inputs.tls_profile import TlsProfile, load_profile
from pytest_govmail.model.dns import DnsView
from pytest_govmail.model.target import Target

if TYPE_CHECKING:
    from pytest_govmail.inputs.attestations import Attestation
    from pytest_govmail.model.dkim import SampleMessage
    from pytest_govmail.model.dns import Query
    from pytest_govmail.model.dnssec import DnssecChain
    from pytest_govmail.model.https import PolicyFetch
    from pytest_govmail.model.tls import TlsScan
    from pytest_govmail.model.vantage import Vantage


@dataclass(frozen=True, slots=True)
class Subject:
    """What one test judges: a domain (and for host tests one MX host) with the run's evidence.

    ``tls`` maps an MX host to its scans, one per address (``pytest_govmail.model.tls``);
    ``policies`` maps a domain to its MTA-STS policy fetch (``pytest_govmail.model.https``);
    ``messages`` holds the sample messages given for this domain (``pytest_govmail.model.dkim``).
    A host or domain missing from these mappings was not probed in this run.
    ``dnssec`` maps an answer's :class:`~pytest_govmail.model.dns.Query` to its DNSSEC
    validation (``pytest_govmail.model.dnssec``).
    ``now`` is when the evidence was collected, so that replay judges dates the same way.

    ``tls_profile`` is the TLS profile the TLS-* and CERT-* judges apply, loaded once by the run
    (the packaged one by default; a replay uses the one stored in its evidence), so judging
    reads no file. ``cert_expiry_days`` is CERT-04's warning window in days; None means the
    profile's ``expiry_warning_days``.
    """

    target: Target
    dns: DnsView
    host: str | None = None
    now: datetime | None = None
    tls_profile: TlsProfile = field(default_factory=load_profile)
    cert_expiry_days: int | None = None
    tls: Mapping[str, tuple[TlsScan, ...]] = field(default_factory=dict)
    policies: Mapping[str, PolicyFetch] = field(default_factory=dict)
    messages: tuple[SampleMessage, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    vantage: Vantage | None = None  # what the collecting machine could see (model/vantage.py)
    #: DNSSEC validations by the answer they validate (model/dnssec.py); empty when the run
    #: did not validate (evidence from before DNSSEC was collected, or not selected).
    dnssec: Mapping[Query, DnssecChain] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.target.domain
