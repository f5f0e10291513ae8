"""From catalogue records to what a run collects, and to the function that judges each.

A requirement is declared once, in ``inputs/catalogue.toml``: its ``needs`` say what evidence its
judge reads (DNS planner groups, a TLS scan of the MX addresses, the MTA-STS policy, sample
messages) and its ``judge`` names the pure function that reads it. This module turns those
words into planners and functions; no code anywhere matches on requirement IDs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType

from pytest_govmail.inputs.catalogue import Catalogue, Requirement
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Verdict
from pytest_govmail.plan import Planner
from pytest_govmail.plan.base import (
    mx_queries,
    park_queries,
    ptr_queries,
    role_queries,
)
from pytest_govmail.plan.dane import dane_queries
from pytest_govmail.plan.dmarc import dmarc_queries
from pytest_govmail.plan.dnssec import dnssec_queries
from pytest_govmail.plan.mtasts import mtasts_policy_queries, mtasts_queries
from pytest_govmail.plan.ptr import sending_ptr_queries
from pytest_govmail.plan.spf import spf_queries
from pytest_govmail.plan.tlsrpt import tlsrpt_queries

Judge = Callable[[Subject], Verdict]

#: The DNS planner groups a record's ``needs`` may name as ``dns:GROUP``. ``dkim`` and
#: ``senders`` are built per run (from the targets, the sample messages and the DMARC reports
#: given), so the run adds them.
PLANNER_GROUPS: Mapping[str, tuple[Planner, ...]] = MappingProxyType(
    {
        "mx": (mx_queries,),
        "spf": (spf_queries,),
        "dmarc": (dmarc_queries,),
        "tlsrpt": (tlsrpt_queries,),
        "mtasts": (mtasts_queries, mtasts_policy_queries),
        "park": (park_queries,),
        "ptr": (ptr_queries,),
        "sendptr": (sending_ptr_queries,),
        "dane": (dane_queries,),
        "dnssec": (dnssec_queries,),
        "dkim": (),
        "senders": (),
    }
)

#: Asked in every run, whatever is selected: each domain's roles decide what applies to it.
ALWAYS: tuple[Planner, ...] = (role_queries,)


class NeedsError(ValueError):
    """A catalogue record names evidence or a judge that does not exist."""


def dns_groups(requirements: Iterable[Requirement]) -> set[str]:
    """Every DNS planner group the requirements need."""
    return {group for r in requirements for group in r.dns_groups}


def all_dns_groups() -> frozenset[str]:
    """Every planner group: what discovery asks when the MX hosts parametrise host tests."""
    return frozenset(PLANNER_GROUPS)


def needs_tls(requirements: Iterable[Requirement]) -> bool:
    """True when any of them is judged on a TLS scan of the MX addresses."""
    return any("tls" in r.needs for r in requirements)


def needs_policy(requirements: Iterable[Requirement]) -> bool:
    """True when any of them is judged on the fetched MTA-STS policy."""
    return any("policy" in r.needs for r in requirements)


def planners_for(
    groups: Collection[str], per_run: Mapping[str, Planner] | None = None
) -> tuple[Planner, ...]:
    """The planners of ``groups`` (sorted, each once), after those every run asks; ``per_run``
    (group -> planner) holds the planners a run builds for itself (``dkim``, ``senders``)."""
    chosen: list[Planner] = list(ALWAYS)
    built = per_run or {}
    for group in sorted(set(groups)):
        if group not in PLANNER_GROUPS:
            raise NeedsError(f"no DNS planner group {group!r} (known: {', '.join(PLANNER_GROUPS)})")
        extra = (built[group],) if group in built else ()
        for planner in PLANNER_GROUPS[group] + extra:
            if planner not in chosen:
                chosen.append(planner)
    return tuple(chosen)


def judge_named(name: str) -> Judge:
    """The judge a record names as ``MODULE.FUNCTION`` in :mod:`pytest_govmail.judge`.

    Not cached here: the import system already keeps the module, and a cache of functions
    would outlive the modules an in-process pytester run reimports.
    """
    module_name, _, function = name.partition(".")
    try:
        module = importlib.import_module(f"pytest_govmail.judge.{module_name}")
    except ImportError as exc:
        raise NeedsError(f"judge {name!r}: no module pytest_govmail.judge.{module_name}") from exc
    judge = getattr(module, function, None)
    if not callable(judge):
        raise NeedsError(f"judge {name!r}: pytest_govmail.judge.{module_name} has no {function}")
    return judge  # type: ignore[no-any-return]


def judge_of(requirement: Requirement) -> Judge:
    """The function that judges ``requirement`` (it must be implemented)."""
    if requirement.judge is None:
        raise NeedsError(f"{requirement.id} is not implemented: its record names no judge")
    return judge_named(requirement.judge)


def check_catalogue(catalogue: Catalogue) -> None:
    """Every record's needs and judge exist; raises :class:`NeedsError` naming the first that
    does not (the project's tests run this over the packaged catalogue)."""
    for requirement in catalogue:
        planners_for(requirement.dns_groups)
        if requirement.implemented:
            judge_of(requirement)
