"""Which parameters of each sasmodels model are fitted, within which bounds, from where.

What the verification varies for each model is part of that model's file,
``sasnets_plugin/models/<name>.py`` (its ``FIT``, a :class:`~sasnets_plugin.models.spec.FitSpec`);
this module turns it into bounds for one q window. For every model the verification varies:

* the **linear amplitudes** — ``scale`` (or, for models that carry their own
  amplitudes such as ``broad_peak``'s ``porod_scale``/``peak_scale``, those, with
  ``scale`` held at 1) and ``background``. Being linear, they are never guessed: for
  any trial shape they are solved exactly by non-negative least squares (amplitudes
  and background are kept >= 0; only ``line``'s intercept and slope are signed);
* the **shape parameters** that change the curve's form: sizes (radius, length,
  thickness, Rg, correlation length...), aspect ratios, power-law exponents, peak
  positions and widths, structure-factor volume fractions.

Polydispersity: models with a polydisperse size parameter (a sasmodels *volume*
parameter in Å) get, on the first such fitted parameter (the *main size*, see
:attr:`Setup.pd`), a gaussian relative width ``<size>_pd`` in :data:`PD_BOUNDS`
integrated on :data:`PD_N` points (3 sigma). It is freed in a last refinement stage
only (it makes every evaluation :data:`PD_N` times dearer) but always counted in
``n_free``, so AIC/BIC stay honest.

Contrasts: with one contrast (particle against solvent) the SLDs only rescale I(q) and
are degenerate with ``scale``, so they are held at the defaults. Models with several
components (core-shell particles, head-group lamellae, micelle coronas, binary
mixtures: ``FIT.contrasts``) change *shape* with the ratio of their contrasts, so the
fit works in relative contrast: solvent SLD 0, a reference component 1, and the other
components' SLDs fitted in ``CONTRAST_BOUNDS`` (:mod:`sasnets_plugin.models.spec`;
``scale`` carries the absolute contrast).

Integer counts that shape the curve (number of layers, pearls, shells, stacked disks:
role ``count``) cannot be moved by a least-squares fit: the starts try a few values,
each refinement holds its count, and an integer search follows each refinement (see
:mod:`.fitting`). They count in ``n_free``.

Held at the model defaults: volume fractions that only multiply I(q), orientation
angles (1D data are orientationally averaged), other polydispersities (0), physical
constants (temperature, Bjerrum length, dielectric constant...), and a few secondary
parameters of the slowest models (documented in their files).

Bounds come from the *role* of a parameter relative to the data's q window
(``q_min``..``q_max``), intersected with the model's own limits; they reach every value
the model's training prior draws for that window (``tests/test_models.py``):

=========  =====================================  ===================================
role       meaning                                bounds
=========  =====================================  ===================================
size       a length the window can resolve        ``0.01/q_max`` .. ``10/q_min``
long       a length that may exceed the window    ``0.01/q_max`` .. ``100/q_min``
           (rod length, cluster size, cutoff)
far        a length the window sees as a cutoff   ``0.01/q_max`` .. ``1e5/q_min``
           only (contour length, fractal cutoff)
area       a squared length (star ``rg_squared``) square of the *size* bounds
ratio      aspect ratio                           0.03 .. 40
qpos       a peak / crossover position (1/Å)      ``q_min/3`` .. ``1.5 q_max``
qwidth     a peak width (1/Å)                     ``q_min/100`` .. ``q_max``
frac       structure-factor volume fraction       0.001 .. 0.6
contrast   SLD relative to the reference          ``CONTRAST_BOUNDS``
count      integer count                          its ``choices`` (min .. max)
value      anything else                          explicit in the model file
=========  =====================================  ===================================

Start values: each model has a *guess* rule mapping the curve
:class:`~.invariants.Invariants` (Guinier radius, dip and peak positions, slopes...)
onto its parameters, usually giving a few alternative starts (e.g. rod radius from the
cross-section dip combined with several lengths). Models without a file get a
generic rule (lengths in Å become *size*/*long* parameters, 1/Å ones *qpos*, names
with ``exp``/``power``/``dim`` exponents in 0..6; the rest is held fixed).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..models import get, model_info
from ..models.spec import FitSpec, Free, value

#: Bounds of the fitted relative polydispersity width of the main size parameter.
PD_BOUNDS = (0.0, 0.35)
#: Gaussian integration points of that polydispersity (3 sigma either side).
PD_N = 11
#: Start values tried for every relative contrast (shell weaker, stronger, opposite).
CONTRAST_STARTS = (0.5, 2.0, -1.0)


def spec_for(name: str) -> FitSpec:
    """How model ``name`` is fitted (its file in ``sasnets_plugin/models``, or the
    generic rule)."""
    return get(name).fit


def count_names(name: str) -> frozenset[str]:
    """The integer counts among the varied parameters of ``name`` (held, not fitted, by
    a least-squares fitter such as SasView's)."""
    return frozenset(p for p, f in spec_for(name).free.items() if f.is_count)


def within_sld_limits(name: str, values: dict[str, float]) -> dict[str, float]:
    """``values`` with the relative SLDs of a multi-component model shifted together
    (the curve depends on SLD differences only) so that none is below the model's SLD
    limit: SasView's fit page bounds each SLD by it (polymer_micelle: >= 0), so a
    corona opposite to its core (relative SLD < 0) would start outside its range."""
    contrasts = spec_for(name).contrasts
    if contrasts is None:
        return dict(values)
    slds = [k for k in contrasts.names if k in values]
    limits = {p.name: p.limits for p in model_info(name).parameters.call_parameters}
    shift = max(float(limits[k][0]) - values[k] for k in slds)
    return {k: v + shift if k in slds and shift > 0 else v for k, v in values.items()}


@dataclass(frozen=True)
class Setup:
    """A model's fit setup for one q window: shape parameters with bounds, amplitudes,
    fixed values (non-default ones only) and the model defaults."""

    name: str
    spec: FitSpec
    shape: dict[str, tuple[float, float]]
    amplitudes: tuple[str, ...]
    fixed: dict[str, float]
    defaults: dict[str, float]
    pd: str | None = None  # ``<main size>_pd`` when the model gets a polydispersity

    @property
    def n_free(self) -> int:
        """Varied parameters, the polydispersity included (also while it is held at 0)."""
        extra = int(self.pd is not None and self.pd not in self.shape)
        return len(self.shape) + len(self.amplitudes) + int(self.spec.background) + extra

    @property
    def counts(self) -> list[str]:
        """The integer counts among the shape parameters (held during each LM run)."""
        return [name for name in self.shape if self.spec.free[name].is_count]

    @property
    def main_size(self) -> str | None:
        """The length that sets the curve's main features: the polydisperse size, else
        the first fitted *size* (None without one). The fits scan it densely."""
        if self.pd is not None:
            return self.pd[:-len("_pd")]
        return next((name for name in self.shape if self.spec.free[name].role == "size"), None)

    def free_names(self) -> list[str]:
        bg = ["background"] if self.spec.background else []
        pd = [self.pd] if self.pd is not None and self.pd not in self.shape else []
        return list(self.shape) + pd + list(self.amplitudes) + bg

    def with_pd(self) -> "Setup":
        """This setup with the polydispersity width among the shape parameters."""
        if self.pd is None or self.pd in self.shape:
            return self
        spec = replace(self.spec, free={**self.spec.free, self.pd: value(*PD_BOUNDS)})
        return replace(self, spec=spec, shape={**self.shape, self.pd: PD_BOUNDS})


#: Role bounds in units of the window (see the module docstring): the smallest length
#: ``SMALLEST / q_max`` (layers and faces far thinner than the window resolves still
#: shape a curve's amplitude), the largest *size*, *long* and *far* length ``... / q_min``.
SMALLEST, LARGEST_SIZE, LARGEST_LONG, LARGEST_FAR = 0.01, 10.0, 100.0, 1e5
#: Aspect ratios the fits may reach (the priors draw edges up to 30 x).
RATIO_BOUNDS = (0.03, 40.0)


def _role_bounds(role: Free, q_min: float, q_max: float) -> tuple[float, float]:
    small = SMALLEST / q_max
    if role.role == "size":
        lo, hi = small, LARGEST_SIZE / q_min
    elif role.role == "long":
        lo, hi = small, LARGEST_LONG / q_min
    elif role.role == "far":
        lo, hi = small, LARGEST_FAR / q_min
    elif role.role == "area":
        lo, hi = small**2, (LARGEST_SIZE / q_min) ** 2
    elif role.role == "ratio":
        lo, hi = RATIO_BOUNDS
    elif role.role == "qpos":
        lo, hi = q_min / 3.0, 1.5 * q_max
    elif role.role == "qwidth":
        lo, hi = q_min / 100.0, q_max
    elif role.role == "frac":
        lo, hi = 0.001, 0.6
    else:
        lo, hi = role.lo, role.hi
    if role.lo is not None:
        lo = role.lo
    if role.hi is not None:
        hi = role.hi
    return float(lo), float(hi)


def setup_for(name: str, q_min: float, q_max: float) -> Setup:
    """Bounds of the fitted parameters of ``name`` for data covering ``q_min..q_max``."""
    info = model_info(name)
    spec = spec_for(name)
    table = {p.name: p for p in info.parameters.call_parameters}
    defaults = {p.name: float(p.default) for p in info.parameters.call_parameters
                if p.type not in ("orientation", "magnetic") and not isinstance(p.default, str)}
    shape = {}
    for pname, role in spec.free.items():
        if pname not in table:
            raise ValueError(f"model '{name}' has no parameter '{pname}'")
        lo, hi = _role_bounds(role, q_min, q_max)
        if not role.is_contrast:  # a relative contrast is not an SLD: no SLD limits
            mlo, mhi = table[pname].limits
            lo, hi = max(lo, float(mlo)), min(hi, float(mhi))
        if role.draws_log() and lo <= 0:
            lo = min(hi * 1e-6, 1e-6) if hi > 0 else lo
        if not lo < hi:
            continue  # the window cannot constrain it: keep the default
        shape[pname] = (lo, hi)
    fixed = dict(spec.fixed)
    pd = _pd_parameter(info, shape)
    if pd is not None:
        fixed.update({f"{pd}_n": PD_N, f"{pd}_nsigma": 3.0})
    return Setup(name, spec, shape, tuple(spec.amplitudes), fixed, defaults, pd)


def _pd_parameter(info, shape: dict) -> str | None:
    """``<name>_pd`` of the first fitted size parameter sasmodels can make polydisperse."""
    sizes = {p.name for p in info.parameters.kernel_parameters
             if p.polydisperse and p.type == "volume" and p.units == "Ang" and p.length == 1}
    return next((f"{name}_pd" for name in shape if name in sizes), None)
