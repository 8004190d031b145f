// scoreText against score on batches the package cases do not hold: an empty
// batch, blank lines, CRLF line ends, a last line without "\n", invalid JSON,
// a line that is not an object, a non-ASCII event; and ndjsonBatches' cuts.
// Run by packages/node/test.sh in the npm project that installed the tarball:
//
//   node text-api.mjs MODEL
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Scorer, ndjsonBatches } from 'logsieve';

const model = readFileSync(process.argv[2]);
const good = '{"ts":1713484800.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"id.resp_h":"224.0.0.251","id.resp_p":5353,"proto":"udp","duration":0.5,"orig_bytes":40,"resp_bytes":0,"conn_state":"S0","missed_bytes":0,"history":"D","orig_pkts":1,"orig_ip_bytes":68,"resp_pkts":0,"resp_ip_bytes":0}';
const cases = {
  empty: '',
  'one, no final newline': good,
  'blank lines': `${good}\n\n${good}\n\n`,
  CRLF: `${good}\r\n${good}\r\n`,
  'invalid JSON and not an object': `${good}\n{not json\n[1,2]\n${good}\n`,
  'non-ASCII': good.replace('"C1"', '"C\u00e9\u4e2d\u{1F600}"') + '\n',
};
let failed = 0;

/** What scoreText must give, built from score's results on the same lines. */
function expected(lines, results) {
  const text = [];
  const errors = [];
  const counts = Object.fromEntries(['in', 'scored', 'anomalies', 'in_rare_clusters', 'passed', 'dropped', 'absorbed',
    'errors', 'emitted', 'emitted_scored', 'emitted_errors'].map((k) => [k, 0]));
  counts.in = lines.length;
  results.forEach((r, i) => {
    const agg = r.aggregate === true;
    if (agg) counts.emitted++;
    if (r.logsieve) {
      counts[agg ? 'emitted_scored' : 'scored']++;
      if (r.logsieve.anomaly === true) counts.anomalies++;
      if (r.logsieve.reasons.includes('rare_cluster')) counts.in_rare_clusters++;
      text.push(r.event + '\n');
    } else if (r.passed) {
      counts.passed++;
      text.push(r.event + '\n');
    } else if (r.error) {
      counts[agg ? 'emitted_errors' : 'errors']++;
      errors.push({ index: agg ? null : i, reason: r.error.reason, detail: r.error.detail, event: agg ? '' : lines[i] });
    } else counts[r.dropped ? 'dropped' : 'absorbed']++;
  });
  return { text: text.join(''), errors, counts };
}

for (const [name, text] of Object.entries(cases)) {
  const lines = text.split('\n');
  if (text.endsWith('\n') || text === '') lines.pop();
  const got = (await Scorer.open(model, { topFeatures: 3 })).scoreText(text);
  const want = expected(lines, (await Scorer.open(model, { topFeatures: 3 })).score(lines));
  if (!isDeepStrictEqual(got, want)) {
    failed++;
    console.log(`text-api: FAIL ${name}:\n  scoreText ${JSON.stringify(got)}\n  score     ${JSON.stringify(want)}`);
  } else console.log(`text-api: ok ${name}: ${got.counts.scored} scored, ${got.counts.errors} errors`);
}

const text = Array.from({ length: 10 }, (_, i) => `{"n":${i}}\n`).join('') + '{"n":10}';
for (const n of [1, 3, 10, 11, 1000]) {
  const batches = [...ndjsonBatches(text, n)];
  const ok = batches.join('') === text && batches.slice(0, -1).every((b) => b.split('\n').length - 1 === n);
  if (!ok) {
    failed++;
    console.log(`text-api: FAIL ndjsonBatches(lines=${n}): ${JSON.stringify(batches)}`);
  }
}
try {
  (await Scorer.open(model)).scoreText(['not', 'a', 'string']);
  failed++;
  console.log('text-api: FAIL scoreText took an array');
} catch (e) {
  if (!(e instanceof TypeError)) throw e;
}
console.log(`text-api: ${failed ? 'FAIL' : 'ok'} (${failed} failed)`);
process.exit(failed ? 1 : 0);
