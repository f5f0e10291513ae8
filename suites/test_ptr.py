"""Reverse DNS of the mail hosts (REQUIREMENTS.md: PTR-01)."""

import pytest

from pytest_govmail.judge import ptr
from pytest_govmail.plugin.assessment import Assessment


@pytest.mark.requirement(id="PTR-01", judge=ptr.ptr_confirms_forward)
def test_ptr_confirms_forward(govmail: Assessment) -> None:
    """Each MX address has a PTR whose name resolves back to that address."""
    govmail.check()
