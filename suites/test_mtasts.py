"""MTA-STS (REQUIREMENTS.md: MTASTS-01..MTASTS-07)."""

import pytest

from pytest_govmail.judge import mtasts
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="MTASTS-01", judge=mtasts.mtasts_txt_record)
def test_mtasts_txt_record(govmail: Assessment) -> None:
    """Exactly one _mta-sts TXT record with a valid id."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-02", judge=mtasts.mtasts_policy_served)
def test_mtasts_policy_served(govmail: Assessment) -> None:
    """The policy is served over HTTPS with a valid certificate and no redirect."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-03", judge=mtasts.mtasts_policy_valid)
def test_mtasts_policy_valid(govmail: Assessment) -> None:
    """The policy parses."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-04", judge=mtasts.mtasts_policy_enforced)
def test_mtasts_policy_enforced(govmail: Assessment) -> None:
    """The policy mode is enforce."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-05", judge=mtasts.mtasts_max_age)
def test_mtasts_max_age(govmail: Assessment) -> None:
    """max_age is long enough for the mode."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-06", judge=mtasts.mtasts_mx_listed)
def test_mtasts_mx_listed(govmail: Assessment) -> None:
    """Every MX host matches an mx pattern of the policy."""
    govmail.check()


@pytest.mark.requirement(id="MTASTS-07", judge=mtasts.mtasts_safe_to_enforce)
def test_mtasts_safe_to_enforce(govmail: Assessment) -> None:
    """Every MX host the policy covers has TLS 1.2+ and a valid certificate."""
    govmail.check()
