"""The demo's "last month": a baseline evidence file in which the departments were not as today.

``python -m pytest --govmail-demo --govmail-baseline pytest_govmail/lab/last-month.json`` shows
what ``--govmail-baseline`` does: new failures, a newly inconclusive test, fixes, and the records
that changed. The file is the lab's own evidence (collected with ``--govmail-evidence-only``)
with the DNS answers of :data:`LAST_MONTH` put back as they were "last month" (or added, for
questions only last month's records led to):

- monitoring-dept.gov.uk enforced DMARC (``p=reject``): today's ``p=none`` at 50 % is a
  regression;
- bare-dept.gov.uk published SPF: today it has none;
- broken-dns-dept.gov.uk's ``_dmarc`` answered: today it answers SERVFAIL (newly inconclusive);
- exemplary-dept.gov.uk was only monitoring (``p=none``): today's ``p=reject`` is a fix.

Last month's records send aggregate reports to each department's own mailbox, not to NCSC Mail
Check's retired DMARC service (DMARC-09): so that DMARC-09 compares as unchanged and the story
is the policies', not the reporting addresses'.

Everything else is as the lab serves it, so those tests compare as unchanged (its DKIM keys and
TLSA records are made afresh at each lab start: they show as records that changed under an
unchanged outcome, as a key rotation would). The file is shipped rather than made at lab start:
collecting the lab twice would double the demo's time. Rebuild it with
``python -m pytest_govmail.lab.last_month`` when the lab's zones change; tests/test_baseline.py
checks that the shipped file still tells this story.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dns import DnsResult, DnsSnapshot

#: Where the file is shipped, beside this module.
LAST_MONTH_FILE = Path(__file__).with_name("last-month.json")

#: (name, type) -> the records it had last month.
LAST_MONTH: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("_dmarc.monitoring-dept.gov.uk", "TXT"): (
        '"v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@monitoring-dept.gov.uk"',
    ),
    ("bare-dept.gov.uk", "TXT"): ('"MS=ms12345678"', '"v=spf1 mx -all"'),
    ("_dmarc.broken-dns-dept.gov.uk", "TXT"): (
        '"v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@broken-dns-dept.gov.uk"',
    ),
    ("_dmarc.exemplary-dept.gov.uk", "TXT"): (
        '"v=DMARC1; p=none; rua=mailto:dmarc@exemplary-dept.gov.uk"',
    ),
}


def last_month(today: evidence_file.Evidence) -> evidence_file.Evidence:
    """``today``'s evidence with the answers of :data:`LAST_MONTH` as they were, and the input
    files named relative to the repository (not the machine that made the file)."""
    answers = {(r.name, r.rdtype): r for r in today.dns}
    resolver = today.settings.get("resolver", "")
    for (name, rdtype), records in LAST_MONTH.items():
        was = answers.get((name, rdtype))
        answers[name, rdtype] = DnsResult(
            name=name,
            rdtype=rdtype,
            rcode="NOERROR",
            records=records,
            ttl=3600,
            resolver=was.resolver if was is not None else resolver,
            elapsed_ms=was.elapsed_ms if was is not None else 1.0,
            at=was.at if was is not None else today.started_at,
        )
    inputs = {
        kind: (
            f"pytest_govmail/lab/{Path(source).name}" if Path(source).is_absolute() else source,
            text,
        )
        for kind, (source, text) in today.inputs.items()
    }
    return replace(today, dns=DnsSnapshot(answers.values()), inputs=inputs)


def collect_today(folder: Path) -> evidence_file.Evidence:
    """The demo lab's evidence now, collected by a pytest run of its own."""
    out = folder / "today.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--govmail-demo"]
    subprocess.run(
        [*command, "--govmail-evidence-only", f"--govmail-evidence-out={out}"],
        check=True,
        cwd=folder,
    )
    return evidence_file.read(out)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="govmail-last-month-") as folder:
        evidence_file.write(last_month(collect_today(Path(folder))), LAST_MONTH_FILE)
    print(f"wrote {LAST_MONTH_FILE}")


if __name__ == "__main__":
    main()
