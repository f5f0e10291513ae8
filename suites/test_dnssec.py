"""DNSSEC: one test per requirement of the area and each domain.

The catalogue (pytest_govmail/inputs/catalogue.toml) is where each requirement of area
"dnssec" is declared: its level, criterion, sources, fix, the evidence it needs and its judge.
This test runs every implemented requirement of the area, so a record added there is tested
here with no change to this file. Copy it to assess your own selection:
``@pytest.mark.requirements(ids=["DNSSEC-01"])``.
"""

import pytest

from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirements(area="dnssec")
def test_dnssec(govmail: Assessment) -> None:
    """Judge the evidence for one requirement and target; fail with its findings."""
    govmail.check()
