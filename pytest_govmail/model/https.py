"""What one MTA-STS policy fetch saw (RFC 8461 section 3.3): facts, never verdicts.

A :class:`PolicyFetch` records the HTTPS GET of ``https://mta-sts.<domain>/.well-known/
mta-sts.txt`` made by :func:`pytest_govmail.collect.https.fetch_policy`: where it connected, the
certificate chain and how it verified, the status line, the headers, the body (bounded at 64 KiB)
and, when the fetch could not complete, a :class:`~pytest_govmail.model.dns.ProbeError`. Everything
that came off the network is kept as bounded plain text; the reporting layer escapes it.

:func:`to_json` and :func:`from_json` are the evidence file's form of a fetch: ``from_json(
to_json(f)) == f`` for every fetch, through ``json.dumps``/``json.loads``. This module imports no
network library: judges read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.tls import TrustCheck

#: The most of a policy body that is read and kept (RFC 8461 section 3.3 suggests 64 KiB).
MAX_BODY_BYTES = 64 * 1024
#: The path RFC 8461 section 3.3 fixes for the policy.
POLICY_PATH = "/.well-known/mta-sts.txt"


def policy_host(domain: str) -> str:
    """The policy host of a domain: ``mta-sts.<domain>`` (RFC 8461 section 3.3)."""
    return f"mta-sts.{domain}"


def policy_url(domain: str, port: int = 443) -> str:
    """The policy URL; a port other than 443 (labs, tests) is written into it."""
    authority = policy_host(domain) if port == 443 else f"{policy_host(domain)}:{port}"
    return f"https://{authority}{POLICY_PATH}"


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """How the served certificate verified for the policy host.

    ``verified`` is True when some trust source validated the chain for the host name at the
    time of the fetch; ``trust`` holds the result against each source (``mozilla``: sslyze's
    Mozilla store, as for the MX hosts; older evidence may say ``system``; ``ca-file``: the user's
    extra anchors). ``names`` are the leaf's DNS
    subjectAltNames and ``name_matches`` whether one covers the host (None: no leaf to read).
    ``detail`` is one line saying why it did not verify (empty when it did).
    """

    verified: bool
    detail: str = ""
    names: tuple[str, ...] = ()
    name_matches: bool | None = None
    trust: tuple[TrustCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyFetch:
    """One policy fetch for ``domain``: everything seen, or why it stopped.

    ``addresses`` are those the caller gave (from the run's DNS answers for the policy host);
    ``address`` is the one actually connected to (None when no connection was made);
    ``attempts`` says, per address tried, what happened. ``status`` is None when no status line
    was read. ``headers`` are (name, value) pairs as received (bounded in number and size);
    ``content_type`` and ``redirect_location`` are the first ``Content-Type`` and ``Location``.
    ``body`` is the first :data:`MAX_BODY_BYTES` bytes of the body decoded as UTF-8 with errors
    replaced (``body_utf8`` says whether those bytes were valid UTF-8); ``body_truncated`` is True
    when the body was longer; ``body_bytes_read`` counts the body bytes received. The body is
    only read for a 200 answer. ``error`` is a remote failure that stopped the fetch (status,
    headers and body hold whatever was seen before it).
    """

    domain: str
    url: str
    host: str
    port: int
    addresses: tuple[str, ...] = ()
    address: str | None = None
    attempts: tuple[str, ...] = ()
    at: str = ""
    elapsed_ms: float = 0.0
    tls_version: str | None = None
    chain_pem: tuple[str, ...] = ()
    certificate: CertificateCheck | None = None
    http_version: str | None = None
    status: int | None = None
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    redirect_location: str | None = None
    body: str = ""
    body_utf8: bool = True
    body_truncated: bool = False
    body_bytes_read: int = 0
    error: ProbeError | None = None

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lower case (``text/plain``), or None."""
        if self.content_type is None:
            return None
        return self.content_type.split(";", 1)[0].strip(" \t").lower()

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def describe(self) -> str:
        """One line for a message: where it went and what came back."""
        where = f" at {self.address}" if self.address else ""
        if self.error is not None and self.status is None:
            return f"GET {self.url}{where}: {self.error.describe()}"
        status = f"HTTP {self.status} {self.reason}".rstrip()
        extra = f" ({self.error.describe()})" if self.error is not None else ""
        return f"GET {self.url}{where}: {status}{extra}"


def _trust_to_json(t: TrustCheck) -> dict[str, Any]:
    return {"store": t.store, "verified": t.verified, "detail": t.detail}


def _trust_from_json(data: Mapping[str, Any]) -> TrustCheck:
    return TrustCheck(str(data["store"]), _bool(data["verified"]), str(data.get("detail", "")))


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def to_json(fetch: PolicyFetch) -> dict[str, Any]:
    """The evidence file's form of a fetch (plain JSON types only)."""
    data: dict[str, Any] = {
        "domain": fetch.domain,
        "url": fetch.url,
        "host": fetch.host,
        "port": fetch.port,
        "addresses": list(fetch.addresses),
        "address": fetch.address,
        "attempts": list(fetch.attempts),
        "at": fetch.at,
        "elapsed_ms": fetch.elapsed_ms,
        "tls_version": fetch.tls_version,
        "chain_pem": list(fetch.chain_pem),
        "certificate": None,
        "http_version": fetch.http_version,
        "status": fetch.status,
        "reason": fetch.reason,
        "headers": [[name, value] for name, value in fetch.headers],
        "content_type": fetch.content_type,
        "redirect_location": fetch.redirect_location,
        "body": fetch.body,
        "body_utf8": fetch.body_utf8,
        "body_truncated": fetch.body_truncated,
        "body_bytes_read": fetch.body_bytes_read,
        "error": None,
    }
    cert = fetch.certificate
    if cert is not None:
        data["certificate"] = {
            "verified": cert.verified,
            "detail": cert.detail,
            "names": list(cert.names),
            "name_matches": cert.name_matches,
            "trust": [_trust_to_json(t) for t in cert.trust],
        }
    if fetch.error is not None:
        data["error"] = {"kind": fetch.error.kind.value, "detail": fetch.error.detail}
    return data


def from_json(data: Mapping[str, Any]) -> PolicyFetch:
    """A fetch back from :func:`to_json`'s form.

    Raises KeyError, TypeError or ValueError on malformed data (the evidence reader turns those
    into its own error naming the file).
    """
    if not isinstance(data, Mapping):
        raise TypeError("a policy fetch must be a JSON object")
    cert_data = data.get("certificate")
    certificate = None
    if cert_data is not None:
        name_matches = cert_data.get("name_matches")
        certificate = CertificateCheck(
            verified=_bool(cert_data["verified"]),
            detail=str(cert_data.get("detail", "")),
            names=tuple(str(n) for n in cert_data.get("names", ())),
            name_matches=None if name_matches is None else _bool(name_matches),
            trust=tuple(_trust_from_json(t) for t in cert_data.get("trust", ())),
        )
    error_data = data.get("error")
    error = None
    if error_data is not None:
        error = ProbeError(ErrorKind(error_data["kind"]), str(error_data.get("detail", "")))
    status = data.get("status")
    headers = []
    for pair in data.get("headers", ()):
        name, value = pair
        headers.append((str(name), str(value)))
    return PolicyFetch(
        domain=str(data["domain"]),
        url=str(data["url"]),
        host=str(data["host"]),
        port=_int(data["port"]),
        addresses=tuple(str(a) for a in data.get("addresses", ())),
        address=_opt_str(data.get("address")),
        attempts=tuple(str(a) for a in data.get("attempts", ())),
        at=str(data.get("at", "")),
        elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        tls_version=_opt_str(data.get("tls_version")),
        chain_pem=tuple(str(p) for p in data.get("chain_pem", ())),
        certificate=certificate,
        http_version=_opt_str(data.get("http_version")),
        status=None if status is None else _int(status),
        reason=str(data.get("reason", "")),
        headers=tuple(headers),
        content_type=_opt_str(data.get("content_type")),
        redirect_location=_opt_str(data.get("redirect_location")),
        body=str(data.get("body", "")),
        body_utf8=_bool(data.get("body_utf8", True)),
        body_truncated=_bool(data.get("body_truncated", False)),
        body_bytes_read=_int(data.get("body_bytes_read", 0)),
        error=error,
    )


def policies_to_json(policies: Mapping[str, PolicyFetch]) -> list[dict[str, Any]]:
    """Every fetch of a run, in domain order: the evidence file's ``policies`` list."""
    return [to_json(policies[domain]) for domain in sorted(policies)]


def policies_from_json(items: object) -> dict[str, PolicyFetch]:
    """The ``policies`` list back as the mapping that
    :class:`~pytest_govmail.model.subject.Subject` takes."""
    if not isinstance(items, list):
        raise TypeError("policies must be a JSON list")
    fetches = (from_json(item) for item in items)
    return {fetch.domain: fetch for fetch in fetches}
