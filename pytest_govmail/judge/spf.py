"""Judges for SPF (SPF-01..SPF-07, RFC 7208) and the parked-domain SPF rule (PARK-01).

Every judge takes a :class:`~pytest_govmail.model.subject.Subject` and returns a
:class:`~pytest_govmail.model.verdict.Verdict`. The include/redirect tree is walked once, by
:func:`pytest_govmail.records.spf.walk_spf`, the same walk the planner uses.

Rules kept the same in every judge here:

* The domain's own TXT answer is read with :func:`pytest_govmail.judge.common.lookup`: a timeout,
  SERVFAIL or an answer missing from the evidence makes the verdict INCONCLUSIVE, never FAIL.
* SPF-01 owns "no SPF record" and "several SPF records". SPF-02, SPF-03 and SPF-05..SPF-07 need
  exactly one record: when there is none or several they FAIL with the finding
  ``spf.record.missing`` or ``spf.record.multiple`` pointing at SPF-01 (a domain without one
  usable record cannot meet them). SPF-04 is NOT APPLICABLE then: with no record, or several,
  evaluation stops before any lookup (RFC 7208 section 4.5), so there is nothing to count.
  SPF-03..SPF-06 judge what evaluation does, so a record that does not parse (a permerror: the
  receiver evaluates nothing) makes them FAIL with ``spf.record.invalid`` pointing at SPF-02.
* An include or redirect target whose TXT lookup failed (or was not collected), or whose name has
  macros that name the client (it depends on the connecting client, so it cannot be looked up in
  an assessment; ``%{d}`` and ``%{o}`` are expanded and looked up like any name), leaves
  part of the tree unknown. SPF-03..SPF-06 are then INCONCLUSIVE, naming the target, unless the
  known part already fails: then FAIL is certain, and the finding says the count is a minimum.
* Counting (SPF-03, RFC 7208 section 4.6.4): each ``include``, ``a``, ``mx``, ``ptr``, ``exists``
  and ``redirect`` evaluation can reach is one lookup, counted through every include and redirect
  (an include reached twice counts twice, as evaluation does). Terms after the first ``all`` are
  never evaluated (section 5.1) and ``redirect`` is ignored when there is an ``all`` (section 6.1),
  so neither counts; ``exp`` never counts. The MX query of an ``mx`` term counts once; its
  exchanges' address lookups do not, but more than 10 exchanges is a permerror of its own.
  An include/redirect loop makes evaluation unbounded, so it fails the limit too.
* Void lookups (SPF-04, RFC 7208 section 4.6.4) are counted per term: the TXT lookup of an
  ``include``/``redirect`` target, the MX lookup of ``mx``, the A lookup of ``exists``, and for
  ``a`` the A and AAAA lookups together: an ``a`` term is void when both are, because a receiver
  asks only the one matching the client's address family, and only a name with neither address
  is void for every client. Terms with macros and ``ptr`` are not resolved and not counted.
* Size (SPF-07, RFC 7208 section 3.4): the answer to the domain's TXT query holds every TXT record
  at the name, not just SPF, so all of them count: the sum over records of each character-string's
  length plus its length octet.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_govmail.judge.common import lookup
from pytest_govmail.model.dns import DnsResult, Query
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.verdict import Finding, Verdict
from pytest_govmail.records.spf import (
    MAX_DNS_TERMS,
    MAX_MX_NAMES,
    MAX_VOID_LOOKUPS,
    SPF_VERSION,
    WALK_MAX_DEPTH,
    WALK_TERM_BUDGET,
    Mechanism,
    NodeState,
    SpfNode,
    SpfRecord,
    SpfSyntaxError,
    SpfTree,
    TermLookup,
    parse_spf,
    spf_errors,
    spf_records,
    walk_spf,
)
from pytest_govmail.records.txt import (
    TxtSyntaxError,
    txt_strings,
    txt_value,
    txt_values,
)

MAX_TXT_BYTES = 450
"""RFC 7208 section 3.4: keep the TXT answer within 450 octets of record data."""

_CLIP = 200
_LIMIT = (
    f"at most {MAX_DNS_TERMS} DNS-querying terms (include, a, mx, ptr, exists, redirect),"
    " counted through includes and redirect (RFC 7208 section 4.6.4)"
)


def _clip(text: str, limit: int = _CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _keys(queries: Iterable[Query]) -> tuple[str, ...]:
    return tuple(q.key for q in queries)


def _where(node: SpfNode) -> str:
    """Names a record for a message: the domain's own, or an include/redirect target's."""
    if node.depth == 0:
        return f"the record of {node.domain}"
    return f"the record of {node.domain} (reached by {' -> '.join(node.path)})"


# --------------------------------------------------------------------------------------------
# The domain's own record


def _own(subject: Subject) -> tuple[DnsResult, tuple[str, ...]] | Verdict:
    """The domain's TXT answer and the SPF records in it, or INCONCLUSIVE."""
    result = lookup(subject, subject.domain, "TXT")
    if isinstance(result, Verdict):
        return result
    try:
        return result, spf_records(result)
    except TxtSyntaxError as exc:
        key = result.query.key
        return Verdict.inconclusive(f"{key}: the evidence holds malformed TXT text ({exc})", [key])


def _none_found(subject: Subject, result: DnsResult) -> str:
    """Why a TXT answer holds no SPF record, for the ``observed`` of a finding."""
    domain = subject.domain
    if result.nxdomain:
        return f"{domain} does not exist (NXDOMAIN), so it has no SPF record"
    if not result.records:
        return f"no TXT records at {domain}, so no SPF record"
    near = [v for v in txt_values(result) if "v=spf" in v.lower()]
    hint = f"; {_clip(near[0], 80)!r} is not one: it must start exactly 'v=spf1 '" if near else ""
    return f"{len(result.records)} TXT record(s) at {domain}, none starting 'v=spf1'{hint}"


def _missing(subject: Subject, result: DnsResult, owner: bool) -> Finding:
    see = "" if owner else " (see SPF-01): this requirement cannot be met without one"
    return Finding(
        "spf.record.missing",
        _none_found(subject, result) + see,
        "exactly one TXT record starting 'v=spf1' (RFC 7208 sections 3, 4.5)",
        f"publish one TXT record at {subject.domain}: 'v=spf1 -all' if it sends no mail,"
        " otherwise 'v=spf1 include:<each sending service> -all'",
    )


def _merged(records: tuple[str, ...]) -> str:
    """One record with the mechanisms of several (a starting point for merging them)."""
    terms: dict[str, None] = {}
    for text in records:
        try:
            record = parse_spf(text)
        except ValueError:
            continue
        for mech in record.mechanisms:
            if mech.name != "all":
                terms.setdefault(str(mech))
    return " ".join([SPF_VERSION, *terms, "-all"])


def _multiple(subject: Subject, records: tuple[str, ...], owner: bool) -> Finding:
    see = "" if owner else " (see SPF-01): receivers return permerror and evaluate nothing"
    shown = " | ".join(repr(_clip(r, 120)) for r in records)
    return Finding(
        "spf.record.multiple",
        f"{len(records)} SPF records at {subject.domain}: {shown}{see}",
        "exactly one TXT record starting 'v=spf1' (RFC 7208 section 4.5: several is a permerror)",
        f"merge them into one record, for example '{_clip(_merged(records), 300)}'",
    )


def _single(subject: Subject, owner: bool = False) -> tuple[DnsResult, str] | Verdict:
    """The domain's one SPF record, or FAIL / INCONCLUSIVE.

    ``owner`` is True for SPF-01 itself; the other requirements' failures point at SPF-01.
    """
    got = _own(subject)
    if isinstance(got, Verdict):
        return got
    result, found = got
    key = [result.query.key]
    if not found:
        return Verdict.failed(_missing(subject, result, owner=owner), evidence=key)
    if len(found) > 1:
        return Verdict.failed(_multiple(subject, found, owner=owner), evidence=key)
    return result, found[0]


def _parsed(subject: Subject) -> tuple[DnsResult, SpfRecord] | Verdict:
    """The domain's one SPF record, parsed, or FAIL (pointing at SPF-01 or SPF-02)."""
    got = _single(subject)
    if isinstance(got, Verdict):
        return got
    result, text = got
    errors = spf_errors(text)
    if errors:
        finding = Finding(
            "spf.record.invalid",
            f"the SPF record of {subject.domain} does not parse ({errors[0]}; see SPF-02):"
            " receivers return permerror and evaluate nothing",
            "an SPF record that parses (RFC 7208 section 12)",
            "correct the record as SPF-02 describes",
        )
        return Verdict.failed(finding, evidence=[result.query.key])
    return result, parse_spf(text)


def _walked(subject: Subject) -> SpfTree | Verdict:
    """The include/redirect tree of the domain's valid record, or the verdict that stops us."""
    got = _parsed(subject)
    if isinstance(got, Verdict):
        return got
    tree = walk_spf(subject.domain, subject.dns)
    if tree.root.state is not NodeState.OK:  # the view changed under us: not a domain fact
        return Verdict.inconclusive(f"the SPF record of {subject.domain} could not be re-read")
    return tree


# --------------------------------------------------------------------------------------------
# Reading the tree


def render_tree(tree: SpfTree) -> str:
    """The tree as indented text: each record, and each lookup with its branch's count."""
    lines: list[str] = []

    def node_line(node: SpfNode, indent: str) -> None:
        if node.state is NodeState.OK:
            suffix = "  (walk stopped here: bound reached)" if node.truncated else ""
            lines.append(f"{indent}{node.domain}: {_clip(node.text)!r}{suffix}")
        else:
            lines.append(f"{indent}{node.domain}: {_node_problem(node)}")
        for item in node.lookups:
            lines.append(f"{indent}  {_clip(str(item.term), 120)}  [{item.count}]{_notes(item)}")
            if item.child is not None:
                node_line(item.child, indent + "    ")

    lines.append(f"{tree.dns_terms} DNS-querying terms (limit {MAX_DNS_TERMS})")
    node_line(tree.root, "")
    return "\n".join(lines)


def _node_problem(node: SpfNode) -> str:
    match node.state:
        case NodeState.NO_RECORD:
            return "NXDOMAIN, no SPF record" if node.void else "no SPF record"
        case NodeState.MULTIPLE:
            return f"several SPF records: {_clip(node.text)}"
        case NodeState.INVALID:
            return f"SPF record does not parse ({node.problem})"
        case NodeState.UNRESOLVED:
            return f"lookup failed: {node.problem}"
        case NodeState.LOOP:
            return f"loop: {' -> '.join(node.path)}"
        case NodeState.MACRO if node.problem:
            return f"has macros that {node.problem}, not a name (a permerror)"
        case NodeState.MACRO:
            return "has macros: depends on the sending client, not looked up"
        case _:
            return "not walked: the walk's bound was reached"


def _notes(item: TermLookup) -> str:
    notes = []
    if item.void:
        notes.append("void")
    if item.mx_names is not None:
        notes.append(f"{item.mx_names} MX name(s)")
    if item.unresolved:
        notes.append("unknown: " + "; ".join(item.unresolved))
    if item.target is None and item.kind not in ("ptr",) and item.child is None:
        notes.append("has macros: not looked up")
    return f"  ({', '.join(notes)})" if notes else ""


def _unknown_targets(tree: SpfTree) -> list[str]:
    """Include/redirect targets whose records are unknown: failed lookups, macro redirects.

    An ``include`` whose target has macros (Proofpoint-style ``include:%{ir}.%{v}.%{d}...``)
    depends on the sending client, so no checker can evaluate it; it counts as one lookup and
    is named in the verdict (see :func:`_macro_note`) rather than making every run inconclusive.
    A ``redirect`` with macros decides the whole record's result, so it stays unknown.
    """
    out = []
    for item in tree.lookups():
        if item.child is None:
            continue
        if item.child.state is NodeState.UNRESOLVED:
            out.append(f"{item.term} ({item.child.problem})")
        elif (
            item.child.state is NodeState.MACRO
            and item.kind != "include"
            and not item.child.problem
        ):
            out.append(f"{item.term} (has macros: it depends on the sending client)")
    return out


def _macro_note(tree: SpfTree) -> str:
    """A note naming includes with macros, which were counted as one lookup each."""
    macros = [
        str(item.term)
        for item in tree.lookups()
        if item.child is not None and item.child.state is NodeState.MACRO and item.kind == "include"
    ]
    if not macros:
        return ""
    return (
        f"; {', '.join(_clip(m, 80) for m in macros)} counted as 1 each (macros: the target "
        "depends on the sending client)"
    )


def _details(tree: SpfTree) -> tuple[tuple[str, str], ...]:
    return (("SPF lookup tree", render_tree(tree)),)


def _branches(tree: SpfTree) -> str:
    return ", ".join(f"{_clip(str(i.term), 60)} ({i.count})" for i in tree.root.lookups)


def _unique(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings without repeats (an include reached twice would report its problem twice)."""
    return tuple(dict.fromkeys(findings))


def _loops(tree: SpfTree) -> list[SpfNode]:
    return [n for n in tree.nodes() if n.state is NodeState.LOOP]


# --------------------------------------------------------------------------------------------
# The judges


def spf_single_record(subject: Subject) -> Verdict:
    """SPF-01: exactly one TXT record starting ``v=spf1`` (RFC 7208 sections 3.2, 4.5).

    "No record" needs a real answer (NOERROR or NXDOMAIN); a failed lookup is INCONCLUSIVE.
    """
    got = _single(subject, owner=True)
    if isinstance(got, Verdict):
        return got
    result, record = got
    return Verdict.passed(
        f"one SPF record at {subject.domain}: {_clip(record)!r}", [result.query.key]
    )


def spf_syntax_valid(subject: Subject) -> Verdict:
    """SPF-02: every term of the domain's SPF record parses (RFC 7208 sections 4.6, 5, 6, 12).

    Mechanisms, qualifiers, addresses and prefix lengths, macros, at most one ``redirect`` and one
    ``exp``. Include targets' records are judged under SPF-04.
    """
    got = _single(subject)
    if isinstance(got, Verdict):
        return got
    result, text = got
    key = [result.query.key]
    errors = spf_errors(text)
    if not errors:
        count = len(parse_spf(text).terms)
        return Verdict.passed(f"all {count} terms parse: {_clip(text)!r}", key)
    return Verdict.failed(*(_syntax_finding(subject, e) for e in errors), evidence=key)


_SYNTAX_CODES = {"version": "spf.syntax.version", "duplicate": "spf.syntax.duplicate"}


def _syntax_finding(subject: Subject, error: SpfSyntaxError) -> Finding:
    if error.kind == "duplicate" and error.term is not None:
        name = error.term.partition("=")[0].lower()
        fix = f"keep one {name}= and delete the other ({_clip(error.term, 80)!r})"
    elif error.kind == "version":
        fix = "start the record with 'v=spf1' followed by a space (e.g. 'v=spf1 mx -all')"
    else:
        fix = f"correct term {error.index} or remove it if it is not needed"
    return Finding(
        _SYNTAX_CODES.get(error.kind, "spf.syntax"),
        f"{error} (SPF record at {subject.domain})",
        "every term valid per RFC 7208 section 12",
        fix,
    )


def _limit_findings(tree: SpfTree, unknown: list[str]) -> list[Finding]:
    """SPF-03's failures: loops, more than 10 lookups, mx terms with more than 10 names."""
    findings = [
        Finding(
            "spf.lookups.exceeded",
            f"include/redirect loop {' -> '.join(loop.path)}: evaluation never ends, so it"
            f" exceeds {MAX_DNS_TERMS} lookups",
            _LIMIT,
            "remove the include or redirect that leads back to a record already on the path",
        )
        for loop in _loops(tree)
    ]
    count = tree.dns_terms
    if count > MAX_DNS_TERMS or tree.truncated:
        biggest = max(tree.root.lookups, key=lambda i: i.count, default=None)
        observed = f"{count} DNS-querying terms"
        if tree.truncated:
            observed = (
                f"at least {observed} (the walk stopped at its bound of {WALK_TERM_BUDGET}"
                f" terms or {WALK_MAX_DEPTH} levels)"
            )
        elif unknown:
            observed = f"at least {observed}, over the limit whatever {'; '.join(unknown)} adds"
        findings.append(
            Finding(
                "spf.lookups.exceeded",
                observed
                + (
                    f"; the biggest branch is {biggest.term} with {biggest.count}"
                    if biggest
                    else ""
                ),
                _LIMIT,
                "remove includes of services that no longer send mail, replace a and mx with"
                " ip4:/ip6: ranges, and ask providers for flatter includes",
            )
        )
    findings += [
        Finding(
            "spf.mx.exceeded",
            f"{item.term} in {item.domain}'s record: {item.target} has {item.mx_names} MX records",
            f"at most {MAX_MX_NAMES} MX names for an mx mechanism (RFC 7208 section 4.6.4: more"
            " is a permerror)",
            f"replace {item.term} with ip4:/ip6: ranges of the mail servers",
        )
        for item in tree.lookups()
        if item.mx_names is not None and item.mx_names > MAX_MX_NAMES
    ]
    return findings


def spf_lookup_limit(subject: Subject) -> Verdict:
    """SPF-03: evaluation needs at most 10 DNS-querying terms (RFC 7208 section 4.6.4).

    Counted through the whole include/redirect tree; also, no ``mx`` term may have more than 10
    exchanges to look up. ``details`` holds the tree with the count of each branch.
    """
    tree = _walked(subject)
    if isinstance(tree, Verdict):
        return tree
    evidence, details = _keys(tree.queries()), _details(tree)
    unknown = _unknown_targets(tree) + [
        f"{item.term} ({'; '.join(item.unresolved) or 'has macros'})"
        for item in tree.lookups()
        if item.kind == "mx" and item.mx_names is None
    ]
    findings = _limit_findings(tree, unknown)
    if findings:
        return Verdict.failed(*_unique(findings), evidence=evidence, details=details)
    if unknown:
        return Verdict.inconclusive(
            f"{tree.dns_terms} DNS-querying terms counted, but the count is incomplete:"
            f" {'; '.join(unknown)}",
            evidence,
        )
    top = f": {_branches(tree)}" if tree.root.lookups else ""
    summary = f"{tree.dns_terms} DNS-querying terms (limit {MAX_DNS_TERMS}){top}{_macro_note(tree)}"
    return Verdict.passed(_clip(summary, 400), evidence, details)


def _void_text(subject: Subject, item: TermLookup) -> str:
    answers = [subject.dns.get(q.name, q.rdtype) for q in item.queries]
    nx = any(a is not None and a.nxdomain for a in answers)
    where = "" if item.domain == subject.domain else f" in {item.domain}'s record"
    return f"{item.term}{where} ({'NXDOMAIN' if nx else 'no records'})"


def _target_finding(item: TermLookup) -> Finding | None:
    """The finding for an include/redirect target without exactly one valid SPF record."""
    child = item.child
    if child is None or child.state not in (
        NodeState.NO_RECORD,
        NodeState.MULTIPLE,
        NodeState.INVALID,
    ):
        return None
    what = {
        NodeState.NO_RECORD: ("missing", "has no SPF record"),
        NodeState.MULTIPLE: ("multiple", "has several SPF records"),
        NodeState.INVALID: ("invalid", f"has an SPF record that does not parse ({child.problem})"),
    }[child.state]
    return Finding(
        f"spf.{item.kind}.{what[0]}",
        f"{item.term} in {item.domain}'s record: {child.domain} {what[1]}",
        f"every {item.kind} target has exactly one valid SPF record (RFC 7208 sections 5.2,"
        " 6.1: otherwise permerror)",
        f"correct the target's name, or remove {item.term} if that service no longer sends mail",
    )


def _resolve_findings(subject: Subject, tree: SpfTree) -> list[Finding]:
    """SPF-04's failures: too many void lookups, loops, targets without one valid record."""
    findings = []
    voids = [i for i in tree.lookups() if i.void]
    if len(voids) > MAX_VOID_LOOKUPS:
        findings.append(
            Finding(
                "spf.void.exceeded",
                f"{len(voids)} void lookups: {', '.join(_void_text(subject, i) for i in voids)}",
                f"at most {MAX_VOID_LOOKUPS} lookups answered NXDOMAIN or no records (RFC 7208"
                " section 4.6.4)",
                "remove the terms whose names have no records, or correct the names",
            )
        )
    findings += [
        Finding(
            "spf.loop",
            f"include/redirect loop: {' -> '.join(loop.path)}",
            "no include or redirect leads back to a record on its own path (RFC 7208"
            " section 4.6.4)",
            f"remove the include or redirect of {loop.domain} from {loop.path[-2]}'s record",
        )
        for loop in _loops(tree)
    ]
    return findings + [f for f in map(_target_finding, tree.lookups()) if f is not None]


def spf_lookups_resolve(subject: Subject) -> Verdict:
    """SPF-04: at most 2 void lookups, no include/redirect loop, every target has one SPF record.

    RFC 7208 section 4.6.4 (void lookups), sections 5.2 and 6.1 (include/redirect targets that
    have no SPF record, several, or an invalid one are a permerror).

    NOT APPLICABLE when the domain has no SPF record or several: check_host() then stops before
    any term is evaluated (section 4.5: "none", or permerror for several), so there are no
    lookups to count, and SPF-01 carries the failure.
    """
    own = _own(subject)
    if isinstance(own, Verdict):
        return own
    result, found = own
    if len(found) != 1:
        what = "no SPF record" if not found else f"{len(found)} SPF records"
        return Verdict.not_applicable(
            f"{subject.domain} has {what}, so evaluation makes no lookups (see SPF-01)",
            [result.query.key],
        )
    tree = _walked(subject)
    if isinstance(tree, Verdict):
        return tree
    evidence, details = _keys(tree.queries()), _details(tree)
    findings = _resolve_findings(subject, tree)
    if findings:
        return Verdict.failed(*_unique(findings), evidence=evidence, details=details)
    voids = [i for i in tree.lookups() if i.void]
    unknown = _unknown_targets(tree) + [
        f"{i.term} ({'; '.join(i.unresolved)})"
        for i in tree.lookups()
        if i.unresolved and i.child is None
    ]
    if unknown:
        return Verdict.inconclusive(
            f"{len(voids)} void lookup(s) so far, but some lookups could not be judged:"
            f" {'; '.join(unknown)}",
            evidence,
        )
    targets = sum(1 for i in tree.lookups() if i.child is not None)
    listed = f": {', '.join(_void_text(subject, i) for i in voids)}" if voids else ""
    bound = "; the walk stopped at its bound (see SPF-03)" if tree.truncated else ""
    return Verdict.passed(
        f"{len(voids)} void lookup(s) (limit {MAX_VOID_LOOKUPS}){listed}; no loop;"
        f" {targets} include/redirect target(s), each with one valid SPF record{bound}",
        evidence,
        details,
    )


def _with_all(record: SpfRecord, replace: Mechanism | None = None) -> str:
    """The record with ``-all`` in place of ``replace``, or appended (and any redirect dropped)."""
    minus = Mechanism("all", "-", text="-all")
    if replace is not None:
        return record.replace_terms(tuple(minus if t is replace else t for t in record.terms))
    kept = tuple(t for t in record.terms if t is not record.redirect)
    return record.replace_terms((*kept, minus))


def _redirect_problem(item: TermLookup | None, record: SpfRecord) -> tuple[str, bool] | None:
    """Why a redirect leads nowhere usable: (text, certain). None when its target is fine."""
    child = item.child if item is not None else None
    if item is None or child is None:
        return f"evaluation exceeds the lookup limit before {record.redirect} (see SPF-03)", True
    match child.state:
        case NodeState.OK:
            return None
        case NodeState.UNRESOLVED:
            return f"{item.term}: {child.problem}", False
        case NodeState.MACRO if child.problem:
            # RFC 7208 section 4.3: a malformed <domain> gives "none"; section 6.1: a redirect
            # to "none" is a permerror.
            return f"{item.term}: its macros {child.problem} (a permerror)", True
        case NodeState.MACRO:
            return f"{item.term} has macros: its target depends on the sending client", False
        case _:
            return f"{item.term}: {child.domain}: {_node_problem(child)} (a permerror)", True


def _all_holder(tree: SpfTree) -> tuple[SpfNode, SpfRecord, tuple[str, bool] | None]:
    """The record whose ``all`` decides, following redirects while there is no ``all``.

    Returns that node and record, or the node whose redirect fails and why.
    """
    node = tree.root
    while True:
        record = node.record
        assert record is not None  # only OK nodes are followed
        if record.all is not None or record.redirect is None:
            return node, record, None
        item = next((i for i in node.lookups if i.kind == "redirect"), None)
        problem = _redirect_problem(item, record)
        if problem is not None or item is None or item.child is None:
            return node, record, problem
        node = item.child


def spf_all_strict(subject: Subject) -> Verdict:
    """SPF-05: the record ends in ``-all`` or ``~all``, directly or through redirect.

    RFC 7208 section 5.1 (``all``), section 6.1 (``redirect`` is used only when there is no
    ``all``), section 4.7 (no ``all`` and no redirect means neutral); GOV.UK: at least ``~all``.
    """
    tree = _walked(subject)
    if isinstance(tree, Verdict):
        return tree
    evidence = _keys(tree.queries())
    expected = "the record ends in -all or ~all, directly or through redirect (RFC 7208 5.1, 6.1)"
    node, record, problem = _all_holder(tree)
    if problem is not None and not problem[1]:
        return Verdict.inconclusive(
            f"the 'all' of {subject.domain} is unknown: {problem[0]}", evidence
        )
    if problem is not None:
        finding = Finding(
            "spf.redirect.broken",
            f"{_where(node)} has no 'all' and its redirect fails: {problem[0]}",
            expected,
            "point redirect= at a domain with one valid SPF record, or replace it with the"
            f" mechanisms it should add and -all: {_with_all(record)!r}",
        )
        return Verdict.failed(finding, evidence=evidence)
    if record.all is not None:
        return _judge_all(node, record, record.all, expected, evidence)
    finding = Finding(
        "spf.all.missing",
        f"{_where(node)} has no 'all' and no redirect, so mail from any other host gets"
        f" neutral: {_clip(node.text)!r}",
        expected,
        f"end the record at {node.domain} with -all: {_with_all(record)!r}",
    )
    return Verdict.failed(finding, evidence=evidence)


def _judge_all(
    node: SpfNode, record: SpfRecord, mech: Mechanism, expected: str, evidence: Iterable[str]
) -> Verdict:
    via = "" if node.depth == 0 else f" (reached by {' -> '.join(node.path)})"
    if mech.result_qualifier in "-~":
        after = record.mechanisms[record.mechanisms.index(mech) + 1 :]
        note = f"; {len(after)} mechanism(s) after it are never evaluated" if after else ""
        return Verdict.passed(f"'{mech}' in the record of {node.domain}{via}{note}", evidence)
    gets = "pass" if mech.result_qualifier == "+" else "neutral"
    fix = _with_all(record, mech)
    where = "" if node.depth == 0 else f" at {node.domain}, the redirect target"
    return Verdict.failed(
        Finding(
            "spf.all.permissive",
            f"'{mech}' in the record of {node.domain}{via}: mail from any host gets {gets}",
            expected,
            f"publish{where}: {fix!r} (or ~all while still finding every sender)",
        ),
        evidence=evidence,
    )


def spf_no_ptr(subject: Subject) -> Verdict:
    """SPF-06: no ``ptr`` mechanism, in the domain's record or any record it includes.

    RFC 7208 section 5.5: ``ptr`` SHOULD NOT be published (slow, unreliable, load on .arpa).
    """
    tree = _walked(subject)
    if isinstance(tree, Verdict):
        return tree
    evidence = _keys(tree.queries())
    seen: set[str] = set()
    findings = []
    for node in tree.nodes():
        ptrs = [m for m in (node.record.mechanisms if node.record else ()) if m.name == "ptr"]
        if not ptrs or node.domain in seen or node.record is None:
            continue
        seen.add(node.domain)
        if node.depth == 0:
            rest = tuple(t for t in node.record.terms if t not in ptrs)
            fix = (
                "replace ptr with ip4:/ip6: ranges (or a:host) of the servers it covered:"
                f" without it the record reads {node.record.replace_terms(rest)!r}"
            )
        else:
            fix = (
                f"{node.domain} is run by whoever publishes it: ask them to drop ptr, or replace"
                " the include with that service's ip4:/ip6: ranges"
            )
        shown = ", ".join(repr(str(m)) for m in ptrs)
        findings.append(
            Finding("spf.ptr", f"{shown} in {_where(node)}", "no ptr (RFC 7208 section 5.5)", fix)
        )
    if findings:
        return Verdict.failed(*findings, evidence=evidence)
    unknown = _unknown_targets(tree)
    if unknown:
        return Verdict.inconclusive(
            f"no ptr in the records read, but some could not be read: {'; '.join(unknown)}",
            evidence,
        )
    domains = sorted({n.domain for n in tree.nodes() if n.record is not None})
    return Verdict.passed(f"no ptr in {len(domains)} record(s): {', '.join(domains)}", evidence)


def _wire_size(presentation: str) -> int:
    return sum(len(s) + 1 for s in txt_strings(presentation))


def spf_record_size(subject: Subject) -> Verdict:
    """SPF-07: the TXT answer holding the SPF record fits in 450 bytes (RFC 7208 section 3.4).

    Every TXT record at the name counts, since they all travel in the one answer.
    """
    got = _single(subject)
    if isinstance(got, Verdict):
        return got
    result, text = got
    key = [result.query.key]
    sizes = [(_wire_size(r), txt_value(r)) for r in result.records]
    total = sum(size for size, _ in sizes)
    spf_size = next(size for size, value in sizes if value == text)
    others = len(sizes) - 1
    seen = (
        f"the TXT answer at {subject.domain} holds {total} bytes of record data: the SPF record"
        f" {spf_size} bytes"
        + (f", {others} other TXT record(s) {total - spf_size} bytes" if others else "")
    )
    if total <= MAX_TXT_BYTES:
        return Verdict.passed(f"{seen} (limit {MAX_TXT_BYTES})", key)
    return Verdict.failed(
        Finding(
            "spf.size",
            seen,
            f"at most {MAX_TXT_BYTES} bytes, so the answer fits one 512-byte UDP response"
            " (RFC 7208 section 3.4)",
            "shorten the SPF record (drop unused includes and ip4/ip6 entries, or move them to an"
            f" include such as _spf.{subject.domain}) and delete stale TXT records (old"
            " verification tokens) at the same name",
        ),
        evidence=key,
    )


def park_spf_deny_all(subject: Subject) -> Verdict:
    """PARK-01: a parked domain's SPF record is exactly ``v=spf1 -all`` (GOV.UK G3; RFC 7208 5.1).

    Compared case-insensitively; surrounding whitespace and repeated spaces are tolerated (they
    do not change the record's meaning).
    """
    got = _own(subject)
    if isinstance(got, Verdict):
        return got
    result, found = got
    key = [result.query.key]
    expected = "exactly one SPF record, 'v=spf1 -all', authorising no host (GOV.UK G3)"
    fix = f"publish one TXT record at {subject.domain}: 'v=spf1 -all'"
    if not found:
        observed = _none_found(subject, result)
        return Verdict.failed(Finding("park.spf.missing", observed, expected, fix), evidence=key)
    if len(found) > 1:
        shown = " | ".join(repr(_clip(r, 120)) for r in found)
        return Verdict.failed(
            Finding(
                "park.spf.multiple",
                f"{len(found)} SPF records at {subject.domain}: {shown}",
                expected,
                f"delete them and {fix}",
            ),
            evidence=key,
        )
    text = found[0]
    if [t for t in text.strip().lower().split(" ") if t] == [SPF_VERSION, "-all"]:
        return Verdict.passed(f"SPF record at {subject.domain} is {text!r}", key)
    return Verdict.failed(
        Finding(
            "park.spf.not_reject_all",
            f"the SPF record at {subject.domain} is {_clip(text)!r}",
            expected,
            "replace it with 'v=spf1 -all' (a parked domain sends no mail)",
        ),
        evidence=key,
    )
