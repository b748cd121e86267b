"""Import pipelines: one reader per corpus (`ingest.readers`) and the pipeline that normalises,
validates and bulk-loads what they read (`ingest.pipeline.run_import`)."""

__distribution__ = "normbank"  # tests assert this, so a same-named package from PyPI cannot shadow ours
