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

from ..models.products import split
from .data import FitData
from .invariants import Invariants
from .parameters import Setup
from .starts import guessed_starts, ordered

#: The form alone is fitted on q >= this times the correlation peak's position: there
#: S(q) of the hard-sphere-like structure factors is within a few % of 1.
S_FREE_FROM = 2.5
#: Fewest points the S(q) ≈ 1 part must hold to fit the form there (else all points).
MIN_FORM_POINTS = 20
#: Volume fractions tried for the structure factor (the fits' bounds are 0.001..0.6).
VOLFRACTION_GRID = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Factors on the form's main size tried with them.
SIZE_FACTORS = (0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.4)


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
    """Product shapes to score: the fitted form with the structure factor's guesses and
    the volume-fraction grid, the main size moved by :data:`SIZE_FACTORS`."""
    form_shape = {k: v for k, v in form_values.items() if k in setup.shape}
    interaction = [k for k in setup.shape if k not in form_shape]
    guesses = []
    for g in guessed_starts(setup, inv):
        part = {k: g[k] for k in interaction if k != "volfraction"}
        if part not in guesses:
            guesses.append(part)
    fractions = VOLFRACTION_GRID if "volfraction" in interaction else (None,)
    size = setup.main_size if setup.main_size in form_shape else None
    lo, hi = setup.shape[size] if size else (0.0, 0.0)
    out = []
    for factor in SIZE_FACTORS if size else (1.0,):
        shape = dict(form_shape)
        if size:
            shape[size] = float(np.clip(form_shape[size] * factor, lo, hi))
        for g in guesses:
            for phi in fractions:
                s = {**shape, **g, **({} if phi is None else {"volfraction": phi})}
                out.append(ordered(setup, s))
    return out
