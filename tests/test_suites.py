"""The packaged suites against the catalogue, and the README's generated catalogue."""

from __future__ import annotations

import inspect
from pathlib import Path

from pytest_govmail.inputs.catalogue import (
    load_catalogue,
    markdown_table,
    render_readme,
    suite_requirements,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_suite_test_names_a_known_requirement_once() -> None:
    catalogue = load_catalogue()
    found = suite_requirements()
    assert found, "the suites name no requirement"
    unknown = sorted(set(found) - set(catalogue.ids()))
    assert not unknown, f"suite tests name unknown IDs: {unknown}"
    twice = {rid: tests for rid, tests in found.items() if len(tests) > 1}
    assert not twice, f"requirements with more than one test: {twice}"


def test_every_suite_test_calls_its_judge_and_nothing_else() -> None:
    """Suites hold no logic: the body is a docstring and ``govmail.check()``."""
    import importlib

    for tests in suite_requirements().values():
        (location,) = tests
        filename, function = location.split("::")
        module = importlib.import_module(f"pytest_govmail.suites.{filename.removesuffix('.py')}")
        fn = getattr(module, function)
        marker = next(m for m in fn.pytestmark if m.name == "requirement")
        assert callable(marker.kwargs["judge"])
        body = [
            line.strip()
            for line in inspect.getsource(fn).split('"""')[-1].splitlines()
            if line.strip()
        ]
        assert body == ["govmail.check()"], location
        assert fn.__doc__, f"{location} needs a one-line docstring (the report reuses it)"


def test_readme_catalogue_is_generated_from_the_data() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    table = markdown_table(load_catalogue(), set(suite_requirements()))
    assert render_readme(readme, table) == readme, (
        "README.md's catalogue is stale: run "
        "python -m pytest_govmail.inputs.catalogue --readme README.md"
    )
    for requirement in load_catalogue():
        assert f"| {requirement.id} |" in readme
