"""Ask DNS questions concurrently and record every answer, or every failure, as evidence.

This is the only DNS code that touches the network. It never raises for a remote failure: a
timeout, SERVFAIL or refusal becomes a :class:`~pytest_govmail.model.dns.DnsResult` whose ``error``
says what happened, while NXDOMAIN and NODATA are answers. Each distinct question is asked once
per run however many domains need it (SPF includes and MX hosts are widely shared).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from pytest_govmail.collect.dns_udp import PooledNameserver
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, DnsView, ErrorKind, ProbeError, Query
from pytest_govmail.model.target import Target
from pytest_govmail.plan import Planner

#: Bounds that stop a hostile zone (an endless chain of includes) from making a run ask forever.
MAX_ROUNDS_PER_TARGET = 40
MAX_QUERIES_PER_TARGET = 400
#: Domains settling at once per question in flight (see ``DnsCollector.domains_in_flight``).
DOMAINS_IN_FLIGHT_PER_SLOT = 4


@dataclass(frozen=True, slots=True)
class Nameserver:
    """A resolver to send questions to: ``IP[:PORT]`` on the command line."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _classify(exc: dns.resolver.NoNameservers) -> ProbeError:
    """Turn dnspython's 'all nameservers failed' into the one reason a user needs to see."""
    errors = exc.kwargs.get("errors") or []
    kinds: list[ErrorKind] = []
    details: list[str] = []
    for entry in errors:
        server, _tcp, port, err, response = (tuple(entry) + (None,) * 5)[:5]
        if isinstance(response, dns.message.Message):
            rcode = response.rcode()
            if rcode == dns.rcode.SERVFAIL:
                kinds.append(ErrorKind.SERVFAIL)
            elif rcode == dns.rcode.REFUSED:
                kinds.append(ErrorKind.REFUSED)
            elif isinstance(err, dns.exception.DNSException) and not isinstance(
                err, dns.exception.Timeout
            ):
                kinds.append(ErrorKind.MALFORMED)
            else:
                kinds.append(ErrorKind.OTHER)
            details.append(f"{server}:{port} answered {dns.rcode.to_text(rcode)}")
        else:
            kinds.append(ErrorKind.NO_NAMESERVERS)
            details.append(
                f"the resolver {str(server).removeprefix('Do53:').partition('@')[0]}:{port} "
                "refused the connection (is a DNS server running "
                "there?)"
                if isinstance(err, ConnectionRefusedError)
                else f"{server}:{port}: {err}"
            )
    kind = kinds[0] if kinds and all(k == kinds[0] for k in kinds) else ErrorKind.NO_NAMESERVERS
    return ProbeError(kind, "; ".join(details) or "all nameservers failed")


class DnsCollector:
    """Resolves :class:`Query` objects with dnspython's async resolver, each once per run."""

    def __init__(
        self,
        nameservers: Sequence[Nameserver] = (),
        timeout: float = 5.0,
        concurrency: int = 200,
        pooled: bool = True,
    ) -> None:
        """``pooled=False`` never opens the socket pools, so every question goes through
        dnspython's own socket per question (for comparison in bench/)."""
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            addresses = [(ns.address, ns.port) for ns in nameservers]
            self.resolver_label = ", ".join(str(ns) for ns in nameservers)
        else:
            self._resolver = dns.asyncresolver.Resolver()
            self.resolver_label = "system: " + ", ".join(
                str(ns) for ns in self._resolver.nameservers
            )
            port = self._resolver.port
            addresses = [(ns, port) for ns in self._resolver.nameservers if isinstance(ns, str)]
        self._pooled = [PooledNameserver(address, port) for address, port in addresses]
        if self._pooled:
            self._resolver.nameservers = list(self._pooled)
        self._use_pools = pooled
        self._resolver.cache = None
        self.timeout = timeout
        self._concurrency = concurrency
        self._results: dict[Query, DnsResult] = {}
        self._pending: dict[Query, asyncio.Task[DnsResult]] = {}
        self._semaphore: asyncio.Semaphore | None = None
        #: Domains whose questions are being asked at once. The questions in flight are bounded
        #: by ``concurrency``; this bounds what waits for them. Every domain started at once, a
        #: 10,000-domain sweep held some 230,000 waiting tasks, most of its collecting step's
        #: memory. Several domains per question slot keep the slots full while some domains
        #: wait on a slow zone's timeouts.
        self.domains_in_flight = max(DOMAINS_IN_FLIGHT_PER_SLOT * concurrency, 1)

    @property
    def results(self) -> DnsSnapshot:
        return DnsSnapshot(self._results.values())

    def preload(self, results: Iterable[DnsResult]) -> None:
        """Answers already known (an earlier phase of the same run) are not asked again."""
        for result in results:
            self._results[result.query] = result

    async def resolve(self, query: Query) -> DnsResult:
        """One question, asked once per run; concurrent askers share the same answer."""
        done = self._results.get(query)
        if done is not None:
            return done
        task = self._pending.get(query)
        if task is None:
            task = asyncio.ensure_future(self._ask(query))
            self._pending[query] = task
        return await task

    async def _ask(self, query: Query) -> DnsResult:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        async with self._semaphore:
            result = await self._ask_now(query)
        self._results[query] = result
        self._pending.pop(query, None)
        return result

    async def _ask_now(self, query: Query) -> DnsResult:
        at = _utc_now()
        start = time.perf_counter()

        def done(**fields: object) -> DnsResult:
            elapsed = round((time.perf_counter() - start) * 1000, 1)
            return DnsResult(
                name=query.name,
                rdtype=query.rdtype,
                resolver=self.resolver_label,
                elapsed_ms=elapsed,
                at=at,
                **fields,  # type: ignore[arg-type]
            )

        try:
            qname = dns.name.from_text(query.name)
            answer = await self._resolver.resolve(
                qname,
                query.rdtype,
                raise_on_no_answer=False,
                lifetime=self.timeout,
                search=False,
            )
        except dns.resolver.NXDOMAIN as exc:
            try:
                canonical = exc.canonical_name
            except (KeyError, AttributeError, TypeError):
                canonical = qname
            chain = () if canonical == qname else (str(canonical).rstrip(".").lower(),)
            return done(rcode="NXDOMAIN", cname_chain=chain)
        except dns.resolver.LifetimeTimeout:
            return done(
                rcode=None,
                error=ProbeError(ErrorKind.TIMEOUT, f"no answer within {self.timeout:g} s"),
            )
        except dns.resolver.NoNameservers as exc:
            return done(rcode=None, error=_classify(exc))
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel) as exc:
            return done(rcode=None, error=ProbeError(ErrorKind.MALFORMED, f"bad name: {exc}"))
        except dns.exception.DNSException as exc:
            return done(
                rcode=None, error=ProbeError(ErrorKind.OTHER, str(exc) or type(exc).__name__)
            )
        response = answer.response
        # The names the CNAMEs point to, in order; the last is the canonical name.
        cnames: tuple[str, ...] = tuple(
            str(rrset[0].target).rstrip(".").lower() for rrset in answer.chaining_result.cnames
        )
        rrset = answer.rrset
        records = tuple(rd.to_text() for rd in rrset) if rrset is not None else ()
        return done(
            rcode="NOERROR",
            records=records,
            ttl=rrset.ttl if rrset is not None else None,
            authenticated=bool(response.flags & dns.flags.AD),
            cname_chain=cnames,
        )

    async def settle(
        self,
        targets: Sequence[Target],
        planners: Sequence[Planner],
        on_settled: Callable[[Target, DnsView], None] | None = None,
    ) -> None:
        """Ask every question the planners want for every target, following up until none is new.

        Each target advances on its own, so one slow zone delays only its own follow-ups, and
        timeouts run side by side rather than one after another (up to
        :attr:`domains_in_flight` domains at once, each taking the next as it settles).
        ``on_settled`` is called (in the collector's thread) as each target's questions are all
        answered, with a view of the answers so far: the engine starts that domain's TLS scans
        there.
        """
        view = _LiveView(self._results)

        async def rounds(target: Target) -> None:
            asked: set[Query] = set()
            for _ in range(MAX_ROUNDS_PER_TARGET):
                wanted: set[Query] = set()
                for planner in planners:
                    wanted.update(planner(target, view))
                new = wanted - asked
                if not new:
                    return
                room = MAX_QUERIES_PER_TARGET - len(asked)
                if room <= 0:
                    return
                batch = sorted(new)[:room]
                asked.update(batch)
                await asyncio.gather(*(self.resolve(q) for q in batch))

        waiting = iter(targets)

        async def worker() -> None:
            # The workers share one iterator: each takes the next domain as it finishes one.
            for target in waiting:
                await rounds(target)
                if on_settled is not None:
                    on_settled(target, view)

        await asyncio.gather(*(worker() for _ in range(min(len(targets), self.domains_in_flight))))

    def settle_sync(
        self,
        targets: Sequence[Target],
        planners: Sequence[Planner],
        progress: Callable[[str], None] | None = None,
        interval: float = 5.0,
        on_settled: Callable[[Target, DnsView], None] | None = None,
    ) -> DnsSnapshot:
        """:meth:`settle` from synchronous code (pytest hooks), returning every answer so far.

        ``progress`` is called every ``interval`` seconds with a line saying how far it got.
        """
        # The loop runs in a thread of its own: pytest hooks may be called where a loop already
        # runs (pytest-asyncio, an embedding application), and asyncio.run() would also take
        # over SIGINT. The caller waits; an exception in the collector is re-raised here.
        failure: list[BaseException] = []

        def work() -> None:
            try:
                asyncio.run(self._settle_fresh(targets, planners, on_settled))
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="govmail-dns", daemon=True)
        thread.start()
        thread.join(interval if progress else None)
        while thread.is_alive():
            if progress is not None:
                failed = sum(1 for r in list(self._results.values()) if r.error is not None)
                progress(
                    f"DNS: {len(self._results)} answers ({failed} failed), "
                    f"{len(self._pending)} questions in flight"
                )
            thread.join(interval)
        if failure:
            raise failure[0]
        return self.results

    async def _settle_fresh(
        self,
        targets: Sequence[Target],
        planners: Sequence[Planner],
        on_settled: Callable[[Target, DnsView], None] | None = None,
    ) -> None:
        # Tasks and semaphores belong to one event loop: start each synchronous call clean.
        self._pending.clear()
        self._semaphore = None
        pooled = self._pooled if self._use_pools else []
        for nameserver in pooled:
            nameserver.open_pool()
        try:
            await self.settle(targets, planners, on_settled)
        finally:
            for nameserver in pooled:
                nameserver.close_pool()


class _LiveView:
    """A read-only view of the answers collected so far, for planners between rounds."""

    __slots__ = ("_results",)

    def __init__(self, results: dict[Query, DnsResult]) -> None:
        self._results = results

    def get(self, name: str, rdtype: str) -> DnsResult | None:
        return self._results.get(Query.of(name, rdtype))
