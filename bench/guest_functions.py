#!/usr/bin/env python3
"""Instructions per event of each function of the component's compiled
code, from two callgrind runs of `score_profile` with different pass counts
(their difference takes compiling and loading out).

callgrind counts the JIT code wasmtime writes but cannot name it; with
`LOGSIEVE_PROFILE=perfmap` wasmtime writes /tmp/perf-<pid>.map, which
does. Run both passes counts like this (a core module built with its
function names, see bench/score_profile.rs):

    SP=$(ls -t target/release/deps/score_profile-* | grep -v '\\.d$' | head -1)
    for p in 1 3; do
      LOGSIEVE_PROFILE=perfmap LOGSIEVE_PROFILE_CORE=core.wasm \\
        valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=cg.$p \\
        $SP component MODEL EVENTS.ndjson $p 2> cg.$p.err
      cp /tmp/perf-$(grep -o '^==[0-9]*==' cg.$p.err | head -1 | tr -d =).map cg.$p.map
    done
    bench/guest_functions.py cg.1 cg.3 EVENTS_PER_PASS

Prints, per function, (instructions with 3 passes - with 1) / (2 x
EVENTS_PER_PASS), the largest first; host code (wasmtime, libc) is one
line, `<native>`.
"""

import bisect
import collections
import re
import sys

# A cost line of `--dump-instr=yes` output: instruction address (absolute,
# relative to the previous one, or the same), line, then the count.
COST = re.compile(r"^(0x[0-9a-f]+|[+-]\d+|\*)\s+(?:0x[0-9a-f]+|[+-]\d+|\*|\d+)\s+(\d+)")


def per_function(cg_path, map_path):
    syms = []
    with open(map_path) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            name = re.sub(r"^wasm\[0\]::function\[\d+\]::", "", name)
            syms.append((int(start, 16), int(size, 16), name))
    syms.sort()
    starts = [s[0] for s in syms]
    totals = collections.Counter()
    addr, after_call = 0, False
    with open(cg_path) as f:
        for line in f:
            if line.startswith("calls="):
                after_call = True  # the next cost line is the callee's, inclusive
                continue
            m = COST.match(line)
            if not m:
                continue
            pos = m.group(1)
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos != "*":
                addr += int(pos)
            if after_call:
                after_call = False
                continue
            i = bisect.bisect_right(starts, addr) - 1
            inside = i >= 0 and addr < syms[i][0] + syms[i][1]
            totals[syms[i][2] if inside else "<native>"] += int(m.group(2))
    return totals


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    one, three, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
    a = per_function(one, one + ".map")
    b = per_function(three, three + ".map")
    diff = {k: (b[k] - a[k]) / (2 * events) for k in set(a) | set(b)}
    print(f"{sum(diff.values()):10.0f}  all")
    for name, n in sorted(diff.items(), key=lambda kv: -kv[1])[:40]:
        print(f"{n:10.0f}  {name[:120]}")


if __name__ == "__main__":
    main()
