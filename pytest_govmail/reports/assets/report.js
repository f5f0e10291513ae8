/* pytest-govmail report: filters, the by-requirement view and each domain's tests on demand.

   The matrix is plain server-side HTML, so the page is readable at once and without scripts.
   Test details live in one JSON block (a string table and rows of indices) that is parsed on
   first use. Everything in it came off the network or from user files and is hostile: it is
   only ever put into the page with textContent / createTextNode, never parsed as markup, and
   never used as a URL. The page's Content-Security-Policy allows no other script. */
(function () {
  "use strict";
  var matrix = document.getElementById("gm-matrix");
  if (!matrix) return;
  var filter = document.getElementById("gm-filter");
  var badOnly = document.getElementById("gm-bad");
  var count = document.getElementById("gm-count");
  var idButton = document.getElementById("gm-view");
  var expandButton = document.getElementById("gm-expand");
  var idHolder = document.getElementById("gm-ids-holder");
  var MAX_EXPAND = 200;
  var MAX_ID_ROWS = 1000;
  var data = null;
  var F = {};
  var W = 0;
  var rows = null;
  var names = null;
  var idTable = null;

  function load() {
    if (data === null) {
      data = JSON.parse(document.getElementById("govmail-data").textContent);
      data.fields.forEach(function (name, i) { F[name] = i; });
      W = data.fields.length;
    }
    return data;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function matrixRows() {
    if (rows === null) {
      rows = Array.prototype.slice.call(matrix.querySelectorAll(".gm-row[data-d]"));
      names = rows.map(function (r) { return r.firstElementChild.textContent.toLowerCase(); });
    }
    return rows;
  }

  function visible(i) {
    var q = filter.value.trim().toLowerCase();
    if (q && names[i].indexOf(q) < 0) return false;
    return !badOnly.checked || rows[i].classList.contains("bad");
  }

  /* A test's status as the reports show it (status.py): a failure under a waiver is waived,
     a pass under a waiver that pytest failed (XPASS(strict)) is a stale waiver. */
  function statusOf(flat, o) {
    var status = data.statuses[flat[o + F.status]];
    if (!flat[o + F.waiver]) return status;
    if (status === "fail") return "waived";
    if (status === "pass" && data.outcomes[flat[o + F.outcome]] === "failed") return "stale";
    return status;
  }

  /* What a test's outcome means, for people: the verdict, and what pytest counted it as. */
  function resultText(status, outcome) {
    if (outcome === "xpassed") {
      return "Passes now, yet a waiver still covers it: remove the waiver (pytest counts this " +
        "as a failure).";
    }
    return {
      stale: "Meets this requirement, yet a waiver still covers it: remove the waiver (pytest " +
        "counts this as a failure until then).",
      fail: "Fails this requirement.",
      waived: "Fails this requirement; a waiver accepts it until the waiver expires.",
      inconclusive: "Could not be checked: the evidence needed was not complete, so the " +
        "domain may or may not meet it.",
      pass: "Meets this requirement.",
      not_applicable: "Does not apply to this domain."
    }[status] || status;
  }

  /* A citation: its source's title and section as a link to the source's address, then the
     address as text (so that a printed report keeps it). The address
     is the catalogue's own (`cited`, built from catalogue.toml, https only), never one from a
     record; anything else is text. */
  function citeLink(ref) {
    var c = data.cited ? data.cited[ref] : null;
    if (!c || !c[0]) return document.createTextNode(ref);
    var parts = ref.split(/\s+/);
    var words = c[0] + (parts.length > 1 ? ", " + parts.slice(1).join(" ") : "");
    if (!/^https:\/\//.test(c[1] || "")) return document.createTextNode(words);
    var cite = document.createDocumentFragment();
    var a = el("a", null, words);
    a.href = c[1];
    a.rel = "noopener noreferrer";
    cite.appendChild(a);
    cite.appendChild(document.createTextNode(" (" + c[1] + ")"));  // printed, and copied
    return cite;
  }

  /* The collector writes a host's TLS scan as a "TLS scan of ..." line and indented lines under
     it; every TLS and CERT test of that host carries the same block. The domain's panel shows
     each block once (see `scans`) and a test points at it. */
  var SCAN = "TLS scan of ";
  function splitEvidence(lines) {
    var own = [];
    var scans = [];
    for (var i = 0; i < lines.length; i++) {
      var text = data.strings[lines[i]];
      if (text.indexOf(SCAN) === 0) {
        var block = [lines[i]];
        while (i + 1 < lines.length && data.strings[lines[i + 1]].indexOf("  ") === 0) {
          block.push(lines[++i]);
        }
        scans.push(block);
      } else {
        own.push(text);
      }
    }
    return {own: own, scans: scans};
  }

  /* One test, as a <details>: a one-line summary, the rest on opening. `scans` collects the
     host scans the test refers to, keyed by their first line's string index. */
  function renderTest(flat, o, d, scans) {
    var req = data.requirements[flat[o + F.requirement]];
    var status = statusOf(flat, o);
    var outcome = data.outcomes[flat[o + F.outcome]];
    var t = el("details", "gm-test gm-" + status);
    t.open = status === "fail" || status === "inconclusive" || status === "stale";
    var summary = el("summary");
    summary.appendChild(el("span", "gm-badge", data.labels[status]));
    summary.appendChild(el("b", null, req[0]));
    summary.appendChild(document.createTextNode(
      " (" + (req[2] === "advisory" ? req[2] : req[2].toUpperCase()) + ") " + req[1]));
    var host = data.strings[flat[o + F.host]];
    if (host) summary.appendChild(el("span", "gm-muted", " \u2014 MX " + host));
    summary.appendChild(el("div", "gm-sum", data.strings[flat[o + F.summary]]));
    t.appendChild(summary);
    var dl = el("dl");
    function item(term, value, pre) {
      dl.appendChild(el("dt", null, term));
      var dd = el("dd");
      if (pre) dd.appendChild(el("pre", null, value)); else dd.textContent = value;
      dl.appendChild(dd);
      return dd;
    }
    item("result", resultText(status, outcome));
    var waiver = flat[o + F.waiver];
    if (waiver) item("waiver", data.strings[waiver]);
    var findings = data.lists[flat[o + F.findings]];
    for (var k = 0; k + 3 < findings.length; k += 4) {
      dl.appendChild(el("dt", null, "finding " + data.strings[findings[k]]));
      var dd = el("dd");
      dd.appendChild(document.createTextNode("observed: " + data.strings[findings[k + 1]]));
      dd.appendChild(el("br"));
      dd.appendChild(document.createTextNode("expected: " + data.strings[findings[k + 2]]));
      var fix = data.strings[findings[k + 3]];
      if (fix) {
        dd.appendChild(el("br"));
        dd.appendChild(document.createTextNode("fix: " + fix));
      }
      dl.appendChild(dd);
    }
    var evidence = splitEvidence(data.lists[flat[o + F.evidence]]);
    if (evidence.own.length) item("evidence", evidence.own.join("\n"), true);
    evidence.scans.forEach(function (block) {
      var key = block[0];
      if (!(key in scans)) scans[key] = block;
      var dd = item("TLS scan", null, false);
      var go = el("button", "gm-link", data.strings[key]);
      go.type = "button";
      go.setAttribute("data-scan", "gm-scan-" + d + "-" + key);
      go.title = "shown once for this host, under \u201chost scans\u201d below";
      dd.appendChild(go);
    });
    var details = data.lists[flat[o + F.details]];
    for (var j = 0; j + 1 < details.length; j += 2) {
      item(data.strings[details[j]], data.strings[details[j + 1]], true);
    }
    var sources = data.lists[req[4]];
    if (sources.length) {
      var cites = item("sources", null, false);
      sources.forEach(function (i, n) {
        if (n) cites.appendChild(document.createTextNode("\n"));
        cites.appendChild(citeLink(data.strings[i]));
      });
    }
    t.appendChild(dl);
    return t;
  }

  /* A domain's tests, grouped by area; `only` narrows them to one area or requirement. */
  function renderDomain(d, only, close) {
    load();
    var flat = data.tests[d];
    var box = el("div", "gm-box");
    var head = el("div");
    head.appendChild(el("strong", null, data.domains[d]));
    var shown = 0;
    var lastArea = null;
    var body = el("div");
    var scans = {};
    for (var o = 0; o < flat.length; o += W) {
      var req = data.requirements[flat[o + F.requirement]];
      if (only && req[3] !== only && req[0] !== only) continue;
      if (req[3] !== lastArea) {
        lastArea = req[3];
        body.appendChild(el("h4", null, lastArea));
      }
      body.appendChild(renderTest(flat, o, d, scans));
      shown++;
    }
    var keys = Object.keys(scans);
    if (keys.length) {
      body.appendChild(el("h4", null, "host scans"));
      keys.forEach(function (key) {
        var pre = el("pre", "gm-scan", scans[key].map(function (i) {
          return data.strings[i];
        }).join("\n"));
        pre.id = "gm-scan-" + d + "-" + key;
        pre.tabIndex = -1;
        body.appendChild(pre);
      });
    }
    head.appendChild(document.createTextNode(
      " \u2014 " + shown + " test(s)" + (only ? " of " + only + " " : " ")));
    var closeButton = el("button", null, "close");
    closeButton.type = "button";
    closeButton.addEventListener("click", close);
    head.appendChild(closeButton);
    /* Hiding passes is a class on the box: one style change, however many tests. */
    var label = el("label");
    var hide = el("input");
    hide.type = "checkbox";
    hide.checked = badOnly.checked;
    box.classList.toggle("gm-bad-only", hide.checked);
    hide.addEventListener("change", function () {
      box.classList.toggle("gm-bad-only", hide.checked);
    });
    label.appendChild(hide);
    label.appendChild(document.createTextNode(" only failing or in error"));
    head.appendChild(label);
    box.appendChild(head);
    if (data.headlines) box.appendChild(el("div", "gm-headline", data.headlines[d]));
    box.appendChild(body);
    box.addEventListener("click", function (e) {
      var go = e.target.closest("button[data-scan]");
      if (!go) return;
      var target = document.getElementById(go.getAttribute("data-scan"));
      if (target) {
        target.scrollIntoView({block: "start"});
        target.focus();
      }
    });
    return box;
  }

  /* Open (or close, or narrow) a domain's details under its row in either grid. */
  function toggle(row, only, forceOpen) {
    var d = +row.getAttribute("data-d");
    var next = row.nextElementSibling;
    var open = next && next.classList.contains("gm-detail") ? next : null;
    var key = only || "";
    if (open) {
      if (open.getAttribute("data-only") === key) {
        if (!forceOpen) open.remove();
        return open;
      }
      open.remove();
    }
    var panel = el("div", "gm-detail");
    panel.setAttribute("data-only", key);
    panel.appendChild(renderDomain(d, only, function () {
      panel.remove();
      row.firstElementChild.focus();
    }));
    row.after(panel);
    return panel;
  }

  /* A click (or Enter) on a domain opens all its tests; on a cell, that column's tests. */
  function onActivate(grid, event) {
    var cell = event.target.closest(".gm-row[data-d] > *");
    if (!cell || !grid.contains(cell)) return;
    var row = cell.parentElement;
    var column = Array.prototype.indexOf.call(row.children, cell);
    var head = grid.querySelector(".gm-head").children[column];
    toggle(row, column > 0 && head ? head.getAttribute("data-a") : null, false);
  }

  /* Arrow keys move between a grid's cells (one Tab stop per row, the domain name, so that a
     sweep's 130,000 cells are not 130,000 Tab presses); a cell gets focus when reached. */
  var MOVES = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
  function move(cell, key) {
    var step = MOVES[key];
    var row = cell.parentElement;
    var column = Array.prototype.indexOf.call(row.children, cell) + step[1];
    var next = row;
    if (step[0]) {
      do {
        next = step[0] > 0 ? next.nextElementSibling : next.previousElementSibling;
      } while (next && (next.hidden || !next.hasAttribute("data-d")));
    }
    if (!next || column < 0 || column >= next.children.length) return;
    var target = next.children[column];
    if (!target.hasAttribute("tabindex")) target.tabIndex = -1;
    target.focus();
  }

  function wire(grid) {
    grid.addEventListener("click", function (e) { onActivate(grid, e); });
    grid.addEventListener("keydown", function (e) {
      var cell = e.target.closest(".gm-row[data-d] > *");
      if (!cell || !grid.contains(cell)) return;
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onActivate(grid, e);
      } else if (MOVES[e.key]) {
        e.preventDefault();
        move(cell, e.key);
      }
    });
  }

  /* The domain x requirement-ID view, built from the data when asked for (it has ~60 columns). */
  function buildIdTable() {
    load();
    matrixRows();
    var grid = el("div", "gm-grid");
    grid.id = "gm-ids";
    grid.setAttribute("role", "table");
    var head = el("div", "gm-row gm-head");
    head.setAttribute("role", "row");
    head.appendChild(el("b", null, "domain"));
    data.order.forEach(function (r) {
      var th = el("i", null, data.requirements[r][0]);
      th.setAttribute("role", "columnheader");
      th.setAttribute("data-a", data.requirements[r][0]);
      th.title = data.requirements[r][0] + ": " + data.requirements[r][1];
      head.appendChild(th);
    });
    grid.appendChild(head);
    var rank = {fail: 0, inconclusive: 1, stale: 2, waived: 3, pass: 4, not_applicable: 5};
    var built = 0;
    var total = 0;
    for (var d = 0; d < data.domains.length; d++) {
      if (!visible(d)) continue;
      total++;
      if (built >= MAX_ID_ROWS) continue;
      built++;
      var worst = {};
      var tally = {};
      var flat = data.tests[d];
      for (var o = 0; o < flat.length; o += W) {
        var r = flat[o + F.requirement];
        var s = statusOf(flat, o);
        if (!(r in worst) || rank[s] < rank[worst[r]]) worst[r] = s;
        tally[r] = (tally[r] || "") + (tally[r] ? ", " : "") + data.labels[s];
      }
      var row = el("div", "gm-row");
      row.setAttribute("data-d", d);
      row.setAttribute("role", "row");
      var name = el("b", null, data.domains[d]);
      name.tabIndex = 0;
      name.title = data.domains[d];
      row.appendChild(name);
      data.order.forEach(function (r) {
        var s = worst[r];
        var text = s ? data.short[s] : "";
        var css = s ? data.classes[s] : "x";
        if (s === "fail" && data.requirements[r][2] !== "must") {
          text = data.requirements[r][2] === "should" ? "S" : "A";
          css += " s";
        }
        var cell = el("i", css, text);
        cell.setAttribute("role", "cell");
        if (s) cell.title = data.requirements[r][0] + ": " + tally[r];
        row.appendChild(cell);
      });
      grid.appendChild(row);
    }
    var note = el("p", "gm-muted", built < total
      ? "Showing the first " + built + " of " + total + " domains: narrow the filter to see others."
      : total + " domain(s).");
    idHolder.textContent = "";
    idHolder.appendChild(note);
    idHolder.appendChild(grid);
    wire(grid);
    idTable = grid;
  }

  function applyFilter() {
    matrixRows();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = visible(i);
      rows[i].hidden = !ok;
      var next = rows[i].nextElementSibling;
      if (next && next.classList.contains("gm-detail")) next.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = shown + " of " + rows.length + " domain(s) shown";
    if (idTable !== null) buildIdTable();
  }

  var timer = null;
  filter.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, rows !== null && rows.length > 2000 ? 200 : 50);
  });
  badOnly.addEventListener("change", applyFilter);

  idButton.addEventListener("click", function () {
    if (idTable === null) {
      buildIdTable();
      matrix.hidden = true;
      idButton.textContent = "view by requirement area";
      document.getElementById("gm-title").textContent = "Domains by requirement";
    } else {
      idHolder.textContent = "";
      idTable = null;
      matrix.hidden = false;
      idButton.textContent = "view by requirement ID";
      document.getElementById("gm-title").textContent = "Domains by requirement area";
    }
  });

  /* Every shown domain's details, every test opened (for reading or printing a short list). */
  expandButton.addEventListener("click", function () {
    matrixRows();
    var chosen = [];
    for (var i = 0; i < rows.length; i++) if (visible(i)) chosen.push(rows[i]);
    if (chosen.length > MAX_EXPAND) {
      count.textContent = "Filter to " + MAX_EXPAND + " domains or fewer to expand them all (" +
        chosen.length + " shown).";
      return;
    }
    chosen.forEach(function (row) {
      toggle(row, null, true).querySelectorAll("details").forEach(function (x) { x.open = true; });
    });
  });

  /* Printing: one domain per page when asked (a class the print stylesheet reads). */
  var pages = document.getElementById("gm-pages");
  if (pages) {
    pages.addEventListener("change", function () {
      document.body.classList.toggle("gm-page-per-domain", pages.checked);
    });
  }

  wire(matrix);
  document.documentElement.classList.add("gm-ready");
})();
