"""RFC 9989's DMARC policy discovery by DNS tree walk (section 4.10): the RFC's own examples, a
table of UK-government shapes, and hypothesis for the walk's query list.

The judge tables run the planner (plan/dmarc.py) to its fixed point against a small world of
``_dmarc`` records, so what DMARC-01 reads is exactly what a run would have asked.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from factories import answer, failed, nxdomain, subject, txt
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.judge import dmarc
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.verdict import Status, Verdict
from pytest_govmail.plan.dmarc import dmarc_queries
from pytest_govmail.records.dmarc import (
    MAX_TREE_WALK_QUERIES,
    discover_policy,
    organisational_domain,
    tree_walk,
    tree_walk_names,
)

REJECT = "v=DMARC1; p=reject; rua=mailto:dmarc@example-dept.gov.uk"


def world(
    records: Mapping[str, str | tuple[str, ...]], missing: frozenset[str] = frozenset()
) -> dict[Query, DnsResult]:
    """``_dmarc`` records by domain; every other ``_dmarc`` name is NXDOMAIN; every domain has an
    MX except those in ``missing``, which do not exist (NXDOMAIN)."""
    out: dict[Query, DnsResult] = {}
    for name, values in records.items():
        values = (values,) if isinstance(values, str) else values
        out[Query.of(f"_dmarc.{name}", "TXT")] = txt(f"_dmarc.{name}", *values)
    for name in missing:
        out[Query.of(name, "MX")] = nxdomain(name, "MX")
    return out


def settle(domain: str, canned: Mapping[Query, DnsResult]) -> Subject:
    """The subject a run would judge: the DMARC planner asked to its fixed point."""
    asked: set[Query] = set()
    for _ in range(20):
        snapshot = DnsSnapshot(canned.get(q) or _default(q) for q in asked)
        wanted = set(dmarc_queries(Target(domain), snapshot))
        if wanted <= asked:
            return Subject(Target(domain), snapshot)
        asked |= wanted
    raise AssertionError("the planner did not settle")


def _default(query: Query) -> DnsResult:
    if query.rdtype == "MX":
        return answer(query.name, "MX", f"10 mx.{query.name}.")
    return nxdomain(query.name, query.rdtype)


def asked_dmarc(case: Subject) -> list[str]:
    """The ``_dmarc`` names the run asked, longest first (the walk's order)."""
    snapshot = case.dns
    assert isinstance(snapshot, DnsSnapshot)
    names = [r.name.removeprefix("_dmarc.") for r in snapshot if r.name.startswith("_dmarc.")]
    return sorted(names, key=lambda n: -n.count("."))


# --- the RFC's own examples ---------------------------------------------------------------------


def test_section_4_10_eight_queries_for_a_long_name() -> None:
    """Section 4.10: "a full DNS Tree Walk would require the following eight queries"."""
    assert tree_walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == (
        "a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com",
        "i.j.mail.example.com",
        "j.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    )


def test_section_5_1_8_the_zone_cut_record_is_never_discovered() -> None:
    """Section 5.1.8: a psd=n record at b.c.d.e.f.g.example.com is never asked for
    mail.a.b.c.d.e.f.g.example.com; the apex's record applies."""
    author = "mail.a.b.c.d.e.f.g.example.com"
    assert tree_walk_names(author) == (
        author,
        "c.d.e.f.g.example.com",
        "d.e.f.g.example.com",
        "e.f.g.example.com",
        "f.g.example.com",
        "g.example.com",
        "example.com",
        "com",
    )
    case = settle(
        author, world({"example.com": REJECT, "b.c.d.e.f.g.example.com": REJECT + "; psd=n"})
    )
    assert "b.c.d.e.f.g.example.com" not in asked_dmarc(case)
    found = discover_policy(tree_walk(author, case.dns))
    assert (found.kind, found.policy_domain, found.organisational_domain) == (
        "organisational",
        "example.com",
        "example.com",
    )


@pytest.mark.parametrize(
    ("author", "records", "kind", "policy_domain", "org"),
    [
        # Section 4.10.2's three examples, from a.mail.example.com.
        pytest.param(
            "a.mail.example.com",
            {"mail.example.com": REJECT, "example.com": REJECT},
            "organisational",
            "example.com",
            "example.com",
            id="4.10.2-fewest-labels",
        ),
        pytest.param(
            "a.mail.example.com",
            {"mail.example.com": REJECT + "; psd=n", "example.com": REJECT},
            "organisational",
            "mail.example.com",
            "mail.example.com",
            id="4.10.2-psd-n",
        ),
        pytest.param(
            "a.mail.example.com",
            {"com": "v=DMARC1; p=reject; psd=y"},
            "public suffix",
            "com",
            "example.com",
            id="4.10.2-psd-y-at-com",
        ),
        # B.4.2: the Author Domain has no record; example.com is the policy domain.
        pytest.param(
            "a.b.c.d.e.f.g.h.i.j.k.example.com",
            {"example.com": REJECT, "signing.example.com": REJECT},
            "organisational",
            "example.com",
            "example.com",
            id="B.4.2-deep",
        ),
        # B.4.3: bank.example publishes psd=y.
        pytest.param(
            "giant.bank.example",
            {"giant.bank.example": REJECT, "bank.example": "v=DMARC1; p=none; psd=y"},
            "own",
            "giant.bank.example",
            None,
            id="B.4.3-author-own-record",
        ),
        pytest.param(
            "mail.giant.bank.example",
            {"giant.bank.example": REJECT, "bank.example": "v=DMARC1; p=none; psd=y"},
            "organisational",
            "giant.bank.example",
            "giant.bank.example",
            id="B.4.3-mailfrom",
        ),
        pytest.param(
            "mail.mega.bank.example",
            {"giant.bank.example": REJECT, "bank.example": "v=DMARC1; p=none; psd=y"},
            "public suffix",
            "bank.example",
            "mega.bank.example",
            id="B.4.3-dkim-domain",
        ),
    ],
)
def test_rfc_examples(
    author: str, records: dict[str, str], kind: str, policy_domain: str, org: str | None
) -> None:
    case = settle(author, world(records))
    found = discover_policy(tree_walk(author, case.dns))
    assert found.walk.complete
    assert (found.kind, found.policy_domain, found.organisational_domain) == (
        kind,
        policy_domain,
        org,
    )


def test_b_4_2_asks_exactly_the_rfcs_names() -> None:
    case = settle("a.b.c.d.e.f.g.h.i.j.k.example.com", world({"example.com": REJECT}))
    assert asked_dmarc(case) == [
        "a.b.c.d.e.f.g.h.i.j.k.example.com",
        "g.h.i.j.k.example.com",
        "h.i.j.k.example.com",
        "i.j.k.example.com",
        "j.k.example.com",
        "k.example.com",
        "example.com",
        "com",
    ]


def test_b_4_3_walk_stops_at_psd_y() -> None:
    records = {"giant.bank.example": REJECT, "bank.example": "v=DMARC1; p=none; psd=y"}
    case = settle("mail.mega.bank.example", world(records))
    assert asked_dmarc(case) == ["mail.mega.bank.example", "mega.bank.example", "bank.example"]


# --- DMARC-01 on UK-government shapes -------------------------------------------------------------

DEPT = "example-dept.gov.uk"
PSD_GOV_UK = "v=DMARC1; p=none; np=reject; psd=y"


def dmarc_01(author: str, records: Mapping[str, str | tuple[str, ...]], **kw: object) -> Verdict:
    missing = frozenset(kw.get("missing", ()))  # type: ignore[call-overload]
    return dmarc.dmarc_record_applies(settle(author, world(records, missing)))


def detail(verdict: Verdict, key: str) -> list[str]:
    return [text for name, text in verdict.details if name == key]


def test_psd_y_at_gov_uk_is_not_the_departments_own_record() -> None:
    verdict = dmarc_01(DEPT, {"gov.uk": PSD_GOV_UK})
    assert verdict.status is Status.FAIL
    assert [f.code for f in verdict.findings] == ["dmarc.record.missing"]
    observed = verdict.findings[0].observed
    assert "the record the DNS tree walk settles on is the public suffix domain's record" in (
        observed
    )
    assert "(p=none for this domain)" in observed
    assert detail(verdict, "RFC 7489 receivers") == [
        "they apply no DMARC policy (the Public Suffix List makes the domain its own "
        "organisational domain), where RFC 9989 receivers apply the record at _dmarc.gov.uk "
        "(p=none)"
    ]
    assert verdict.evidence == (f"_dmarc.{DEPT}/TXT", "_dmarc.gov.uk/TXT")


def test_psd_y_np_applies_to_a_name_that_does_not_exist() -> None:
    ghost = f"ghost.{DEPT}"
    verdict = dmarc_01(ghost, {"gov.uk": PSD_GOV_UK}, missing={ghost})
    assert verdict.status is Status.FAIL
    assert "(np=reject for this domain)" in verdict.findings[0].observed
    assert detail(verdict, "existence") == [f"{ghost} does not exist (NXDOMAIN): np applies to it"]
    assert f"{ghost}/MX" in verdict.evidence


def test_deep_subdomain_inherits_the_departments_record_as_both_rfcs_do() -> None:
    author = f"a.b.c.{DEPT}"
    verdict = dmarc_01(author, {DEPT: REJECT, "gov.uk": PSD_GOV_UK})
    assert verdict.status is Status.PASS, verdict
    assert "the organisational domain's record applies" in verdict.summary
    assert detail(verdict, "RFC 7489 receivers") == []
    (walk,) = detail(verdict, "RFC 9989 tree walk")
    assert walk.startswith(
        f"asked _dmarc.{author}, _dmarc.b.c.{DEPT}, _dmarc.c.{DEPT}, _dmarc.{DEPT}, "
        "_dmarc.gov.uk (5 of at most 8 queries"
    )


def test_psd_n_on_a_delegated_subdomain_makes_it_the_organisational_domain() -> None:
    author = f"mail.region.{DEPT}"
    region = "v=DMARC1; p=quarantine; psd=n"
    verdict = dmarc_01(author, {f"region.{DEPT}": region, DEPT: REJECT})
    assert verdict.status is Status.PASS
    assert f"at _dmarc.region.{DEPT}" in verdict.summary
    assert detail(verdict, "RFC 7489 receivers") == [
        f"organisational domain: RFC 9989's tree walk gives region.{DEPT}, RFC 7489's Public "
        f"Suffix List gives {DEPT}",
        f"they apply the record at _dmarc.{DEPT} (p=reject), where RFC 9989 receivers apply "
        f"the record at _dmarc.region.{DEPT} (p=quarantine)",
    ]
    assert "_dmarc.gov.uk/TXT" not in verdict.evidence  # psd=n stops the walk


def test_a_record_at_gov_uk_without_psd_becomes_the_organisational_domain() -> None:
    """RFC 9989 section 4.10.2 rule 3: the record with the fewest labels, even a public suffix's
    that forgot psd=y, so receivers apply it; but it is not the department's own record, and
    RFC 7489 receivers (PSL) find nothing: the verdict and the details say so."""
    verdict = dmarc_01(DEPT, {"gov.uk": "v=DMARC1; p=quarantine"})
    assert verdict.status is Status.FAIL
    assert [f.code for f in verdict.findings] == ["dmarc.record.missing"]
    assert verdict.findings[0].observed.endswith(
        "(gov.uk is a public suffix on the Public Suffix List, though its record has no psd=y)"
    )
    assert detail(verdict, "RFC 7489 receivers")[0] == (
        f"organisational domain: RFC 9989's tree walk gives gov.uk, RFC 7489's Public Suffix "
        f"List gives {DEPT}"
    )


def test_a_suffix_record_without_psd_passes_over_the_departments_own_subtree_record() -> None:
    """Rule 3 picks gov.uk over the department's record below it: receivers apply gov.uk's."""
    author = f"news.{DEPT}"
    verdict = dmarc_01(author, {DEPT: REJECT, "gov.uk": "v=DMARC1; p=none"})
    assert verdict.status is Status.FAIL
    assert "settles on is the organisational domain's record at _dmarc.gov.uk" in (
        verdict.findings[0].observed
    )
    assert f"they apply the record at _dmarc.{DEPT} (p=reject)" in " ".join(
        detail(verdict, "RFC 7489 receivers")
    )


def test_np_on_the_organisational_record_for_a_subdomain_that_does_not_exist() -> None:
    ghost = f"ghost.{DEPT}"
    verdict = dmarc_01(
        ghost, {DEPT: "v=DMARC1; p=reject; sp=quarantine; np=reject"}, missing={ghost}
    )
    assert verdict.status is Status.PASS
    assert detail(verdict, "RFC 7489 receivers") == [
        "the domain does not exist, so RFC 9989 receivers apply np=reject; RFC 7489 has no np "
        "and applies sp=quarantine"
    ]


def test_np_changes_what_dmarc_03_reads_for_a_name_that_does_not_exist() -> None:
    ghost = f"ghost.{DEPT}"
    records = {DEPT: "v=DMARC1; p=reject; sp=none; np=reject; rua=mailto:d@example-dept.gov.uk"}
    exists = dmarc.dmarc_policy_enforced(settle(ghost, world(records)))
    gone = dmarc.dmarc_policy_enforced(settle(ghost, world(records, frozenset({ghost}))))
    assert exists.status is Status.FAIL
    assert gone.status is Status.PASS
    assert gone.summary.startswith("np=reject applies")


def test_long_name_over_eight_labels_skips_the_middle_and_finds_the_department() -> None:
    author = f"a.b.c.d.e.f.g.h.{DEPT}"  # 11 labels
    skipped = f"c.d.e.f.g.h.{DEPT}"
    verdict = dmarc_01(author, {skipped: REJECT + "; psd=n", DEPT: REJECT, "gov.uk": PSD_GOV_UK})
    assert verdict.status is Status.PASS
    assert f"at _dmarc.{DEPT}" in verdict.summary
    assert f"_dmarc.{skipped}/TXT" not in verdict.evidence
    assert len(verdict.evidence) <= MAX_TREE_WALK_QUERIES


def test_several_records_at_the_domain_fail_and_say_what_rfc_9989_applies_instead() -> None:
    verdict = dmarc_01(f"news.{DEPT}", {f"news.{DEPT}": (REJECT, REJECT), DEPT: REJECT})
    assert [f.code for f in verdict.findings] == ["dmarc.record.multiple"]
    assert "RFC 9989 receivers discard them and apply the organisational domain's record" in (
        verdict.findings[0].observed
    )


def test_a_timeout_on_the_walk_is_inconclusive() -> None:
    canned = world({})
    canned[Query.of("_dmarc.gov.uk", "TXT")] = failed("_dmarc.gov.uk", "TXT")
    verdict = dmarc.dmarc_record_applies(settle(DEPT, canned))
    assert verdict.status is Status.INCONCLUSIVE
    assert "could not read _dmarc.gov.uk/TXT (timeout: lab)" in verdict.summary
    assert verdict.evidence == (f"_dmarc.{DEPT}/TXT", "_dmarc.gov.uk/TXT")


def test_evidence_without_the_walk_is_judged_the_rfc_7489_way_and_says_so() -> None:
    old = subject(
        f"news.{DEPT}", nxdomain(f"_dmarc.news.{DEPT}", "TXT"), txt(f"_dmarc.{DEPT}", REJECT)
    )
    verdict = dmarc.dmarc_record_applies(old)
    assert verdict.status is Status.PASS
    assert detail(verdict, "discovery") == [
        "the evidence holds no answer for _dmarc.gov.uk (recorded without RFC 9989's tree "
        "walk): discovered as RFC 7489 section 6.6.3 says"
    ]


# --- hypothesis: the walk's query list ----------------------------------------------------------

labels = st.lists(st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True), min_size=1, max_size=20)


@given(labels)
def test_walk_names_are_bounded_suffixes_ending_at_the_tld(parts: list[str]) -> None:
    name = ".".join(parts)
    names = tree_walk_names(name)
    assert names[0] == name
    assert names[-1] == parts[-1]
    assert len(names) == min(len(parts), MAX_TREE_WALK_QUERIES)
    assert len(set(names)) == len(names)
    for longer, shorter in itertools.pairwise(names):
        assert longer.endswith("." + shorter)
    counts = [n.count(".") + 1 for n in names[1:]]
    assert counts == list(range(len(counts), 0, -1))  # at most 7, then one label less each time
    if len(parts) <= 8:
        assert names == tuple(".".join(parts[i:]) for i in range(len(parts)))


@given(labels, st.data())
def test_planner_asks_a_prefix_of_the_walk_and_stops_where_the_rfc_stops(
    parts: list[str], data: st.DataObject
) -> None:
    name = ".".join(parts)
    names = tree_walk_names(name)
    flags = data.draw(
        st.lists(
            st.sampled_from([None, "", "; psd=u", "; psd=n", "; psd=y"]),
            min_size=len(names),
            max_size=len(names),
        )
    )
    records = {
        n: "v=DMARC1; p=reject" + f for n, f in zip(names, flags, strict=True) if f is not None
    }
    case = settle(name, world(records))
    stop = next(
        (
            i
            for i, f in enumerate(flags)
            if (i == 0 and f is not None) or f in ("; psd=n", "; psd=y")
        ),
        len(names) - 1,
    )
    walked = names[: stop + 1]
    asked = set(asked_dmarc(case))
    assert set(walked) <= asked
    # Beyond the walk, only the Public Suffix List's organisational domain, for the comparison
    # with RFC 7489, and only when the domain's own record does not apply.
    extra = asked - set(walked)
    assert extra <= ({organisational_domain(name)} if stop > 0 else set())
    assert len(walked) <= MAX_TREE_WALK_QUERIES


def test_unknown_existence_is_said_and_judged_as_existing() -> None:
    ghost = f"ghost.{DEPT}"
    canned = world({DEPT: "v=DMARC1; p=reject; sp=quarantine; np=reject"})
    canned[Query.of(ghost, "MX")] = failed(ghost, "MX")
    verdict = dmarc.dmarc_record_applies(settle(ghost, canned))
    assert verdict.status is Status.PASS
    assert detail(verdict, "existence") == [
        f"whether {ghost} exists could not be read ({ghost}/MX): judged as existing, so np "
        "does not apply"
    ]
    assert f"{ghost}/MX" in verdict.evidence


# --- a table of names: what the walk asks, and what it finds --------------------------------------

LONG = "a.b.c.d.e.f.g.h.i.j.example-dept.gov.uk"  # 13 labels


@pytest.mark.parametrize(
    ("author", "records", "queries", "kind", "policy_domain", "org"),
    [
        pytest.param(DEPT, {DEPT: REJECT}, 1, "own", DEPT, None, id="own-record"),
        pytest.param(DEPT, {}, 3, "none", None, DEPT, id="nothing-anywhere"),
        pytest.param(
            DEPT, {"gov.uk": PSD_GOV_UK}, 2, "public suffix", "gov.uk", DEPT, id="psd-y-gov-uk"
        ),
        pytest.param(
            f"www.{DEPT}",
            {"gov.uk": PSD_GOV_UK},
            3,
            "public suffix",
            "gov.uk",
            DEPT,
            id="psd-y-gov-uk-subdomain",
        ),
        pytest.param(
            f"x.y.z.{DEPT}",
            {DEPT: REJECT, "gov.uk": PSD_GOV_UK},
            5,
            "organisational",
            DEPT,
            DEPT,
            id="deep-subdomain",
        ),
        pytest.param(
            f"x.y.z.{DEPT}",
            {f"y.z.{DEPT}": REJECT, DEPT: REJECT},
            6,
            "organisational",
            DEPT,
            DEPT,
            id="deep-two-records-fewest-labels-wins",
        ),
        pytest.param(
            "service.campaign.gov.uk",
            {"campaign.gov.uk": "v=DMARC1; p=none; psd=y", "gov.uk": PSD_GOV_UK},
            2,
            "public suffix",
            "campaign.gov.uk",
            "service.campaign.gov.uk",
            id="private-suffix-publishes-psd-y",
        ),
        pytest.param(LONG, {DEPT: REJECT}, 8, "organisational", DEPT, DEPT, id="13-labels"),
        pytest.param(
            LONG,
            {"gov.uk": PSD_GOV_UK},
            7,
            "public suffix",
            "gov.uk",
            DEPT,
            id="13-labels-psd-y",
        ),
        pytest.param(
            LONG,
            {f"c.d.e.f.g.h.i.j.{DEPT}": REJECT + "; psd=n"},
            8,
            "none",
            None,
            LONG,
            id="13-labels-skipped-psd-n",
        ),
        pytest.param(
            "a.b.c.d.e.example-dept.gov.uk",  # 8 labels: no shortcut needed, one query each
            {},
            8,
            "none",
            None,
            "a.b.c.d.e.example-dept.gov.uk",
            id="8-labels",
        ),
    ],
)
def test_table_of_names(
    author: str,
    records: dict[str, str],
    queries: int,
    kind: str,
    policy_domain: str | None,
    org: str | None,
) -> None:
    walk = tree_walk(author, settle(author, world(records)).dns)
    found = discover_policy(walk)
    assert len(walk.asked) == queries <= MAX_TREE_WALK_QUERIES
    assert (found.kind, found.policy_domain, found.organisational_domain) == (
        kind,
        policy_domain,
        org,
    )


def test_the_rfc_7489_comparison_says_when_its_record_could_not_be_read() -> None:
    author = f"mail.region.{DEPT}"
    canned = world({f"region.{DEPT}": "v=DMARC1; p=quarantine; psd=n"})
    canned[Query.of(f"_dmarc.{DEPT}", "TXT")] = failed(f"_dmarc.{DEPT}", "TXT")
    verdict = dmarc.dmarc_record_applies(settle(author, canned))
    assert verdict.status is Status.PASS  # the walk stopped at psd=n: the RFC 9989 answer stands
    assert detail(verdict, "RFC 7489 receivers")[-1] == (
        f"could not tell what they apply: _dmarc.{DEPT}/TXT timeout: lab"
    )
