"""pytest-govmail: assess email domains against the UK government's secure-email policy."""

from __future__ import annotations

__version__ = "0.1.0"
