"""The HTTP API: FastAPI app factory, routes, request/response models and error mapping."""

__distribution__ = "normbank"  # tests assert this, so a same-named package from PyPI cannot shadow ours
