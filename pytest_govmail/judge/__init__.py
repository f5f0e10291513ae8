"""Pure functions from evidence to :class:`~pytest_govmail.model.verdict.Verdict`.

Every judge takes a :class:`~pytest_govmail.model.subject.Subject` (the target, its DNS answers,
TLS scans, HTTPS fetches, sample messages, attestations and TLS profile, all already collected)
and returns a verdict. Judges are tested with plain data, and replay re-judges a saved evidence
file offline with the same result. The requirements each module judges are named in its
docstring, with the public sources they come from (RFC sections, GOV.UK and NCSC guidance, the
catalogue in :mod:`pytest_govmail.inputs`).

The modules: :mod:`~.mx`, :mod:`~.spf`, :mod:`~.dmarc`, :mod:`~.dkim`, :mod:`~.mtasts`,
:mod:`~.tlsrpt`, :mod:`~.park`, :mod:`~.ptr`, :mod:`~.attest` and :mod:`~.roles` for the DNS and
declared facts; for what each MX address does on port 25, :mod:`~.tls` (the TLS requirements'
entry points) over :mod:`~.host` (per-address verdicts, the SMTP session, the profile),
:mod:`~.suites`, :mod:`~.kex`, :mod:`~.cert`, :mod:`~.chain` (the served chain, parsed once) and
:mod:`~.dane`; for what receivers report back (DMARC aggregate and TLS-RPT reports),
:mod:`~.reports`; :mod:`~.common` holds the shared DNS lookup and message helpers.

A judge imports the model, the record parsers (:mod:`pytest_govmail.records`) and the typed
inputs, never a DNS planner (:mod:`pytest_govmail.plan`) nor any layer that does I/O or drives
pytest (collect, plugin, engine, reports, sweep, lab). Importing a judge loads no network
module: ``cryptography.x509`` (which loads ``socket`` through ``email.utils``) is imported only
where a certificate is parsed or its names read, and dkimpy (which loads dnspython's resolver)
only inside :func:`~pytest_govmail.judge.dkim.verify_signature`. ``tests/test_layers.py`` checks
both rules, each module imported alone in a fresh interpreter and every import in the source.
"""
