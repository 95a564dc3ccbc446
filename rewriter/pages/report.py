"""One self-contained HTML page per report: a summary with a bar per status, and a sortable,
filterable table. Every value shown is escaped; only http(s) destinations are links; the
page's Content-Security-Policy allows its own inline script and style, by hash, and nothing
else (no network)."""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rewriter.diff.compare import Change, LinkChange
from rewriter.diff.links import LinkView
from rewriter.diff.run import FileDiff, FileState, Summary
from rewriter.models import LinkRecord, Status

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fff}
h1{font-size:1.3rem;margin:0 0 .3rem}p.meta{color:#555;margin:0 0 1rem}
.bars{display:grid;grid-template-columns:14rem 1fr 4rem;gap:.3rem .6rem;max-width:46rem;
margin-bottom:1rem;align-items:center}
.bar{height:.9rem;border-radius:2px;min-width:1px}
.controls{margin:.8rem 0;display:flex;gap:.6rem;flex-wrap:wrap}
input,select{font:inherit;padding:.2rem .4rem}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{cursor:pointer;user-select:none;background:#f4f4f4;
position:sticky;top:0}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}td{overflow-wrap:anywhere}
tbody tr{content-visibility:auto;contain-intrinsic-size:auto 3rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;font-weight:600;white-space:nowrap;
border:1px solid currentColor}
.s-broken{color:#a1001b;background:#fde7ea}.s-unknown{color:#6b4e00;background:#fff4d1}
.s-insecure{color:#8a3b00;background:#ffe9d6}.s-secure-after-first-visit{color:#005a8a;
background:#e1f2fc}.s-secure{color:#0b6b2b;background:#e2f6e8}.s-none{color:#555;background:#eee}
.k-added{color:#0b6b2b;background:#e2f6e8}.k-removed{color:#a1001b;background:#fde7ea}
.k-retargeted{color:#6b4e00;background:#fff4d1}.k-status-changed{color:#5b2a86;background:#f0e6fa}
.k-re-wrapped,.k-file-added,.k-file-removed{color:#333;background:#eee}
.bk-added{background:#1f8a3f}.bk-removed{background:#c4122f}.bk-retargeted{background:#b58900}
.bk-status-changed{background:#7b3fb0}.bk-re-wrapped,.bk-file-added,.bk-file-removed,.bk-other{
background:#888}
.b-broken{background:#c4122f}.b-unknown{background:#b58900}.b-insecure{background:#d35f00}
.b-secure-after-first-visit{background:#1d7fb8}.b-secure{background:#1f8a3f}.b-none{background:#999}
"""

_SCRIPT = """
(function(){
var table=document.getElementById('links');var body=table.tBodies[0];
var rows=Array.prototype.slice.call(body.rows);var heads=table.tHead.rows[0].cells;
var text=document.getElementById('filter');var pick=document.getElementById('kind');
var shown=document.getElementById('shown');var haystack=null;var keys={};
var collate=new Intl.Collator(undefined,{numeric:true}).compare;
function apply(){var q=text.value.toLowerCase();var k=pick.value;var n=0;
if(q&&!haystack){haystack=rows.map(function(r){return r.textContent.toLowerCase();});}
rows.forEach(function(r,i){var ok=(!k||r.getAttribute('data-kind')===k)&&
(!q||haystack[i].indexOf(q)>=0);if(r.hidden===ok)r.hidden=!ok;if(ok)n++;});
shown.textContent=String(n);}
function keyOf(i){if(!keys[i]){keys[i]=rows.map(function(r){var c=r.cells[i];
return c.getAttribute('data-sort')||c.textContent;});}return keys[i];}
text.addEventListener('input',apply);pick.addEventListener('change',apply);
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener('click',function(){
var up=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(heads,function(c){c.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',up?'ascending':'descending');
var key=keyOf(i);var order=rows.map(function(_,j){return j;});
order.sort(function(a,b){var c=collate(key[a],key[b])||a-b;return up?c:-c;});
var next=body.cloneNode(false);var sorted=[];var sortedHay=[];
var sortedKeys={};Object.keys(keys).forEach(function(k){sortedKeys[k]=[];});
order.forEach(function(j){next.appendChild(rows[j]);sorted.push(rows[j]);
if(haystack)sortedHay.push(haystack[j]);
Object.keys(keys).forEach(function(k){sortedKeys[k].push(keys[k][j]);});});
rows=sorted;if(haystack)haystack=sortedHay;keys=sortedKeys;
table.replaceChild(next,body);body=next;});});
Array.prototype.forEach.call(document.querySelectorAll('.bar[data-share]'),function(b){
b.style.width=b.getAttribute('data-share')+'%';});
})();
"""

_STATUS_ORDER = [str(status) for status in Status] + ["none"]


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    sort: str | None = None
    css: str | None = None  # a badge class
    href: str | None = None  # a link, http(s) only


def links_page(records: Iterable[LinkRecord], preload: str) -> str:
    """The `links --format html` page."""
    rows: list[tuple[str, list[_Cell]]] = []
    statuses: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for record in records:
        status = str(record.status) if record.status is not None else "none"
        statuses[status] += 1
        files[record.file or "-"] += 1
        target = record.destination or record.original
        rows.append(
            (
                status,
                [
                    _Cell(record.file or "-"),
                    _Cell(str(record.line), f"{record.line:09d}"),
                    _Cell(record.text),
                    _Cell(str(record.action)),
                    _Cell(status, str(_STATUS_ORDER.index(status)), f"s-{status}"),
                    _Cell(record.status_reason or record.reason),
                    _Cell(target, href=_clickable(record.destination)),
                ],
            )
        )
    headers = ["file", "line", "link text", "action", "status", "reason", "destination"]
    widths = [14, 5, 14, 8, 12, 25, 22]
    summary = _bars(statuses, _STATUS_ORDER, "s-", "b-") + _file_counts(files)
    title = f"Links: {sum(statuses.values())} in {len(files)} files"
    return _page(title, preload, summary, list(zip(headers, widths, strict=True)), rows,
                 _STATUS_ORDER, statuses)  # fmt: skip


def diff_page(files: Sequence[FileDiff], summary: Summary, preload: str) -> str:
    """The `diff --html` page: every change of every file that differs."""
    kinds: Counter[str] = Counter()
    rows: list[tuple[str, list[_Cell]]] = []
    for item in files:
        for kind, cells in _diff_rows(item):
            kinds[kind] += 1
            rows.append((kind, cells))
    order = [*(str(kind) for kind in Change), "file-added", "file-removed", "other"]
    headers = ["file", "line", "change", "old", "new", "detail", "link text"]
    widths = [13, 5, 11, 22, 22, 15, 12]
    counts = _bars(kinds, order, "k-", "bk-")
    title = f"Diff: {sum(summary.files.values())} files compared"
    return _page(
        title, preload, counts, list(zip(headers, widths, strict=True)), rows, order, kinds
    )


def _diff_rows(item: FileDiff) -> Iterable[tuple[str, list[_Cell]]]:
    if item.state in (FileState.ADDED, FileState.REMOVED):
        kind = f"file-{item.state}"
        count = item.links_new if item.state is FileState.ADDED else item.links_old
        yield kind, [_Cell(item.name), _Cell("", "0"), _Cell(kind, kind, f"k-{kind}"),
                     _Cell(""), _Cell(""), _Cell(f"{count} links"), _Cell("")]  # fmt: skip
        return
    for change in item.diff.changes:
        yield str(change.kind), _change_cells(item.name, change)
    if item.diff.other_changes:
        detail = f"{item.diff.other_changes} changes outside links: " + " ".join(
            item.diff.other_sample
        )
        yield "other", [_Cell(item.name), _Cell("", "0"), _Cell("other", "other", "k-re-wrapped"),
                        _Cell(""), _Cell(""), _Cell(detail), _Cell("")]  # fmt: skip


def _change_cells(name: str, change: LinkChange) -> list[_Cell]:
    where = change.new or change.old
    assert where is not None
    kind = str(change.kind)
    return [
        _Cell(name),
        _Cell(str(where.line), f"{where.line:09d}"),
        _Cell(kind, kind, f"k-{kind}"),
        _link_cell(change.old),
        _link_cell(change.new),
        _Cell(change.detail),
        _Cell(where.text),
    ]


def _link_cell(link: LinkView | None) -> _Cell:
    if link is None:
        return _Cell("")
    status = f" ({link.status})" if link.status else ""
    return _Cell(link.target + status, link.target, href=_clickable(link.destination))


def _clickable(destination: str | None) -> str | None:
    """Only parsed http(s) destinations become links: a `javascript:` value, a template
    expression or anything else skipped stays text."""
    if destination is None or not destination.startswith(("http://", "https://")):
        return None
    return destination


def _bars(counts: Counter[str], order: Sequence[str], badge: str, bar: str) -> str:
    total = sum(counts.values()) or 1
    lines = ['<div class="bars">']
    for key in order:
        if not counts[key]:
            continue
        share = f"{100 * counts[key] / total:.1f}"
        lines.append(
            f'<span class="badge {badge}{_e(key)}">{_e(key)}</span>'
            f'<div><div class="bar {bar}{_e(key)}" data-share="{share}"></div></div>'
            f'<span data-count="{_e(key)}">{counts[key]}</span>'
        )
    lines.append("</div>")
    return "\n".join(lines)


def _file_counts(files: Counter[str]) -> str:
    items = "".join(f"<li>{_e(name)}: {count}</li>" for name, count in sorted(files.items()))
    return f"<details><summary>Links per file</summary><ul>{items}</ul></details>"


def _page(
    title: str,
    preload: str,
    summary: str,
    columns: Sequence[tuple[str, int]],  # (header, width in percent)
    rows: Sequence[tuple[str, list[_Cell]]],
    kinds: Sequence[str],
    counts: Counter[str],
) -> str:
    style = _STYLE + "".join(
        f"th:nth-child({index}){{width:{width}%}}" for index, (_, width) in enumerate(columns, 1)
    )
    policy = (
        "default-src 'none'; "
        f"style-src '{_hash(style)}'; script-src '{_hash(_SCRIPT)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    numeric = {"line"}
    head = "".join(
        f"<th{' data-numeric' if name in numeric else ''} scope=col>{_e(name)}</th>"
        for name, _ in columns
    )
    options = "".join(
        f'<option value="{_e(kind)}">{_e(kind)} ({counts[kind]})</option>'
        for kind in kinds
        if counts[kind]
    )
    body = "\n".join(_row(kind, cells) for kind, cells in rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(policy)}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(title)}</title><style>{style}</style></head>
<body><h1>{_e(title)}</h1><p class="meta">preload list: {_e(preload)}</p>
{summary}
<div class="controls"><label>Filter <input id="filter" type="search"></label>
<label>Show <select id="kind"><option value="">all</option>{options}</select></label>
<span><span id="shown">{len(rows)}</span> of {len(rows)} shown</span></div>
<table id="links"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table><script>{_SCRIPT}</script></body></html>
"""


def _row(kind: str, cells: list[_Cell]) -> str:
    return f'<tr data-kind="{_e(kind)}">' + "".join(_cell(cell) for cell in cells) + "</tr>"


def _cell(cell: _Cell) -> str:
    sort = f' data-sort="{_e(cell.sort)}"' if cell.sort is not None else ""
    text = _e(cell.text)
    if cell.css is not None:
        text = f'<span class="badge {_e(cell.css)}">{text}</span>'
    elif cell.href is not None:
        text = f'<a href="{_e(cell.href)}" rel="noopener noreferrer">{text}</a>'
    css = ' class="url"' if cell.href is not None else ""
    return f"<td{css}{sort}>{text}</td>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
