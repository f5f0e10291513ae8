"""Shared fixtures for the project's own tests (settings are in the top-level conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_inner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs must not inherit the outer run's options."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
