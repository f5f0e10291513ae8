"""MTA-STS (REQUIREMENTS.md: MTASTS-01; the policy checks come with the HTTPS probe)."""

import pytest

from pytest_govmail.fixtures import Assessment
from pytest_govmail.judge import mtasts


@pytest.mark.requirement(id="MTASTS-01", judge=mtasts.mtasts_txt_record)
def test_mtasts_txt_record(govmail: Assessment) -> None:
    """Exactly one _mta-sts TXT record with a valid id."""
    govmail.check()
