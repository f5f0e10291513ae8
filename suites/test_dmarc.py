"""DMARC (REQUIREMENTS.md: DMARC-01..DMARC-08)."""

import pytest

from pytest_govmail.judge import dmarc
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="DMARC-01", judge=dmarc.dmarc_record_applies)
def test_dmarc_record_applies(govmail: Assessment) -> None:
    """Exactly one DMARC record applies to the domain."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-02", judge=dmarc.dmarc_syntax_valid)
def test_dmarc_syntax_valid(govmail: Assessment) -> None:
    """The DMARC record is well formed."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-03", judge=dmarc.dmarc_policy_enforced)
def test_dmarc_policy_enforced(govmail: Assessment) -> None:
    """The DMARC policy that applies is quarantine or reject."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-04", judge=dmarc.dmarc_pct_full)
def test_dmarc_pct_full(govmail: Assessment) -> None:
    """The policy applies to all mail (pct absent or 100)."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-05", judge=dmarc.dmarc_subdomain_policy)
def test_dmarc_subdomain_policy(govmail: Assessment) -> None:
    """The subdomain policy is not none."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-06", judge=dmarc.dmarc_aggregate_reporting)
def test_dmarc_aggregate_reporting(govmail: Assessment) -> None:
    """Aggregate reports go to one or two mailto: addresses."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-07", judge=dmarc.dmarc_ncsc_reporting)
def test_dmarc_ncsc_reporting(govmail: Assessment) -> None:
    """Aggregate reports go to NCSC Mail Check."""
    govmail.check()


@pytest.mark.requirement(id="DMARC-08", judge=dmarc.dmarc_external_reports_authorised)
def test_dmarc_external_reports_authorised(govmail: Assessment) -> None:
    """Report addresses outside the organisational domain have authorised the reports."""
    govmail.check()
