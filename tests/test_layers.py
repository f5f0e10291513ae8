"""The purity boundary: judges, record parsers and DNS planners load no network code.

``pytest_govmail.judge``, ``.records`` and ``.plan`` are pure functions of the evidence: replay
re-judges a saved evidence file offline, and the judges are tested with plain data. That holds
only while importing them loads no network library (sslyze, nassl, socket, ssl, HTTP clients,
dnspython's resolver and query modules, dkimpy, certifi) and none of the layers that do I/O or
drive pytest (collect, plugin, engine, reports, sweep, lab). Two checks keep it:

- At run time, in a fresh interpreter: every module of the three packages (found with
  :mod:`pkgutil`, so a new module is covered without editing this file) is imported alone, in a
  process forked from an interpreter that has imported nothing else, and whatever forbidden
  module that import loaded is reported with the chain of module-level imports that loaded it.
  The interpreter runs with ``-S``: site-packages ``.pth`` files run code at start-up (in this
  environment one imports certifi to add a proxy's CA), and what they load is no property of the
  project. Site-packages stay on ``sys.path``, so third-party imports behave as usual.
- In the source: no module of the three imports an upper layer, even inside a function (which
  the run-time check cannot see), judges import no planner, and record parsers neither.

The copies of dkimpy's tag-list and public-key parsers that ``records/dkim.py`` holds (it may not
import ``dkim``, whose ``__init__`` loads dnspython's resolver) are checked against dkimpy itself.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dkim.crypto
import dkim.util
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_govmail.records.dkim import (
    DuplicateTagError,
    TagListError,
    parse_tag_list,
    rsa_public_numbers,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_govmail"
PURE_PACKAGES = ("judge", "records", "plan", "feedback")

#: Network libraries and their helpers: importing any of them (or a submodule) is a failure.
NETWORK = (
    "sslyze",
    "nassl",
    "socket",
    "ssl",
    "http.client",
    "urllib.request",
    "h11",
    "certifi",
    "dns.resolver",
    "dns.query",
    "dns.asyncquery",
    "dkim",
)
#: The layers above: they do I/O (collect, lab, sweep) or drive pytest and write reports.
UPPER_LAYERS = tuple(
    f"pytest_govmail.{name}" for name in ("collect", "plugin", "engine", "reports", "sweep", "lab")
)

# Run with ``python -S -c``; argv[1] is the JSON list of forbidden module names. Prints one JSON
# object per module: {"module", "loaded": {forbidden name: import chain}, "error"}.
CHILD = r"""
import importlib, importlib.util, json, os, pkgutil, sys

FORBIDDEN = json.loads(sys.argv[1])
PACKAGES = json.loads(sys.argv[2])


def forbidden(name):
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


class Spy:
    # A finder that finds nothing: it notes, on the first import of a forbidden module, which
    # modules were executing their top level at that moment (the import chain), outermost first.
    def __init__(self):
        self.chains = {}

    def find_spec(self, name, path=None, target=None):
        if forbidden(name) and name not in self.chains:
            chain, frame = [], sys._getframe(1)
            while frame is not None:
                if frame.f_code.co_name == "<module>":
                    chain.append(frame.f_globals.get("__name__", "?"))
                frame = frame.f_back
            self.chains[name] = [n for n in reversed(chain) if n != "__main__"]
        return None


root = importlib.util.find_spec("pytest_govmail").submodule_search_locations
modules = []
for package in PACKAGES:
    modules.append(f"pytest_govmail.{package}")
    paths = [os.path.join(p, package) for p in root]
    modules.extend(m.name for m in pkgutil.walk_packages(paths, f"pytest_govmail.{package}."))
print(json.dumps({"interpreter": sorted(n for n in sys.modules if forbidden(n))}), flush=True)
for module in modules:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        spy = Spy()
        sys.meta_path.insert(0, spy)
        report = {"module": module, "loaded": {}, "error": None}
        try:
            importlib.import_module(module)
        except BaseException as exc:
            report["error"] = f"{type(exc).__name__}: {exc}"
        for name in sorted(n for n in sys.modules if forbidden(n)):
            report["loaded"][name] = spy.chains.get(name, [])
        os.write(write, json.dumps(report).encode() + b"\n")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    sys.stdout.write(data.decode() or json.dumps({"module": module, "error": "no report"}) + "\n")
    sys.stdout.flush()
"""


def discover() -> list[str]:
    """The modules of the pure packages, from the files on disk, each package first."""
    found: list[str] = []
    for package in PURE_PACKAGES:
        found.append(f"pytest_govmail.{package}")
        found.extend(
            m.name
            for m in pkgutil.walk_packages([str(PACKAGE / package)], f"pytest_govmail.{package}.")
        )
    return found


MODULES = discover()


@pytest.fixture(scope="module")
def closures() -> dict[str, Any]:
    """What importing each pure module alone loads, from one fresh ``python -S`` interpreter."""
    # The parent's own path (less the working folder), not site.getsitepackages(): in a venv
    # that sees another environment through a .pth file (CI's lowest-pytest run), -S would
    # skip that file and lose the packages it adds.
    paths = [str(ROOT), *(p for p in sys.path if p and Path(p).is_dir())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("PYTHONSTARTUP", None)
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            CHILD,
            json.dumps([*NETWORK, *UPPER_LAYERS]),
            json.dumps(PURE_PACKAGES),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    reports = {r["module"]: r for r in lines[1:]}
    return {"interpreter": lines[0]["interpreter"], "reports": reports}


def test_every_module_is_imported_alone(closures: dict[str, Any]) -> None:
    """The child found (with pkgutil) exactly the module files on disk, and imported each."""
    assert "pytest_govmail.judge.dkim" in MODULES and "pytest_govmail.plan.base" in MODULES
    assert sorted(closures["reports"]) == sorted(MODULES)
    files = {
        f"pytest_govmail.{p.relative_to(PACKAGE).with_suffix('').as_posix().replace('/', '.')}"
        for package in PURE_PACKAGES
        for p in (PACKAGE / package).rglob("*.py")
    }
    assert {m.removesuffix(".__init__") for m in files} == set(MODULES)
    errors = {m: r["error"] for m, r in closures["reports"].items() if r["error"]}
    assert not errors, f"modules that do not import alone: {errors}"
    assert closures["interpreter"] == [], (
        f"loaded by the bare interpreter before any import: {closures['interpreter']}"
    )


@pytest.mark.parametrize("module", MODULES)
def test_importing_loads_no_network_library_or_upper_layer(
    closures: dict[str, Any], module: str
) -> None:
    loaded: dict[str, list[str]] = closures["reports"][module]["loaded"]
    shown = [f"{name} via {' -> '.join(chain) or '?'} -> {name}" for name, chain in loaded.items()]
    if loaded:
        pytest.fail(f"importing {module} loads:\n  " + "\n  ".join(shown), pytrace=False)


#: What each pure package may not import from the project, even inside a function.
NOT_IMPORTED = {
    "judge": ("pytest_govmail.plan", *UPPER_LAYERS),
    "records": ("pytest_govmail.judge", "pytest_govmail.plan", *UPPER_LAYERS),
    "plan": ("pytest_govmail.judge", *UPPER_LAYERS),
    # The report parsers read bytes into the model: no judge, planner, input or upper layer.
    "feedback": (
        "pytest_govmail.judge",
        "pytest_govmail.plan",
        "pytest_govmail.inputs",
        *UPPER_LAYERS,
    ),
}


def _imported_names(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """(line, module name) of every import in the tree, relative ones resolved; for
    ``from a import b`` both ``a`` and ``a.b`` (b may be a module)."""
    package = module.rpartition(".")[0]
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.append((node.lineno, base))
            names.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return names


def _source(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@pytest.mark.parametrize("module", MODULES)
def test_no_import_of_an_upper_layer_in_the_source(module: str) -> None:
    package = module.split(".")[1]
    path = _source(module)
    # An __init__ resolves relative imports against itself; a module against its package.
    name = f"{module}.__init__" if path.name == "__init__.py" else module
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = [
        (line, imported)
        for line, imported in _imported_names(tree, name)
        if any(imported == b or imported.startswith(b + ".") for b in NOT_IMPORTED[package])
    ]
    shown = [f"{path.relative_to(ROOT)}:{line} imports {imported}" for line, imported in found]
    if found:
        pytest.fail("\n".join(shown), pytrace=False)


def test_the_source_check_sees_lazy_and_relative_imports() -> None:
    """The parser behind the source check finds imports inside functions and relative ones."""
    tree = ast.parse(
        "def f():\n    from pytest_govmail.engine import run\n"
        "from ..plan import base\nfrom . import common\n"
    )
    names = {n for _line, n in _imported_names(tree, "pytest_govmail.judge.mx")}
    assert {"pytest_govmail.engine.run", "pytest_govmail.plan.base"} <= names
    assert "pytest_govmail.judge.common" in names


# --- records/dkim.py's copies of dkimpy's parsers give dkimpy's answers ------------------------


def _dkimpy_tags(data: bytes) -> tuple[str, object]:
    try:
        return "ok", dkim.util.parse_tag_value(data)
    except dkim.util.DuplicateTag as exc:
        return "duplicate", exc.args
    except dkim.util.InvalidTagValueList as exc:
        return "invalid", exc.args


def _our_tags(data: bytes) -> tuple[str, object]:
    try:
        return "ok", parse_tag_list(data)
    except DuplicateTagError as exc:
        return "duplicate", exc.args
    except TagListError as exc:
        return "invalid", exc.args


_TAG_BYTES = st.lists(
    st.sampled_from([b"v", b"k", b"p", b"=", b";", b" ", b"\t", b"a1", b"_", b"1", b"DKIM1", b"-"]),
    max_size=25,
).map(b"".join)


@settings(max_examples=400)
@given(st.one_of(_TAG_BYTES, st.binary(max_size=40)))
def test_tag_list_copy_agrees_with_dkimpy(data: bytes) -> None:
    assert _our_tags(data) == _dkimpy_tags(data)


def _dkimpy_numbers(data: bytes) -> tuple[int, int] | None:
    try:
        fields = dkim.crypto.parse_public_key(data)
    except Exception:  # UnparsableKeyError, or AssertionError for a NULL with content
        return None
    return int(fields["modulus"]), int(fields["publicExponent"])


def _our_numbers(data: bytes) -> tuple[int, int] | None:
    try:
        return rsa_public_numbers(data)
    except ValueError:
        return None


_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
_SPKI = _KEY.public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
_PKCS1 = _KEY.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


@st.composite
def _mangled_keys(draw: st.DrawFn) -> bytes:
    """A real key in either form, cut, extended, or with a few bytes changed."""
    data = bytearray(draw(st.sampled_from([_SPKI, _PKCS1])))
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[: len(data) - cut if draw(st.booleans()) else len(data)]) + draw(
        st.binary(max_size=4)
    )


@settings(max_examples=400)
@given(st.one_of(_mangled_keys(), st.binary(max_size=64)))
def test_public_key_copy_agrees_with_dkimpy(data: bytes) -> None:
    assert _our_numbers(data) == _dkimpy_numbers(data)


def test_public_key_copy_reads_both_forms_and_refuses_a_null_with_content() -> None:
    numbers = _KEY.public_numbers()
    assert rsa_public_numbers(_SPKI) == rsa_public_numbers(_PKCS1) == (numbers.n, numbers.e)
    # The AlgorithmIdentifier's NULL (05 00) given one byte of content: dkimpy asserts.
    bad = bytes.fromhex("3011300d06092a864886f70d01010105010003020000")
    assert _dkimpy_numbers(bad) is None
    with pytest.raises(ValueError, match="NULL"):
        rsa_public_numbers(bad)
