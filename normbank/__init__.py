"""normbank: situational social norms as a service.

This package is the pure domain (no SQL, no HTTP): the constraint language, scales, reasoning,
retrieval helpers, configuration and the CLI (the composition root, which imports the other
packages lazily inside its commands).
"""

__version__ = "0.1.0"

__distribution__ = "normbank"  # tests assert this, so a same-named package from PyPI cannot shadow ours
