"""What DMARC needs asked.

DMARC discovery follows RFC 7489 section 6.6.3 (DMARC-01 in the catalogue): ``_dmarc.<domain>``,
and only when that holds no DMARC record, ``_dmarc.<organisational domain>``. RFC 9989's DNS
tree walk would also ask the names in between; the catalogue's DMARC-01 asks for the
organisational domain only. Then, for the record that applies, every ``mailto:`` report
destination outside the organisational domain needs its authorisation record (RFC 7489 section
7.1): ``<domain that published the record>._report._dmarc.<destination host>``.

A question whose answer is a timeout or SERVFAIL is not followed further: the judge returns
INCONCLUSIVE for it, and nothing asked after it could change that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pytest_govmail.model.dns import DnsResult, DnsView, Query
from pytest_govmail.model.target import Target
from pytest_govmail.records.dmarc import (
    DmarcSyntaxError,
    authorisation_name,
    dmarc_records,
    needs_authorisation,
    organisational_domain,
    parse_dmarc,
)


def _answered(dns: DnsView, query: Query) -> DnsResult | None:
    result = dns.get(query.name, query.rdtype)
    return result if result is not None and result.error is None else None


def dmarc_queries(target: Target, dns: DnsView) -> Iterable[Query]:
    """DMARC-01..08 and PARK-02: the ``_dmarc`` records and the external-report authorisations."""
    return list(_dmarc_queries(target.domain, dns))


def _dmarc_queries(domain: str, dns: DnsView) -> Iterator[Query]:
    own = Query.of(f"_dmarc.{domain}", "TXT")
    yield own
    result = _answered(dns, own)
    if result is None:
        return
    records = dmarc_records(result)
    published_at = domain
    if not records:
        org = organisational_domain(domain)
        if org == domain:
            return
        fallback = Query.of(f"_dmarc.{org}", "TXT")
        yield fallback
        result = _answered(dns, fallback)
        if result is None:
            return
        records = dmarc_records(result)
        published_at = org
    if len(records) != 1:
        return  # several records at one name: none applies (RFC 7489 section 6.6.3 step 5)
    try:
        record = parse_dmarc(records[0])
    except DmarcSyntaxError:
        return
    for uri in (*record.rua, *record.ruf):
        host = uri.host
        if uri.is_mailto and host and needs_authorisation(published_at, host):
            yield Query.of(authorisation_name(published_at, host), "TXT")
