"""Domain list parsing: normalisation, CSV, and usage errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.inputs.targets import (
    TargetError,
    merge_targets,
    normalise_domain,
    targets_from_text,
    targets_from_values,
)
from pytest_govmail.model.target import Role


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example-Dept.GOV.UK", "example-dept.gov.uk"),
        ("example-dept.gov.uk.", "example-dept.gov.uk"),
        ("  spaced.gov.uk  ", "spaced.gov.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("_dmarc-free.example", None),
    ],
)
def test_normalise(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(TargetError):
            normalise_domain(raw)
    else:
        assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "empty"),
        ("a..gov.uk", "empty label"),
        (".gov.uk", "empty label"),
        ("a" * 64 + ".gov.uk", "63"),
        (".".join(["a" * 60] * 5), "253"),
        ("bad_char!.gov.uk", "not"),
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("https://example.gov.uk/", "URL"),
        ("postmaster@example.gov.uk", "e-mail"),
        ("localhost", "single label"),
        ("-lead.gov.uk", "not"),
    ],
)
def test_bad_domains_say_why(raw: str, words: str) -> None:
    with pytest.raises(TargetError, match=words):
        normalise_domain(raw)


def test_values_accept_comma_lists() -> None:
    got = targets_from_values(["a.gov.uk,b.gov.uk", " c.gov.uk "])
    assert [t.domain for t in got] == ["a.gov.uk", "b.gov.uk", "c.gov.uk"]


def test_plain_file_with_bom_crlf_comments_and_duplicates() -> None:
    text = "\ufeff# departments\r\na.gov.uk\r\n\r\nB.gov.uk\r\n  # indented comment\r\na.gov.uk\r\n"
    got = merge_targets(targets_from_text(text, "d.txt"))
    assert [t.domain for t in got] == ["a.gov.uk", "b.gov.uk"]


def test_csv_rows_without_a_header_say_so() -> None:
    with pytest.raises(TargetError, match=r"d\.csv, line 2 looks like CSV but .* no header row"):
        targets_from_text("a.gov.uk\nb.gov.uk,parked\n", "d.csv")


def test_an_empty_domain_value_is_refused() -> None:
    with pytest.raises(TargetError, match="names no domain"):
        targets_from_values([""])


def test_bad_line_is_named() -> None:
    with pytest.raises(TargetError, match=r"d\.txt, line 3: .*URL"):
        targets_from_text("a.gov.uk\n\nhttp://b.gov.uk\n", "d.txt")


def test_csv_with_roles_and_selectors() -> None:
    text = "domain,role,dkim_selectors\na.gov.uk,parked,\nb.gov.uk,sending|receiving,s1 s2\n"
    got = merge_targets(targets_from_text(text, "d.csv"), selectors=["global"])
    assert got[0].roles == frozenset({Role.PARKED})
    assert got[1].roles == frozenset({Role.SENDING, Role.RECEIVING})
    assert got[1].dkim_selectors == ("global", "s1", "s2")
    assert got[1].source == "d.csv:3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("domain,colour\na.gov.uk,red\n", "unknown column"),
        ("domain,role\na.gov.uk,owner\n", r"line 2: unknown role 'owner'"),
        ("domain,dkim_selectors\na.gov.uk,bad/selector\n", "not a valid DKIM selector"),
        ("domain,role\na.gov.uk,parked,extra\n", "3 cells"),
    ],
)
def test_csv_errors(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        targets_from_text(text, "d.csv")


def test_duplicates_merge_roles() -> None:
    text = "domain,role\na.gov.uk,sending\na.gov.uk,receiving\n"
    (only,) = merge_targets(targets_from_text(text, "d.csv"))
    assert only.roles == frozenset({Role.SENDING, Role.RECEIVING})


def test_large_file(tmp_path: Path) -> None:
    from pytest_govmail.inputs.targets import targets_from_file

    path = tmp_path / "many.txt"
    path.write_text("".join(f"d{i}.gov.uk\n" for i in range(100_000)))
    got = merge_targets(targets_from_file(path))
    assert len(got) == 100_000


def test_non_utf8_file(tmp_path: Path) -> None:
    from pytest_govmail.inputs.targets import targets_from_file

    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a.gov.uk\nb\xe9.gov.uk\n")
    with pytest.raises(TargetError, match="line 2: not UTF-8"):
        targets_from_file(path)


@given(st.text(max_size=300))
def test_any_text_is_a_domain_or_a_target_error(text: str) -> None:
    try:
        targets_from_text(text, "fuzz.txt")
    except TargetError:
        pass


def test_shards_partition_the_list_stably() -> None:
    from pytest_govmail.inputs.targets import in_shard, parse_shard

    domains = [f"d{i}.gov.uk" for i in range(1000)]
    for n in (1, 3, 8):
        owners = [[k for k in range(1, n + 1) if in_shard(d, (k, n))] for d in domains]
        assert all(len(o) == 1 for o in owners)  # every domain in exactly one shard
        sizes = [sum(1 for o in owners if o == [k]) for k in range(1, n + 1)]
        assert min(sizes) > 1000 / n * 0.7  # and the shards are roughly even
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/2", "3/2", "2", "a/b", "1/0"):
        with pytest.raises(TargetError, match="K/N"):
            parse_shard(bad)
