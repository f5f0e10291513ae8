"""MX and reachability (REQUIREMENTS.md: MX-01..MX-03)."""

import pytest

from pytest_govmail.judge import mx, tls
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="MX-01", judge=mx.mx_resolves)
def test_mx_resolves(govmail: Assessment) -> None:
    """At least one MX exchange (or the implicit MX) resolves to an address."""
    govmail.check()


@pytest.mark.requirement(id="MX-02", judge=mx.mx_is_hostname)
def test_mx_is_hostname(govmail: Assessment) -> None:
    """The MX exchange is a hostname: not a CNAME, not an IP literal."""
    govmail.check()


@pytest.mark.requirement(id="MX-03", judge=mx.null_mx_alone)
def test_null_mx_alone(govmail: Assessment) -> None:
    """A null MX is the only MX record when present."""
    govmail.check()


@pytest.mark.requirement(id="MX-04", judge=tls.answers_smtp)
def test_mx_answers_smtp(govmail: Assessment) -> None:
    """The MX host answers on port 25 with a 220 banner."""
    govmail.check()
