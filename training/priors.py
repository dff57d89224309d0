"""Drawing one parameter set of a model for a simulated instrument window.

The per-model priors live with everything else known about a model, in
``sasnets_plugin/models/<name>.py`` (their random helpers and the feature-placing idea
are described in :mod:`sasnets_plugin.models.draw`). This module is the machinery
around them: it calls a model's prior for the window, checks the names it emits against
the kernel, adds size polydispersity to the parameters the model allows, and fixes
``scale = 1`` and ``background = 0`` (both are part of the instrument model in
:mod:`training.simulate`). Orientation parameters stay at their defaults (1D data are
orientationally averaged by the kernels anyway).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from sasnets_plugin import models
from sasnets_plugin.models.draw import (BROAD_SPAN, DEFAULT_Q_RANGE, MIN_SHELL_CONTRAST,
                                        OUTSIDE_FRACTION, Draw)

#: Probability that a curve gets size polydispersity (when the model has any).
PD_PROBABILITY = 0.5
#: Range of the relative polydispersity (gaussian sigma / mean).
PD_RANGE = (0.02, 0.3)
#: Number of points in the gaussian polydispersity integration.
PD_N_DEFAULT = 35
#: The shifted split's held-out prior family: Schulz size distributions (real samples'
#: usual shape, never seen in training), wider and more often.
SHIFTED_PD = {"pd_type": "schulz", "pd_range": (0.05, 0.4), "pd_probability": 0.7}

# Settings that define the priors; written into the dataset manifest so that a
# change of priors is detected on restart.
PRIOR_VERSION = 3
PRIOR_SETTINGS = {
    "prior_version": PRIOR_VERSION,
    "broad_span": BROAD_SPAN,
    "shifted_pd": SHIFTED_PD,
    "min_shell_contrast": MIN_SHELL_CONTRAST,
    "pd_probability": PD_PROBABILITY,
    "pd_range": PD_RANGE,
    "pd_type": "gaussian",
    "pd_nsigma": 3.0,
    "outside_fraction": OUTSIDE_FRACTION,
}


def draw_parameters(model_info, rng: np.random.Generator, q_range=None,
                    pd_n: int | Callable[[int], int] | None = None,
                    pd_probability: float = PD_PROBABILITY,
                    max_pd_params: int = 2, broad: bool = False, shifted: bool = False) -> dict:
    """Draw one parameter set for *model_info* (a sasmodels ModelInfo).

    *q_range* is the (q_min, q_max) window of the simulated instrument in
    1/Ang: characteristic lengths are drawn so the model's features usually
    fall inside it.  With probability *pd_probability* one (70 %) or two
    (30 %; at most *max_pd_params*) size parameters receive gaussian
    polydispersity with relative
    width in :data:`PD_RANGE` using *pd_n* integration points (default 35;
    a callable gets the number of polydisperse parameters and returns it).

    *broad*: the model's broad prior (:mod:`sasnets_plugin.models.draw`). *shifted*: the
    shifted split's held-out polydispersity family (:data:`SHIFTED_PD`).

    The result holds plain floats/ints for sasmodels, with ``scale=1`` and
    ``background=0``.
    """
    model = models.get(model_info.id)
    pars = model.prior(Draw(rng, q_range or DEFAULT_Q_RANGE, broad=broad))
    pars = {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                else float(v)) for k, v in pars.items()}
    known = {p.name for p in model_info.parameters.kernel_parameters}
    known |= {p.id for p in model_info.parameters.call_parameters}
    known |= {f"{p.name}{k}" for p in model_info.parameters.kernel_parameters
              if p.length > 1 for k in range(1, p.length + 1)}
    bad = sorted(set(pars) - known)
    if bad:  # a typo in a prior would otherwise be silently ignored
        raise KeyError(f"{model_info.id}: prior emits unknown parameter(s) {bad}")
    candidates = model.polydisperse
    pd_type, pd_range = "gaussian", PD_RANGE
    if shifted:
        pd_type, pd_range = SHIFTED_PD["pd_type"], SHIFTED_PD["pd_range"]
        pd_probability = SHIFTED_PD["pd_probability"] if pd_probability > 0 else 0.0
    if candidates and rng.random() < pd_probability:
        n_pd = 2 if (len(candidates) > 1 and rng.random() < 0.3) else 1
        n_pd = max(1, min(n_pd, max_pd_params))
        chosen = rng.choice(len(candidates), size=n_pd, replace=False)
        if callable(pd_n):
            n = int(pd_n(n_pd))
        else:
            n = int(pd_n or PD_N_DEFAULT)
        for index in sorted(int(i) for i in chosen):
            name = candidates[index]
            pars[f"{name}_pd"] = float(rng.uniform(*pd_range))
            pars[f"{name}_pd_n"] = n
            pars[f"{name}_pd_nsigma"] = 3.0
            pars[f"{name}_pd_type"] = pd_type
    pars["scale"] = 1.0
    pars["background"] = 0.0
    return pars
