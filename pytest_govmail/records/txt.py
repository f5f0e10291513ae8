"""Turn a TXT record's presentation text back into the string a mail system would see."""

from __future__ import annotations

from pytest_govmail.model.dns import DnsResult


class TxtSyntaxError(ValueError):
    """The record text is not valid TXT presentation format (a bug upstream, or hostile input)."""


def txt_strings(text: str) -> tuple[bytes, ...]:
    """Split ``"a" "b\\"c"`` into its strings, undoing RFC 1035 escapes (``\\DDD``, ``\\X``)."""
    strings: list[bytes] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        quoted = ch == '"'
        if quoted:
            i += 1
        buf = bytearray()
        while i < n:
            ch = text[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and ch in " \t":
                break
            if ch == "\\":
                digits = text[i + 1 : i + 4]
                if len(digits) == 3 and all(c in "0123456789" for c in digits):
                    value = int(digits)
                    if value > 255:
                        raise TxtSyntaxError(f"escape \\{digits} is over 255")
                    buf.append(value)
                    i += 4
                    continue
                if i + 1 >= n:
                    raise TxtSyntaxError("dangling backslash")
                buf.extend(text[i + 1].encode("utf-8"))
                i += 2
                continue
            buf.extend(ch.encode("utf-8"))
            i += 1
        else:
            if quoted:
                raise TxtSyntaxError("unterminated quoted string")
        strings.append(bytes(buf))
    return tuple(strings)


def txt_value(text: str) -> str:
    """The record's strings joined with nothing between them (RFC 7208 section 3.3), as text.

    Bytes that are not UTF-8 become U+FFFD, so a parser sees them as the invalid characters they
    are, while the evidence keeps the exact escaped form.
    """
    return b"".join(txt_strings(text)).decode("utf-8", errors="replace")


def txt_values(result: DnsResult) -> tuple[str, ...]:
    """Every TXT record of an answer, each joined into one string."""
    return tuple(txt_value(r) for r in result.records)


def starting_with(
    result: DnsResult, prefix: str, separators: tuple[str, ...] = (" ", ";", "\t")
) -> tuple[str, ...]:
    """The TXT records that start with ``prefix`` (compared case-insensitively), such as ``v=spf1``.

    A record matches when it is exactly the prefix or the prefix is followed by one of
    ``separators``, so ``v=spf10`` is not an SPF record. SPF passes ``(" ",)``: RFC 7208 section
    4.5 selects records that are ``v=spf1`` alone or followed by a space, nothing else.
    """
    found = []
    low = prefix.lower()
    for value in txt_values(result):
        head = value[: len(prefix)].lower()
        rest = value[len(prefix) : len(prefix) + 1]
        if head == low and (rest == "" or rest in separators):
            found.append(value)
    return tuple(found)
