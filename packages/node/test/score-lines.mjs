// The npm package's test host: scores an NDJSON file with `Scorer` from the
// installed `logsieve` package exactly as its README shows, and writes what
// `logsieve run` writes (scored NDJSON, error records, the counts), so that
// pipeline-examples/embedding/test/lib.sh can compare it with the CLI's.
//
//   node score-lines.mjs --model M --input F [--format ndjson] [--batch-size 1000]
//       [--top-features 3] --out SCORED --errors ERRORS [--summary-json S] [--api score|text]
//
// packages/node/test.sh copies it into a temporary npm project that
// installed the tarball. Clean NDJSON only (each line one JSON event).
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { Scorer, ModelError, ndjsonBatches } from 'logsieve';

const a = { format: 'ndjson', batchSize: 1000, topFeatures: 3 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  let [k, v] = argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], argv[++i]];
  const key = k.replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
  a[key] = ['batchSize', 'topFeatures'].includes(key) ? Number(v) : v;
}
if (a.format !== 'ndjson') {
  console.error(`score-lines.mjs: --format ${a.format}: the package test host reads NDJSON only`);
  process.exit(2);
}
let scorer;
try {
  scorer = await Scorer.open(readFileSync(a.model), { topFeatures: a.topFeatures });
} catch (e) {
  if (!(e instanceof ModelError)) throw e;
  console.error(`score-lines.mjs: ${a.model}: ${e.message}`);
  process.exit(2);
}
const model = scorer.info.id;
const t0 = process.hrtime.bigint(); // from reading the input to the last write, as the other hosts' figures
// (Node 20's readFileSync(path, 'utf8') took 0.26-0.49 s on the 73 MB bench
// input, reading the bytes then decoding them 0.11 s.)
const text = readFileSync(a.input).toString('utf8');
const lines = a.api === 'text' ? [] : text.split('\n'); // text: cut into batches by ndjsonBatches
if (lines.length && lines[lines.length - 1] === '') lines.pop();

const c = { in: 0, scored: 0, anomalies: 0, errors: 0, passed: 0, dropped: 0, absorbed: 0, emitted: 0,
  emitted_scored: 0, emitted_errors: 0, in_rare_clusters: 0, guest_faults: 0 };
const out = openSync(a.out, 'w');
const err = openSync(a.errors, 'w');
function write(results, firstLine, batch) {
  const scored = [];
  const errors = [];
  results.forEach((r, i) => {
    if (r.aggregate) c.emitted++;
    if (r.logsieve) {
      if (r.aggregate) c.emitted_scored++; else c.scored++;
      if (r.logsieve.anomaly) c.anomalies++;
      if (r.logsieve.reasons.includes('rare_cluster')) c.in_rare_clusters++;
      scored.push(r.event);
    } else if (r.passed) {
      c.passed++;
      scored.push(r.event);
    } else if (r.error) {
      c.errors++;
      if (r.aggregate) c.emitted_errors++;
      const [line, event] = r.aggregate ? [0, ''] : [firstLine + i, batch[i]];
      errors.push(JSON.stringify({ reason: r.error.reason, detail: r.error.detail, model, line, event }) + '\n');
    } else if (r.dropped) c.dropped++;
    else if (r.absorbed) c.absorbed++;
  });
  if (scored.length) writeSync(out, scored.join('\n') + '\n');
  if (errors.length) writeSync(err, errors.join(''));
}
// --api text: Scorer.scoreText on NDJSON text instead of score on arrays of lines.
function writeText(r, firstLine) {
  for (const [k, n] of Object.entries(r.counts)) c[k] += n;
  c.errors += r.counts.emitted_errors; // this host counts them as the CLI does: in errors too
  if (r.text) writeSync(out, r.text);
  const errors = r.errors.map((e) => JSON.stringify({ reason: e.reason, detail: e.detail, model,
    line: e.index === null ? 0 : firstLine + e.index, event: e.event }) + '\n');
  if (errors.length) writeSync(err, errors.join(''));
}
if (a.api === 'text') {
  let firstLine = 1;
  for (const batch of ndjsonBatches(text, a.batchSize)) {
    const r = scorer.scoreText(batch);
    writeText(r, firstLine);
    firstLine += r.counts.in;
  }
}
for (let at = 0; at < lines.length; at += a.batchSize) {
  const batch = lines.slice(at, at + a.batchSize);
  c.in += batch.length;
  write(scorer.score(batch), at + 1, batch);
}
if (a.api === 'text') writeText(scorer.flushText(), 0);
else write(scorer.flush(), 0, []);
closeSync(out);
closeSync(err);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const scoredAll = c.scored + c.emitted_scored;
if (a.summaryJson) {
  writeFileSync(a.summaryJson, JSON.stringify({ ...c, rating: scoredAll ? (10 * c.in_rare_clusters) / scoredAll : 0, model, seconds }));
}
console.error(`score-lines.mjs: ${c.in} events in ${seconds.toFixed(2)} s (${Math.round(c.in / Math.max(seconds, 1e-9))} events/s): ` +
  `${c.scored} scored (${c.anomalies} anomalies) + ${c.passed} passed + ${c.dropped} dropped + ${c.absorbed} absorbed + ${c.errors - c.emitted_errors} errors`);
