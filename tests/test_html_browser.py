"""The HTML reports in a real browser: hostile records render as text, and no script runs.

The demo's hostile department publishes records full of ``<script>``, event handlers and
``javascript:`` URLs. These tests write the report of a real demo run and open it in headless
Chromium (Debian's package, driven by Playwright) with every domain's details expanded and every
test opened, and check that no dialog opened, no script error, no injected element or event
handler exists, and the payloads are visible as plain text.

The payload lab of ``test_hostile_payloads.py`` (every payload class in every field that reaches
output, waivers and attestations included) is then assessed with ``--html``, and both our report
and pytest-html's are opened the same way: the payloads must be in the page's text (markup as
characters, control and bidi characters as their escapes) and nowhere in its DOM.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_hostile_payloads import Outputs, run_assessment

from pytest_govmail.inputs.catalogue import load_catalogue

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, ViewportSize

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _dismiss_into(dialogs: list[str]) -> Callable[[Dialog], None]:
    """A dialog handler that records the dialog's message and dismisses it."""

    def handle(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    return handle


def _need_browser() -> None:
    """In CI the browser must be there (.ci/run installs it); elsewhere its absence skips."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed, but CI must run the browser test")
        pytest.skip("playwright is not installed (pip install playwright)")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, but CI must run the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("browser")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--govmail-demo",
            "-p",
            "no:cacheprovider",
            "-q",
            "-k",
            "hostile or exemplary",
        ],
        cwd=folder,
        capture_output=True,
        timeout=300,
        check=False,
    )
    report = folder / "reports" / "govmail.html"
    assert report.exists(), "the demo run wrote no HTML report"
    return report


#: The elements our script builds for a domain's details; anything else there was injected.
BUILT = {"div", "strong", "span", "button", "label", "input", "h4", "details", "summary", "b"}
BUILT |= {"dl", "dt", "dd", "pre", "br", "a"}  # "a": a source's link (see LINKS_ELSEWHERE)
#: Elements that load or run things, or links: none may come from a payload. A link is allowed
#: only to one of the catalogue's own source addresses (project data, https:// checked when the
#: catalogue loads), which the page shows as links with rel="noopener noreferrer".
CATALOGUE_URLS = sorted({source.url for source in load_catalogue().sources.values()})
LINKS_ELSEWHERE = """urls => [
    ...document.querySelectorAll('img, svg, iframe, object, embed, a, form')
].filter(e => e.tagName !== 'A' || !urls.includes(e.getAttribute('href'))
        || e.getAttribute('rel') !== 'noopener noreferrer' || e.attributes.length !== 2
).map(e => e.outerHTML.slice(0, 300))"""


def test_hostile_records_do_not_execute_in_the_report(hostile_report: Path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", _dismiss_into(dialogs))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(hostile_report.as_uri())
            page.wait_for_selector("html.gm-ready #gm-matrix", timeout=15_000)
            matrix = page.inner_text("#gm-matrix")
            # Every domain's details, every test opened: all evidence is in the DOM.
            page.click("#gm-expand")
            page.wait_for_selector(".gm-detail .gm-box", timeout=15_000)
            page.wait_for_timeout(500)
            boxes = page.locator(".gm-box").count()
            closed = page.evaluate(
                "() => document.querySelectorAll('.gm-box details:not([open])').length"
            )
            text = page.inner_text("body")
            tags = page.evaluate(
                "() => [...new Set([...document.querySelectorAll('.gm-box *')]"
                ".map(e => e.tagName.toLowerCase()))]"
            )
            scripts = page.evaluate("() => document.scripts.length")
            injected = page.evaluate(LINKS_ELSEWHERE, CATALOGUE_URLS)
            links = page.evaluate("() => document.querySelectorAll('a[href]').length")
            handlers = page.evaluate(
                "() => [...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                ".some(a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 300))"
            )
        finally:
            browser.close()
    assert dialogs == [], f"a script ran in the report: {dialogs}"
    assert errors == []
    assert set(tags) <= BUILT, f"elements injected into the details: {set(tags) - BUILT}"
    assert scripts == 2 and injected == [] and handlers == []
    assert links > 0  # the sources, as links to the catalogue's addresses
    assert "hostile-dept.gov.uk" in matrix and "exemplary-dept.gov.uk" in matrix
    assert boxes == 2 and closed == 0
    # The payloads are shown, as text, to the assessor.
    # (TXT records come in no fixed order, so only payloads that a failure message always
    # quotes are asserted: the SPF record's markup and the DMARC record's javascript: URI.)
    assert "<script>alert('spf')</script>" in text
    assert "javascript:alert(document.cookie)" in text


def test_report_filters_views_and_details_on_demand(hostile_report: Path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(hostile_report.as_uri())
            page.wait_for_selector("html.gm-ready #gm-matrix", timeout=15_000)
            shown = "() => [...document.querySelectorAll('#gm-matrix .gm-row[data-d]')]"
            shown += ".filter(r => !r.hidden).map(r => r.firstElementChild.textContent)"
            page.fill("#gm-filter", "exempl")
            page.wait_for_timeout(300)
            by_name = page.evaluate(shown)
            page.fill("#gm-filter", "")
            page.check("#gm-bad")
            failing = page.evaluate(shown)
            # A cell opens that domain's tests of that area only.
            page.click("#gm-matrix .gm-row[data-d] i[class='f'] >> nth=0")
            areas = page.evaluate(
                "() => [...document.querySelectorAll('.gm-detail h4')].map(h => h.textContent)"
            )
            page.click("#gm-view")
            ids = page.evaluate(
                "() => [document.querySelectorAll('#gm-ids .gm-row[data-d]').length,"
                " document.querySelector('#gm-ids .gm-head').textContent]"
            )
            matrix_hidden = page.evaluate("() => document.getElementById('gm-matrix').hidden")
        finally:
            browser.close()
    assert by_name == ["exemplary-dept.gov.uk"]
    assert failing == ["hostile-dept.gov.uk"]  # the exemplary department has nothing failing
    assert len(areas) == 1 and areas[0] in {"mtasts", "tlsrpt", "spf", "dmarc", "dkim"}
    assert ids[0] == 1 and "DMARC-03" in ids[1] and matrix_hidden


# --- the payload lab: our report and pytest-html's ------------------------------------------


@pytest.fixture(scope="module")
def payload_reports(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    return run_assessment(tmp_path_factory.mktemp("payload-browser"), hostile_inputs=True)


#: What the payloads would have become had a page parsed them: elements that load or run
#: things, attribute values that call ``alert`` or are ``javascript:`` URLs, event handlers.
#: pytest-html's own page has one handler (its reload button) and media ``<img src="">``.
INJECTED = """() => [...document.querySelectorAll('*')].filter(e =>
    ['svg', 'iframe', 'object', 'embed', 'form', 'math', 'base', 'meta']
        .includes(e.tagName.toLowerCase()) && e.closest('head') === null
    || (e.tagName === 'IMG' && e.getAttribute('src'))
    || [...e.attributes].some(a => a.name !== 'data-jsonblob' && (
        /alert\\(|^\\s*javascript:/i.test(a.value)
        || (a.name.startsWith('on') && !(a.name === 'onclick' && a.value === 'location.reload()'))
    ))
).map(e => e.outerHTML.slice(0, 300))"""

#: Payloads as the assessor must read them in either page: markup as characters, control and
#: bidi characters as escapes, over-long text cut with its length.
SHOWN_IN_PAGE = (
    "<script>alert(1)</script>",
    "<svg onload=alert(2)>",
    '"><img src=x onerror=alert(3)>',
    "javascript:alert(4)",
    "\\x1b[2J",  # ESC (CSI), as its escape
    "\\x1b]0;owned\\x07",  # OSC title
    "\\u202e",  # bidi override
    "\\u2066",  # bidi isolate
    "\\x9b31m",  # C1 CSI
    "\\x00",  # NUL
    "characters in all",  # over-long text, cut
    "bücher-ß-деп",  # non-ASCII
    "xn--bcher-kva.example",  # A-label MX name
)


def _look(path: Path, ready: str, expand: str) -> dict[str, object]:
    """Open ``path``, wait for ``ready``, click ``expand``; what ran and what the page holds."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", _dismiss_into(dialogs))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector(ready, timeout=15_000)
            page.click(expand)
            page.wait_for_timeout(800)
            seen: dict[str, object] = {
                "text": page.inner_text("body"),
                "injected": page.evaluate(INJECTED),
                "scripts": page.evaluate("() => document.scripts.length"),
                "title": page.title(),
            }
        finally:
            browser.close()
    seen["dialogs"], seen["errors"] = dialogs, errors
    return seen


def _assert_inert(seen: dict[str, object], scripts: int) -> None:
    assert seen["dialogs"] == [], f"a script ran in the page: {seen['dialogs']}"
    assert seen["errors"] == []
    assert seen["injected"] == [], "elements or attributes injected from the payloads"
    assert seen["scripts"] == scripts  # the page's own, no more
    text = seen["text"]
    assert isinstance(text, str)
    missing = [needle for needle in SHOWN_IN_PAGE if needle not in text]
    assert missing == [], "payloads not shown as text"
    assert "<script>alert('waiver')</script>" in text and "javascript:alert(7)" in text


def test_payloads_are_text_in_our_report(payload_reports: Outputs) -> None:
    _need_browser()
    seen = _look(payload_reports.govmail_html, "html.gm-ready #gm-matrix", "#gm-expand")
    _assert_inert(seen, scripts=2)


def test_payloads_are_text_in_pytest_html(payload_reports: Outputs) -> None:
    _need_browser()
    seen = _look(payload_reports.pytest_html, "#results-table", "#show_all_details")
    _assert_inert(seen, scripts=1)
    assert seen["title"] == "pytest-html.html" or "govmail" in str(seen["title"])
    # Each row shows its verdict's evidence, not only pytest's log: pytest-html 4 builds the
    # rows at teardown, after the plugin dropped report.govmail (it once showed none).
    text = str(seen["text"])
    assert text.count("DNS evidence:") >= 10 and text.count("Sources: ") >= 10


@pytest.fixture(scope="module")
def museum_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's report for a domain that fails MUST and SHOULD requirements on its TLS host
    (an old certificate, old suites) and for the exemplary one, which fails none."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("museum")
    subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "--govmail-demo", "-p", "no:cacheprovider"),
            *("-q", "-k", "museum or exemplary"),
        ],
        cwd=folder,
        capture_output=True,
        timeout=300,
        check=False,
    )
    report = folder / "reports" / "govmail.html"
    assert report.exists(), "the demo run wrote no HTML report"
    return report


#: How wide the report must fit without scrolling sideways (the issue's smallest window).
NARROW: ViewportSize = {"width": 800, "height": 1000}
#: A Chromium PDF page object ("/Type /Page", not the "/Type /Pages" tree above them).
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _overflow(page: Any) -> int:
    """How far the page scrolls sideways (0 when it fits its window)."""
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_report_fits_800px_with_a_headline_and_each_scan_once(
    museum_report: Path, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=NARROW)
            page.goto(museum_report.as_uri())
            page.wait_for_selector("html.gm-ready #gm-matrix", timeout=15_000)
            shot = page.screenshot(path=str(tmp_path / "report-800.png"))
            top = _overflow(page)
            must = page.evaluate(
                "() => [...document.querySelectorAll('#gm-matrix .gm-row[data-d]')]"
                ".map(r => [r.firstElementChild.textContent, r.lastElementChild.textContent])"
            )
            # A domain's panel: its headline, and each host's TLS scan shown once.
            page.click("#gm-matrix .gm-row[data-d] > b:text('museum-dept.gov.uk')")
            page.wait_for_selector(".gm-box .gm-headline", timeout=15_000)
            opened = _overflow(page)
            headline = page.inner_text(".gm-box .gm-headline")
            scans = page.evaluate(
                "() => [...document.querySelectorAll('.gm-box pre.gm-scan')].map(p => p.id)"
            )
            pointers = page.evaluate(
                "() => [...document.querySelectorAll('.gm-box button[data-scan]')]"
                ".map(b => b.getAttribute('data-scan'))"
            )
            text = page.inner_text(".gm-box")
            every = page.evaluate("() => document.querySelector('.gm-box').textContent")
            # (a passing test's details are closed: click the pointer as a script would)
            page.evaluate("() => document.querySelector('.gm-box button[data-scan]').click()")
            focused = page.evaluate("() => document.activeElement.id")
            page.click(".gm-box button:text('close')")
            page.click("#gm-view")
            by_id = _overflow(page)
        finally:
            browser.close()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert top == opened == by_id == 0, f"sideways scroll at 800 px: {top}, {opened}, {by_id}"
    assert dict(must) == {"exemplary-dept.gov.uk": "yes", "museum-dept.gov.uk": "no"}
    # TLS-08 (TLS 1.3) is a SHOULD since catalogue version 2, and CERT-07 passes since chain
    # order is judged apart from the dates: 6 SHOULD findings.
    assert headline.startswith("Not compliant: a MUST requirement fails. 2 MUST and 6 SHOULD")
    # One MX host at one address: its scan shown once, pointed at by each failing TLS and
    # CERT test (passing tests carry no scan).
    assert len(scans) == 1 and set(pointers) == set(scans) and len(pointers) >= 8
    assert focused == scans[0]
    assert every.count("TLS scan of mx.museum-dept.gov.uk") == 1 + len(pointers)
    # The certificate's failure says why in plain words: a SHA-1 signature, not the library's.
    assert "is signed with SHA-1 with RSA, which trust stores refuse" in text
    assert "PhantomData" not in "".join(
        line for line in text.splitlines() if line.startswith("observed")
    )
    # Sources by title and address; the result in words, not pytest's.
    assert "GOV.UK: Securing government email (https://www.gov.uk/" in every
    assert "Fails this requirement." in text and "verdict fail" not in text


def test_matrix_cells_are_reachable_by_keyboard(hostile_report: Path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    active = (
        "() => { const e = document.activeElement; const row = e.closest('.gm-row');"
        " return [e.getAttribute('role'), row ? row.getAttribute('data-d') : null,"
        " row ? [...row.children].indexOf(e) : -1, e.textContent]; }"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=NARROW)
            page.goto(hostile_report.as_uri())
            page.wait_for_selector("html.gm-ready #gm-matrix", timeout=15_000)
            reached = None
            for _ in range(80):  # Tab through the page's controls to the first domain
                page.keyboard.press("Tab")
                now = page.evaluate(active)
                if now[0] == "rowheader":
                    reached = now
                    break
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            cell = page.evaluate(active)
            page.keyboard.press("ArrowDown")
            below = page.evaluate(active)
            page.keyboard.press("Enter")
            page.wait_for_selector(".gm-detail", timeout=15_000)
            area = page.evaluate(
                "() => [document.querySelector('.gm-detail').getAttribute('data-only'),"
                " document.querySelectorAll('#gm-matrix .gm-head > *')[2].textContent]"
            )
        finally:
            browser.close()
    assert reached is not None and reached[1] == "0", "Tab never reached a domain"
    assert cell[:3] == ["cell", "0", 2]
    assert below[:3] == ["cell", "1", 2]
    assert area[0] == area[1]  # Enter on a cell opens that domain's tests of that column's area


def test_print_to_pdf_gives_one_domain_per_page_and_cuts_nothing(hostile_report: Path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=NARROW)
            page.goto(hostile_report.as_uri())
            page.wait_for_selector("html.gm-ready #gm-matrix", timeout=15_000)
            matrix_only = page.pdf(format="A4", print_background=True)
            page.click("#gm-expand")
            page.wait_for_selector(".gm-detail .gm-box", timeout=15_000)
            flowing = page.pdf(format="A4", print_background=True)
            page.check("#gm-pages")
            paged = page.pdf(format="A4", print_background=True)
            # Nothing cut: at A4's printable width in print media, nothing scrolls sideways.
            page.set_viewport_size({"width": 718, "height": 1000})
            page.emulate_media(media="print")
            cut = page.evaluate(
                "() => [...document.querySelectorAll('body *')].filter(e => e.clientWidth > 0"
                " && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !="
                " 'hidden').map(e => e.tagName + '.' + e.className)"
            )
            printed_width = _overflow(page)
            hidden = page.evaluate(
                "() => ['gm-filter', 'gm-expand'].map(id =>"
                " document.getElementById(id).getClientRects().length)"
            )
            breaks = page.evaluate(
                "() => [...document.querySelectorAll('.gm-detail')]"
                ".map(e => getComputedStyle(e).breakBefore)"
            )
        finally:
            browser.close()
    pages = [len(PDF_PAGE.findall(pdf)) for pdf in (matrix_only, flowing, paged)]
    assert all(pdf.startswith(b"%PDF-") for pdf in (matrix_only, flowing, paged))
    assert pages[0] == 1, pages  # two domains' matrix and the run's facts: one page
    # Each domain starts a page of its own: every domain's details break before a page, so
    # there are at least the matrix's page and one per domain, and no fewer than flowing (equal
    # when the flowing text already turns a page where each domain starts).
    assert len(breaks) == 2 and set(breaks) == {"page"}, breaks
    assert pages[2] >= 3 and pages[2] >= pages[1] > pages[0], pages
    assert printed_width == 0 and cut == [], cut
    assert hidden == [0, 0]  # the controls are not printed
