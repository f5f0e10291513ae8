"""The typed facts and verdicts every layer shares: frozen dataclasses and ``str`` enums.

:mod:`.dns`, :mod:`.tls`, :mod:`.https` and :mod:`.dkim` hold what was observed, and
:mod:`.feedback` what receivers reported back (DMARC aggregate and TLS-RPT totals);
:mod:`.target` and :mod:`.subject` what is judged; :mod:`.verdict` the answer;
:mod:`.evidence` the evidence file. Each type that goes into the evidence file has
``to_json``/``from_json`` beside it. Nothing here imports a network library, so judges may
import any of it.
"""
