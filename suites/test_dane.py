"""DANE for SMTP (REQUIREMENTS.md: DANE-01)."""

import pytest

from pytest_govmail.judge import tls
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="DANE-01", judge=tls.dane_tlsa_matches)
def test_dane_tlsa_matches(govmail: Assessment) -> None:
    """If a TLSA record is published for the MX host, one record matches the chain."""
    govmail.check()
