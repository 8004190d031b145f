"""logsieve in Apache Spark: the logsieve component in every Python worker (wasmtime-py).

- `logs.read_logs`: Zeek TSV / NDJSON logs into a DataFrame of events, with
  the CLI's reader ported to Python (reader.py), byte for byte.
- `scoring.score_events`: score a DataFrame of events through the component
  (`score-text`), as `logsieve run` does; errors are rows, counted.
- `training.train`: features extracted by the component (`extract-batch`) in
  the workers, scalers and vocabularies aggregated by Spark, k-means fitted
  by Spark MLlib, thresholds from a second distributed pass, written as a
  normal artifact by `logsieve assemble`.
- `session.local_session`: a local Spark that works on these machines.

See pipeline-examples/spark/README.md.
"""
