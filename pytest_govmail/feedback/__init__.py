"""Parsers of the reports receivers send a domain's owner: pure functions of bytes, no I/O.

- :mod:`~.unpack`: what a report arrives in (gzip, zip, plain), unpacked within bounds, so that
  a zip or gzip bomb is refused before it fills memory;
- :mod:`~.aggregate`: DMARC aggregate reports (RFC 7489 Appendix C, RFC 9990), XML read with
  ``defusedxml`` (no DTD, no entity, no external reference) and a bound on elements;
- :mod:`~.tlsrpt`: TLS-RPT reports (RFC 8460 section 4), JSON.

Each parser raises :class:`ReportError` with a short reason for anything that is not a report;
the caller (:mod:`pytest_govmail.inputs.feedback_files`) names the file and goes on to the next.
Reading files and unwrapping mail messages (whose parser, ``email``, loads ``socket``) is done
there; this package imports no network module (``tests/test_layers.py``).
"""

from __future__ import annotations


class ReportError(ValueError):
    """Not a report we accept: the message says why, in a few words."""
