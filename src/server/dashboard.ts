/**
 * The live dashboard served by the uWS front end at `GET /dashboard`: one self-contained page
 * (no external scripts: it must work offline) that polls `/metrics` every second and the
 * Kinesis API (`ListStreams`, `DescribeStreamSummary`) every few seconds on the same origin,
 * and shows ingest and read rates, also as multiples of the Kinesis per-shard write limits.
 *
 * The page names an empty icon of its own: otherwise the browser asks for `/favicon.ico`, which
 * the Kinesis API answers (403 AccessDeniedException, as for any GET), and merely opening the
 * dashboard counts an error on it.
 */
import { SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC } from '../limits.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runnel</title><link rel="icon" href="data:,">
<style>
 body{font:14px system-ui,sans-serif;margin:24px;color:#1b1f24;background:#f6f8fa}
 h1{font-size:20px;margin:0 0 16px} .cards{display:flex;gap:12px;flex-wrap:wrap}
 .card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;min-width:170px}
 .value{font-size:24px;font-weight:600} .label{color:#57606a} canvas{background:#fff;border:1px solid #d0d7de;border-radius:6px}
 table{border-collapse:collapse;background:#fff;margin-top:16px} td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left}
</style></head><body>
<h1>Runnel</h1>
<div class="cards">
 <div class="card"><div class="label">records in /s</div><div class="value" id="rin">–</div></div>
 <div class="card"><div class="label">MB in /s</div><div class="value" id="bin">–</div></div>
 <div class="card"><div class="label">records out /s</div><div class="value" id="rout">–</div></div>
 <div class="card"><div class="label">= Kinesis shards (write)</div><div class="value" id="shards">–</div></div>
 <div class="card"><div class="label">errors /s</div><div class="value" id="err">–</div></div>
</div>
<p><canvas id="chart" width="720" height="160"></canvas></p>
<table><thead><tr><th>stream</th><th>status</th><th>open shards</th><th>retention h</th></tr></thead>
<tbody id="streams"></tbody></table>
<script>
const SHARD_BYTES = ${SHARD_WRITE_BYTES_PER_SEC}, SHARD_RECORDS = ${SHARD_WRITE_RECORDS_PER_SEC};
const history = []; let previous;
function parse(text) {
  const totals = { in: 0, bytesIn: 0, out: 0, errors: 0 };
  for (const line of text.split('\\n')) {
    if (line.startsWith('#') || !line) continue;
    const [name, value] = [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))];
    if (name === 'runnel_records_in_total') totals.in = value;
    else if (name === 'runnel_bytes_in_total') totals.bytesIn = value;
    else if (name === 'runnel_records_out_total') totals.out = value;
    else if (name.startsWith('runnel_errors_total')) totals.errors += value;
  }
  return totals;
}
function draw() {
  const canvas = document.getElementById('chart'), g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1, ...history.map((point) => point.in));
  g.strokeStyle = '#0969da'; g.beginPath();
  history.forEach((point, i) => {
    const x = (i / 119) * canvas.width, y = canvas.height - (point.in / max) * (canvas.height - 10);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke(); g.fillStyle = '#57606a'; g.fillText('records in /s, last 2 minutes (max ' + Math.round(max) + ')', 8, 14);
}
async function tick() {
  try {
    const now = performance.now(), totals = parse(await (await fetch('/metrics')).text());
    if (previous) {
      const seconds = (now - previous.at) / 1000, rate = (key) => (totals[key] - previous.totals[key]) / seconds;
      const point = { in: rate('in'), bytes: rate('bytesIn'), out: rate('out'), errors: rate('errors') };
      history.push(point); if (history.length > 120) history.shift();
      document.getElementById('rin').textContent = Math.round(point.in).toLocaleString();
      document.getElementById('bin').textContent = (point.bytes / 1e6).toFixed(1);
      document.getElementById('rout').textContent = Math.round(point.out).toLocaleString();
      document.getElementById('err').textContent = point.errors.toFixed(1);
      document.getElementById('shards').textContent =
        Math.floor(Math.max(point.in / SHARD_RECORDS, point.bytes / SHARD_BYTES)).toLocaleString();
      draw();
    }
    previous = { at: now, totals };
  } catch (error) { console.warn('metrics unavailable', error); }
}
async function kinesis(operation, body) {
  const response = await fetch('/', { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.' + operation } });
  return response.json();
}
async function streams() {
  try {
    const { StreamNames = [] } = await kinesis('ListStreams', {});
    const rows = await Promise.all(StreamNames.map(async (name) => {
      const { StreamDescriptionSummary: s } = await kinesis('DescribeStreamSummary', { StreamName: name });
      return '<tr><td>' + name + '</td><td>' + s.StreamStatus + '</td><td>' + s.OpenShardCount + '</td><td>' + s.RetentionPeriodHours + '</td></tr>';
    }));
    document.getElementById('streams').innerHTML = rows.join('');
  } catch (error) { console.warn('streams unavailable', error); }
}
tick(); streams(); setInterval(tick, 1000); setInterval(streams, 5000);
</script></body></html>`;
