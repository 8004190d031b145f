// logsieve: score log events against a trained clustering model, in Node.
//
//   import { Scorer } from 'logsieve';
//   const s = await Scorer.open(readFileSync('conn.model.msgpack'), { topFeatures: 3 });
//   for (const r of s.score(lines)) { ... }   // {event, logsieve} | {event, passed} | {error} | ...
//   const { text, errors, counts } = s.scoreText(ndjson);   // NDJSON in, NDJSON out (backfills)
//
// The logsieve WebAssembly component (in gen/, transpiled by jco with its
// TypeScript declarations) imports nothing. The calls are the contract's
// `score-json` / `flush-json` (logsieve:transform@0.5.0): the outcomes and
// verdicts come as one JSON text, the scored texts as NDJSON, so nothing is
// cut by UTF-8 byte offsets here. See README.md.

import { readFileSync } from 'node:fs';
import { instantiate } from './gen/logsieve.js';

const gen = new URL('./gen/', import.meta.url);
const coreModules = new Map();
/** The component's core modules, compiled once per process. */
function getCoreModule(name) {
  let m = coreModules.get(name);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(new URL(name, gen)));
    coreModules.set(name, m);
  }
  return m;
}

/** An error from the logsieve component: `message` is its message. */
export class LogsieveError extends Error {
  constructor(message) {
    super(message);
    this.name = 'LogsieveError';
  }
}

/**
 * A refused model. `kind`: the component's `model-error` case (`truncated`,
 * `foreign`, `unsupported-version`, `corrupted`, `invalid`; `untrained` for a
 * spec-only artifact); `detail`: its detail.
 */
export class ModelError extends LogsieveError {
  constructor(message, kind, detail) {
    super(message);
    this.name = 'ModelError';
    this.kind = kind;
    this.detail = detail;
  }
}

/**
 * A call into the component failed (`reason` `guest_trap`: a bug in the
 * component). The scorer was re-created from the same model; the batch's
 * events were not scored.
 */
export class GuestError extends LogsieveError {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.name = 'GuestError';
    this.reason = reason;
    this.detail = detail;
  }
}

/** A refused model, said as the `logsieve` CLI says it. */
function describeModelError(e) {
  switch (e.tag) {
    case 'truncated': return `truncated model file: ${e.val}`;
    case 'foreign': return `not a logsieve model: ${e.val}`;
    case 'unsupported-version':
      return `model format version ${e.val.found} is newer than this logsieve reads (up to ${e.val.supported}); upgrade logsieve`;
    case 'corrupted': return `corrupted model file: ${e.val}`;
    case 'invalid': return `invalid model: ${e.val}`;
    default: return `model refused: ${JSON.stringify(e)}`;
  }
}

/** A new instance with the model loaded (throws ModelError). */
function load(model, options) {
  const root = instantiate(getCoreModule, {});
  try {
    return new root.scoring.Scorer(model, options);
  } catch (e) {
    // `result<scorer, model-error>`: jco throws a ComponentError whose payload is the variant.
    if (e && e.payload && typeof e.payload.tag === 'string') {
      throw new ModelError(describeModelError(e.payload), e.payload.tag, e.payload.val);
    }
    throw e;
  }
}

function guestError(e) {
  const msg = String(e && e.message ? e.message : e).replace(/\s+/g, ' ').trim();
  return new GuestError('guest_trap', `the component trapped: ${msg}`);
}

/** One model loaded into its own instance of the component. */
export class Scorer {
  #model;
  #options;
  #inner;

  constructor(model, options, inner) {
    this.#model = model;
    this.#options = options;
    this.#inner = inner;
    const i = inner.info();
    /** What the model is: {id, kind, formatVersion, features, dimension, nClusters}. */
    this.info = i;
  }

  /**
   * Load a model artifact (its bytes: a Uint8Array / Buffer). Options:
   * `topFeatures` (3), `emitVector` (false). Rejects with a ModelError whose
   * message is the component's for a refused model.
   */
  static async open(model, { topFeatures = 3, emitVector = false } = {}) {
    if (!(model instanceof Uint8Array)) throw new TypeError('Scorer.open takes the model artifact as a Uint8Array (or Buffer)');
    if (!Number.isInteger(topFeatures) || topFeatures < 0) throw new RangeError('topFeatures must be a non-negative integer');
    const options = { topFeatures, emitVector: !!emitVector };
    const bytes = new Uint8Array(model); // a copy: the caller's buffer may change
    const s = new Scorer(bytes, options, load(bytes, options));
    if (s.info.dimension === 0) {
      throw new ModelError('the model holds only a spec; train it first with `logsieve train`', 'untrained', '');
    }
    return s;
  }

  #call(f) {
    try {
      return f(this.#inner);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        // A trap poisons the instance: a new one, the same model.
        this.#inner = load(this.#model, this.#options);
        throw guestError(e);
      }
      throw e;
    }
  }

  /**
   * Score a batch of events, in order: `lines` is an array of strings, each
   * one JSON object (an NDJSON line without its "\n"). Returns one object
   * per line, in order, then one per window aggregate that closed:
   * `{event, logsieve}` (scored: `event` is the text with the `logsieve` key
   * appended, `logsieve` the verdict), `{event, passed: true}`,
   * `{dropped: true}`, `{absorbed: true}`, `{error: {reason, detail}}`; an
   * aggregate's has `aggregate: true`. Throws a RangeError for a line holding
   * "\n", a GuestError if the component fails.
   */
  score(lines) {
    if (!Array.isArray(lines)) throw new TypeError('score takes an array of event lines (strings)');
    let text = '';
    if (lines.length > 0) {
      text = lines.join('\n');
      let n = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
      if (n !== lines.length - 1) {
        const bad = lines.findIndex((l) => String(l).includes('\n'));
        throw new RangeError(`line ${bad} of the batch holds a newline: each line must be one event`);
      }
      text += '\n';
    }
    return take(this.#call((s) => s.scoreJson(text)), lines);
  }

  /**
   * End of input: the aggregates of the windows still open (models with
   * `[aggregate]`), scored, as `score` gives them; [] for other models.
   */
  flush() {
    return take(this.#call((s) => s.flushJson()), []);
  }

  /**
   * Score a batch given as NDJSON text (one JSON event per line, the last
   * "\n" optional), for jobs that write NDJSON on (backfills): no object per
   * event. Returns `{text, errors, counts}`: `text`, the scored and passed
   * events in order as NDJSON (what `logsieve run` writes to its scored
   * sink); `errors`, `{index, reason, detail, event}` per event that could
   * not be used; `counts`. Same state and outcomes as `score` on the lines.
   */
  scoreText(text) {
    if (typeof text !== 'string') throw new TypeError('scoreText takes the batch as one string of NDJSON lines');
    if (text.length > 0 && !text.endsWith('\n')) text += '\n';
    return takeText(this.#call((s) => s.scoreJson(text)), text);
  }

  /** `flush` as `scoreText` gives it: the last aggregates. */
  flushText() {
    return takeText(this.#call((s) => s.flushJson()), '');
  }
}

/**
 * Cut NDJSON text into batches for `scoreText`: each of `lines` lines (the
 * last may hold fewer), each ending "\n" (the last one: as the text does); no
 * array of lines is made.
 */
export function* ndjsonBatches(text, lines = 1000) {
  if (!(lines >= 1)) throw new RangeError('lines must be positive');
  let pos = 0;
  while (pos < text.length) {
    let end = pos;
    for (let k = 0; k < lines; k++) {
      end = text.indexOf('\n', end) + 1;
      if (end === 0) {
        end = text.length;
        break;
      }
    }
    yield text.slice(pos, end);
    pos = end;
  }
}

const ZERO = ['in', 'scored', 'anomalies', 'in_rare_clusters', 'passed', 'dropped', 'absorbed', 'errors', 'emitted',
  'emitted_scored', 'emitted_errors'];

function count(s, pattern) {
  let n = 0;
  for (let i = s.indexOf(pattern); i !== -1; i = s.indexOf(pattern, i + pattern.length)) n++;
  return n;
}

function takeText(res, text) {
  const o = res.outcomes;
  const c = Object.fromEntries(ZERO.map((k) => [k, 0]));
  c.in = count(text, '\n');
  // The common batch, every event scored: counted in the outcomes' text, not
  // parsed. Exact: the counted patterns are the contract's keys and reason
  // names (WIT `scored-json`), and the outcomes hold no other strings (no
  // error detail, no passed event) in this case.
  const scored = count(o, '{"logsieve":');
  if (scored === c.in && !o.includes('aggregate')) {
    c.scored = scored;
    c.anomalies = count(o, '"anomaly":true');
    c.in_rare_clusters = count(o, '"rare_cluster"');
    return { text: res.text, errors: [], counts: c };
  }
  // Otherwise (passed events go between the scored ones, errors, windows):
  // the outcomes one by one.
  const lines = text.split('\n');
  const texts = res.text.split('\n');
  const out = [];
  const errors = [];
  let k = 0;
  JSON.parse(o).forEach((d, i) => {
    const agg = d.aggregate === true;
    if (agg) c.emitted++;
    if (d.logsieve !== undefined) {
      c[agg ? 'emitted_scored' : 'scored']++;
      if (d.logsieve.anomaly === true) c.anomalies++;
      if (d.logsieve.reasons.includes('rare_cluster')) c.in_rare_clusters++;
      out.push(texts[k++]);
    } else if (d.passed) {
      c.passed++;
      out.push(lines[i]);
    } else if (d.error !== undefined) {
      c[agg ? 'emitted_errors' : 'errors']++;
      errors.push({ index: agg ? null : i, reason: d.error.reason, detail: d.error.detail, event: agg ? '' : lines[i] });
    } else {
      c[d.dropped ? 'dropped' : 'absorbed']++;
    }
  });
  return { text: out.map((t) => t + '\n').join(''), errors, counts: c };
}

function take(res, lines) {
  const out = JSON.parse(res.outcomes);
  const texts = res.text.split('\n');
  let k = 0;
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (d.logsieve !== undefined) d.event = texts[k++];
    else if (d.passed) d.event = lines[i];
  }
  return out;
}
