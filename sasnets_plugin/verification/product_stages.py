"""Starts for a product ``form@structure`` fitted in stages, as one fits one by hand.

1. **The form alone** on the part of the curve where S(q) ≈ 1: beyond
   :data:`S_FREE_FROM` times the correlation peak's position (:func:`form_part`), or the
   whole curve when the curve shows no peak or too little lies beyond it (the fitting
   module fits the form there with a share of the work).
2. **The structure factor** from the peak's position and height, the form held: its
   interaction parameters from the structure factor's own guesses (the effective radius
   comes from the form: sasmodels' ``radius_effective_mode`` 1) crossed with the volume
   fractions of :data:`VOLFRACTION_GRID`, and the main size moved by
   :data:`SIZE_FACTORS` (the form's size sets where the peak falls), each scored with its
   amplitudes solved (:func:`structure_grid`).
3. **Everything together**: Levenberg-Marquardt from the best of those (the fitting
   module).
"""
from __future__ import annotations

import numpy as np

from ..models import get
from ..models.products import split
from .data import FitData
from .invariants import Invariants
from .parameters import Setup
from .starts import guessed_starts, ordered

#: The form alone is fitted on q >= this times the correlation peak's position: there
#: S(q) of the hard-sphere-like structure factors is within a few % of 1.
S_FREE_FROM = 2.5
#: Fewest points the S(q) ≈ 1 part must hold to fit the form there (else all points).
MIN_FORM_POINTS = 10
#: Volume fractions tried for the structure factor (the fits' bounds are 0.001..0.6).
VOLFRACTION_GRID = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Factors on the form's main size tried with them, the likeliest first (the grid is
#: scored in this order while its share of the work lasts).
SIZE_FACTORS = (1.0, 0.9, 1.1, 0.8, 1.25, 0.7, 1.4)
#: Where in its range each other interaction parameter (stickiness, well depth, charge...)
#: is tried besides the structure factor's own guesses (in log for log-drawn ones).
INTERACTION_STEPS = (0.2, 0.5, 0.8)


def form_of(model: str) -> str | None:
    """The form factor of a product, None for a single model."""
    form, structure = split(model)
    return form if structure else None


def form_part(data: FitData, inv: Invariants) -> np.ndarray:
    """Indices of the points where S(q) ≈ 1 (module docstring); all when unknown."""
    every = np.arange(data.n)
    if not inv.q_peak:
        return every
    beyond = np.nonzero(data.q >= S_FREE_FROM * inv.q_peak)[0]
    return beyond if beyond.size >= MIN_FORM_POINTS else every


def structure_grid(setup: Setup, form_values: dict, inv: Invariants) -> list[dict]:
    """Product shapes to score, most likely first: the form's values (of
    ``form_values``, which may hold a whole product's) with the structure
    factor's guesses, each other interaction parameter also at :data:`INTERACTION_STEPS`
    of its range and the volume fraction on :data:`VOLFRACTION_GRID` (within its
    bounds), the main size moved by :data:`SIZE_FACTORS`."""
    structure = get(split(setup.name)[1]).fit.free
    form_shape = {k: v for k, v in form_values.items() if k in setup.shape and k not in structure}
    interaction = [k for k in setup.shape if k in structure and k != "volfraction"]
    options = [[]]
    for name in interaction:
        lo, hi = setup.shape[name]
        log = setup.spec.free[name].draws_log() and lo > 0
        steps = [float(np.exp(np.log(lo) + t * np.log(hi / lo))) if log else lo + t * (hi - lo)
                 for t in INTERACTION_STEPS]
        options = [o + [(name, v)] for o in options for v in steps]
    guesses = []
    for g in guessed_starts(setup, inv):
        part = {k: g[k] for k in interaction}
        if part not in guesses:
            guesses.append(part)
    guesses += [dict(o) for o in options if dict(o) not in guesses]
    if "volfraction" in setup.shape:
        lo, hi = setup.shape["volfraction"]
        fractions = sorted({float(np.clip(phi, lo, hi)) for phi in VOLFRACTION_GRID})
    else:
        fractions = [None]
    size = setup.main_size if setup.main_size in form_shape else None
    out = []
    for factor in SIZE_FACTORS if size else (1.0,):
        shape = dict(form_shape)
        if size:
            lo, hi = setup.shape[size]
            shape[size] = float(np.clip(form_shape[size] * factor, lo, hi))
        for g in guesses:
            for phi in fractions:
                s = {**shape, **g, **({} if phi is None else {"volfraction": phi})}
                out.append(ordered(setup, s))
    return out
