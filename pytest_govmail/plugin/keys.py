"""The plugin's stash keys: what a run, a test and the xdist controller keep on pytest's objects.

They live apart from the hooks so that the reports and the lean protocol can read the stash
without importing the plugin that fills it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_govmail.engine.run import GovmailRun
from pytest_govmail.inputs.catalogue import Catalogue, Requirement
from pytest_govmail.plugin.assessment import Assessment, Case

if TYPE_CHECKING:
    from pytest_govmail.lab.demo import DemoLab

run_key = pytest.StashKey[GovmailRun]()
#: The catalogue the run judges with: the packaged one, with the user's levels applied.
catalogue_key = pytest.StashKey[Catalogue]()
case_key = pytest.StashKey[Case]()
requirement_key = pytest.StashKey[Requirement]()
assessment_key = pytest.StashKey[Assessment]()
lab_key: pytest.StashKey[DemoLab] = pytest.StashKey()
demo_key: pytest.StashKey[dict[str, Any]] = pytest.StashKey()
shared_key: pytest.StashKey[Path] = pytest.StashKey()

__all__ = [
    "assessment_key",
    "case_key",
    "catalogue_key",
    "demo_key",
    "lab_key",
    "requirement_key",
    "run_key",
    "shared_key",
]
