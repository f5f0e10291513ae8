"""The wheel a user installs: built from this checkout, installed into a fresh venv, run.

Everything else in this suite runs the checkout (the editable install, or ``PYTHONPATH``). A user
gets the wheel, which holds only what ``[tool.setuptools]`` in pyproject.toml lists: a data file
or a package left out of it (the suites, which live in the repository's top-level ``suites/``
and ship as ``pytest_govmail.suites``; the catalogue; the report's assets; the lab's zones)
passes every other test and breaks ``pip install pytest-govmail``. So the wheel is built the
way pip builds it (PEP 517, https://peps.python.org/pep-0517/, through setuptools, without a
network: ``--no-build-isolation``), its file list is checked against the checkout, and it is
installed into a new venv (https://docs.python.org/3/library/venv.html) whose own
``pytest_govmail`` then runs the demo from a folder outside the checkout, as the README tells a
user to. The venv sees the running environment's packages after its own: those are the
dependencies (pytest at whichever end of its range this run has), not what is under test.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_plugin import outcomes

from pytest_govmail.lab.expected import EXPECTED

ROOT = Path(__file__).resolve().parents[1]
#: What a source distribution of the checkout holds and the build reads.
SOURCES = ("pyproject.toml", "README.md", "pytest_govmail", "suites")


def _env() -> dict[str, str]:
    """The environment without what would put the checkout or the outer run in the venv."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the checkout, built from a clean copy of its sources.

    A copy, because setuptools builds in the source folder: its build/ folder would keep a
    module deleted since the last build and ship it in the next wheel.
    """
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(folder / "dist"), str(source)],
        capture_output=True, text=True, env=_env(), check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = (folder / "dist").glob("pytest_govmail-*.whl")
    return path


def test_wheel_holds_the_suites_and_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "pytest_govmail"
    wanted = {
        *(f"pytest_govmail/suites/{p.name}" for p in (ROOT / "suites").glob("*.py")),
        *(f"pytest_govmail/{p.relative_to(package)}" for p in package.rglob("*.py")),
        *(f"pytest_govmail/{p.relative_to(package)}" for p in package.rglob("*.toml")),
        *(f"pytest_govmail/{p.relative_to(package)}" for p in package.glob("reports/assets/*")),
        *(f"pytest_govmail/{p.relative_to(package)}" for p in package.glob("lab/zones/*.zone")),
        *(f"pytest_govmail/{p.relative_to(package)}" for p in package.glob("lab/*.json")),
        "pytest_govmail/py.typed",
    }
    assert {
        "pytest_govmail/suites/test_dmarc.py",
        "pytest_govmail/inputs/catalogue.toml",
        "pytest_govmail/reports/assets/report.js",
        "pytest_govmail/lab/zones/exemplary-dept.gov.uk.zone",
        "pytest_govmail/lab/last-month.json",
    } <= wanted
    assert sorted(wanted - names) == []
    # Nothing of the checkout's tests, benchmarks or CI goes to users.
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", ".ci", "suites")]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "govmail = pytest_govmail.plugin" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_demo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_env())
    python = str(venv / "bin" / "python")
    # The dependencies are this run's own (its pytest, whichever end of the range it is), after
    # the venv's own packages: a .pth file adds its site-packages folders, and their .pth files.
    site_packages = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True, text=True, env=_env(), check=True,
    ).stdout.strip()  # fmt: skip
    Path(site_packages, "outer-environment.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages())
    )
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, env=_env(), check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import pytest_govmail.suites as s, pytest_govmail.plugin as p; "
         "print(p.__file__); print(s.__file__)"],
        cwd=elsewhere, capture_output=True, text=True, env=_env(), check=True,
    ).stdout.split()  # fmt: skip
    # The venv's own copy, from the wheel: not the checkout, not an editable install.
    assert [Path(p).relative_to(site_packages) for p in where] == [
        Path("pytest_govmail/plugin/__init__.py"),
        Path("pytest_govmail/suites/__init__.py"),
    ]
    demo = subprocess.run(
        [python, "-m", "pytest", "--govmail-demo", "-p", "no:cacheprovider"],
        cwd=elsewhere, capture_output=True, text=True, env=_env(), check=False,
    )  # fmt: skip
    output = demo.stdout + demo.stderr
    assert demo.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    assert f"rootdir: {elsewhere}" in output
    assert f"pytest-{pytest.__version__}" in output  # the dependencies of this run
    junit = elsewhere / "reports" / "junit.xml"
    assert (elsewhere / "reports" / "govmail.html").stat().st_size > 0
    # Every demo test reported as the checkout's demo reports it (tests/test_plugin.py).
    got = outcomes(junit)
    hosts: dict[str, set[str]] = {}
    for _requirement, domain, host in got:
        if host:
            hosts.setdefault(domain, set()).add(host)
    seen: dict[str, dict[str, str]] = {}
    for (requirement, domain, host), outcome in got.items():
        if outcome != "passed":
            word = {"failure": "fail", "error": "error", "skipped": "skip"}.get(outcome, outcome)
            several = len(hosts.get(domain, ())) > 1
            key = f"{requirement}@{host}" if several and host else requirement
            seen.setdefault(domain, {})[key] = word
    assert seen == {domain: dict(values) for domain, values in EXPECTED.items() if values}
    # And the terminal's counts are JUnit's.
    tally = {word: 0 for word in ("failure", "passed", "skipped", "xfail", "error")}
    for outcome in got.values():
        tally[outcome] += 1
    summary = output.strip().splitlines()[-1]
    for word, count in tally.items():
        shown = {"failure": "failed", "xfail": "xfailed", "error": "errors"}.get(word, word)
        if count:
            assert f"{count} {shown}" in summary, summary
