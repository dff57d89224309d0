"""The instrument a simulated curve is measured on: q points, resolution, count profile.

Real data come from very different instruments, so each curve draws an *archetype* and
then its own settings within it:

=========  ================  ============  ==========  ==================================
archetype  q_min (1/Å)       decades       points      resolution
=========  ================  ============  ==========  ==================================
sans       3e-4 .. 1e-2      0.8 .. 3.0    10 .. 400   pinhole, dQ/Q from wavelength
                                                       spread and geometry (see below)
saxs       1e-3 .. 5e-2      0.7 .. 2.5    50 .. 2000  pinhole, small wavelength spread
usans      1e-5 .. 1e-4      1.3 .. 3.0    10 .. 150   slit, length 0.01 .. 0.2 1/Å
usaxs      8e-5 .. 1e-3      1.5 .. 3.0    30 .. 500   slit, length 0.005 .. 0.05 1/Å
=========  ================  ============  ==========  ==================================

(``q_max = q_min * 10**decades``, at most 3 1/Å). Pinhole resolution is per point, as
real reductions report it: ``sigma_Q(q)**2 = (q * spread / 2.355)**2 + sigma_geo**2``
with a FWHM wavelength spread and a geometric term ``sigma_geo = g * q_min``, so that
dQ/Q is largest at low q and falls to the wavelength term at high q; it is clipped to
:data:`DQ_OVER_Q` (0.5 % .. 20 %).

Counts: the expected counts of a point are ``flux * weight(q) * I(q)``, with the count
profile ``weight = (q/q_max)**gamma / (1 + (q/q_edge)**k)``: the solid angle of a radial
bin grows with q (``gamma``: about 2 for log bins on an area detector, 1 for linear
bins, less for slit instruments) until the detector edge cuts it (``q_edge``, ``k``).

The *shifted* split uses archetypes held out of training, half of its curves each:
``sans_merged``, a curve merged from 2-3 detector configurations (overlapping
sub-windows, each with its own resolution profile and its own flux, so dQ/Q and the noise
level jump between them), as reduction software writes them for multi-distance SANS;
and (generator v4) ``saxs_slit``, a laboratory SAXS camera with line collimation
(Kratky-type): SAXS windows, slit-smeared with a slit length of 0.02-0.3 1/Å (training
sees slit smearing only on ultra-small-angle windows).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Largest q of any window (1/Å): beyond, SAS models stop meaning anything.
Q_CAP = 3.0
#: Range of the pinhole resolution dQ/Q (gaussian sigma over q).
DQ_OVER_Q = (0.005, 0.2)

#: Training archetypes (see the module docstring); weights sum to 1.
ARCHETYPES: dict[str, dict] = {
    "sans": {"weight": 0.45, "q_min": [3e-4, 1e-2], "decades": [0.8, 3.0],
             "n_points": [10, 400], "log_spacing": 0.7, "slit_length": None,
             "spread": [0.05, 0.25], "geometric": [0.02, 0.2], "gamma": [1.0, 2.0]},
    "saxs": {"weight": 0.35, "q_min": [1e-3, 5e-2], "decades": [0.7, 2.5],
             "n_points": [50, 2000], "log_spacing": 0.3, "slit_length": None,
             "spread": [0.002, 0.03], "geometric": [0.01, 0.2], "gamma": [0.0, 1.0]},
    "usans": {"weight": 0.10, "q_min": [1e-5, 1e-4], "decades": [1.3, 3.0],
              "n_points": [10, 150], "log_spacing": 0.9, "slit_length": [0.01, 0.2],
              "gamma": [-1.0, 0.5]},
    "usaxs": {"weight": 0.10, "q_min": [8e-5, 1e-3], "decades": [1.5, 3.0],
              "n_points": [30, 500], "log_spacing": 0.9, "slit_length": [0.005, 0.05],
              "gamma": [-0.5, 1.0]},
}
#: The held-out archetypes of the shifted split (equal shares).
SHIFTED_ARCHETYPE = {
    "sans_merged": {"configurations": [2, 3], "q_min": [3e-4, 5e-3], "decades": [1.8, 3.2],
                    "points_per_configuration": [20, 150], "overlap": [0.05, 0.3],
                    "spread": [0.05, 0.25], "geometric": [0.02, 0.2], "gamma": [1.0, 2.0],
                    "flux_step": [0.1, 10.0]},
    "saxs_slit": {"q_min": [3e-3, 3e-2], "decades": [1.0, 2.0], "n_points": [100, 1000],
                  "log_spacing": 0.2, "slit_length": [0.02, 0.3], "gamma": [0.0, 1.0]},
}
#: Detector edge of the count profile: q_edge / q_max, and the steepness k.
EDGE = {"q_edge": [0.6, 2.0], "k": [2.0, 8.0]}


@dataclass(frozen=True)
class Instrument:
    """One simulated measurement's instrument."""

    archetype: str
    q: np.ndarray
    dq: np.ndarray | None        # pinhole sigma per point (None for slit data)
    slit_length: float            # 0 for pinhole data
    weight: np.ndarray            # relative counts per unit intensity, per point

    @property
    def kind(self) -> str:
        return "slit" if self.slit_length > 0 else "pinhole"

    def describe(self) -> dict:
        out = {"archetype": self.archetype, "q_min": float(self.q[0]),
               "q_max": float(self.q[-1]), "n_points": int(self.q.size),
               "resolution": self.kind}
        if self.slit_length > 0:
            out["slit_length"] = float(self.slit_length)
        else:
            ratio = self.dq / self.q
            out["dq_over_q"] = [float(ratio.min()), float(ratio.max())]
        return out


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _window(rng, spec) -> tuple[float, float]:
    q_min = _logu(rng, *spec["q_min"])
    q_max = min(q_min * 10 ** rng.uniform(*spec["decades"]), Q_CAP)
    return q_min, q_max


def _points(rng, q_min: float, q_max: float, n: int, log_probability: float) -> np.ndarray:
    if rng.random() < log_probability:
        return np.geomspace(q_min, q_max, n)
    return np.linspace(q_min, q_max, n)


def _pinhole_dq(rng, spec, q: np.ndarray, q_ref: float) -> np.ndarray:
    """Per-point sigma_Q from a wavelength spread and a geometric term (module doc)."""
    spread = rng.uniform(*spec["spread"]) / 2.355
    geometric = _logu(rng, *spec["geometric"]) * q_ref
    dq = np.sqrt((q * spread) ** 2 + geometric ** 2)
    return np.clip(dq / q, *DQ_OVER_Q) * q


def _profile(rng, spec, q: np.ndarray, q_max: float) -> np.ndarray:
    gamma = rng.uniform(*spec["gamma"])
    q_edge = q_max * rng.uniform(*EDGE["q_edge"])
    k = rng.uniform(*EDGE["k"])
    return (q / q_max) ** gamma / (1.0 + (q / q_edge) ** k)


def draw_archetype(rng: np.random.Generator) -> str:
    names = list(ARCHETYPES)
    weights = np.array([ARCHETYPES[n]["weight"] for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def draw_instrument(rng: np.random.Generator, shifted: bool = False) -> Instrument:
    """A training instrument (an archetype of :data:`ARCHETYPES`), or with ``shifted``
    one of the held-out archetypes of the shifted split (:data:`SHIFTED_ARCHETYPE`)."""
    if shifted:
        name = list(SHIFTED_ARCHETYPE)[int(rng.integers(len(SHIFTED_ARCHETYPE)))]
        if name == "sans_merged":
            return _merged(rng, SHIFTED_ARCHETYPE[name])
        spec = SHIFTED_ARCHETYPE[name]
    else:
        name = draw_archetype(rng)
        spec = ARCHETYPES[name]
    q_min, q_max = _window(rng, spec)
    n = int(round(_logu(rng, spec["n_points"][0], spec["n_points"][1] + 0.499)))
    q = _points(rng, q_min, q_max, n, spec["log_spacing"])
    weight = _profile(rng, spec, q, q_max)
    if spec["slit_length"] is not None:
        return Instrument(name, q, None, _logu(rng, *spec["slit_length"]), weight)
    return Instrument(name, q, _pinhole_dq(rng, spec, q, q_min), 0.0, weight)


def _merged(rng, spec) -> Instrument:
    """2-3 overlapping detector configurations merged into one curve."""
    q_min, q_max = _window(rng, spec)
    n_conf = int(rng.integers(spec["configurations"][0], spec["configurations"][1] + 1))
    edges = np.geomspace(q_min, q_max, n_conf + 1)
    parts_q, parts_dq, parts_w = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        overlap = rng.uniform(*spec["overlap"])
        lo_c = max(q_min, lo / (1 + overlap))
        hi_c = min(q_max, hi * (1 + overlap))
        n = int(rng.integers(spec["points_per_configuration"][0],
                             spec["points_per_configuration"][1] + 1))
        q = np.geomspace(lo_c, hi_c, n)
        parts_q.append(q)
        parts_dq.append(_pinhole_dq(rng, spec, q, lo_c))
        parts_w.append(_profile(rng, spec, q, hi_c) * _logu(rng, *spec["flux_step"]))
    q = np.concatenate(parts_q)
    order = np.argsort(q, kind="stable")
    q = q[order]
    keep = np.concatenate([[True], np.diff(q) > 0])  # identical q: keep the first
    return Instrument("sans_merged", q[keep], np.concatenate(parts_dq)[order][keep], 0.0,
                      np.concatenate(parts_w)[order][keep])
