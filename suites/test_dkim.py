"""DKIM (REQUIREMENTS.md: DKIM-01..DKIM-07)."""

import pytest

from pytest_govmail.judge import dkim
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="DKIM-01", judge=dkim.dkim_key_published)
def test_dkim_key_published(govmail: Assessment) -> None:
    """At least one selector has a valid, non-revoked key."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-02", judge=dkim.dkim_keys_valid)
def test_dkim_keys_valid(govmail: Assessment) -> None:
    """Every DKIM key record found parses."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-03", judge=dkim.dkim_rsa_minimum)
def test_dkim_rsa_minimum(govmail: Assessment) -> None:
    """Every RSA key has at least 1024 bits."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-04", judge=dkim.dkim_rsa_recommended)
def test_dkim_rsa_recommended(govmail: Assessment) -> None:
    """Every RSA key has at least 2048 bits (or the key is ed25519)."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-05", judge=dkim.dkim_no_sha1_only)
def test_dkim_no_sha1_only(govmail: Assessment) -> None:
    """No key is limited to SHA-1."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-06", judge=dkim.dkim_not_testing)
def test_dkim_not_testing(govmail: Assessment) -> None:
    """No key is in test mode."""
    govmail.check()


@pytest.mark.requirement(id="DKIM-07", judge=dkim.dkim_signature_valid)
def test_dkim_signature_valid(govmail: Assessment) -> None:
    """Each sample message's DKIM signature verifies and aligns with its From domain."""
    govmail.check()
