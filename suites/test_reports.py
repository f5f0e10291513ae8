"""DMARC and TLS-RPT reports: one test per requirement of the area and each domain.

The catalogue (pytest_govmail/inputs/catalogue.toml) is where each requirement of area
"reports" is declared: its level, criterion, sources, fix, the evidence it needs and its judge.
This test runs every implemented requirement of the area, so a record added there is tested
here with no change to this file. Give the reports with ``--govmail-dmarc-reports`` and
``--govmail-tlsrpt-reports``; without them each test is skipped as not assessed.
"""

import pytest

from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirements(area="reports")
def test_reports(govmail: Assessment) -> None:
    """Judge the evidence for one requirement and target; fail with its findings."""
    govmail.check()
