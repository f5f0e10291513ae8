"""DANE for SMTP (REQUIREMENTS.md: DANE-01)."""

import pytest

from pytest_govmail.fixtures import Assessment
from pytest_govmail.judge import tls


@pytest.mark.requirement(id="DANE-01", judge=tls.dane_tlsa_matches)
def test_dane_tlsa_matches(govmail: Assessment) -> None:
    """If a TLSA record is published for the MX host, one record matches the chain."""
    govmail.check()
