// Type-checked by packages/node/test.sh against the installed package's
// declarations (tsc --noEmit --strict): the README's usage, typed.
import { Scorer, ModelError, type Result, type Verdict } from 'logsieve';

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
}
main();
