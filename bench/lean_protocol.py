"""What the lean run protocol is worth: one evidence file replayed by each protocol in turn.

    python bench/sweep.py --no-venv --domains 1000 --runs 1 -- \\
        --govmail-evidence-out=/tmp/evidence-1000.json
    python bench/lean_protocol.py /tmp/evidence-1000.json --runs 5

A replay (``--govmail-replay``) judges evidence already collected, so no DNS, TLS or HTTPS is
timed: only what differs between the two protocols, running and reporting each test. Each run is
a fresh ``pytest`` process over the packaged suites, with ``-o govmail_lean_protocol=true``
(the plugin runs its suite tests itself, see ``pytest_govmail.plugin.lean``) or ``=false``
(pytest's own ``runtestprotocol``); the runs alternate, so that a change in the machine's load
falls on both alike. Plugin autoloading is off and the plugins a user's install has are named
(govmail, pytest-html and its pytest-metadata), so that the development environment's test
tooling (hypothesis, pytest-benchmark, anyio, xdist), whose hooks a user does not have, is not
timed. The script prints each run, then per protocol the median wall time, the median of
pytest's own session time (its summary line) and of the time spent running and reporting the
tests (session less writing the HTML report), and the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = [
    "-p",
    "pytest_govmail.plugin",
    "-p",
    "pytest_html.plugin",
    "-p",
    "pytest_metadata.plugin",
]
PROTOCOLS = {"lean": "true", "pytest": "false"}


def run_once(evidence: Path, folder: Path, lean: str, extra: list[str]) -> dict[str, float]:
    """One replay in a fresh process: wall, session and test-running seconds, and test count."""
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    args = [
        sys.executable, "-m", "pytest", *PLUGINS,
        f"--govmail-replay={evidence}", "--govmail-report-dir=reports",
        "-o", f"govmail_lean_protocol={lean}", "-p", "no:cacheprovider", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    text = done.stdout + done.stderr
    summary = [line for line in text.splitlines() if re.search(r" in [\d.]+s", line)]
    written = re.search(r"report written to .* in ([\d.]+) s", text)
    if not summary or done.returncode not in (0, 1):
        raise SystemExit(f"pytest did not complete ({done.returncode}):\n{text[-3000:]}")
    protocol_note = "suite tests run by pytest's own protocol" in text
    if protocol_note != (lean == "false"):
        raise SystemExit(f"the run with govmail_lean_protocol={lean} used the other protocol")
    session = float(re.findall(r" in ([\d.]+)s", summary[-1])[-1])
    tests = sum(int(n) for n in re.findall(r"(\d+) [a-z]+", summary[-1].split(" in ")[0]))
    report = float(written.group(1)) if written else 0.0
    return {
        "wall": wall,
        "session": session,
        "tests_run": session - report,
        "tests": float(tests),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evidence", type=Path, help="an evidence file (--govmail-evidence-out)")
    parser.add_argument("--runs", type=int, default=5, help="runs per protocol (interleaved)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    evidence = args.evidence.resolve()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in PROTOCOLS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run_once(evidence, folder, "true", args.pytest_args)  # untimed: compile, warm caches
        for run in range(args.runs):
            # Alternate which protocol goes first, so neither always follows the other.
            order = list(PROTOCOLS.items()) if run % 2 == 0 else list(PROTOCOLS.items())[::-1]
            for name, value in order:
                figures = run_once(evidence, folder, value, args.pytest_args)
                results[name].append(figures)
                shown = ", ".join(f"{k} {v:.2f}" for k, v in figures.items() if k != "tests")
                print(f"run {run + 1} {name:6}: {shown}, {figures['tests']:.0f} tests", flush=True)
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    lean, plain = medians["lean"], medians["pytest"]
    print(f"\nmedians of {args.runs} runs each, {lean['tests']:.0f} tests, {evidence.name}:")
    for key in ("wall", "session", "tests_run"):
        print(
            f"  {key:9}: lean {lean[key]:7.2f} s, pytest's {plain[key]:7.2f} s, "
            f"pytest's / lean = {plain[key] / lean[key]:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
