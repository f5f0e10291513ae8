"""``govmail-sweep``: collect once, judge in batches of pytest processes, merge the reports."""

from pytest_govmail.sweep.cli import main

__all__ = ["main"]
