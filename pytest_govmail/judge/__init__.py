"""Pure functions from evidence to :class:`~pytest_govmail.model.verdict.Verdict`.

Nothing in this package touches the network or imports a network library: every judge takes a
:class:`~pytest_govmail.model.subject.Subject` and returns a verdict, so judges are tested with
plain data
and a saved evidence file is re-judged offline with the same result.
"""
