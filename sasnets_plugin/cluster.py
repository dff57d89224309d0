"""Dask clusters for the long, embarrassingly parallel jobs (data generation, batch fits).

:func:`connect` gives a :class:`distributed.Client`: to an existing scheduler when an
address is given (``tcp://host:8786``, started with ``dask scheduler`` and ``dask worker``
on the machines of a real cluster), otherwise to a :class:`distributed.LocalCluster` of
single-threaded worker *processes* on this machine (sasmodels kernels and bumps fits are
CPU-bound Python: threads would share one interpreter lock). Work is submitted as pure
functions of their arguments, so where it runs never changes what it returns.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator

from . import environment

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A connected ``distributed.Client`` for the duration of the ``with`` block.

    ``scheduler``: address of a running scheduler; None starts a LocalCluster with
    ``workers`` processes (default: one per core), closed on exit. Workers inherit
    :func:`environment.configure`'s flags.
    """
    environment.configure()  # before distributed is imported: it reads its log level then
    from distributed import Client, LocalCluster

    if scheduler:
        log.info("connecting to the Dask scheduler at %s", scheduler)
        with Client(scheduler) as client:
            yield client
        return
    n = workers or default_workers()
    log.info("starting a local Dask cluster with %d worker process(es)", n)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as local, Client(local) as client:
        yield client
