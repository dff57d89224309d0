"""Start values for one model and one curve without a fit (the API's
:func:`start_values`): the starts the fits screen, the best of them, its size scanned."""
from __future__ import annotations

import numpy as np

from ..kernels import kernel_model
from .data import prepare_data
from .evaluation import Best, Budget, EvalCost, Evaluator, Problem, Stop
from .invariants import curve_invariants
from .parameters import setup_for, within_sld_limits
from .starts import draw, guessed_starts, scan_size, seed_for

#: Work :func:`start_values` may spend (estimated microseconds; its size scan is thinned
#: to fit): a fraction of a second, as the GUI waits for it.
START_VALUES_WORK = 3e5

def start_values(model_name: str, q, I, dI=None, *, dQ=None, slit_length=None,  # noqa: E741
                 slit_width=None, n_random: int = 16, seed: int = 0) -> dict[str, float]:
    """Good starting parameters for one model and one curve, without fitting.

    Cleans the curve like the rest of the plugin (its pinhole ``dQ`` or slit sizes
    included), computes its invariants, screens the model's invariant-based starts plus
    ``n_random`` seeded random ones, then scans the main size from the best (one model
    evaluation each, amplitudes solved exactly, within :data:`START_VALUES_WORK`) and
    returns the best: every varied parameter (shape parameters, ``scale`` or the model's
    own amplitudes, ``background``) plus the non-default fixed ones (e.g. ``scale = 1``).
    Deterministic for given inputs. Raises :class:`ValueError` for an unknown model and
    ``errors.DataError`` for unusable data.
    """
    from ..loading import RawCurve

    def array(x):
        return None if x is None else np.asarray(x, float)

    data, _ = prepare_data(RawCurve("data", array(q), array(I), array(dI), array(dQ),
                                    array(slit_length), array(slit_width)))
    setup = setup_for(model_name, float(data.q[0]), float(data.q[-1]))
    budget = Budget(START_VALUES_WORK)
    problem = Problem(setup, Evaluator(kernel_model(model_name), data, budget,
                                       EvalCost.of(model_name, setup)), Best())
    inv = curve_invariants(data.q, data.I, None if data.sigma_estimated else data.sigma)
    rng = np.random.default_rng(seed_for(model_name, seed))
    starts = guessed_starts(setup, inv)
    if setup.shape:
        starts += [draw(setup, rng) for _ in range(n_random)]
    try:
        for s in starts:
            problem.profile(s)
        if problem.best.values is not None and setup.main_size is not None:
            scan_size(problem, {k: problem.best.values[k] for k in setup.shape}, budget,
                      budget.work)
    except Stop:
        pass  # the best point so far
    values = problem.best.values
    if values is None:
        values = {k: setup.defaults[k] for k in setup.shape}
    out = {k: float(v) for k, v in setup.fixed.items()}
    out.update((k, float(v)) for k, v in values.items())
    return within_sld_limits(model_name, out)
