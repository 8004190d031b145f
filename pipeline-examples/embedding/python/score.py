#!/usr/bin/env python3
"""Score log events with the logsieve component in Python (wasmtime-py).

The host itself is the Python package's host layer,
packages/python/src/logsieve/_host.py (in the wheel: `python -m logsieve`);
this runs it from the repository's source, with the component given by
`--component` (the wheel carries its own). See `python score.py --help` and
pipeline-examples/embedding/README.md.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "packages", "python", "src"))
from logsieve._host import main  # noqa: E402

if __name__ == "__main__":
    main()
