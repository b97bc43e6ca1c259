/**
 * The benchmark's HTML report: one self-contained file (no CDN, no external request — the
 * machine's network is closed and a report must open anywhere). The figures travel as JSON in
 * the page; a small inline script draws the charts as SVG:
 *
 * - writes and reads per path and record size, in records/s and in MB/s, on log scales, with
 *   the Kinesis per-shard limit drawn as a line (1,000 records/s, 1 MiB/s written; 2 MiB/s read);
 * - the latency distribution of every put case (log-spaced buckets), per record size.
 *
 * The page records its own script errors and console errors on `<body data-errors>` and the
 * number of charts drawn on `<body data-charts-rendered>`, so a headless browser can check it
 * (scripts/check-report.sh, test/harness/report-html.test.ts).
 */
import { LatencyHistogram } from './histogram.js';
import type { BenchReport, BenchResult } from './bench.js';
import { COLUMNS, fmt, formatSize, rowCells } from './result-table.js';

const LATENCY_BUCKETS_PER_OCTAVE = 4;

interface ChartResult {
  target: string;
  path: string;
  op: string;
  method: string;
  recordBytes: number;
  shards: number;
  recordsPerSec: number | null;
  MBps: number | null;
  shardEquivalents: number | null;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  latencyBuckets: Array<{ fromMs: number; toMs: number; count: number }>;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function finite(value: number | undefined | null): number | null {
  return value !== undefined && value !== null && Number.isFinite(value) ? value : null;
}

function chartResult(r: BenchResult): ChartResult {
  return {
    target: r.target,
    path: r.path,
    op: r.op,
    method: r.method,
    recordBytes: r.recordBytes,
    shards: r.shards,
    recordsPerSec: r.available ? finite(r.recordsPerSec) : null,
    MBps: r.available ? finite(r.MBps) : null,
    shardEquivalents: r.available ? finite(r.shardEquivalents) : null,
    p50: finite(r.latencyMs?.p50),
    p99: finite(r.latencyMs?.p99),
    p999: finite(r.latencyMs?.p999),
    latencyBuckets: r.histogram
      ? LatencyHistogram.fromJSON(r.histogram).chartBuckets(LATENCY_BUCKETS_PER_OCTAVE)
      : [],
  };
}

function resultRows(results: BenchResult[]): string {
  return results
    .map((r) => {
      const cells = rowCells(r)
        .map((cell) => `<td>${escapeHtml(cell)}</td>`)
        .join('');
      return `<tr${r.available ? '' : ' class="na"'}>${cells}</tr>`;
    })
    .join('\n');
}

const TABLE_HEAD = `<tr>${COLUMNS.map((column) => `<th>${escapeHtml(column)}</th>`).join('')}</tr>`;

/** The inline script: draws SVG charts from the JSON in #report-data. Plain ES2017, no library. */
const CHART_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = { embedded: '#1b7f5b', ws: '#7b3fb5', http1: '#1f5fbf', http2: '#d9731a', kinesalite: '#8a8a8a', 'kinesis-local': '#b5473f' };
  var rendered = 0;
  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) node.setAttribute(key, String(attrs[key]));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function sizeLabel(bytes) { return bytes % 1024 === 0 ? (bytes / 1024) + ' KiB' : bytes + ' B'; }
  function human(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + 'k';
    if (v >= 1) return v.toFixed(v >= 10 ? 0 : 1);
    return v.toPrecision(2);
  }
  function colorOf(r) { return COLORS[r.target === 'runnel' ? r.path : r.target] || '#444'; }
  // Subscriptions are drawn lighter than GetRecords of the same path.
  function opacityOf(r) { return /subscribe/i.test(r.method) ? 0.55 : 1; }
  function seriesName(r) {
    var name = r.target === 'runnel' ? r.path : r.target + ' (' + r.path + ')';
    return r.op === 'read' ? name + ' ' + r.method : name;
  }

  // Grouped bars on a log axis: groups = record size x shards, bars = series; limit line.
  function barChart(container, title, results, field, unit, limit, limitLabel) {
    var rows = results.filter(function (r) { return r[field] !== null && r[field] > 0; });
    var section = document.createElement('section');
    section.className = 'chart';
    var h = document.createElement('h3');
    h.textContent = title;
    section.appendChild(h);
    container.appendChild(section);
    if (rows.length === 0) { section.appendChild(document.createTextNode('no data')); return; }
    var groups = [];
    var series = [];
    rows.forEach(function (r) {
      var g = sizeLabel(r.recordBytes) + ' x ' + r.shards;
      if (groups.indexOf(g) < 0) groups.push(g);
      var s = seriesName(r);
      if (series.indexOf(s) < 0) series.push(s);
    });
    var legendRows = Math.ceil(series.length / 4);
    var width = 900, left = 70, right = 20, top = 20, bottom = 40 + legendRows * 16;
    var height = 270 + bottom;
    var values = rows.map(function (r) { return r[field]; }).concat([limit]);
    var lo = Math.floor(Math.log10(Math.min.apply(null, values))) ;
    var hi = Math.ceil(Math.log10(Math.max.apply(null, values)));
    if (hi === lo) hi = lo + 1;
    function y(v) { return top + (height - top - bottom) * (1 - (Math.log10(v) - lo) / (hi - lo)); }
    var svg = el('svg', { viewBox: '0 0 ' + width + ' ' + height, width: '100%', role: 'img', 'data-chart': field, 'aria-label': title });
    for (var e = lo; e <= hi; e++) {
      var v = Math.pow(10, e);
      svg.appendChild(el('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: '#ddd' }));
      svg.appendChild(el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, human(v)));
    }
    svg.appendChild(el('text', { x: 14, y: top + (height - top - bottom) / 2, transform: 'rotate(-90 14 ' + (top + (height - top - bottom) / 2) + ')', 'text-anchor': 'middle', 'font-size': 12 }, unit + ' (log)'));
    var groupWidth = (width - left - right) / groups.length;
    var barWidth = Math.max(3, Math.min(28, (groupWidth - 10) / series.length));
    groups.forEach(function (g, gi) {
      var x0 = left + gi * groupWidth + (groupWidth - barWidth * series.length) / 2;
      series.forEach(function (s, si) {
        var r = rows.filter(function (row) { return sizeLabel(row.recordBytes) + ' x ' + row.shards === g && seriesName(row) === s; })[0];
        if (!r) return;
        var top0 = y(r[field]);
        var rect = el('rect', { x: x0 + si * barWidth, y: top0, width: barWidth - 2, height: Math.max(1, height - bottom - top0), fill: colorOf(r), 'fill-opacity': opacityOf(r), 'class': 'bar' });
        rect.appendChild(el('title', {}, s + ', ' + g + ' shards: ' + human(r[field]) + ' ' + unit + (r.shardEquivalents ? ' = ' + Math.round(r.shardEquivalents) + ' Kinesis shards' : '')));
        svg.appendChild(rect);
      });
      svg.appendChild(el('text', { x: left + gi * groupWidth + groupWidth / 2, y: height - bottom + 16, 'text-anchor': 'middle', 'font-size': 11 }, g + ' sh'));
    });
    svg.appendChild(el('line', { x1: left, x2: width - right, y1: y(limit), y2: y(limit), stroke: '#c00', 'stroke-width': 2, 'stroke-dasharray': '6 4', 'class': 'limit' }));
    svg.appendChild(el('text', { x: width - right - 4, y: y(limit) - 5, 'text-anchor': 'end', 'font-size': 11, fill: '#c00' }, limitLabel));
    series.forEach(function (s, si) {
      var sample = rows.filter(function (row) { return seriesName(row) === s; })[0];
      var lx = left + (si % 4) * 205, ly = height - bottom + 26 + Math.floor(si / 4) * 16;
      svg.appendChild(el('rect', { x: lx, y: ly, width: 12, height: 12, fill: colorOf(sample), 'fill-opacity': opacityOf(sample) }));
      svg.appendChild(el('text', { x: lx + 16, y: ly + 10, 'font-size': 12 }, s));
    });
    section.appendChild(svg);
    rendered++;
  }

  // Latency distributions: one line per put case of a record size, log-x buckets.
  function latencyChart(container, recordBytes, results) {
    var rows = results.filter(function (r) { return r.latencyBuckets.length > 0; });
    if (rows.length === 0) return;
    var section = document.createElement('section');
    section.className = 'chart';
    var h = document.createElement('h3');
    h.textContent = 'Put acknowledgement latency, ' + sizeLabel(recordBytes) + ' records (share of records per bucket)';
    section.appendChild(h);
    var legendRows = Math.ceil(rows.length / 3);
    var width = 900, left = 60, right = 20, top = 20, bottom = 30 + legendRows * 14;
    var height = 240 + bottom;
    var minMs = Infinity, maxMs = 0, maxShare = 0;
    rows.forEach(function (r) {
      var total = r.latencyBuckets.reduce(function (a, b) { return a + b.count; }, 0);
      r.shares = r.latencyBuckets.map(function (b) { return b.count / total; });
      r.latencyBuckets.forEach(function (b) { minMs = Math.min(minMs, b.fromMs); maxMs = Math.max(maxMs, b.toMs); });
      maxShare = Math.max(maxShare, Math.max.apply(null, r.shares));
    });
    var lo = Math.floor(Math.log10(minMs)), hi = Math.ceil(Math.log10(maxMs));
    if (hi === lo) hi = lo + 1;
    function x(ms) { return left + (width - left - right) * (Math.log10(ms) - lo) / (hi - lo); }
    function y(share) { return top + (height - top - bottom) * (1 - share / maxShare); }
    var svg = el('svg', { viewBox: '0 0 ' + width + ' ' + height, width: '100%', role: 'img', 'data-chart': 'latency-' + recordBytes });
    for (var e = lo; e <= hi; e++) {
      var v = Math.pow(10, e);
      svg.appendChild(el('line', { x1: x(v), x2: x(v), y1: top, y2: height - bottom, stroke: '#ddd' }));
      svg.appendChild(el('text', { x: x(v), y: height - bottom + 14, 'text-anchor': 'middle', 'font-size': 11 }, human(v) + ' ms'));
    }
    rows.forEach(function (r, ri) {
      var points = r.latencyBuckets.map(function (b, i) { return x(Math.sqrt(b.fromMs * b.toMs)).toFixed(1) + ',' + y(r.shares[i]).toFixed(1); });
      var color = colorOf(r);
      var dash = r.shards > 1 ? '' : '5 3';
      svg.appendChild(el('polyline', { points: points.join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash, 'class': 'series' }));
      if (r.p99 !== null) svg.appendChild(el('line', { x1: x(r.p99), x2: x(r.p99), y1: top, y2: top + 8, stroke: color, 'stroke-width': 3 }));
      var ly = height - bottom + 26 + Math.floor(ri / 3) * 14;
      svg.appendChild(el('line', { x1: left + (ri % 3) * 280, x2: left + (ri % 3) * 280 + 18, y1: ly - 4, y2: ly - 4, stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash }));
      svg.appendChild(el('text', { x: left + (ri % 3) * 280 + 22, y: ly, 'font-size': 11 }, seriesName(r) + ' x' + r.shards + ': p99 ' + (r.p99 === null ? '-' : r.p99.toFixed(2)) + ' ms'));
    });
    section.appendChild(svg);
    container.appendChild(section);
    rendered++;
  }

  var charts = document.getElementById('charts');
  var puts = data.results.filter(function (r) { return r.op === 'put'; });
  var reads = data.results.filter(function (r) { return r.op === 'read'; });
  barChart(charts, 'Writes: records/s per path, record size and shard count', puts, 'recordsPerSec', 'records/s', data.limits.shardWriteRecordsPerSec, '1 Kinesis shard: ' + data.limits.shardWriteRecordsPerSec + ' records/s');
  barChart(charts, 'Writes: MB/s per path, record size and shard count', puts, 'MBps', 'MB/s', data.limits.shardWriteBytesPerSec / 1e6, '1 Kinesis shard: 1 MiB/s');
  barChart(charts, 'Reads: MB/s (GetRecords and subscriptions)', reads, 'MBps', 'MB/s', data.limits.shardReadBytesPerSec / 1e6, '1 Kinesis shard: 2 MiB/s read');
  var sizes = [];
  puts.forEach(function (r) { if (sizes.indexOf(r.recordBytes) < 0) sizes.push(r.recordBytes); });
  sizes.forEach(function (bytes) { latencyChart(charts, bytes, puts.filter(function (r) { return r.recordBytes === bytes; })); });
  document.body.setAttribute('data-charts-rendered', String(rendered));
})();
`;

/** Records script errors and console errors on <body data-errors>; runs before anything else. */
const ERROR_TRAP = String.raw`
(function () {
  var errors = [];
  function note(text) {
    errors.push(String(text));
    if (document.body) {
      document.body.setAttribute('data-errors', String(errors.length));
      document.body.setAttribute('data-error-text', errors.join(' | ').slice(0, 500));
    }
  }
  window.addEventListener('error', function (event) { note(event.message || 'error'); });
  window.addEventListener('unhandledrejection', function (event) { note('unhandled rejection: ' + event.reason); });
  var original = console.error;
  console.error = function () { note(Array.prototype.join.call(arguments, ' ')); return original.apply(console, arguments); };
})();
`;

export function renderHtmlReport(report: BenchReport): string {
  const allResults = [...report.results, ...report.peers.flatMap((peer) => peer.results)];
  const data = { limits: report.limits, results: allResults.map(chartResult) };
  // JSON inside <script>: '<' escaped so no '</script>' can end it early.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const b = report.baselines;
  const peerLines = report.peers
    .map(
      (peer) =>
        `<li>${escapeHtml(peer.name)}@${escapeHtml(peer.version)}: ${peer.available ? 'measured' : `unavailable — ${escapeHtml(peer.reason ?? '')}`}</li>`,
    )
    .join('');
  const ratioLines = report.peerRatios
    .map(
      (r) =>
        `<li>Runnel HTTP/1.1 ${escapeHtml(r.op)} ${formatSize(r.recordBytes)} × ${r.shards} shards: ${fmt(r.runnel)} records/s vs ${escapeHtml(r.peer)} ${fmt(r.peerValue)} = <b>${fmt(r.ratio, 1)}×</b></li>`,
    )
    .join('');
  const limitLines = (report.limitsMode ?? [])
    .map(
      (check) =>
        `<li>${check.kind}: offered ${fmt(check.offeredPerSec)} ${check.unit}, accepted ${fmt(check.acceptedPerSec)} = ${fmt(check.ratio * 100, 1)} % of ${fmt(check.nominalPerSec)} (${check.withinTolerance ? 'within' : 'outside'} ±5 %)</li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Runnel benchmark — ${escapeHtml(report.startedAt)}</title>
<script>${ERROR_TRAP}</script>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #222; }
  h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; margin: 18px 0 6px; }
  table { border-collapse: collapse; font-size: 12px; width: 100%; }
  th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: right; white-space: nowrap; }
  th:nth-child(-n+6), td:nth-child(-n+6) { text-align: left; }
  tr.na td { color: #999; }
  .chart svg { background: #fcfcfc; border: 1px solid #eee; }
  .meta { color: #555; }
</style>
</head>
<body data-charts-rendered="0" data-errors="0">
<h1>Runnel benchmark</h1>
<p class="meta">${escapeHtml(report.command)} — ${escapeHtml(report.startedAt)} — ${fmt(report.elapsedSec, 1)} s${report.quick ? ' (quick)' : ''}<br>
${escapeHtml(report.machine.description)}</p>
<p>Baselines measured in the same run: page-cache write ${fmt(b.pageCacheWriteMBps)} MB/s (1 MiB pwrite into fresh files),
page-cache read ${fmt(b.pageCacheReadMBps)} MB/s (64 KiB preads of a resident file),
disk write + fdatasync ${fmt(b.diskWriteMBps)} MB/s, loopback TCP ${fmt(b.loopbackMBps)} MB/s.
Kinesis per-shard limits: ${report.limits.shardWriteRecordsPerSec} records/s and 1 MiB/s written, 2 MiB/s read.
${report.ok ? 'Every record put was read back.' : '<b>Verification failed: see the table.</b>'}</p>
<noscript><p>The charts need JavaScript; the table below has every figure.</p></noscript>
<div id="charts"></div>
<h2>All figures</h2>
<table>${TABLE_HEAD}
${resultRows(allResults)}
</table>
${report.peers.length > 0 ? `<h2>Peers</h2><ul>${peerLines}</ul><ul>${ratioLines}</ul>` : ''}
${report.limitsMode ? `<h2>Limits mode</h2><ul>${limitLines}</ul>` : ''}
<h2>Notes</h2><ul>${report.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('')}</ul>
<script type="application/json" id="report-data">${json}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}
