"""Shared fixtures for the project's own tests."""

from __future__ import annotations

# Imported before any in-process pytester run on purpose: pytester restores sys.modules after
# each inline run, so a module first imported inside one run is imported afresh in the next.
# For asyncio that splits its Python half from its C half (the C Task keeps raising the first
# import's CancelledError, which the second import's wait_for() cannot catch), and a DNS
# timeout then surfaces as a CancelledError. Real runs import these once and never see it.
import asyncio  # noqa: F401

import dns.asyncresolver  # noqa: F401
import pytest


@pytest.fixture(autouse=True)
def _isolated_inner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs must not inherit the outer run's options."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
