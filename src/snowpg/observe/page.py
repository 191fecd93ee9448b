"""The status page served by ``snowpg serve``: one HTML document with inline CSS and JavaScript.

The page polls ``/api/status`` and redraws: runs, per-table progress bars, throughput over time
(an SVG chart), failed and stuck chunks with their errors. No external assets, so it works on a
bastion without internet access. Text from the status tables is set with ``textContent`` only.
Elements carry ``data-*`` attributes (``data-table``, ``data-field``) so tests and scripts can
read the numbers.
"""

from __future__ import annotations

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d232b}
header{background:#15324f;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0}header .sub{opacity:.75;font-size:12px}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;
margin:0 0 16px}
h2{font-size:15px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #eef0f2;white-space:nowrap}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}
.bar{background:#e8ebef;border-radius:3px;height:10px;width:160px;overflow:hidden}
.bar>div{background:#2f7de1;height:100%}.bar.done>div{background:#2da44e}
.bar.failed>div{background:#cf222e}
.s-completed{color:#1a7f37}.s-failed{color:#cf222e}.s-running,.s-in_progress{color:#0969da}
.s-partial{color:#9a6700}.s-pending,.s-skipped{color:#6e7781}
.kpis{display:flex;gap:24px;flex-wrap:wrap;margin:4px 0 8px}.kpi b{display:block;font-size:20px}
.kpi span{font-size:12px;color:#57606a}.err{color:#cf222e;white-space:normal}
.muted{color:#6e7781}svg{background:#fbfcfd;border:1px solid #eef0f2}
"""

SCRIPT = """
const REFRESH_MS = __REFRESH__;
const token = new URLSearchParams(location.search).get('token');
const api = '/api/status' + (token ? '?token=' + encodeURIComponent(token) : '');
window.addEventListener('DOMContentLoaded', () => {
  const link = document.getElementById('report-link');
  if (token) link.href = '/report?token=' + encodeURIComponent(token);
});
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
const num = n => n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
function bytes(n) {
  if (n === null || n === undefined) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n.toFixed(0)) + ' ' + u[i];
}
function dur(s) {
  if (s === null || s === undefined) return '-';
  s = Math.round(s);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
}
const st = s => el('span', {class: 's-' + (s || 'none')}, s || '-');
function td(v, field, cls) { return el('td', {class: cls || 'num', 'data-field': field}, v); }
function bar(done, total, status) {
  const pct = total > 0 ? Math.min(100, 100 * done / total) : (status === 'completed' ? 100 : 0);
  const cls = 'bar' + (status === 'completed' ? ' done' : status === 'failed' ? ' failed' : '');
  const inner = el('div'); inner.style.width = pct.toFixed(1) + '%';
  return el('div', {class: cls, title: pct.toFixed(1) + '%'}, inner);
}
function chart(points) {
  const W = 640, H = 140, P = 28, NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('role', 'img');
  if (!points.length) return svg;
  const maxX = Math.max(1, points[points.length - 1][0]);
  const maxY = Math.max(1, ...points.map(p => p[1]));
  const xy = p => [P + (W - 2 * P) * p[0] / maxX, H - P - (H - 2 * P) * p[1] / maxY];
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', points.map(p => xy(p).map(v => v.toFixed(1)).join(',')).join(' '));
  line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#2f7de1');
  line.setAttribute('stroke-width', '2');
  svg.append(line);
  for (const [x, y, t] of [[P, 14, num(maxY) + ' rows/s'], [W - P, H - 8, dur(maxX)]]) {
    const label = document.createElementNS(NS, 'text');
    label.setAttribute('x', x); label.setAttribute('y', y); label.setAttribute('font-size', '11');
    label.setAttribute('text-anchor', x === P ? 'start' : 'end'); label.textContent = t;
    svg.append(label);
  }
  return svg;
}
function issues(title, list, kind) {
  if (!list.length) return null;
  const t = el('table', {'data-issues': kind},
    el('tr', {}, ...['table', 'chunk', 'status', 'running', 'retries', 'worker', 'error']
      .map(h => el('th', {}, h))));
  for (const c of list) {
    t.append(el('tr', {'data-chunk': c.source_table + ':' + c.chunk_id},
      el('td', {}, c.source_table), td(c.chunk_id, 'chunk_id'), el('td', {}, st(c.status)),
      td(dur(c.seconds), 'seconds'), td(c.retry_count, 'retry_count'),
      el('td', {class: 'muted'}, c.lease_owner || '-'),
      el('td', {class: 'err'}, c.error_message || '')));
  }
  return el('div', {}, el('h3', {}, title + ' (' + list.length + ')'), t);
}
function source(r) {
  const s = el('section', {'data-source': r.source_name});
  if (!r.run_id) {
    s.append(el('h2', {}, 'source ' + r.source_name), el('p', {class: 'muted'},
      'no run recorded in ' + r.target_database));
    return s;
  }
  s.append(el('h2', {}, 'source ' + r.source_name + ' — run ', el('code', {}, r.run_id), ' ',
    st(r.run_status)));
  const k = (label, v, field) => el('div', {class: 'kpi'}, el('b', {'data-field': field}, v),
    el('span', {}, label));
  s.append(el('div', {class: 'kpis'}, k('rows copied', num(r.rows_copied), 'run_rows'),
    k('bytes', bytes(r.bytes_copied), 'run_bytes'),
    k('rows/s now', num(r.rows_per_second), 'run_rate'),
    k('elapsed', dur(r.seconds), 'run_seconds'), k('ETA', dur(r.eta_seconds), 'run_eta'),
    k('retries', num(r.retries), 'run_retries')));
  const t = el('table', {'data-tables': r.source_name}, el('tr', {},
    ...['table', 'target', 'status', 'progress', 'chunks', 'rows', 'est. rows', 'bytes', 'rows/s',
        'ETA', 'retries', 'last error'].map(h => el('th', {}, h))));
  for (const x of r.tables) {
    const failed = x.chunks_failed ? ' (' + x.chunks_failed + ' failed)' : '';
    t.append(el('tr', {'data-table': x.source_table},
      el('td', {}, x.source_table), el('td', {}, x.target), el('td', {'data-field': 'status'},
        st(x.status)), el('td', {}, bar(x.chunks_completed, x.chunks_total, x.status)),
      td(x.chunks_completed + '/' + x.chunks_total + failed, 'chunks'),
      td(num(x.rows_copied), 'rows'), td(num(x.estimated_rows), 'estimated_rows'),
      td(bytes(x.bytes_copied), 'bytes'), td(num(x.rows_per_second), 'rate'),
      td(dur(x.eta_seconds), 'eta'), td(x.retries, 'retries'),
      el('td', {class: 'err'}, (x.error_message || '').slice(0, 120))));
  }
  s.append(t, el('h3', {}, 'throughput (rows/s)'), chart(r.throughput || []));
  const all = k => r.tables.flatMap(x => x[k]);
  for (const part of [issues('stuck chunks', all('stuck_chunks'), 'stuck'),
                      issues('failed chunks', all('failed_chunks'), 'failed')]) {
    if (part) s.append(part);
  }
  return s;
}
function runs(list) {
  const t = el('table', {'data-runs': ''}, el('tr', {}, ...['run', 'source', 'status', 'started',
    'completed', 'tables', 'rows'].map(h => el('th', {}, h))));
  for (const r of list) {
    t.append(el('tr', {'data-run': r.run_id}, el('td', {}, el('code', {}, r.run_id)),
      el('td', {}, r.source_name || '-'), el('td', {}, st(r.status)),
      el('td', {}, (r.started_at || '').replace('T', ' ').slice(0, 19)),
      el('td', {}, (r.completed_at || '').replace('T', ' ').slice(0, 19)),
      td(r.completed_tables + '/' + r.total_tables, 'tables'), td(num(r.rows_copied), 'rows')));
  }
  return el('section', {}, el('h2', {}, 'runs'), t);
}
let ticks = 0;
async function refresh() {
  try {
    const res = await fetch(api, {cache: 'no-store'});
    if (!res.ok) throw new Error(res.status + ' ' + await res.text());
    const data = await res.json();
    const main = document.getElementById('main');
    main.replaceChildren(...data.sources.map(source), runs(data.runs),
      ...data.errors.map(e => el('p', {class: 'err'}, e)));
    ticks++;
    document.body.setAttribute('data-refreshes', ticks);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById('updated').textContent = 'cannot read status: ' + e.message;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
"""


def render_page(refresh_ms: int) -> str:
    script = SCRIPT.replace("__REFRESH__", str(int(refresh_ms)))
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>snowpg status</title>"
        f"<style>{STYLE}</style></head><body data-refreshes='0'>"
        "<header><h1>snowpg</h1><span class='sub'>migration status (read-only)</span>"
        "<span class='sub' id='updated'>loading…</span>"
        "<span class='sub'><a style='color:#cde' id='report-link' href='/report'>run report</a>"
        "</span></header>"
        "<main id='main'><p class='muted'>loading…</p></main>"
        f"<script>{script}</script></body></html>\n"
    )
