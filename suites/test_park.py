"""Parked (non-sending) domains (REQUIREMENTS.md: PARK-01..PARK-04)."""

import pytest

from pytest_govmail.judge import dmarc, park, spf
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="PARK-01", judge=spf.park_spf_deny_all)
def test_park_spf_deny_all(govmail: Assessment) -> None:
    """SPF is exactly v=spf1 -all."""
    govmail.check()


@pytest.mark.requirement(id="PARK-02", judge=dmarc.parked_dmarc_reject)
def test_park_dmarc_reject(govmail: Assessment) -> None:
    """DMARC p=reject and sp=reject."""
    govmail.check()


@pytest.mark.requirement(id="PARK-03", judge=park.wildcard_dkim_revoked)
def test_park_wildcard_dkim(govmail: Assessment) -> None:
    """A wildcard DKIM record with an empty key answers any selector."""
    govmail.check()


@pytest.mark.requirement(id="PARK-04", judge=park.null_mx_published)
def test_park_null_mx(govmail: Assessment) -> None:
    """A null MX is published."""
    govmail.check()
