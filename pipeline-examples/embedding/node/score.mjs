#!/usr/bin/env node
// Score log events with the logsieve component in Node, through the
// bindings jco generated from it (`./setup.sh path/to/logsieve.wasm` writes
// them to ./gen).
//
//   node score.mjs --model conn.model.msgpack [--input events.ndjson|-] \
//       [--format ndjson] [--out scored.ndjson] [--errors errors.ndjson] \
//       [--batch-size 1000] [--top-features 3] [--emit-vector] \
//       [--summary-json summary.json] [--gen ./gen] [--quiet]
//
// The calls, in order (wit/logsieve.wit, logsieve:transform/scoring@0.4.0):
// `new Scorer(modelBytes, options)` (throws a ComponentError whose
// `.payload` is the `model-error`), `info()`, `scoreLines(batch)` once per
// batch of events, `flushLines()` at the end. Each scored event comes back
// as its place in the call's text (`offset`, `len`: UTF-8 bytes) and its
// `verdict` (cluster, distance, threshold, score, anomaly, reasons) as data:
// the anomaly counts come from the verdicts, never from the text.
//
// Input is read by the component's own log reader, the `logsieve` CLI's:
// `new Reader(format)` (`--format`: ndjson, the default, or auto, zeek_tsv,
// zeek_json, csv, tsv), then `read(bytes)` with each chunk of the input and
// `finish()` at its end. It splits lines (CRLF, a BOM, blank lines, lines
// over 16 MiB, invalid UTF-8) and gives NDJSON events, their line numbers
// and the lines it could not read. (Not `readText`, which the Python host
// uses: jco lowers a Uint8Array as one copy, but a string by measuring its
// UTF-8 length in a JavaScript loop before encoding it; decoding the chunks
// and handing them over as text took 2.5 times as long to read, 12 % more
// CPU time for a whole run.) This host only opens the input, detects
// and decompresses gzip, and reports what the reader cannot see as the CLI
// does: a gzip stream cut short (`truncated_gzip`) or corrupt
// (`corrupt_gzip`) gives the records decoded before the cut, then one error
// record at the line after the last complete one.
//
// Output: scored events (and events passed on unscored, and scored window
// aggregates) as NDJSON, in the order the CLI writes them; one error record
// per event that could not be used: {"reason","detail","model","line","event"}.
// Exit status: 0 done, 2 error (a refused model, unreadable input), 3 the
// counts do not add up.

import { createReadStream, createWriteStream, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) process.stderr.write(`score.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node score.mjs --model FILE [--input FILE|-] [--format FMT] [--out FILE] [--errors FILE]\n' +
      '                      [--batch-size N] [--top-features N] [--emit-vector] [--summary-json FILE]\n' +
      '                      [--gen DIR] [--quiet]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const a = {
    input: '-', format: 'ndjson', out: null, errors: null, batchSize: 1000, topFeatures: 3, emitVector: false,
    summaryJson: null, gen: join(here, 'gen'), quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let k = argv[i];
    let inline;
    const eq = k.indexOf('=');
    if (k.startsWith('--') && eq > 0) [k, inline] = [k.slice(0, eq), k.slice(eq + 1)];
    const v = () => (inline !== undefined ? inline : i + 1 < argv.length ? argv[++i] : usage(`${k} needs a value`));
    switch (k) {
      case '--model': a.model = v(); break;
      case '--input': a.input = v(); break;
      case '--format': a.format = v(); break;
      case '--out': a.out = v(); break;
      case '--errors': a.errors = v(); break;
      case '--batch-size': a.batchSize = Number(v()); break;
      case '--top-features': a.topFeatures = Number(v()); break;
      case '--emit-vector': a.emitVector = true; break;
      case '--summary-json': a.summaryJson = v(); break;
      case '--gen': a.gen = v(); break;
      case '--quiet': a.quiet = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${k}`);
    }
  }
  if (!a.model) usage('--model is required');
  if (!Number.isInteger(a.batchSize) || a.batchSize < 1) usage('--batch-size must be a positive integer');
  if (!Number.isInteger(a.topFeatures) || a.topFeatures < 0) usage('--top-features must be a non-negative integer');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const fail = (msg, code = 2) => {
  process.stderr.write(`score.mjs: ${msg}\n`);
  process.exit(code);
};

// ---------------------------------------------------------------------------
// The component: jco's bindings, instantiated from core modules compiled once
// (so that an instance lost to a trap can be replaced in well under a ms).

const bindings = join(resolve(args.gen), 'logsieve.js');
if (!existsSync(bindings)) fail(`${bindings} not found: run ./setup.sh path/to/logsieve.wasm first (jco transpile)`);
const { instantiate } = await import(pathToFileURL(bindings).href);
const coreModules = new Map();
const getCoreModule = (name) => {
  if (!coreModules.has(name)) coreModules.set(name, new WebAssembly.Module(readFileSync(join(resolve(args.gen), name))));
  return coreModules.get(name);
};

/** A refused model, said for people (as the CLI says it). */
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

let modelBytes;
try {
  modelBytes = readFileSync(args.model);
} catch (e) {
  fail(`reading the model ${args.model}: ${e.message}`);
}
const options = { topFeatures: args.topFeatures, emitVector: args.emitVector };

/** A new instance with the model loaded: the scorer resource. */
async function start() {
  const root = await instantiate(getCoreModule, {});
  try {
    return new root.scoring.Scorer(modelBytes, options);
  } catch (e) {
    // `result<scorer, model-error>`: the error arrives as a thrown
    // ComponentError whose payload is the variant ({tag, val}).
    if (e && e.payload && typeof e.payload.tag === 'string') {
      fail(`${args.model}: ${describeModelError(e.payload)}`);
    }
    throw e;
  }
}

let scorer = await start();
const info = scorer.info();
if (info.dimension === 0) fail(`${args.model} holds only a spec; train it first with \`logsieve train\``);

// The reader lives in an instance of its own: a trap in the scorer poisons
// the scorer's instance, and reading must go on with the next batch.
const readerRoot = await instantiate(getCoreModule, {});
let reader;
try {
  reader = new readerRoot.scoring.Reader(args.format);
} catch (e) {
  // `result<reader, string>`: the error string, naming the valid formats.
  if (e && typeof e.payload === 'string') fail(`--format: ${e.payload}`);
  throw e;
}

// ---------------------------------------------------------------------------
// Outputs.

/** A file (or, without a path, a standard stream) written with back-pressure. */
function writer(path, std) {
  const stream = path ? createWriteStream(path) : std;
  stream.on('error', (e) => fail(`writing ${path || 'output'}: ${e.message}`));
  return {
    async write(data) {
      if (!stream.write(data)) await once(stream, 'drain');
    },
    async close() {
      if (stream !== std) {
        stream.end();
        await once(stream, 'finish');
      }
    },
  };
}
const scoredOut = writer(args.out, process.stdout);
const errorsOut = writer(args.errors, process.stderr);

// The CLI's transform counters (`logsieve run --summary-json`), same names.
const counts = {
  in: 0, scored: 0, anomalies: 0, errors: 0, passed: 0, dropped: 0, absorbed: 0, emitted: 0, emitted_scored: 0,
  emitted_errors: 0, in_rare_clusters: 0, guest_faults: 0,
};

/** One error record, keys in the CLI's order (less transform and file). */
function errorRecord(reason, detail, line, event) {
  counts.errors++;
  return JSON.stringify({ reason, detail, model: info.id, line, event }) + '\n';
}

// ---------------------------------------------------------------------------
// Reading: the input's bytes (gzip decompressed here) through the
// component's reader, and the items it gives cut into batches.

const RAW_CAP = 4096; // the CLI keeps at most this many bytes of an unreadable line
/** Lossy UTF-8 of at most RAW_CAP bytes, cut on a char boundary (the CLI's `raw_text`). */
function rawText(b) {
  let s = b.subarray(0, Math.min(b.length, RAW_CAP)).toString('utf8');
  if (Buffer.byteLength(s) > RAW_CAP) {
    // Lossy decoding may lengthen it (U+FFFD is 3 bytes): cut on a char boundary.
    const bytes = Buffer.from(s);
    let cut = RAW_CAP;
    while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
    s = bytes.subarray(0, cut).toString('utf8');
  }
  return s;
}

/** The input's name in error details, as the CLI names it. */
const inputName = args.input === '-' ? '<stdin>' : args.input;

/** An I/O-level failure the reader cannot see: its reason, as the CLI's reader words it. */
class InputError extends Error {
  constructor(reason, detail) {
    super(detail);
    this.reason = reason;
  }
}

/** The input's chunks: a file or stdin, gzip (detected by its content) decompressed. */
async function* inputChunks(path) {
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  const it = stream[Symbol.asyncIterator]();
  let first;
  try {
    first = await it.next();
  } catch (e) {
    // As the CLI's reader: a file that cannot be opened, or read at all, is
    // one error about the whole input (line 0).
    if (e && e.code && e.syscall === 'open') throw new InputError('open_failed', `cannot open ${path}: ${e.message}`);
    throw new InputError('read_failed', `cannot read ${inputName}: ${e.message}`);
  }
  const head = first.done ? Buffer.alloc(0) : first.value;
  async function* raw() {
    if (!first.done) yield head;
    for (;;) {
      let r;
      try {
        r = await it.next();
      } catch (e) {
        throw new InputError('read_failed', `read error in ${inputName}: ${e.message}; rest of the file skipped`);
      }
      if (r.done) return;
      yield r.value;
    }
  }
  if (!(head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)) {
    yield* raw();
    return;
  }
  const gunzip = createGunzip();
  let readFailure = null;
  (async () => {
    for await (const c of raw()) if (!gunzip.write(c)) await once(gunzip, 'drain');
    gunzip.end();
  })().catch((e) => {
    readFailure = e;
    gunzip.destroy(e);
  });
  try {
    for await (const c of gunzip) yield c;
  } catch (e) {
    if (readFailure) throw readFailure;
    // zlib's Z_BUF_ERROR is the stream ending inside a member; the CLI
    // (flate2) then says "incomplete deflate stream". Other zlib errors
    // are corrupt data, worded by zlib.
    if (e && e.code === 'Z_BUF_ERROR') {
      throw new InputError('truncated_gzip', `gzip stream ends early in ${inputName}: incomplete deflate stream; rest of the file skipped`);
    }
    throw new InputError('corrupt_gzip', `corrupt gzip stream in ${inputName}: ${e && e.message ? e.message : e}; rest of the file skipped`);
  }
}

const MAX_BATCH_BYTES = 16 << 20; // as the CLI: a batch holds at most 16 MiB of event text

/**
 * The reader's items in input order, cut into batches as the CLI cuts them:
 * at most `batchSize` items (events and unreadable lines) and about
 * MAX_BATCH_BYTES of event text. An item is {line, text, len} (an event) or
 * {line, reason, detail, raw} (a line the reader could not use).
 */
class Batcher {
  constructor(batchSize) {
    this.batchSize = batchSize;
    this.batch = [];
    this.bytes = 0;
    this.ready = [];
  }

  push(it) {
    const len = it.text === undefined ? 0 : it.len;
    if (this.batch.length > 0 && (this.batch.length >= this.batchSize || this.bytes + len > MAX_BATCH_BYTES)) {
      this.ready.push(this.batch);
      this.batch = [];
      this.bytes = 0;
    }
    this.batch.push(it);
    this.bytes += len;
  }

  /** A `read-lines` record: its events and errors merged back into input order (by line). */
  add(r) {
    const texts = r.events.length ? r.events.split('\n') : [];
    texts.pop(); // each event is followed by "\n": the last piece is empty
    const lines = r.lines;
    if (texts.length !== lines.length) fail(`the reader gave ${texts.length} events for ${lines.length} line numbers`);
    // All ASCII (the usual case): an event's bytes are its UTF-16 units.
    const ascii = Buffer.byteLength(r.events) === r.events.length;
    const errors = r.errors;
    let e = 0;
    for (let i = 0; i < texts.length; i++) {
      const line = Number(lines[i]);
      while (e < errors.length && Number(errors[e].line) < line) this.pushError(errors[e++]);
      const text = texts[i];
      this.push({ line, text, len: ascii ? text.length : Buffer.byteLength(text) });
    }
    while (e < errors.length) this.pushError(errors[e++]);
  }

  pushError(x) {
    this.push({ line: Number(x.line), reason: x.reason, detail: x.detail, raw: x.raw });
  }

  /** The batches complete so far. */
  take() {
    const out = this.ready;
    this.ready = [];
    return out;
  }

  /** End of input: the last batch too. */
  end() {
    if (this.batch.length > 0) this.ready.push(this.batch);
    this.batch = [];
    return this.take();
  }
}

// ---------------------------------------------------------------------------
// Scoring.

/**
 * The texts of `scored-lines` (`text` with each scored event's UTF-8 byte
 * `offset` and `len`): checked as the CLI checks them, then cut. JS strings
 * count UTF-16 units, not bytes: an ASCII text is cut as it is, any other as
 * bytes. Returns a function giving the i-th scored line's text (with its "\n").
 */
function scoredTexts(text, scoredLines) {
  const ascii = Buffer.byteLength(text) === text.length;
  const bytes = ascii ? null : Buffer.from(text);
  const total = ascii ? text.length : bytes.length;
  const nl = (at) => (ascii ? text.charCodeAt(at) : bytes[at]) === 0x0a;
  let at = 0;
  for (const s of scoredLines) {
    // Each text follows the one before it, and "\n" ends it.
    if (s.offset !== at || s.offset + s.len >= total || !nl(s.offset + s.len)) {
      fail("the component's scored text does not match its outcomes");
    }
    at = s.offset + s.len + 1;
  }
  if (at !== total) fail("the component's scored text does not match its outcomes");
  return (s) => (ascii ? text.slice(s.offset, s.offset + s.len + 1) : bytes.subarray(s.offset, s.offset + s.len + 1));
}

/** Count a verdict as the CLI counts it (anomalies, rare clusters). */
function countVerdict(v) {
  if (v.anomaly) counts.anomalies++;
  if (v.reasons.rareCluster) counts.in_rare_clusters++;
}

/**
 * One `scored-lines` result: its outcomes for `events` (none from
 * `flushLines`), then the aggregates emitted. Output parts go to
 * `scoredParts` in the CLI's order, error records to `errorParts`.
 */
function takeResult(result, events, scoredParts, errorParts) {
  const { text, outcomes, emitted } = result;
  if (outcomes.length !== events.length) {
    fail(`the component returned ${outcomes.length} outcomes for ${events.length} events`);
  }
  const scoredLines = [];
  let anyPassed = false;
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    switch (o.tag) {
      case 'scored':
        counts.scored++;
        countVerdict(o.val.verdict);
        scoredLines.push(o.val);
        break;
      case 'passed':
        counts.passed++;
        anyPassed = true;
        break;
      case 'dropped':
        counts.dropped++;
        break;
      case 'absorbed':
        counts.absorbed++;
        break;
      case 'failed':
        errorParts.push(errorRecord(o.val.reason, o.val.detail, events[i].line, events[i].text));
        break;
      default:
        fail(`unknown outcome ${o.tag}`);
    }
  }
  for (const r of emitted) {
    counts.emitted++;
    if (r.tag === 'scored') {
      counts.emitted_scored++;
      countVerdict(r.val.verdict);
      scoredLines.push(r.val);
    } else if (r.tag === 'failed') {
      counts.emitted_errors++;
      errorParts.push(errorRecord(r.val.reason, r.val.detail, 0, ''));
    } else {
      fail(`the component emitted an aggregate as ${r.tag}`);
    }
  }
  const cut = scoredTexts(text, scoredLines);
  if (!anyPassed) {
    // The events' texts then the aggregates': the order the CLI writes them.
    if (text.length > 0) scoredParts.push(text);
    return;
  }
  // Events passed on unscored go out between the scored ones.
  let k = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (o.tag === 'scored') scoredParts.push(cut(scoredLines[k++]));
    else if (o.tag === 'passed') scoredParts.push(events[i].text + '\n');
  }
  while (k < scoredLines.length) scoredParts.push(cut(scoredLines[k++]));
}

/** One batch of items through the component; what it gives written out. */
async function scoreBatch(batch) {
  counts.in += batch.length;
  const scoredParts = [];
  const errorParts = [];
  const events = [];
  for (const it of batch) {
    if (it.text === undefined) errorParts.push(errorRecord(it.reason, it.detail, it.line, it.raw));
    else events.push(it);
  }
  if (events.length > 0) {
    const text = events.map((e) => e.text).join('\n') + '\n';
    let result;
    try {
      result = scorer.scoreLines(text);
    } catch (e) {
      // A trap (a bug in the component) poisons the instance: every event
      // of the batch goes to the errors with `guest_trap`, and a new
      // instance goes on with the next batch.
      counts.guest_faults++;
      const detail = `the component trapped: ${String(e && e.message ? e.message : e).replace(/\n/g, ' ')}; ` +
        `the batch of ${events.length} events it was in failed with it`;
      for (const ev of events) errorParts.push(errorRecord('guest_trap', detail, ev.line, ev.text));
      process.stderr.write(`score.mjs: warning: a batch of ${events.length} events failed in the component (${detail}); a new instance goes on\n`);
      scorer = await start();
      result = null;
    }
    if (result) takeResult(result, events, scoredParts, errorParts);
  }
  // Errors first, as the CLI writes a batch's reader errors before scoring it.
  if (errorParts.length) await errorsOut.write(errorParts.join(''));
  for (const p of scoredParts) await scoredOut.write(p);
}

const t0 = process.hrtime.bigint();
const batcher = new Batcher(args.batchSize);
// Lines completed so far and the start of the line being read: where an
// I/O failure is reported, as the CLI's reader reports it.
let linesDone = 0;
let partial = Buffer.alloc(0);
let failure = null;
try {
  for await (const chunk of inputChunks(args.input)) {
    let last = -1;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) {
      linesDone++;
      last = i;
    }
    if (last >= 0) partial = Buffer.from(chunk.subarray(last + 1, last + 1 + RAW_CAP));
    else if (partial.length < RAW_CAP) partial = Buffer.concat([partial, chunk.subarray(0, RAW_CAP - partial.length)]);
    batcher.add(reader.read(chunk));
    for (const b of batcher.take()) await scoreBatch(b);
  }
} catch (e) {
  if (!(e instanceof InputError)) fail(`${args.input}: ${e && e.message ? e.message : e}`);
  failure = e;
}
if (failure === null) {
  batcher.add(reader.finish()); // the last line if it has no "\n"
} else if (failure.reason === 'open_failed' || (failure.reason === 'read_failed' && linesDone === 0 && partial.length === 0)) {
  // The CLI cannot read a single input it was given: an error, not a record.
  fail(failure.message);
} else {
  // The records decoded before the cut are in; then one error at the line
  // being read, with what was read of it. The rest of the input is skipped.
  batcher.pushError({ line: linesDone + 1, reason: failure.reason, detail: failure.message, raw: rawText(partial) });
}
for (const b of batcher.end()) await scoreBatch(b);

// End of input: windows still open emit their aggregates.
{
  const scoredParts = [];
  const errorParts = [];
  takeResult(scorer.flushLines(), [], scoredParts, errorParts);
  if (errorParts.length) await errorsOut.write(errorParts.join(''));
  for (const p of scoredParts) await scoredOut.write(p);
}
await scoredOut.close();
await errorsOut.close();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

const c = counts;
const lineErrors = c.errors - c.emitted_errors;
const scoredAll = c.scored + c.emitted_scored;
const summary = { ...c, rating: scoredAll > 0 ? (10 * c.in_rare_clusters) / scoredAll : 0, model: info.id, seconds };
if (args.summaryJson) {
  try {
    writeFileSync(args.summaryJson, JSON.stringify(summary, null, 1) + '\n');
  } catch (e) {
    fail(`writing ${args.summaryJson}: ${e.message}`);
  }
}
if (!args.quiet) {
  process.stderr.write(
    `score.mjs: ${c.in} events in ${seconds.toFixed(2)} s (${Math.round(c.in / Math.max(seconds, 1e-9))} events/s): ` +
      `${c.scored} scored (${c.anomalies} anomalies) + ${c.passed} passed + ${c.dropped} dropped + ${c.absorbed} absorbed + ${lineErrors} errors; ` +
      `${c.emitted} aggregates emitted (${c.emitted_scored} scored + ${c.emitted_errors} errors)` +
      `${c.guest_faults ? `; ${c.guest_faults} batch(es) lost to component traps` : ''}   [model ${info.id}]\n`,
  );
}
if (c.in !== c.scored + c.passed + c.dropped + c.absorbed + lineErrors) {
  fail(`accounting: ${c.in} in != ${c.scored} scored + ${c.passed} passed + ${c.dropped} dropped + ${c.absorbed} absorbed + ${lineErrors} errors`, 3);
}
