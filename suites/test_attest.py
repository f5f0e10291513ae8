"""Controls no probe can see (REQUIREMENTS.md: ATTEST-01)."""

import pytest

from pytest_govmail.judge import attest
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="ATTEST-01", judge=attest.controls_attested)
def test_controls_attested(govmail: Assessment) -> None:
    """Inbound DMARC enforcement, filtering, TLS to gov.uk and DKIM signing are attested."""
    govmail.check()
