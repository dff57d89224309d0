"""Process-wide settings that numerical libraries read when they start: one place.

sasmodels reads ``SAS_OPENCL`` when it first looks for a compute platform: ``none``
keeps every kernel on the compiled CPU (DLL) path, which is what the simulator and the
fit workers are tuned and tested for (an OpenCL driver in a worker process is neither
needed nor safe to fork). TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` at import: ``3``
keeps its C++ start-up chatter out of the user's terminal. Dask's distributed package
reads ``DASK_LOGGING__DISTRIBUTED`` when it is imported: ``warning`` keeps one INFO line
per connection and worker out of long generation logs. All are defaults only: a value
the user set wins.
"""
from __future__ import annotations

import os

#: Environment variables and their defaults (see the module docstring).
FLAGS = {"SAS_OPENCL": "none", "TF_CPP_MIN_LOG_LEVEL": "3",
         "DASK_LOGGING__DISTRIBUTED": "warning"}


def configure() -> None:
    """Set each of :data:`FLAGS` unless the environment already has it."""
    for name, value in FLAGS.items():
        os.environ.setdefault(name, value)
