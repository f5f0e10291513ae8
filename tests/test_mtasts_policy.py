"""The MTA-STS policy file parser (RFC 8461 section 3.2) and mx pattern matching (section 4.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.records.mtasts_policy import (
    MAX_AGE_LIMIT,
    MtaStsPolicy,
    MtaStsPolicyError,
    is_mx_pattern,
    mx_pattern_matches,
    parse_mtasts_policy,
)

GOOD = (
    "version: STSv1\nmode: enforce\nmx: mx1.example.gov.uk\nmx: *.mail.example.net\n"
    "max_age: 1209600\n"
)


def test_the_rfc_example_parses() -> None:
    policy = parse_mtasts_policy(GOOD)
    assert policy == MtaStsPolicy(
        "STSv1", "enforce", 1209600, ("mx1.example.gov.uk", "*.mail.example.net"), ()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(GOOD.replace("\n", "\r\n"), ("enforce", 1209600), id="crlf"),
        pytest.param(GOOD.rstrip("\n"), ("enforce", 1209600), id="no-final-newline"),
        pytest.param(
            "version: STSv1\r\nmode: testing\nmx: a.example\r\nmax_age: 86400",
            ("testing", 86400),
            id="mixed-line-endings",
        ),
        pytest.param(
            "mode: enforce\nmax_age: 0\nmx: a.example\nversion: STSv1\n",
            ("enforce", 0),
            id="version-need-not-be-first",
        ),
        pytest.param(
            "version:STSv1\nmode:\t enforce \t\nmx:a.example  \nmax_age:   31557600\n",
            ("enforce", MAX_AGE_LIMIT),
            id="white-space-after-colon-and-at-end",
        ),
        pytest.param(
            "version: STSv1\nmode: none\nmax_age: 86400\n", ("none", 86400), id="none-without-mx"
        ),
        pytest.param(
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0000086400\n",
            ("enforce", 86400),
            id="ten-digits-leading-zeros",
        ),
        pytest.param(
            "version: STSv1\nmode: enforce\nmx: a.example\nmx: a.example\nmax_age: 60\n",
            ("enforce", 60),
            id="repeated-mx",
        ),
    ],
)
def test_valid_policies(text: str, expected: tuple[str, int]) -> None:
    policy = parse_mtasts_policy(text)
    assert (policy.mode, policy.max_age) == expected


def test_extensions_are_kept_with_their_values() -> None:
    text = GOOD + "x-note: anything = here; even UTF-8 \u00e9\nX.Other_1: v\n"
    policy = parse_mtasts_policy(text)
    assert policy.extensions == (
        ("x-note", "anything = here; even UTF-8 \u00e9"),
        ("X.Other_1", "v"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("\n", "empty line", id="only-newline"),
        pytest.param(GOOD + "\n", "empty line at the end", id="trailing-blank-line"),
        pytest.param(GOOD.replace("mode", "\nmode"), "empty line at line 2", id="blank-line"),
        pytest.param(GOOD.replace("\n", "\r"), "carriage return", id="bare-cr"),
        pytest.param(" " + GOOD, "starts with white space", id="leading-space"),
        pytest.param(GOOD.replace("mode:", "mode :"), "white space before ':'", id="space-colon"),
        pytest.param("\ufeff" + GOOD, "byte order mark", id="bom"),
        pytest.param(GOOD.replace("STSv1", "STSv2"), "is not 'STSv1'", id="version-2"),
        pytest.param(GOOD.replace("STSv1", "stsv1"), "is not 'STSv1'", id="version-case"),
        pytest.param(GOOD.replace("enforce", "Enforce"), "case-sensitive", id="mode-case"),
        pytest.param(GOOD.replace("enforce", "report"), "not enforce, testing", id="mode-bad"),
        pytest.param(GOOD.replace("mode: enforce", "Mode: enforce"), "'Mode'", id="key-case"),
        pytest.param(GOOD.replace("1209600", "31557601"), "over the maximum", id="max-age-big"),
        pytest.param(GOOD.replace("1209600", "-1"), "not 1 to 10 digits", id="max-age-neg"),
        pytest.param(GOOD.replace("1209600", "12345678901"), "1 to 10 digits", id="max-age-11"),
        pytest.param(GOOD.replace("1209600", "1d"), "1 to 10 digits", id="max-age-unit"),
        pytest.param(GOOD.replace("1209600", ""), "1 to 10 digits", id="max-age-empty"),
        pytest.param(GOOD.replace("1209600", "\u0661\u0662"), "digits", id="max-age-arabic"),
        pytest.param(GOOD + "mode: testing\n", "second 'mode'", id="duplicate-mode"),
        pytest.param(GOOD + "max_age: 1\n", "second 'max_age'", id="duplicate-max-age"),
        pytest.param(GOOD + "version: STSv1\n", "second 'version'", id="duplicate-version"),
        pytest.param(GOOD.replace("version: STSv1\n", ""), "no 'version'", id="no-version"),
        pytest.param(GOOD.replace("mode: enforce\n", ""), "no 'mode'", id="no-mode"),
        pytest.param(GOOD.replace("max_age: 1209600\n", ""), "no 'max_age'", id="no-max-age"),
        pytest.param(
            "version: STSv1\nmode: testing\nmax_age: 86400\n", "no mx field", id="testing-no-mx"
        ),
        pytest.param(GOOD.replace("gov.uk", "gov.uk."), "end with '.'", id="mx-dot"),
        pytest.param(GOOD.replace("*.mail", "*mail"), "wildcard", id="mx-partial-wildcard"),
        pytest.param(GOOD.replace("*.mail", "a.*.mail"), "wildcard", id="mx-inner-wildcard"),
        pytest.param(GOOD.replace("*.mail.example.net", "*"), "wildcard", id="mx-bare-star"),
        pytest.param(GOOD.replace("mx1.example", "-mx1.example"), "hostname", id="mx-hyphen"),
        pytest.param(GOOD.replace("mx1.example", "mx_1.example"), "hostname", id="mx-underscore"),
        pytest.param(GOOD.replace("mx1.example", "mx1..example"), "hostname", id="mx-empty-label"),
        pytest.param(GOOD.replace("mx1", "m" * 64), "hostname", id="mx-long-label"),
        pytest.param(GOOD.replace("mx1.example.gov.uk", "mx 1"), "hostname", id="mx-space"),
        pytest.param(GOOD.replace("mx1.example.gov.uk", "192.0.2.1:25"), "hostname", id="mx-port"),
        pytest.param(GOOD + "no colon here\n", "not a 'key: value'", id="no-colon"),
        pytest.param(GOOD + "x-ext:\n", "has no value", id="extension-empty"),
        pytest.param(GOOD + "x-ext: a\tb\n", "tab", id="extension-tab"),
        pytest.param(GOOD + "x-ext: a\x00b\n", "control character", id="nul"),
        pytest.param(GOOD + "x-ext: a\x7fb\n", "control character", id="del"),
        pytest.param(GOOD + "_x: a\n", "not a valid key", id="key-underscore-first"),
        pytest.param(GOOD + "k" * 33 + ": a\n", "not a valid key", id="key-too-long"),
        pytest.param(GOOD + "x-ext: \ud800\n", "UTF-8", id="surrogate"),
    ],
)
def test_invalid_policies(text: str, message: str) -> None:
    with pytest.raises(MtaStsPolicyError) as caught:
        parse_mtasts_policy(text)
    assert message in str(caught.value)


def test_error_messages_name_the_line() -> None:
    with pytest.raises(MtaStsPolicyError, match="line 4"):
        parse_mtasts_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: x\n")


def test_non_text_is_refused_with_the_parsers_own_error() -> None:
    with pytest.raises(MtaStsPolicyError):
        parse_mtasts_policy(b"version: STSv1")  # type: ignore[arg-type]


@given(st.text(max_size=400))
def test_any_text_raises_only_the_parsers_error(text: str) -> None:
    try:
        parse_mtasts_policy(text)
    except MtaStsPolicyError:
        pass


_FIELD = st.sampled_from(
    ["version", "mode", "max_age", "mx", "x", "Mode", "version ", " mx", "", ":"]
)
_VALUE = st.sampled_from(
    ["STSv1", "enforce", "testing", "none", "86400", "a.example", "*.b.example", "", " ", "\t"]
) | st.text(max_size=20)


@given(
    st.lists(st.tuples(_FIELD, st.sampled_from([":", ": ", ":\t", " : ", ""]), _VALUE), max_size=8),
    st.sampled_from(["\n", "\r\n", "\r", ""]),
)
def test_policy_shaped_text_raises_only_the_parsers_error(
    fields: list[tuple[str, str, str]], ending: str
) -> None:
    text = ending.join(k + sep + v for k, sep, v in fields)
    try:
        policy = parse_mtasts_policy(text)
    except MtaStsPolicyError:
        return
    assert policy.version == "STSv1" and policy.mode in ("enforce", "testing", "none")
    assert 0 <= policy.max_age <= MAX_AGE_LIMIT
    assert all(is_mx_pattern(p) for p in policy.mx)


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mx1.example.gov.uk", "mx1.example.gov.uk", True),
        ("mx1.example.gov.uk", "MX1.Example.Gov.UK.", True),
        ("MX1.example.gov.uk", "mx1.example.gov.uk", True),
        ("mx1.example.gov.uk", "mx2.example.gov.uk", False),
        ("mx1.example.gov.uk", "a.mx1.example.gov.uk", False),
        ("*.example.net", "mx.example.net", True),
        ("*.example.net", "MX.EXAMPLE.NET.", True),
        ("*.example.net", "example.net", False),
        ("*.example.net", "a.b.example.net", False),
        ("*.example.net", ".example.net", False),
        ("*.example.net", "mxexample.net", False),
        ("*.example.net", "*.example.net", False),
        ("*.example.net", "", False),
        ("", "", False),
        ("mx.example.net", "mx.example.net.evil", False),
    ],
)
def test_mx_pattern_matches(pattern: str, host: str, matches: bool) -> None:
    assert mx_pattern_matches(pattern, host) is matches


def test_policy_reports_the_pattern_a_host_matched() -> None:
    policy = parse_mtasts_policy(GOOD)
    assert policy.matching_pattern("in.mail.example.net") == "*.mail.example.net"
    assert policy.matching_pattern("mx2.example.gov.uk") is None
    assert policy.matches("mx1.example.gov.uk")


@given(st.text(max_size=60), st.text(max_size=60))
def test_matching_never_raises(pattern: str, host: str) -> None:
    assert isinstance(mx_pattern_matches(pattern, host), bool)
