"""A resolver that cannot see the public DNS makes every verdict worthless: say so, once.

A resolver that answers NXDOMAIN for everything (a filtering corporate resolver, a captive
portal, a sandbox) would turn every assessed domain into a list of FAILs about records that
exist. When the run's canary question (the root zone's NS set, see
:mod:`pytest_govmail.collect.vantage`) came back impossible, no verdict drawn from that
resolver's answers stands: each becomes INCONCLUSIVE, naming that one cause (the same words
on every test, so that the summary can count them under it).
"""

from __future__ import annotations

from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Verdict

__all__ = ["overrule"]


def overrule(subject: Subject, verdict: Verdict) -> Verdict:
    """``verdict``, or INCONCLUSIVE naming the resolver when it cannot see the public DNS."""
    vantage = subject.vantage
    cause = vantage.blind if vantage is not None else None
    if cause is None:
        return verdict
    return Verdict.inconclusive(f"not judged: {cause}", verdict.evidence)
