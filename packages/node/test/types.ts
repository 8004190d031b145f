// Type-checked by packages/node/test.sh against the installed package's
// declarations (tsc --noEmit --strict): the README's usage, typed.
import { Scorer, ModelError, ndjsonBatches, type Result, type ScoredText, type Verdict } from 'logsieve';

declare const modelBytes: Uint8Array; // readFileSync('conn.model.msgpack') in the README

async function main(): Promise<void> {
  let s: Scorer;
  try {
    s = await Scorer.open(modelBytes, { topFeatures: 3 });
  } catch (e) {
    if (e instanceof ModelError) console.error(e.kind, e.message);
    throw e;
  }
  const id: string = s.info.id;
  const results: Result[] = s.score(['{"a":1}']);
  for (const r of [...results, ...s.flush()]) {
    if ('logsieve' in r) {
      const v: Verdict = r.logsieve;
      const out: string = r.event;
      console.log(id, out, v.cluster ?? -1, v.reasons.includes('rare_cluster'));
    } else if ('error' in r) {
      console.error(r.error.reason, r.error.detail);
    }
  }
  // NDJSON text in and out (backfills).
  let t: ScoredText = s.flushText();
  for (const batch of ndjsonBatches('{"a":1}\n{"a":2}\n', 1000)) t = s.scoreText(batch);
  const scored: number = t.counts.scored + s.flushText().counts.emitted_scored;
  for (const e of t.errors) console.error(e.index ?? 'aggregate', e.reason, e.event);
  console.log(t.text, scored);
}
main();
