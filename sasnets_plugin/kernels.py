"""Compiled sasmodels kernels, loaded once per process and compiled safely across processes.

sasmodels compiles a model's C kernel straight to its final path in its cache folder
(``SAS_DLL_PATH``, by default ``~/.sasmodels/compiled_models``) and only checks that the
file exists before loading it. Two processes meeting a cold cache at once (two
``sasnets-suggest --verify`` runs, the verification's worker pool, the training data
generation) could therefore load a library another process is still writing, and every
fit of that model fails. :func:`compile_lock` is an advisory lock on one file in that
folder, taken around every build: the process that compiles holds it until the library
is complete; the others then find and load it. Loading an already compiled model holds
the lock for a few milliseconds only. The verification and the training data generator
(``training/simulate.py``) both load their kernels here.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

from . import environment

log = logging.getLogger(__name__)

#: Name of the lock file in sasmodels' compile cache folder.
LOCK_FILE = ".sasnets-compile.lock"

_built: dict = {}
_thread_lock = threading.Lock()


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Hold the cross-process compile lock (a no-op where ``fcntl`` is missing: Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    from sasmodels import kerneldll

    folder = os.path.abspath(kerneldll.SAS_DLL_PATH)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, LOCK_FILE), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kernel_model(name: str):
    """The compiled sasmodels model ``name`` (``form@structure`` too; double precision,
    CPU library), built once per process under :func:`compile_lock`."""
    with _thread_lock:
        model = _built.get(name)
        if model is None:
            environment.configure()
            from sasmodels.core import build_model

            from .models import model_info

            info = model_info(name)
            with compile_lock():
                model = _built[name] = build_model(info, dtype="double", platform="dll")
            log.debug("kernel %s loaded", name)
        return model
