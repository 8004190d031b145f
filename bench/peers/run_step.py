"""Runs one step of bench/compare.sh and logs what the machine did meanwhile.

    python run_step.py STEPS_JSON NAME STDOUT_FILE|- -- COMMAND...

Runs COMMAND (its stdout to STDOUT_FILE, or inherited with "-"; stderr
inherited), then appends to the JSON list in STEPS_JSON: the step's wall
seconds, the CPU seconds of COMMAND and its children, the load average
before and after, and the foreign load (cores other processes kept busy on
average: the machine's busy CPU time minus the step's, over the wall time).
Exits with COMMAND's status.
"""
import json
import os
import resource
import subprocess
import sys
import time

from common import loadavg, machine_busy_s


def main():
    steps_path, name, out = sys.argv[1:4]
    assert sys.argv[4] == "--", "usage: run_step.py STEPS_JSON NAME STDOUT_FILE|- -- COMMAND..."
    cmd = sys.argv[5:]
    load0, busy0, t0 = loadavg(), machine_busy_s(), time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out == "-":
        rc = subprocess.call(cmd)
    else:
        with open(out, "w") as f:
            rc = subprocess.call(cmd, stdout=f)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    foreign = max((machine_busy_s() - busy0 - cpu) / wall, 0.0)
    steps = []
    if os.path.exists(steps_path):
        with open(steps_path) as f:
            steps = json.load(f)
    steps.append({"step": name, "command": cmd, "rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                  "foreign_load": round(foreign, 3), "load_before": load0, "load_after": loadavg()})
    with open(steps_path, "w") as f:
        json.dump(steps, f, indent=1)
    print(f"compare: step {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, foreign load {foreign:.2f}, rc {rc}",
          file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
