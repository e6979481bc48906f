"""The stylesheet and the script inlined into the HTML review report (``_report``).

Plain CSS and ES5-level JavaScript, no library: the file must open offline in any
browser an auditor has. The script only sorts and filters tables that are complete
without it: a click on a column heading sorts by it (again: the other way), a filter box
keeps the rows containing its text, a checkbox group or a select keeps the rows whose
``data-<attr>`` matches, and each table's count says how many rows are shown.
"""

from __future__ import annotations

__all__ = ["REPORT_CSS", "REPORT_JS"]

REPORT_CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --soft: #f6f8fa;
  --high: #cf222e; --medium: #9a6700; --low: #0969da; --info: #57606a;
  --r0: #f2f2f2; --r1: #c6dbef; --r2: #6baed6; --r3: #08519c; }
* { box-sizing: border-box; }
html { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
body { margin: 0 auto; max-width: 1400px; padding: 24px 32px 48px; }
[hidden] { display: none !important; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 36px 0 10px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h2 .n { color: var(--muted); font-weight: normal; }
h3 { font-size: 1.05rem; margin: 22px 0 6px; }
code { font: 0.88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.kicker { text-transform: uppercase; letter-spacing: .08em; color: var(--muted);
  font-size: .8rem; margin: 0; }
.meta { color: var(--muted); margin: 0 0 8px; }
.toc a { margin-right: 14px; color: var(--low); text-decoration: none; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 12px;
  border-radius: 6px; }
.verdict { font-size: 1.25rem; font-weight: 600; padding: 10px 14px; border-radius: 6px;
  border-left: 6px solid var(--info); background: var(--soft); }
.verdict-high { border-color: var(--high); background: #ffebe9; }
.verdict-medium { border-color: var(--medium); background: #fff8c5; }
.verdict-ok { border-color: #1a7f37; background: #dafbe1; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.tile { flex: 1 1 180px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.tile h3 { margin: 0 0 4px; font-size: .85rem; color: var(--muted); font-weight: 600; }
.tile .big { font-size: 2rem; font-weight: 700; margin: 0; }
.tile .sub { margin: 0; color: var(--muted); font-size: .85rem; }
.tile.alert { border-color: var(--high); }
.tile.alert .big { color: var(--high); }
.sevs { list-style: none; margin: 0; padding: 0; }
.sevs li { display: flex; justify-content: space-between; align-items: center; margin: 2px 0; }
.actions li { margin: 4px 0; }
.fix { color: var(--muted); }
.badge { display: inline-block; min-width: 4.6em; text-align: center; border-radius: 10px;
  padding: 0 8px; font-size: .78rem; font-weight: 600; color: #fff; background: var(--info); }
.badge.sev-high { background: var(--high); }
.badge.sev-medium { background: var(--medium); }
.badge.sev-low { background: var(--low); }
.badge.st-expired { background: var(--high); }
.badge.st-expiring { background: var(--medium); }
.controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center;
  margin: 8px 0; }
.controls input[type=search] { padding: 4px 8px; border: 1px solid var(--line);
  border-radius: 6px; min-width: 16em; font: inherit; }
.controls select { font: inherit; }
.chip { margin-right: 8px; white-space: nowrap; }
.count { color: var(--muted); font-size: .9rem; }
.print-note { display: none; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
caption { text-align: left; color: var(--muted); padding: 4px 0; caption-side: top; }
th { white-space: nowrap; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
thead th { background: var(--soft); position: sticky; top: 0; z-index: 1; }
th button.sort { all: unset; cursor: pointer; font-weight: 600; }
th button.sort::after { content: " \\2195"; color: var(--muted); font-size: .8em; }
th[aria-sort=ascending] button.sort::after { content: " \\25B2"; color: var(--ink); }
th[aria-sort=descending] button.sort::after { content: " \\25BC"; color: var(--ink); }
th button.sort:focus-visible { outline: 2px solid var(--low); }
.heatmap { width: auto; }
.heatmap th.project { text-align: center; min-width: 7em; }
.heatmap th.project small { display: block; color: var(--muted); font-weight: normal; }
.heatmap th.who { font-weight: normal; white-space: nowrap; }
.cell { text-align: center; min-width: 6.5em; border: 2px solid #fff; }
.cell b { display: block; font-weight: 600; }
.cell small { display: block; font-size: .72rem; opacity: .85; }
.cell.role-none { background: var(--r0); color: #9a9a9a; }
.cell.role-viewer { background: var(--r1); }
.cell.role-member { background: var(--r2); color: #fff; }
.cell.role-admin { background: var(--r3); color: #fff; }
.legend .cell { display: inline-block; min-width: 4.5em; padding: 0 6px; }
.icon { width: 12px; height: 12px; vertical-align: -1px; }
.mark { margin-left: 2px; white-space: nowrap; }
.mark.ends { color: #bc4c00; }
.cell.role-member .mark.ends, .cell.role-admin .mark.ends { color: #ffd8b5; }
.mark.pii { font-size: .68rem; font-weight: 700; border: 1px solid currentColor;
  border-radius: 3px; padding: 0 2px; }
.tag.ext { font-size: .7rem; font-weight: 700; text-transform: uppercase; color: #8250df;
  border: 1px solid #8250df; border-radius: 8px; padding: 0 5px; margin-left: 4px; }
.empty, .note, .intro { color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: .82rem;
  border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  html { font-size: 10pt; }
  body { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .toc, .controls { display: none !important; }
  .print-note:not(:empty) { display: block; font-style: italic; }
  th button.sort::after { content: none !important; }
  thead th { position: static; }
  thead { display: table-header-group; }
  tr, .tile, .verdict { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  #access { break-before: page; }
  .scroll { overflow: visible; }
  .tile { flex-basis: 150px; }
  a { color: inherit; text-decoration: none; }
}
"""

REPORT_JS = """
(function () {
  'use strict';
  function key(row, i) {
    var cell = row.cells[i];
    if (!cell) { return ''; }
    if (cell.hasAttribute('data-sort')) { return cell.getAttribute('data-sort'); }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== '' && b !== '' && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  function sortBy(table, th) {
    var index = th.cellIndex;
    var body = table.tBodies[0];
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute('aria-sort'); }
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    var order = rows.map(function (row, i) { return { row: row, i: i, k: key(row, index) }; });
    order.sort(function (p, q) { return compare(p.k, q.k) * dir || p.i - q.i; });
    order.forEach(function (p) { body.appendChild(p.row); });
  }
  function controls(id) {
    return Array.prototype.slice.call(document.querySelectorAll('[data-for="' + id + '"]'));
  }
  function filter(id) {
    var table = document.getElementById(id);
    if (!table) { return; }
    var text = '', sets = {}, chosen = {};
    controls(id).forEach(function (c) {
      var attr = c.getAttribute('data-attr');
      if (!attr) { text = c.value.trim().toLowerCase(); return; }
      if (c.type === 'checkbox') {
        sets[attr] = sets[attr] || {};
        if (c.checked) { sets[attr][c.value] = true; }
      } else if (c.value) { chosen[attr] = c.value; }
    });
    var rows = table.tBodies[0].rows, shown = 0;
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r], keep = !text || row.textContent.toLowerCase().indexOf(text) >= 0;
      Object.keys(sets).forEach(function (a) {
        keep = keep && sets[a][row.getAttribute('data-' + a)] === true;
      });
      Object.keys(chosen).forEach(function (a) {
        var words = (row.getAttribute('data-' + a) || '').split(' ');
        keep = keep && words.indexOf(chosen[a]) >= 0;
      });
      row.hidden = !keep;
      if (keep) { shown++; }
    }
    var all = rows.length;
    var count = document.querySelector('[data-count-for="' + id + '"]');
    if (count) {
      count.textContent = shown === all ? all + ' rows' : shown + ' of ' + all + ' rows';
    }
    var note = document.querySelector('[data-note-for="' + id + '"]');
    if (note) {
      var what = text ? ' (text "' + text + '")' : '';
      note.textContent = shown === all ? '' :
        'Filtered: ' + shown + ' of ' + all + ' rows shown' + what + '.';
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector('button.sort');
      if (button) { button.addEventListener('click', function () { sortBy(table, th); }); }
    });
    controls(table.id).forEach(function (c) {
      c.addEventListener(c.tagName === 'INPUT' && c.type !== 'checkbox' ? 'input' : 'change',
        function () { filter(table.id); });
    });
    filter(table.id);
  });
}());
"""
