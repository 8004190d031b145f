#!/usr/bin/env node
// Score NDJSON events with the logsieve component in Node, through the
// bindings jco generated from it (`./setup.sh path/to/logsieve.wasm` writes
// them to ./gen).
//
//   node score.mjs --model conn.model.msgpack [--input events.ndjson|-] \
//       [--out scored.ndjson] [--errors errors.ndjson] [--batch-size 1000] \
//       [--top-features 3] [--emit-vector] [--gen ./gen] [--quiet]
//
// The calls, in order (wit/logsieve.wit): `new Scorer(modelBytes, options)`
// (throws a ComponentError whose `.payload` is the `model-error`), `info()`,
// `scoreText(batch)` once per batch of lines, `flush()` at the end.
//
// Input is read like the `logsieve` CLI's NDJSON reader reads it, so both
// hosts see the same events: lines split on "\n", a "\r" before it and a
// UTF-8 BOM on line 1 removed, surrounding whitespace trimmed; a blank line
// is an `empty_line` error and a line that is not UTF-8 an `invalid_utf8`
// error; gzip input is detected by its content.
//
// Output: scored events (and events passed on unscored, and scored window
// aggregates) as NDJSON, in the order the CLI writes them; one error record
// per event that could not be used: {"reason","detail","model","line","event"}.
// Exit status: 0 done, 2 error (a refused model, unreadable input), 3 the
// counts do not add up.

import { createReadStream, createWriteStream, readFileSync, existsSync } from 'node:fs';
import { once } from 'node:events';
import { isUtf8 } from 'node:buffer';
import { createGunzip } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) process.stderr.write(`score.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node score.mjs --model FILE [--input FILE|-] [--out FILE] [--errors FILE]\n' +
      '                      [--batch-size N] [--top-features N] [--emit-vector] [--gen DIR] [--quiet]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const a = { input: '-', out: null, errors: null, batchSize: 1000, topFeatures: 3, emitVector: false, gen: join(here, 'gen'), quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => (i + 1 < argv.length ? argv[++i] : usage(`${k} needs a value`));
    switch (k) {
      case '--model': a.model = v(); break;
      case '--input': a.input = v(); break;
      case '--out': a.out = v(); break;
      case '--errors': a.errors = v(); break;
      case '--batch-size': a.batchSize = Number(v()); break;
      case '--top-features': a.topFeatures = Number(v()); break;
      case '--emit-vector': a.emitVector = true; break;
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
if (info.nClusters === 0) fail(`${args.model} holds only a spec; train it first with \`logsieve train\``);

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

const counts = { lines: 0, scored: 0, passed: 0, dropped: 0, absorbed: 0, errors: 0, emitted: 0, emittedScored: 0, emittedErrors: 0, guestFaults: 0 };

/** One error record, keys in the CLI's order (less transform and file). */
function errorRecord(reason, detail, line, event) {
  counts.errors++;
  return JSON.stringify({ reason, detail, model: info.id, line, event }) + '\n';
}

// ---------------------------------------------------------------------------
// Reading lines as the CLI's NDJSON reader does.

// Rust's `str::trim` (Unicode White_Space), which differs from JS `trim()`.
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');
const isWs = (c) => c <= 0x20 || c >= 0x85;
function rustTrim(s) {
  if (s.length === 0) return s;
  if (!isWs(s.charCodeAt(0)) && !isWs(s.charCodeAt(s.length - 1))) return s;
  return s.replace(TRIM, '');
}

/** Byte offset of the first invalid UTF-8 sequence (Rust's `valid_up_to`). */
function validUpTo(b) {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n, lo = 0x80, hi = 0xbf;
    if (c < 0x80) { i++; continue; }
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c === 0xe0) { n = 2; lo = 0xa0; }
    else if (c >= 0xe1 && c <= 0xec) n = 2;
    else if (c === 0xed) { n = 2; hi = 0x9f; }
    else if (c >= 0xee && c <= 0xef) n = 2;
    else if (c === 0xf0) { n = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else if (c === 0xf4) { n = 3; hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return b.length;
}

const RAW_CAP = 4096; // the CLI keeps at most this many bytes of an unreadable line
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

const MAX_BATCH_BYTES = 16 << 20; // as the CLI: a batch holds at most 16 MiB of event text

/**
 * Batches of input lines: each is a list of items {line, text} (an event)
 * or {line, reason, detail, raw} (a line the reader could not use), at most
 * `batchSize` lines and about MAX_BATCH_BYTES of event text.
 */
async function* batches(input, batchSize) {
  let lineNo = 0;
  let rest = Buffer.alloc(0);
  let batch = [];
  let bytes = 0;
  const event = (s) => {
    const text = rustTrim(s);
    if (text.length === 0) return { line: lineNo, reason: 'empty_line', detail: 'empty line', raw: s };
    return { line: lineNo, text, len: Buffer.byteLength(text) };
  };
  // One line (without "\n") as bytes: the general path.
  const fromBytes = (b) => {
    lineNo++;
    if (b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
    if (lineNo === 1 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
    if (!isUtf8(b)) {
      return { line: lineNo, reason: 'invalid_utf8', detail: `invalid UTF-8 at byte ${validUpTo(b)}`, raw: rawText(b) };
    }
    return event(b.toString('utf8'));
  };
  // One line as text, from a region known to be UTF-8: the fast path.
  const fromText = (s) => {
    lineNo++;
    if (s.charCodeAt(s.length - 1) === 0x0d) s = s.slice(0, -1);
    if (lineNo === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    return event(s);
  };
  const push = function* (it) {
    const len = it.text === undefined ? 0 : it.len;
    if (batch.length > 0 && (batch.length >= batchSize || bytes + len > MAX_BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(it);
    bytes += len;
  };
  for await (const chunk of input) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) {
      rest = Buffer.from(buf);
      continue;
    }
    // The complete lines: decoded at once when they are all UTF-8.
    const region = buf.subarray(0, end);
    if (isUtf8(region)) {
      for (const line of region.toString('utf8').split('\n')) yield* push(fromText(line));
    } else {
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0 || nl > end) break;
        yield* push(fromBytes(buf.subarray(start, nl)));
        start = nl + 1;
      }
    }
    rest = Buffer.from(buf.subarray(end + 1));
  }
  if (rest.length > 0) yield* push(fromBytes(rest)); // a last line without "\n"
  if (batch.length > 0) yield batch;
}

async function openInput(path) {
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  // gzip is detected by its content, as the CLI does.
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  async function* all() {
    if (!first.done) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    (async () => {
      for await (const c of all()) if (!gunzip.write(c)) await once(gunzip, 'drain');
      gunzip.end();
    })().catch((e) => gunzip.destroy(e));
    return gunzip;
  }
  return all();
}

// ---------------------------------------------------------------------------
// Scoring.

/** Scored aggregates of windows that closed, and their errors. */
function emittedOut(list, scoredParts, errorParts) {
  for (const r of list) {
    counts.emitted++;
    if (r.tag === 'ok') {
      counts.emittedScored++;
      scoredParts.push(r.val + '\n');
    } else {
      counts.emittedErrors++;
      errorParts.push(errorRecord(r.val.reason, r.val.detail, 0, ''));
    }
  }
}

const t0 = process.hrtime.bigint();
let input;
try {
  input = await openInput(args.input);
} catch (e) {
  fail(`reading ${args.input}: ${e.message}`);
}

try {
  for await (const batch of batches(input, args.batchSize)) {
    counts.lines += batch.length;
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
        result = scorer.scoreText(text);
      } catch (e) {
        // A trap (a bug in the component) poisons the instance: every event
        // of the batch goes to the errors with `guest_trap`, and a new
        // instance goes on with the next batch.
        counts.guestFaults++;
        const detail = `the component trapped: ${String(e && e.message ? e.message : e).replace(/\n/g, ' ')}; ` +
          `the batch of ${events.length} events it was in failed with it`;
        for (const ev of events) errorParts.push(errorRecord('guest_trap', detail, ev.line, ev.text));
        process.stderr.write(`score.mjs: warning: a batch of ${events.length} events failed in the component (${detail}); a new instance goes on\n`);
        scorer = await start();
        result = null;
      }
      if (result) {
        const { text: scoredText, outcomes, emitted } = result;
        if (outcomes.length !== events.length) {
          fail(`the component returned ${outcomes.length} outcomes for ${events.length} events`);
        }
        // `scored(len)`: the next `len` *bytes* of `text`, then "\n". JS
        // strings count UTF-16 units, so when events passed on unscored
        // must be interleaved the text is cut as UTF-8 bytes.
        let scoredBytes = 0;
        let anyPassed = false;
        for (const o of outcomes) {
          if (o.tag === 'scored') scoredBytes += o.val + 1;
          else if (o.tag === 'passed') anyPassed = true;
        }
        if (scoredBytes !== Buffer.byteLength(scoredText)) {
          fail("the component's scored text does not match its outcomes");
        }
        const bytes = anyPassed ? Buffer.from(scoredText) : null;
        let at = 0;
        for (let i = 0; i < outcomes.length; i++) {
          const o = outcomes[i];
          switch (o.tag) {
            case 'scored':
              counts.scored++;
              if (bytes) scoredParts.push(bytes.subarray(at, at + o.val + 1));
              at += o.val + 1;
              break;
            case 'passed':
              counts.passed++;
              scoredParts.push(events[i].text + '\n');
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
        if (!bytes && scoredText.length > 0) scoredParts.push(scoredText);
        emittedOut(emitted, scoredParts, errorParts);
      }
    }
    // Errors first, as the CLI writes a batch's reader errors before scoring it.
    if (errorParts.length) await errorsOut.write(errorParts.join(''));
    for (const p of scoredParts) await scoredOut.write(p);
  }
} catch (e) {
  fail(`${args.input}: ${e && e.message ? e.message : e}`);
}

// End of input: windows still open emit their aggregates.
{
  const scoredParts = [];
  const errorParts = [];
  emittedOut(scorer.flush(), scoredParts, errorParts);
  if (errorParts.length) await errorsOut.write(errorParts.join(''));
  for (const p of scoredParts) await scoredOut.write(p);
}
await scoredOut.close();
await errorsOut.close();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

const c = counts;
const lineErrors = c.errors - c.emittedErrors;
if (!args.quiet) {
  process.stderr.write(
    `score.mjs: ${c.lines} events in ${seconds.toFixed(2)} s (${Math.round(c.lines / Math.max(seconds, 1e-9))} events/s): ` +
      `${c.scored} scored + ${c.passed} passed + ${c.dropped} dropped + ${c.absorbed} absorbed + ${lineErrors} errors; ` +
      `${c.emitted} aggregates emitted (${c.emittedScored} scored + ${c.emittedErrors} errors)` +
      `${c.guestFaults ? `; ${c.guestFaults} batch(es) lost to component traps` : ''}   [model ${info.id}]\n`,
  );
}
if (c.lines !== c.scored + c.passed + c.dropped + c.absorbed + lineErrors) {
  fail(`accounting: ${c.lines} in != ${c.scored} scored + ${c.passed} passed + ${c.dropped} dropped + ${c.absorbed} absorbed + ${lineErrors} errors`, 3);
}
