"""Helpers shared by the peer scripts of bench/compare.sh."""
import json
import os
import platform
import resource
import sys
import time


def loadavg():
    """The 1-minute load average (what else runs on the machine)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def cpu_s():
    """CPU seconds of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pools():
    """The native thread pools (OpenMP, BLAS) and their current sizes."""
    from threadpoolctl import threadpool_info

    return [
        {k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "architecture")}
        for p in threadpool_info()
    ]


def env():
    import numpy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "ncpu": os.cpu_count(),
        "threadpools": pools(),
    }


def write(path, obj):
    text = json.dumps(obj, indent=1)
    if path == "-":
        print(text)
    else:
        with open(path, "w") as f:
            f.write(text + "\n")
    print(f"{os.path.basename(sys.argv[0])}: wrote {path}", file=sys.stderr)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def machine_busy_s():
    """CPU seconds all processes of the machine have been busy so far
    (/proc/stat's first line: everything but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:9]]
    except OSError:
        return float("nan")
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


class Timer:
    """Wall and CPU seconds of a block, the load average around it and the
    foreign load: the cores other processes kept busy meanwhile, on average."""

    def __enter__(self):
        self.load_before = loadavg()
        self.busy0 = machine_busy_s()
        self.cpu0 = cpu_s()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0
        self.cpu = cpu_s() - self.cpu0
        other = (machine_busy_s() - self.busy0) - self.cpu
        self.foreign_load = round(max(other / self.s, 0.0), 3)
        self.load_after = loadavg()
        return False
