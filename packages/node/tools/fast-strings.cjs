// Applied by build.sh to the bindings jco generates (gen/logsieve.js): jco
// 1.35 sizes each string it passes into the component with a JavaScript
// loop over its characters before encoding it, which on a batch of 1000
// events (~400 KB) took a fifth of `scoreText`'s time. The size comes from
// Node's native `Buffer.byteLength` instead; it counts as that loop does
// (an unpaired surrogate: 3 bytes, as TextEncoder writes U+FFFD), and jco's
// own check that `encodeInto` wrote exactly that many bytes stays in place.
// Measured with BENCH_CPU=1 pipeline-examples/embedding/bench.sh: see
// pipeline-examples/embedding/README.md. Fails (and so does the build) if the
// generated code is not the one expected, e.g. after a jco upgrade.
const fs = require('node:fs');
const path = process.argv[2];
const src = fs.readFileSync(path, 'utf8');
const loop = /    let len = 0;\n    let codepoints = 0;\n    for \(let i = 0; i < s\.length; i\+\+\) \{\n[\s\S]*?\n    \}\n    const ptr = realloc\(0, 0, 1, len\);/g;
const found = src.match(loop) || [];
if (found.length !== 1) {
  console.error(`fast-strings: ${path}: expected jco's string-size loop once, found it ${found.length} times`);
  process.exit(1);
}
fs.writeFileSync(path, src.replace(loop,
  "    const len = Buffer.byteLength(s, 'utf8');\n    const codepoints = s.length;\n    const ptr = realloc(0, 0, 1, len);"));
