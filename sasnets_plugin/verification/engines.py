"""Where the verification's fits run: this process, a pool of worker processes, or a
Dask cluster.

Every fit is a pure function of (model, data, settings, seed) (:class:`Task`), so it
gives the same answer wherever it runs. The shared pool (:func:`warm_up`,
:func:`shutdown_pool`) is started lazily with the ``spawn`` method (safe with threads,
Qt and TensorFlow) and reused by every verification of the process; one verification
uses it at a time (:class:`PoolEngine` holds its run lock). Cancellation reaches the
workers through a shared counter checked before every model evaluation; a worker stuck
in one evaluation past the safety cap is terminated (:meth:`PoolEngine.stop`) and a
fresh pool takes over.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from .. import environment
from .data import FitData
from .fit_result import CandidateFit
from .fitting import fit_model

log = logging.getLogger(__name__)

#: Default number of candidates (the network's top 5); sizes the default worker pool.
DEFAULT_CANDIDATES = 5


@dataclass(frozen=True)
class Task:
    """One fit: what a worker needs (picklable)."""

    model: str
    data: FitData
    options: dict  # fit_model keyword arguments (work, n_starts, seed, invariants, deadline)


def run_task(task: Task, abort: Callable[[], bool] | None = None) -> CandidateFit:
    return fit_model(task.model, task.data, abort=abort, **task.options)


_worker_cancelled = None  # in a worker: shared counter, runs with id <= value are cancelled


def _init_worker(cancelled):
    global _worker_cancelled
    _worker_cancelled = cancelled
    environment.configure()
    single_threaded_blas()


def single_threaded_blas() -> None:
    """One BLAS thread in this process. The pool already runs a fit per core, so BLAS
    threads on top oversubscribe the cores: with the machine busy, one evaluation of a
    500-point curve with its resolution matrix took 4.5-7.3 ms with OpenBLAS' default
    threads and 1.0 ms with one. (Dask workers get the same from Dask itself.) numpy and
    scipy each bring their own OpenBLAS: both are loaded first, since a limit reaches only
    the libraries already loaded."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    threading.Thread(target=_exit_with_parent, daemon=True, name="parent-watch").start()


def _exit_with_parent():
    """Worker side: exit as soon as the parent process is gone (killed, crashed)."""
    from multiprocessing.connection import wait as wait_objects

    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    wait_objects([parent.sentinel])
    os._exit(1)


def _worker_warm(models=()):
    import bumps.fitters  # noqa: F401
    import sasmodels.direct_model  # noqa: F401

    from ..kernels import kernel_model

    for m in models:
        try:
            kernel_model(m)
        except Exception:  # noqa: BLE001 - the fit reports it
            log.debug("could not load %s", m, exc_info=True)
    return os.getpid()


def _worker_fit(task: Task, run_id: int) -> CandidateFit:
    cancelled = _worker_cancelled

    def abort():
        return cancelled is not None and cancelled.value >= run_id

    return run_task(task, abort)


def _dask_fit(task: Task) -> CandidateFit:
    """A fit on a Dask worker (cancelled by ``Client.cancel``)."""
    environment.configure()
    return run_task(task)


@contextlib.contextmanager
def _ctrl_c_ignored():
    """SIGINT ignored while processes are started, in the main thread (where Python
    handles signals): the terminal sends Ctrl-C to the whole process group, and workers
    interrupted while importing printed tracebacks over the command's output."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Pool:
    """Spawned worker processes plus a shared "cancelled up to run N" counter, so that a
    cancelled run's stragglers stop even after the next run has started."""

    def __init__(self, n: int):
        ctx = multiprocessing.get_context("spawn")  # safe with threads, Qt, TensorFlow
        self.n = n
        self.cancelled = ctx.Value("q", 0, lock=False)
        self.executor = ProcessPoolExecutor(max_workers=n, mp_context=ctx,
                                            initializer=_init_worker,
                                            initargs=(self.cancelled,))
        with _ctrl_c_ignored():  # workers inherit it: Ctrl-C stops this process alone
            for _ in range(n):  # each submit starts one more worker while none is idle
                self.executor.submit(os.getpid)
        self.run_lock = threading.Lock()
        self.last_run = 0

    def new_run(self) -> int:
        self.last_run += 1
        return self.last_run

    def cancel(self, run_id: int):
        self.cancelled.value = max(self.cancelled.value, run_id)

    def shutdown(self, wait: bool = True):
        self.cancelled.value = 2**62
        self.executor.shutdown(wait=wait, cancel_futures=True)

    def kill(self):
        """Terminate the worker processes now (one is stuck in a long evaluation)."""
        self.cancelled.value = 2**62
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.terminate()
            except OSError:  # already gone
                pass
        self.executor.shutdown(wait=True, cancel_futures=True)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool(n: int) -> _Pool:
    """The shared pool, (re)created with at least ``n`` workers."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool.n >= n:
            return _pool
        old, _pool = _pool, _Pool(n)
        pool = _pool
    if old is not None:
        with old.run_lock:  # let a run still using it finish
            old.shutdown()
    return pool


def forget_pool(pool: _Pool):
    """Make the next call start a fresh pool instead of ``pool``."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None


def shutdown_pool():
    """Stop the worker processes (they are restarted on the next parallel call)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        with pool.run_lock:
            pool.shutdown()


atexit.register(shutdown_pool)


def default_workers(n_models: int = DEFAULT_CANDIDATES) -> int:
    """One worker per candidate up to the CPU count (the default of :func:`warm_up`
    and :func:`verify_candidates`)."""
    return max(1, min(n_models, os.cpu_count() or 1))


def warm_up(workers: int | None = None, models=()) -> None:
    """Start the worker pool and import sasmodels/bumps in it (and load ``models``'
    kernels), so the first verification does not pay for it. Blocks until done.
    ``workers``: default :func:`default_workers` of ``len(models)`` candidates (of
    :data:`DEFAULT_CANDIDATES` when no models are given), like
    :func:`verify_candidates`; ``1`` warms this process."""
    n = workers or default_workers(len(models) or DEFAULT_CANDIDATES)
    if workers == 1:
        _worker_warm(models)
        return
    pool = _get_pool(n)
    for future in [pool.executor.submit(_worker_warm, tuple(models)) for _ in range(n)]:
        future.result()


class Engine:
    """Where fits run: this process (the base class), the process pool or Dask."""

    def __init__(self, cancel: threading.Event | None):
        self.n = 1
        self._cancel = cancel

    def submit(self, task: Task) -> Future:
        future: Future = Future()
        future.set_result(run_task(task, self._cancel.is_set if self._cancel else None))
        return future

    def cancel(self, futures) -> None:
        """Stop this run's fits (in this process they have stopped already)."""

    def stop(self, futures) -> bool:
        """Stop ``futures`` that outlasted the safety cap; True if others running beside
        them were lost and must be submitted again."""
        return False

    def close(self) -> None:
        """Release what the run held."""


class PoolEngine(Engine):
    def __init__(self, n: int):
        super().__init__(None)
        self.pool = _get_pool(n)
        self.pool.run_lock.acquire()
        self.n = self.pool.n
        self.run_id = self.pool.new_run()

    def submit(self, task: Task) -> Future:
        return self.pool.executor.submit(_worker_fit, task, self.run_id)

    def cancel(self, futures) -> None:
        self.pool.cancel(self.run_id)
        for future in futures:
            future.cancel()

    def stop(self, futures) -> bool:
        running = [f for f in futures if not f.cancel()]
        if not any(not f.done() for f in running):
            return False
        log.warning("Fit verification: terminating worker processes stuck past the safety cap")
        old = self.pool
        forget_pool(old)
        old.kill()
        old.run_lock.release()
        self.pool = _get_pool(self.n)
        self.pool.run_lock.acquire()
        self.run_id = self.pool.new_run()
        return True

    def close(self) -> None:
        self.pool.run_lock.release()


class DaskEngine(Engine):
    def __init__(self, client):
        super().__init__(None)
        self.client = client
        self.n = max(1, sum(client.nthreads().values()))

    def submit(self, task: Task):
        return self.client.submit(_dask_fit, task, pure=False)

    def cancel(self, futures) -> None:
        self.client.cancel(list(futures))

    def stop(self, futures) -> bool:
        self.client.cancel(list(futures))
        return False


