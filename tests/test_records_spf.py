"""The SPF record parser (RFC 7208 section 12): valid and invalid tables, and properties."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.records.spf import (
    Mechanism,
    Modifier,
    SpfSyntaxError,
    check_explanation,
    expand_domain_spec,
    has_macros,
    parse_spf,
    spf_errors,
)

# --------------------------------------------------------------------------------------------
# Valid records


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("v=spf1", (), id="version-only"),
        pytest.param("v=spf1 -all", (Mechanism("all", "-"),), id="minus-all"),
        pytest.param("V=SPF1 -ALL", (Mechanism("all", "-"),), id="case-insensitive"),
        pytest.param("v=spf1   -all  ", (Mechanism("all", "-"),), id="extra-spaces"),
        pytest.param(
            "v=spf1 +a ~mx ?ptr all",
            (
                Mechanism("a", "+"),
                Mechanism("mx", "~"),
                Mechanism("ptr", "?"),
                Mechanism("all"),
            ),
            id="qualifiers",
        ),
        pytest.param(
            "v=spf1 include:_spf.Example.com -all",
            (Mechanism("include", "", "_spf.Example.com"), Mechanism("all", "-")),
            id="include-keeps-case",
        ),
        pytest.param(
            "v=spf1 a:mail.example.com/24//64",
            (Mechanism("a", "", "mail.example.com", cidr4=24, cidr6=64),),
            id="a-dual-cidr",
        ),
        pytest.param("v=spf1 mx/24", (Mechanism("mx", cidr4=24),), id="mx-cidr4"),
        pytest.param("v=spf1 a//0", (Mechanism("a", cidr6=0),), id="a-cidr6-only"),
        pytest.param(
            "v=spf1 mx:example.com.", (Mechanism("mx", "", "example.com."),), id="trailing-dot"
        ),
        pytest.param(
            "v=spf1 ip4:192.0.2.0/24 ip4:0.0.0.0/0 ip4:255.255.255.255",
            (
                Mechanism("ip4", network="192.0.2.0", cidr4=24),
                Mechanism("ip4", network="0.0.0.0", cidr4=0),
                Mechanism("ip4", network="255.255.255.255"),
            ),
            id="ip4",
        ),
        pytest.param(
            "v=spf1 ip6:2001:db8::/32 ip6:::1 ip6:::ffff:192.0.2.1/128",
            (
                Mechanism("ip6", network="2001:db8::", cidr6=32),
                Mechanism("ip6", network="::1"),
                Mechanism("ip6", network="::ffff:192.0.2.1", cidr6=128),
            ),
            id="ip6",
        ),
        pytest.param(
            "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
            (Mechanism("exists", "", "%{ir}.%{l1r+-}._spf.%{d}"), Mechanism("all", "-")),
            id="exists-macros",
        ),
        pytest.param(
            "v=spf1 include:%{d2}", (Mechanism("include", "", "%{d2}"),), id="ends-in-macro"
        ),
        pytest.param(
            "v=spf1 a:%%%_%-.example.com", (Mechanism("a", "", "%%%_%-.example.com"),), id="escapes"
        ),
        pytest.param(
            "v=spf1 a:%{S}.example.com", (Mechanism("a", "", "%{S}.example.com"),), id="upper-macro"
        ),
        pytest.param("v=spf1 a:x.1-2", (Mechanism("a", "", "x.1-2"),), id="toplabel-digits-hyphen"),
        pytest.param(
            "v=spf1 redirect=_spf.example.com",
            (Modifier("redirect", "_spf.example.com"),),
            id="redirect",
        ),
        pytest.param(
            "v=spf1 -all exp=explain.%{d} Foo.bar-1=%{s}x",
            (
                Mechanism("all", "-"),
                Modifier("exp", "explain.%{d}"),
                Modifier("foo.bar-1", "%{s}x"),
            ),
            id="exp-and-unknown-modifier",
        ),
        pytest.param("v=spf1 x=", (Modifier("x", ""),), id="unknown-modifier-empty"),
        pytest.param(
            "v=spf1 include=example.com",
            (Modifier("include", "example.com"),),
            id="mechanism-name-as-modifier-is-unknown-modifier",
        ),
    ],
)
def test_valid_records(text: str, expected: tuple[Mechanism | Modifier, ...]) -> None:
    record = parse_spf(text)
    assert record.terms == expected
    assert record.text == text
    assert spf_errors(text) == ()


def test_terms_keep_their_text_and_record_helpers() -> None:
    record = parse_spf(
        "v=spf1 +A:X.example include:i.example -all redirect=r.example exp=e.example"
    )
    assert [str(t) for t in record.terms] == [
        "+A:X.example",
        "include:i.example",
        "-all",
        "redirect=r.example",
        "exp=e.example",
    ]
    assert record.all == Mechanism("all", "-")
    assert record.redirect == Modifier("redirect", "r.example")
    assert record.exp == Modifier("exp", "e.example")
    # redirect is ignored when there is an all (RFC 7208 6.1); exp never counts
    assert [t.name for t in record.evaluated_terms()] == ["a", "include"]
    assert record.to_text() == (
        "v=spf1 +a:X.example include:i.example -all redirect=r.example exp=e.example"
    )


def test_evaluated_terms_stop_at_all_and_include_redirect_without_all() -> None:
    assert [t.name for t in parse_spf("v=spf1 a -all mx").evaluated_terms()] == ["a"]
    record = parse_spf("v=spf1 ip4:192.0.2.1 mx ptr exists:x.example redirect=r.example")
    assert [t.name for t in record.evaluated_terms()] == ["mx", "ptr", "exists", "redirect"]


# --------------------------------------------------------------------------------------------
# Invalid records


@pytest.mark.parametrize(
    ("text", "index", "message"),
    [
        pytest.param("", None, "must start with 'v=spf1'", id="empty"),
        pytest.param("v=spf10 -all", None, "must start with 'v=spf1'", id="spf10"),
        pytest.param("spf2.0/pra -all", None, "must start with 'v=spf1'", id="senderid"),
        pytest.param(" v=spf1 -all", None, "must start with 'v=spf1'", id="leading-space"),
        pytest.param("v=spf1\t-all", None, "must start with 'v=spf1'", id="tab-after-version"),
        pytest.param("v=spf1;-all", None, "must start with 'v=spf1'", id="semicolon"),
        pytest.param("v=spf1 a\t-all", 1, "U+0009 is not allowed", id="tab-between-terms"),
        pytest.param("v=spf1 foo", 1, "unknown mechanism 'foo'", id="unknown-mechanism"),
        pytest.param("v=spf1 -al", 1, "unknown mechanism 'al'", id="typo"),
        pytest.param("v=spf1 include", 1, "include needs a domain", id="include-no-domain"),
        pytest.param("v=spf1 include:", 1, "include needs a domain", id="include-empty"),
        pytest.param("v=spf1 exists", 1, "exists needs a domain", id="exists-no-domain"),
        pytest.param("v=spf1 +", 1, "qualifier must be followed", id="bare-qualifier"),
        pytest.param("v=spf1 --all", 1, "unknown mechanism '-all'", id="double-qualifier"),
        pytest.param("v=spf1 all:x.example", 1, "'all' takes no argument", id="all-argument"),
        pytest.param("v=spf1 -all/24", 1, "'all' takes no argument", id="all-cidr"),
        pytest.param("v=spf1 a:", 1, "the domain-spec is empty", id="a-empty-domain"),
        pytest.param("v=spf1 a:com", 1, "must end in a top-level label", id="single-label"),
        pytest.param("v=spf1 a:x.123", 1, "must end in a top-level label", id="numeric-tld"),
        pytest.param("v=spf1 a:x.-com", 1, "must end in a top-level label", id="hyphen-tld"),
        pytest.param("v=spf1 a:x.com..", 1, "must end in a top-level label", id="two-dots"),
        pytest.param("v=spf1 mx:a..example.com", 1, "empty label", id="empty-label"),
        pytest.param("v=spf1 a:" + "x" * 64 + ".com", 1, "at most 63", id="long-label"),
        pytest.param("v=spf1 a:" + "abcdefghi." * 26 + "com", 1, "at most 253", id="long-name"),
        pytest.param("v=spf1 a:x.com/33", 1, "/33 is out of range (0-32)", id="a-cidr4-33"),
        pytest.param("v=spf1 a:x.com//129", 1, "/129 is out of range (0-128)", id="a-cidr6"),
        pytest.param("v=spf1 a:x.com/24/64", 1, "follows '//'", id="single-slash-ip6"),
        pytest.param("v=spf1 mx/024", 1, "leading zero", id="cidr-leading-zero"),
        pytest.param("v=spf1 a/", 1, "expected ':domain' or '/prefix'", id="a-slash"),
        pytest.param("v=spf1 ptr/24", 1, "ptr takes only", id="ptr-cidr"),
        pytest.param("v=spf1 ip4", 1, "ip4 needs an address", id="ip4-no-address"),
        pytest.param("v=spf1 ip4:192.0.2.256", 1, "not an IPv4 address", id="ip4-octet"),
        pytest.param("v=spf1 ip4:192.0.2", 1, "not an IPv4 address", id="ip4-short"),
        pytest.param("v=spf1 ip4:192.0.2.01", 1, "not an IPv4 address", id="ip4-leading-zero"),
        pytest.param("v=spf1 ip4:example.com", 1, "not an IPv4 address", id="ip4-name"),
        pytest.param("v=spf1 ip4:192.0.2.0/33", 1, "/33 is out of range", id="ip4-cidr"),
        pytest.param("v=spf1 ip4:192.0.2.0/", 1, "is not a number", id="ip4-empty-cidr"),
        pytest.param("v=spf1 ip4:192.0.2.0//24", 1, "is not a number", id="ip4-dual-cidr"),
        pytest.param("v=spf1 ip4:2001:db8::1", 1, "not an IPv4 address", id="ip4-with-ip6"),
        pytest.param("v=spf1 ip6:192.0.2.1", 1, "not an IPv6 address", id="ip6-with-ip4"),
        pytest.param("v=spf1 ip6:2001:db8:::1", 1, "not an IPv6 address", id="ip6-bad"),
        pytest.param("v=spf1 ip6:fe80::1%eth0", 1, "not an IPv6 address", id="ip6-scope"),
        pytest.param("v=spf1 ip6:::1/129", 1, "/129 is out of range (0-128)", id="ip6-cidr"),
        pytest.param("v=spf1 a:%{x}.example", 1, "is not a macro letter", id="macro-letter"),
        pytest.param("v=spf1 a:%{c}.example", 1, "only in explanation", id="macro-c"),
        pytest.param("v=spf1 exp=%{t}.example", 1, "only in explanation", id="macro-t-exp-spec"),
        pytest.param("v=spf1 a:%{d0}.example", 1, "must not be zero", id="macro-zero"),
        pytest.param("v=spf1 a:%{d.example", 1, "no closing", id="macro-unclosed"),
        pytest.param("v=spf1 a:%{d2rr}.example", 1, "is not a macro letter", id="macro-rr"),
        pytest.param("v=spf1 a:%{d;}.example", 1, "is not a macro letter", id="macro-delim"),
        pytest.param("v=spf1 a:100%.example", 1, "write %% for a literal", id="bare-percent"),
        pytest.param("v=spf1 a:%{d}com", 1, "must end in a top-level label", id="macro-no-dot"),
        pytest.param("v=spf1 a:caf\u00e9.example", 1, "'é' is not allowed", id="non-ascii"),
        pytest.param("v=spf1 a:x\ufffd.example", 1, "not UTF-8", id="replacement-char"),
        pytest.param("v=spf1 redirect=", 1, "redirect= needs a domain", id="redirect-empty"),
        pytest.param("v=spf1 redirect=com", 1, "must end in a top-level", id="redirect-bad"),
        pytest.param("v=spf1 foo=%x", 1, "write %% for a literal", id="unknown-mod-bad-macro"),
        pytest.param(
            "v=spf1 redirect=a.example redirect=b.example",
            2,
            "a second redirect=",
            id="two-redirects",
        ),
        pytest.param("v=spf1 -all exp=a.example EXP=b.example", 3, "a second exp=", id="two-exps"),
    ],
)
def test_invalid_records(text: str, index: int | None, message: str) -> None:
    with pytest.raises(SpfSyntaxError) as caught:
        parse_spf(text)
    assert caught.value.index == index
    assert message in str(caught.value)
    assert spf_errors(text)[0].reason == caught.value.reason


def test_error_names_the_term_and_position() -> None:
    with pytest.raises(SpfSyntaxError, match=r"^term 2 'ip4:192\.0\.2\.0/40': ip4 prefix"):
        parse_spf("v=spf1 a ip4:192.0.2.0/40 -all")


def test_spf_errors_lists_every_faulty_term() -> None:
    errors = spf_errors("v=spf1 foo ip4:1.2.3.4/99 -all redirect=a.example redirect=b.example")
    assert [(e.index, e.kind) for e in errors] == [(1, "term"), (2, "term"), (5, "duplicate")]


def test_long_terms_are_clipped_in_messages() -> None:
    with pytest.raises(SpfSyntaxError) as caught:
        parse_spf("v=spf1 " + "x" * 5000)
    assert len(str(caught.value)) < 300


def test_error_survives_pickling() -> None:
    error = spf_errors("v=spf1 foo")[0]
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.index, copy.kind) == (str(error), 1, "term")


def test_has_macros() -> None:
    assert has_macros("%{i}._spf.example.com")
    assert has_macros("100%%.example.com")
    assert not has_macros("_spf.example.com")


# RFC 7208 section 7.4's examples, for the domain email.example.com (the sender's domain too).
# Letters that name the client or the sender's mailbox expand to None: not knowable here.
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("%{d}", "email.example.com", id="d"),
        pytest.param("%{d4}", "email.example.com", id="d4"),
        pytest.param("%{d3}", "email.example.com", id="d3"),
        pytest.param("%{d2}", "example.com", id="d2"),
        pytest.param("%{d1}", "com", id="d1"),
        pytest.param("%{dr}", "com.example.email", id="dr"),
        pytest.param("%{d2r}", "example.email", id="d2r"),
        pytest.param("%{o}._spf.%{d2}", "email.example.com._spf.example.com", id="o-and-d2"),
        pytest.param("%{d-}", "email.example.com", id="delimiter-not-present"),
        pytest.param("%{D}", "email.example.com", id="upper-case-url-escaped"),
        pytest.param("a%-b.%{d}", "a%20b.email.example.com", id="escapes"),
        pytest.param("%{l}.%{d}", None, id="l"),
        pytest.param("%{s}", None, id="s"),
        pytest.param("%{ir}.%{v}._spf.%{d}", None, id="i-v"),
        pytest.param("%{h}.%{d}", None, id="h"),
        pytest.param("%{p}.%{d}", None, id="p"),
        pytest.param("_spf.example.com", "_spf.example.com", id="no-macro"),
    ],
)
def test_expand_domain_spec(spec: str, expected: str | None) -> None:
    assert expand_domain_spec(spec, "email.example.com", "email.example.com") == expected


def test_expand_uses_the_current_domain_for_d_and_the_sender_for_o() -> None:
    assert (
        expand_domain_spec("%{d}.%{o}", "inc.example", "root.example") == "inc.example.root.example"
    )


def test_expansion_over_253_characters_loses_labels_from_the_left() -> None:
    """RFC 7208 section 7.3: truncate the left side, whole labels, to 253 characters."""
    domain = ".".join(["a" * 63] * 3) + ".example"
    out = expand_domain_spec("%{d}.%{d}", domain, domain)
    assert out is not None and len(out) <= 253 and out.endswith(domain)


@given(st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){0,5}", fullmatch=True), st.integers(1, 9))
def test_d_digits_keep_the_right_most_labels(domain: str, digits: int) -> None:
    out = expand_domain_spec(f"%{{d{digits}}}", domain, domain)
    labels = domain.split(".")
    assert out == ".".join(labels[-digits:])
    assert expand_domain_spec(f"%{{d{digits}r}}", domain, domain) == ".".join(
        labels[::-1][-digits:]
    )


def test_explanation_allows_c_r_t_and_spaces() -> None:
    check_explanation("%{i} is not one of %{d}'s servers (checked by %{r} at %{t}, %{c})")
    with pytest.raises(SpfSyntaxError):
        check_explanation("100% wrong")


# --------------------------------------------------------------------------------------------
# Properties


@given(st.text())
def test_any_text_raises_only_spf_syntax_error(text: str) -> None:
    try:
        parse_spf(text)
    except SpfSyntaxError:
        pass
    spf_errors(text)


_SPFISH = st.text(
    alphabet=st.sampled_from(list("v=spf1 :/%{}.-+~?_aAlLxXmMiIpPoOnNcCdDrRsStTeE0123456789\t")),
    max_size=80,
)


@given(_SPFISH)
def test_spf_like_text_raises_only_spf_syntax_error(tail: str) -> None:
    for text in ("v=spf1 " + tail, "v=spf1 a:" + tail, "v=spf1 ip6:" + tail, tail):
        try:
            parse_spf(text)
        except SpfSyntaxError:
            pass
        spf_errors(text)


_LABEL = st.from_regex(r"[a-z0-9_](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_TOPLABEL = st.from_regex(r"[a-z](?:[a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
_MACRO = st.builds(
    lambda letter, digits, reverse, delims: f"%{{{letter}{digits}{reverse}{delims}}}",
    st.sampled_from(list("slodiphvSLODIPHV")),
    st.sampled_from(["", "1", "2", "12"]),
    st.sampled_from(["", "r", "R"]),
    st.sampled_from(["", ".", "-+", "_=,/"]),
)
_PLAIN_DOMAIN = st.builds(
    lambda labels, top, dot: ".".join([*labels, top]) + dot,
    st.lists(_LABEL, min_size=1, max_size=3),
    _TOPLABEL,
    st.sampled_from(["", "."]),
)
_MACRO_DOMAIN = st.builds(
    lambda macro, rest: macro + rest,
    _MACRO,
    st.one_of(st.just(""), _PLAIN_DOMAIN.map(lambda d: "." + d)),
)
_DOMAIN = st.one_of(_PLAIN_DOMAIN, _MACRO_DOMAIN)
_QUALIFIER = st.sampled_from(["", "+", "-", "~", "?"])
_CIDR4 = st.one_of(st.none(), st.integers(0, 32))
_CIDR6 = st.one_of(st.none(), st.integers(0, 128))


def _dual(c4: int | None, c6: int | None) -> str:
    return (f"/{c4}" if c4 is not None else "") + (f"//{c6}" if c6 is not None else "")


_IP4 = st.ip_addresses(v=4).map(str)
_IP6 = st.ip_addresses(v=6).map(lambda a: a.compressed)

_MECHANISM = st.one_of(
    st.builds(lambda q: Mechanism("all", q), _QUALIFIER),
    st.builds(lambda q, d: Mechanism("include", q, d), _QUALIFIER, _DOMAIN),
    st.builds(lambda q, d: Mechanism("exists", q, d), _QUALIFIER, _DOMAIN),
    st.builds(
        lambda q, n, d, c4, c6: Mechanism(n, q, d, None, c4, c6),
        _QUALIFIER,
        st.sampled_from(["a", "mx"]),
        st.one_of(st.none(), _DOMAIN),
        _CIDR4,
        _CIDR6,
    ),
    st.builds(lambda q, d: Mechanism("ptr", q, d), _QUALIFIER, st.one_of(st.none(), _DOMAIN)),
    st.builds(lambda q, n, c: Mechanism("ip4", q, network=n, cidr4=c), _QUALIFIER, _IP4, _CIDR4),
    st.builds(lambda q, n, c: Mechanism("ip6", q, network=n, cidr6=c), _QUALIFIER, _IP6, _CIDR6),
)
_UNKNOWN_MODIFIER = st.builds(
    Modifier,
    st.from_regex(r"[a-z][a-z0-9_.-]{0,8}", fullmatch=True).filter(
        lambda n: n not in ("redirect", "exp")
    ),
    st.one_of(st.just(""), _DOMAIN),
)


@st.composite
def _records(draw: st.DrawFn) -> tuple[str, tuple[Mechanism | Modifier, ...]]:
    terms: list[Mechanism | Modifier] = draw(
        st.lists(st.one_of(_MECHANISM, _UNKNOWN_MODIFIER), max_size=8)
    )
    for name in ("redirect", "exp"):
        if draw(st.booleans()):
            terms.insert(draw(st.integers(0, len(terms))), Modifier(name, draw(_DOMAIN)))
    spaces = draw(st.lists(st.integers(1, 3), min_size=len(terms) + 1, max_size=len(terms) + 1))
    text = "v=spf1" + "".join(" " * n + t.to_text() for n, t in zip(spaces, terms, strict=False))
    return text + " " * (spaces[-1] - 1), tuple(terms)


@given(_records())
def test_generated_valid_records_parse_to_their_structure(
    case: tuple[str, tuple[Mechanism | Modifier, ...]],
) -> None:
    text, terms = case
    record = parse_spf(text)
    assert record.terms == terms
    assert parse_spf(record.to_text()).terms == terms
    assert record.to_text() == " ".join(["v=spf1", *(t.to_text() for t in terms)])
