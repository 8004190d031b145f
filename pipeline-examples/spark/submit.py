#!/usr/bin/env python3
"""spark-submit entry point: `logsieve_spark score|train ...` in the session spark-submit made.

    spark-submit --master yarn --py-files logsieve_spark.zip \\
        --files logsieve.wasm,conn.model.msgpack \\
        pipeline-examples/spark/submit.py score --component logsieve.wasm --model conn.model.msgpack \\
        --input '/shared/zeek/2024-04-20/conn.*.log.gz' --out /shared/out/2024-04-20

Make the zip with `python -m logsieve_spark package logsieve_spark.zip` (run from
pipeline-examples/spark, or with it on PYTHONPATH): the package with the Python
embedding host's score.py inside. See README.md.
"""
import os
import sys

try:
    import logsieve_spark  # noqa: F401  (from --py-files)
except ImportError:  # run from the repository
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from logsieve_spark.__main__ import main

sys.exit(main(submitted=True))
