"""logsieve in Apache Spark: the logsieve component in every Python worker (wasmtime-py).

- `logs.read_logs`: Zeek TSV / NDJSON / CSV logs into a DataFrame of events,
  read by the component's `reader` (the CLI's own readers) in the workers;
  the host opens the files and decompresses gzip.
- `scoring.score_events`: score a DataFrame of events through the component
  (`score-lines`), as `logsieve run` does; the verdict columns come from
  each event's `verdict` record; errors are rows, counted.
- `training.train`: features extracted by the component (`extract-batch`) in
  the workers, scalers and vocabularies aggregated by Spark, vectors encoded
  by the component (`encode-lines`), k-means fitted by Spark MLlib, nearest
  clusters and distances from the component (`score-lines`) in a second
  distributed pass, written as a normal artifact by `logsieve assemble`.
- `session.local_session`: a local Spark that works on these machines.

See pipeline-examples/spark/README.md.
"""
