"""How long headless Chromium takes to open a govmail HTML report (issue 6's second target).

    python bench/report_load.py reports/govmail.html          # a report you have
    python bench/report_load.py --demo                         # the demo's report, made here
    python bench/report_load.py --synthetic 10000 --runs 3     # N made-up domains, no pytest

Each run opens the report in a fresh page of one headless Chromium (Debian's package, launched
exactly as tests/test_html_browser.py launches it) and reads the browser's own clocks, from the
start of navigation:

- matrix shown: the first frame painted after the matrix table was parsed (an init script
  watches for the element that follows it, then waits two animation frames);
- DOMContentLoaded and load: the whole file parsed (the JSON data block included) and loaded;
- first details: a click on the first domain until its tests are rendered and painted, which
  includes parsing the JSON data block on first use;
- filter: ticking "only domains failing or in error" until the matrix is repainted;
- the page's JS heap once the data is parsed.

It prints the file size and the median of each figure over ``--runs``. Another busy process on
the machine shows up in these figures: run it on a quiet machine, and compare medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_html_browser import CHROMIUM, CHROMIUM_ARGS

#: Runs in every new document before the page's own script (outside its CSP, as a debugger).
WATCH = """
window.__gm = {};
new MutationObserver(function (changes, observer) {
  if (document.getElementById("gm-ids-holder")) {
    observer.disconnect();
    window.__gm.parsed = performance.now();
    requestAnimationFrame(function () {
      requestAnimationFrame(function () { window.__gm.shown = performance.now(); });
    });
  }
}).observe(document, {childList: true, subtree: true});
"""

MEASURE = """
async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  while (window.__gm.shown === undefined) await frame();
  const nav = performance.getEntriesByType("navigation")[0];
  const out = {
    shown: window.__gm.shown,
    dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
  };
  let t0 = performance.now();
  document.querySelector("#gm-matrix [data-d] > :first-child").click();
  await frame();
  out.details = performance.now() - t0;
  t0 = performance.now();
  const box = document.getElementById("gm-bad");
  box.checked = true;
  box.dispatchEvent(new Event("change"));
  await frame();
  out.filter = performance.now() - t0;
  out.heap = performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0;
  return out;
}
"""

LABELS = {
    "shown": "matrix shown",
    "dcl": "DOMContentLoaded",
    "load": "load event",
    "details": "first details",
    "filter": "'only failing' filter",
}


def measure(report: Path, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                context.add_init_script(WATCH)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(report.as_uri(), wait_until="load", timeout=120_000)
                figures: dict[str, float] = page.evaluate(MEASURE)
                if errors:
                    raise SystemExit(f"the report's script failed: {errors}")
                results.append(figures)
                context.close()
        finally:
            browser.close()
    return results


def demo_report(folder: Path) -> Path:
    """Run the demo (all its departments) in ``folder`` and return its report."""
    subprocess.run(
        [sys.executable, "-m", "pytest", "--govmail-demo", "-p", "no:cacheprovider", "-q"],
        cwd=folder,
        capture_output=True,
        check=False,
        timeout=600,
    )
    return folder / "reports" / "govmail.html"


def synthetic_report(domains: int, folder: Path) -> Path:
    """A report of ``domains`` made-up departments, written without running any test.

    Shapes like bench/sweep.py's: 20 shared MX hosts (their TLS evidence shared), a third of the
    departments failing DMARC and SPF checks, a few in error; every requirement of the catalogue
    assessed (host-scoped ones once per MX host). Strings per domain are unique, as in a sweep.
    """
    from pytest_govmail.engine.run import GovmailRun
    from pytest_govmail.engine.settings import Settings
    from pytest_govmail.inputs.catalogue import load_catalogue
    from pytest_govmail.model.target import Target
    from pytest_govmail.reports.page import render_page, write_chunks
    from pytest_govmail.reports.table import ReportTable

    catalogue = load_catalogue()
    table = ReportTable()
    tls = {
        f"mx{h % 5}.provider{h % 4}.example": [
            f"TLS scan of mx{h % 5}.provider{h % 4}.example at 127.0.{10 + h % 4}.{10 + h % 5}:25: "
            f"{n}: line of TLS evidence, cipher suites and certificate facts"
            for n in range(30)
        ]
        for h in range(20)
    }
    targets = []
    for i in range(domains):
        domain = f"department-{i:05d}.gov.uk"
        targets.append(Target(domain))
        host = f"mx{i % 5}.provider{i % 4}.example"
        failing = i % 3 == 0
        for req in catalogue:
            status = "pass"
            if failing and req.area in ("dmarc", "spf"):
                status = "fail"
            elif i % 10 == 9 and req.area == "dkim":
                status = "inconclusive"
            elif req.area in ("park", "dane", "attest"):
                status = "not_applicable"
            data: dict[str, Any] = {
                "requirement": req.id,
                "title": req.title,
                "level": req.level.value,
                "area": req.area,
                "domain": domain,
                "host": host if req.per_host else None,
                "status": status,
                "summary": f"{req.id} for {domain}: {status}",
                "evidence": [
                    f'{domain} TXT, TTL 3600: "v=spf1 include:spf.provider{i % 4}.example -all"',
                    f'_dmarc.{domain} TXT, TTL 3600: "v=DMARC1; p=reject; rua=mailto:x@{domain}"',
                ],
                "sources": list(req.sources),
            }
            if req.per_host and status != "pass":
                data["evidence"] += tls[host]
            if status == "fail":
                data["findings"] = [
                    {
                        "code": f"{req.area}.example",
                        "observed": f"p=none at _dmarc.{domain}",
                        "expected": "p=quarantine or p=reject",
                        "remediation": req.remediation,
                    }
                ]
            outcome = {"pass": "passed", "fail": "failed", "inconclusive": "error"}
            table.add(data, outcome.get(status, "skipped"))
    run = GovmailRun(targets, Settings(nameservers=("192.0.2.53",)))
    path = folder / "reports" / "govmail.html"
    write_chunks(path, render_page(table, run, catalogue, {r.id for r in catalogue}, []))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, help="an existing report to open")
    parser.add_argument("--demo", action="store_true", help="make the demo's report and open it")
    parser.add_argument("--synthetic", type=int, metavar="N", help="make a report of N domains")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if args.report is not None:
            report = args.report
        elif args.synthetic:
            report = synthetic_report(args.synthetic, Path(tmp))
        elif args.demo:
            report = demo_report(Path(tmp))
        else:
            parser.error("name a report, or pass --demo or --synthetic N")
        made = time.perf_counter() - start
        if not report.exists():
            raise SystemExit(f"no report at {report}")
        size = report.stat().st_size
        results = measure(report, args.runs)
    source = f"{report}" if args.report else f"made in {made:.1f} s"
    print(f"report: {size / 2**20:.2f} MiB ({size:,} bytes), {source}")
    print(f"headless Chromium, median of {len(results)} run(s) (min-max), from navigation start:")
    for key, label in LABELS.items():
        values = [r[key] for r in results]
        print(
            f"  {label:<22} {statistics.median(values):8.0f} ms"
            f"   ({min(values):.0f}-{max(values):.0f})"
        )
    heap = statistics.median(r["heap"] for r in results)
    if heap:
        print(f"  JS heap with the data parsed: {heap:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
