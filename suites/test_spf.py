"""SPF (REQUIREMENTS.md: SPF-01..SPF-07)."""

import pytest

from pytest_govmail.judge import spf
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="SPF-01", judge=spf.spf_single_record)
def test_spf_single_record(govmail: Assessment) -> None:
    """Exactly one SPF record is published."""
    govmail.check()


@pytest.mark.requirement(id="SPF-02", judge=spf.spf_syntax_valid)
def test_spf_syntax_valid(govmail: Assessment) -> None:
    """Every term of the SPF record parses."""
    govmail.check()


@pytest.mark.requirement(id="SPF-03", judge=spf.spf_lookup_limit)
def test_spf_lookup_limit(govmail: Assessment) -> None:
    """Evaluating SPF needs at most 10 DNS-querying terms."""
    govmail.check()


@pytest.mark.requirement(id="SPF-04", judge=spf.spf_lookups_resolve)
def test_spf_lookups_resolve(govmail: Assessment) -> None:
    """At most 2 void lookups, no loops, every include has SPF."""
    govmail.check()


@pytest.mark.requirement(id="SPF-05", judge=spf.spf_all_strict)
def test_spf_all_strict(govmail: Assessment) -> None:
    """The record ends in -all or ~all."""
    govmail.check()


@pytest.mark.requirement(id="SPF-06", judge=spf.spf_no_ptr)
def test_spf_no_ptr(govmail: Assessment) -> None:
    """No ptr mechanism."""
    govmail.check()


@pytest.mark.requirement(id="SPF-07", judge=spf.spf_record_size)
def test_spf_record_size(govmail: Assessment) -> None:
    """The SPF TXT RRset fits in 450 bytes."""
    govmail.check()
