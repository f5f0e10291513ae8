"""TLS on each MX host (REQUIREMENTS.md: TLS-01..TLS-10)."""

import pytest

from pytest_govmail.judge import tls
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="TLS-01", judge=tls.starttls_completes)
def test_starttls_completes(govmail: Assessment) -> None:
    """STARTTLS is advertised and the handshake completes."""
    govmail.check()


@pytest.mark.requirement(id="TLS-02", judge=tls.modern_tls_negotiated)
def test_modern_tls_negotiated(govmail: Assessment) -> None:
    """TLS 1.2 or TLS 1.3 is negotiated."""
    govmail.check()


@pytest.mark.requirement(id="TLS-03", judge=tls.ssl_refused)
def test_ssl_refused(govmail: Assessment) -> None:
    """SSL 2.0 and SSL 3.0 are refused."""
    govmail.check()


@pytest.mark.requirement(id="TLS-04", judge=tls.old_tls_refused)
def test_old_tls_refused(govmail: Assessment) -> None:
    """TLS 1.0 and TLS 1.1 are refused."""
    govmail.check()


@pytest.mark.requirement(id="TLS-05", judge=tls.preferred_suite_recommended)
def test_preferred_suite_recommended(govmail: Assessment) -> None:
    """The server picks an NCSC-recommended cipher suite."""
    govmail.check()


@pytest.mark.requirement(id="TLS-06", judge=tls.no_insecure_suites)
def test_no_insecure_suites(govmail: Assessment) -> None:
    """No insecure cipher suite is accepted."""
    govmail.check()


@pytest.mark.requirement(id="TLS-07", judge=tls.tls12_suites_acceptable)
def test_tls12_suites_acceptable(govmail: Assessment) -> None:
    """Every accepted TLS 1.2 suite is recommended or acceptable."""
    govmail.check()


@pytest.mark.requirement(id="TLS-08", judge=tls.tls13_supported)
def test_tls13_supported(govmail: Assessment) -> None:
    """TLS 1.3 is supported."""
    govmail.check()


@pytest.mark.requirement(id="TLS-09", judge=tls.key_exchange_strong)
def test_key_exchange_strong(govmail: Assessment) -> None:
    """Key exchange is ECDHE on a strong curve or DHE of 2048 bits or more."""
    govmail.check()


@pytest.mark.requirement(id="TLS-10", judge=tls.no_compression_secure_renegotiation)
def test_no_compression_secure_renegotiation(govmail: Assessment) -> None:
    """No compression, secure renegotiation, no client renegotiation."""
    govmail.check()
