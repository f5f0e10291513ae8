"""The certificate each MX host presents (REQUIREMENTS.md: CERT-01..CERT-07)."""

import pytest

from pytest_govmail.judge import cert
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="CERT-01", judge=cert.chain_trusted)
def test_chain_trusted(govmail: Assessment) -> None:
    """The certificate chain validates to a public trust store."""
    govmail.check()


@pytest.mark.requirement(id="CERT-02", judge=cert.names_mx_host)
def test_names_mx_host(govmail: Assessment) -> None:
    """A SAN DNS name matches the MX hostname."""
    govmail.check()


@pytest.mark.requirement(id="CERT-03", judge=cert.within_validity)
def test_within_validity(govmail: Assessment) -> None:
    """The certificate is within its validity period."""
    govmail.check()


@pytest.mark.requirement(id="CERT-04", judge=cert.not_expiring_soon)
def test_not_expiring_soon(govmail: Assessment) -> None:
    """The certificate does not expire within 14 days."""
    govmail.check()


@pytest.mark.requirement(id="CERT-05", judge=cert.keys_strong)
def test_keys_strong(govmail: Assessment) -> None:
    """Leaf and intermediate keys are RSA 2048+ or EC 256+."""
    govmail.check()


@pytest.mark.requirement(id="CERT-06", judge=cert.no_weak_signatures)
def test_no_weak_signatures(govmail: Assessment) -> None:
    """No MD5 or SHA-1 signature on a non-root certificate."""
    govmail.check()


@pytest.mark.requirement(id="CERT-07", judge=cert.chain_complete_in_order)
def test_chain_complete_in_order(govmail: Assessment) -> None:
    """The served chain is complete and in order."""
    govmail.check()
