"""MTA-STS mx wildcards: RFC 8461 section 3.2's grammar (MTASTS-03) and the guidance's "Do not
use wildcard MX records" (MTASTS-08, advisory).

RFC 8461 section 3.2 prints this example policy, which mixes a wildcard and two names::

    version: STSv1
    mode: enforce
    mx: mail.example.com
    mx: *.example.net
    mx: backupmx.example.com
    max_age: 604800

and section 4.1 says ``*.example.com`` matches ``mail.example.com`` but not ``example.com``
nor ``foo.bar.example.com``. The hostile variants put the ``*`` anywhere else.
"""

from __future__ import annotations

import pytest
from factories import answer
from hypothesis import given
from hypothesis import strategies as st
from test_judge_mtasts_policy import BASE_DNS, MX1, MX2, check, dns, fetch, judged, subject

from pytest_govmail.judge.mtasts import mtasts_no_wildcard_mx, mtasts_policy_valid
from pytest_govmail.lab.https_server import policy_text
from pytest_govmail.model.verdict import Status
from pytest_govmail.records.mtasts_policy import (
    MtaStsPolicyError,
    is_mx_pattern,
    is_wildcard_pattern,
    parse_mtasts_policy,
)

RFC8461_EXAMPLE = (
    "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
    "mx: backupmx.example.com\nmax_age: 604800\n"
)
D = "example-dept.gov.uk"

IN_LABEL = [
    pytest.param(f"mx*.{D}", id="star-after-text"),
    pytest.param(f"*mx.{D}", id="star-before-text"),
    pytest.param(f"mail.*.{D}", id="star-label-not-leftmost"),
    pytest.param(f"*.*.{D}", id="two-star-labels"),
    pytest.param(f"**.{D}", id="double-star"),
    pytest.param("*", id="bare-star"),
    pytest.param("*.", id="star-dot"),
    pytest.param(f"m*x.{D}", id="star-inside"),
]


def test_the_rfc_example_parses_and_keeps_its_wildcard() -> None:
    policy = parse_mtasts_policy(RFC8461_EXAMPLE)
    assert policy.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")
    assert [is_wildcard_pattern(p) for p in policy.mx] == [False, True, False]


@pytest.mark.parametrize("pattern", IN_LABEL)
def test_mtasts_03_fails_a_wildcard_that_is_not_a_whole_leftmost_label(pattern: str) -> None:
    body = policy_text("enforce", [MX1, pattern], 1209600)
    with pytest.raises(MtaStsPolicyError) as caught:
        parse_mtasts_policy(body)
    assert caught.value.code == "mtasts.policy.mx_wildcard"
    verdict = judged(mtasts_policy_valid, subject(fetch(body)))
    check(verdict, Status.FAIL, ["mtasts.policy.mx_wildcard"])
    assert "RFC 8461 section 3.2" in verdict.summary
    # MTASTS-08 has no policy to read: it points at MTASTS-03.
    check(
        judged(mtasts_no_wildcard_mx, subject(fetch(body))), Status.FAIL, ["mtasts.policy.invalid"]
    )


@pytest.mark.parametrize(
    ("body", "answers", "status", "codes", "text"),
    [
        pytest.param(
            policy_text("enforce", [MX1, MX2]), BASE_DNS, Status.PASS, [], MX1, id="names-only"
        ),
        pytest.param(
            policy_text("enforce", [f"*.{D}"]),
            BASE_DNS,
            Status.FAIL,
            ["mtasts.mx.wildcard"],
            f"matches {MX1}, {MX2}",
            id="one-wildcard-for-both-hosts",
        ),
        pytest.param(
            RFC8461_EXAMPLE,
            dns(answer(D, "MX", "10 mail.example.com.", "20 mx7.example.net.")),
            Status.FAIL,
            ["mtasts.mx.wildcard"],
            "matches mx7.example.net",
            id="rfc8461-example",
        ),
        pytest.param(
            policy_text("testing", ["*.mail.protection.outlook.com"], 86400),
            BASE_DNS,
            Status.FAIL,
            ["mtasts.mx.wildcard"],
            "matches no current MX host",
            id="provider-fleet-wildcard-matching-nothing",
        ),
        pytest.param(
            policy_text("none", [], 86400), BASE_DNS, Status.NOT_APPLICABLE, [], "", id="none"
        ),
    ],
)
def test_mtasts_08(body: str, answers, status: Status, codes: list[str], text: str) -> None:
    verdict = judged(mtasts_no_wildcard_mx, subject(fetch(body), answers=answers))
    check(verdict, status, codes)
    assert text in verdict.summary


def test_mtasts_08_fix_lists_the_hosts_the_wildcard_stood_for() -> None:
    verdict = mtasts_no_wildcard_mx(subject(fetch(policy_text("enforce", [f"*.{D}"]))))
    assert f"mx: {MX1}\\nmx: {MX2}" in verdict.findings[0].remediation


_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_NAME = st.lists(_LABEL, min_size=2, max_size=4).map(".".join)


@given(_NAME, st.integers(0, 30), st.sampled_from(["*", "**", "*x", "x*"]))
def test_a_star_is_a_pattern_only_as_the_whole_leftmost_label(
    name: str, where: int, star: str
) -> None:
    labels = name.split(".")
    position = where % (len(labels) + 1)
    text = ".".join([*labels[:position], star, *labels[position:]])
    assert is_mx_pattern(text) == (position == 0 and star == "*")
