"""The sweep's command line: its own options, and which of pytest's go to which step.

Every argument the sweep does not know is pytest's. The plugin's options that steer collection
(which domains, which resolver, which ports...) go to the collecting step only: a batch replays
evidence and must not be narrowed to other domains or told to probe. Which options those are is
declared once, where each option is (:func:`pytest_govmail.plugin.options.option`); the sweep
reads it from there (:func:`plugin_options`) instead of keeping a list of its own.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pytest

#: Options the sweep cannot honour in a batch, with the reason.
REFUSED = {
    "--html": "pytest-html's page holds one process's tests; the sweep writes govmail.html",
    "-n": "the sweep runs its own processes: use --jobs",
    "--numprocesses": "the sweep runs its own processes: use --jobs",
    "--govmail-evidence-only": "the sweep's first step already collects evidence only",
    "--govmail-report-data": "the sweep sets each batch's report data itself",
}


@dataclass(frozen=True)
class PluginOptions:
    """The plugin's ``--govmail-*`` flags as its ``pytest_addoption`` declares them."""

    #: Every flag declared.
    declared: frozenset[str]
    #: The flags that steer collection (the collecting step's only)...
    collecting: frozenset[str]
    #: ...and of those, the ones that take no value.
    collecting_flags: frozenset[str]


class _Declarations:
    """Stands in for pytest's parser and its option group, noting each flag declared.

    The plugin's ``pytest_addoption`` calls ``getgroup(...).addoption(...)`` and ``addini(...)``
    (pytest's ``Parser`` and ``OptionGroup``); this offers just those, so the sweep learns the
    options without starting pytest or reaching into its private parser. Should the plugin call
    anything else, the sweep fails at once with an ``AttributeError`` naming it.
    """

    def __init__(self) -> None:
        self.flags: list[str] = []

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> Any:
        return self

    def addoption(self, *names: str, **attributes: Any) -> None:
        self.flags.extend(names)

    def addini(self, name: str, help: str, *args: Any, **kwargs: Any) -> None:
        pass


@cache
def plugin_options() -> PluginOptions:
    """Declare the plugin's options to a :class:`_Declarations` and read the classification.

    :func:`~pytest_govmail.plugin.options.option` fills ``COLLECTING`` and ``COLLECTING_FLAGS``
    as it declares: adding a flag twice (in a process where pytest already declared them) is
    harmless.
    """
    import pytest_govmail.plugin.options as options

    declarations = _Declarations()
    options.pytest_addoption(cast("pytest.Parser", declarations))
    return PluginOptions(
        declared=frozenset(declarations.flags),
        collecting=frozenset(options.COLLECTING),
        collecting_flags=frozenset(options.COLLECTING_FLAGS),
    )


def option_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def _dropping(args: Sequence[str], dropped: Callable[[str], bool | None]) -> list[str]:
    """``args`` less those ``dropped`` names: it gives None to keep an argument, else whether
    the dropped option's value is the next argument (which goes too)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        verdict = dropped(arg)
        if verdict is None:
            kept.append(arg)
        else:
            skip = verdict
    return kept


def judge_args(args: Sequence[str]) -> list[str]:
    """``args`` without the collecting options (and their values): what each batch gets."""
    known = plugin_options()

    def collecting(arg: str) -> bool | None:
        name = option_name(arg)
        if name in known.collecting_flags:
            return False
        return ("=" not in arg) if name in known.collecting else None

    return _dropping(args, collecting)


def refused(args: Sequence[str]) -> str | None:
    """Why the sweep cannot take one of ``args``, or ``None``."""
    for arg in args:
        name = option_name(arg)
        if name in REFUSED or (
            name.startswith("-n") and not name.startswith("--") and name[2:].isdigit()
        ):
            return f"{arg}: {REFUSED.get(name, REFUSED['-n'])}"
    return None


def sweep_command(args: Sequence[str]) -> str:
    """The ``govmail-sweep`` command doing the work of ``pytest ARGS``: the same arguments, less
    those a sweep runs its own way (pytest-xdist's, pytest-html's page, the memory override)."""

    def own_way(arg: str) -> bool | None:
        name = option_name(arg)
        if name != "--govmail-ignore-memory-estimate" and refused([arg]) is None:
            return None
        # "-n 4", "--numprocesses 4" and "--html out.html" take the next argument.
        return "=" not in arg and name in {"-n", "--numprocesses", "--html"}

    kept = _dropping(args, own_way)
    return shlex.join(["govmail-sweep", *kept])


def fail_on(args: Sequence[str]) -> str:
    """The ``--govmail-fail-on`` among pytest's arguments (the last one given), else "any"."""
    found = "any"
    for index, arg in enumerate(args):
        if arg == "--govmail-fail-on" and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith("--govmail-fail-on="):
            found = arg.split("=", 1)[1]
    return found


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="govmail-sweep",
        description="Assess many domains in bounded memory: collect once, judge in batches of "
        "pytest processes, merge their reports. Other arguments are pytest's.",
        allow_abbrev=False,
    )
    p.add_argument("--batch", type=int, default=500, help="domains per batch (default 500)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="batches judged at once (default: one per core)",
    )
    p.add_argument("--work", help="keep the batches' files in this folder (default: temporary)")
    p.add_argument(
        "--govmail-report-dir",
        dest="report_dir",
        default="reports",
        help="where govmail.html and junit.xml go (default: reports)",
    )
    p.add_argument(
        "--govmail-no-reports",
        dest="no_reports",
        action="store_true",
        help="write neither the HTML report nor JUnit",
    )
    p.add_argument("--junitxml", "--junit-xml", dest="junitxml", help="JUnit XML here instead")
    p.add_argument(
        "--govmail-evidence-out",
        dest="evidence_out",
        help="keep the sweep's evidence here (replayable with pytest --govmail-replay)",
    )
    p.add_argument(
        "--govmail-replay",
        dest="replay",
        action="append",
        default=[],
        metavar="FILE",
        help="judge saved evidence instead of collecting (repeatable: CI shards' files merge)",
    )
    p.add_argument(
        "--govmail-baseline",
        dest="baseline",
        metavar="FILE",
        help="an earlier run's evidence: each batch is compared with its own domains' part of it "
        "(cut once, as the evidence is), and the reports lead with the changes",
    )
    for kind, dest in (("DMARC aggregate", "dmarc_reports"), ("TLS-RPT", "tlsrpt_reports")):
        p.add_argument(
            f"--govmail-{dest.replace('_', '-')}",
            dest=dest,
            action="append",
            default=[],
            metavar="PATH",
            help=f"{kind} reports (file or folder, repeatable): read once, by the collecting "
            "step (or, replaying, when the evidence is cut); each batch gets its domains' part",
        )
    p.add_argument(
        "--govmail-report-window",
        dest="report_window",
        metavar="DAYS",
        help="ignore reports whose period ended more than DAYS days before the run (default 30)",
    )
    p.add_argument(
        "-x",
        "--exitfirst",
        action="store_true",
        help="start no further batch after one with a failure (also passed to pytest)",
    )
    return p


def parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """The sweep's options (``html`` and ``junitxml`` settled) and pytest's arguments.

    Exits with argparse's usage error (2) on a contradiction: a replay that is also told what
    to collect, or an option no batch can honour.
    """
    options, pytest_args = parser().parse_known_args(argv)
    if options.batch < 1 or options.jobs < 1:
        parser().error("--batch and --jobs must be at least 1")
    problem = refused(pytest_args)
    if options.replay:
        collecting = [a for a in pytest_args if judge_args([a]) == [] and a.startswith("-")]
        if collecting:
            problem = (
                f"{collecting[0]}: the sweep replays --govmail-replay files; it collects nothing"
            )
        elif options.evidence_out:
            problem = "--govmail-evidence-out: a replay's evidence is the files it replays"
    if fail_on(pytest_args) == "new" and not options.baseline:
        problem = (
            "--govmail-fail-on new needs --govmail-baseline FILE: without an earlier run's "
            "evidence no test can be said to have got worse"
        )
    if options.report_window is not None:
        # As pytest's option reads it (plugin/options.py), said before any collecting.
        window = options.report_window
        options.report_window = int(window) if window.strip().isdigit() else None
        if options.report_window is None or not 1 <= options.report_window <= 3650:
            problem = f"--govmail-report-window: {window} is not 1 to 3650 days"
    if options.baseline and not Path(options.baseline).is_file():
        # Read in full when the batches are cut; said here, before any collecting.
        problem = f"--govmail-baseline: {options.baseline}: not a regular file"
    if problem:
        parser().error(problem)
    if options.exitfirst:
        pytest_args.append("-x")
    folder = Path(options.report_dir)
    options.html = None if options.no_reports else folder / "govmail.html"
    if not options.no_reports and not options.junitxml:
        options.junitxml = str(folder / "junit.xml")
    return options, pytest_args


def report_args(options: argparse.Namespace) -> list[str]:
    """The report options as pytest takes them: for the collecting step, which reads the files
    once and keeps what they say in the evidence (each batch is given its domains' part)."""
    args = [f"--govmail-dmarc-reports={p}" for p in options.dmarc_reports]
    args += [f"--govmail-tlsrpt-reports={p}" for p in options.tlsrpt_reports]
    if options.report_window is not None:
        args.append(f"--govmail-report-window={options.report_window}")
    return args
