"""The SMTP TLS Reporting record at ``_smtp._tls.<domain>`` (RFC 8460 section 3).

The grammar (RFC 8460 section 3)::

    tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
    field-delim      = *WSP ";" *WSP
    tlsrpt-field     = tlsrpt-rua / tlsrpt-extension   ; tlsrpt-rua is required
    tlsrpt-version   = %s"v=TLSRPTv1"
    tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
    tlsrpt-uri       = URI    ; RFC 3986; commas and '!' MUST be percent-encoded
    tlsrpt-extension = the same as RFC 8461's sts-extension

So the version and ``rua=`` are case-sensitive and there is no white space around ``=``. The
grammar does not say what two ``rua`` fields mean; a reporter cannot tell which list applies, so
we treat that as invalid. URIs of any scheme parse here (RFC 8460 defines ``mailto:`` and
``https:``; TLSRPT-01 judges the schemes); a ``mailto:`` must hold one address ``local@domain``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult
from pytest_govmail.records.dmarc import DmarcSyntaxError, ReportUri, parse_report_uri
from pytest_govmail.records.mtasts import announced, split_fields
from pytest_govmail.records.txt import txt_values

VERSION = "v=TLSRPTv1"


class TlsRptSyntaxError(ValueError):
    """The text is not a valid TLS-RPT record (RFC 8460 section 3)."""


@dataclass(frozen=True, slots=True)
class TlsRptRecord:
    """A parsed TLS-RPT record: its ``rua`` URIs and any extension fields, in order."""

    text: str
    rua: tuple[ReportUri, ...]
    extensions: tuple[tuple[str, str], ...] = ()


def _uris(value: str) -> tuple[ReportUri, ...]:
    uris = []
    for index, item in enumerate(value.split(",")):
        # *WSP is allowed around each comma, but not between "rua=" and the first URI.
        uri = item.strip(" \t") if index else item.rstrip(" \t")
        if not uri:
            raise TlsRptSyntaxError(f"rua={value[:60]!r}: an empty or badly spaced URI")
        if "!" in uri:
            raise TlsRptSyntaxError(f"{uri[:60]!r}: '!' must be percent-encoded (%21)")
        try:
            uris.append(parse_report_uri(uri))
        except DmarcSyntaxError as exc:
            raise TlsRptSyntaxError(f"rua: {exc}") from None
    return tuple(uris)


def parse_tlsrpt(text: str) -> TlsRptRecord:
    """Parse a TLS-RPT TXT value (strings joined). Raises only :class:`TlsRptSyntaxError`."""
    if not isinstance(text, str):
        raise TlsRptSyntaxError("a TLS-RPT record must be text")
    fields = split_fields(text, VERSION, TlsRptSyntaxError, frozenset({"rua"}))
    ruas = [value for name, value in fields if name == "rua"]
    if not ruas:
        raise TlsRptSyntaxError("the record has no rua field (RFC 8460 section 3 requires one)")
    if len(ruas) > 1:
        raise TlsRptSyntaxError(
            "the record has more than one rua field (list every URI in one, separated by commas)"
        )
    extensions = tuple((n, v) for n, v in fields if n != "rua")
    return TlsRptRecord(text, _uris(ruas[0]), extensions)


def tlsrpt_records(result: DnsResult) -> tuple[str, ...]:
    """The TXT values of an answer that begin ``v=TLSRPTv1;`` (RFC 8460 section 3 discards the
    rest when there are several)."""
    return announced(txt_values(result), VERSION)
