"""TLS reporting (REQUIREMENTS.md: TLSRPT-01, TLSRPT-02)."""

import pytest

from pytest_govmail.judge import tlsrpt
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="TLSRPT-01", judge=tlsrpt.tlsrpt_record)
def test_tlsrpt_record(govmail: Assessment) -> None:
    """Exactly one TLS-RPT record with mailto: or https: reporting URIs."""
    govmail.check()


@pytest.mark.requirement(id="TLSRPT-02", judge=tlsrpt.tlsrpt_ncsc_reporting)
def test_tlsrpt_ncsc_reporting(govmail: Assessment) -> None:
    """TLS reports go to NCSC Mail Check."""
    govmail.check()
