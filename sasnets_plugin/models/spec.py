"""The shape of what the project knows about one model (see :mod:`sasnets_plugin.models`).

Three kinds of knowledge, each a small frozen object:

* :class:`FitSpec`: which parameters the fit verification varies, by *role* (a length
  the window resolves, an aspect ratio, a peak position, an integer count, a relative
  contrast...), how it guesses starts from the curve invariants, and which multi-component
  contrasts it fits relative to the solvent (roles and bounds are explained in
  :mod:`sasnets_plugin.verification.parameters`);
* :class:`Simulation`: what generating training curves costs (kernel time per q point)
  and, for expensive kernels, the size-family settings of :mod:`training.simulate`;
* :class:`Model`: the above with the model's training prior, the size parameters that
  may receive polydispersity, the parameters whose kernel units differ from sasmodels'
  table (relative, although listed in Å), and its documentation.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..verification.invariants import Invariants
    from .draw import Draw

#: Roles whose starts are drawn log-uniformly.
LOG_ROLES = frozenset({"size", "long", "far", "area", "ratio", "qpos", "qwidth"})
#: Bounds of a fitted relative contrast (component SLD when solvent = 0, reference = 1).
CONTRAST_BOUNDS = (-10.0, 10.0)


@dataclass(frozen=True)
class Free:
    """A fitted shape parameter: its role and, for ``value``/``exp`` roles, bounds."""

    role: str
    lo: float | None = None
    hi: float | None = None
    log: bool | None = None  # draw log-uniformly (default: by role)
    choices: tuple[float, ...] = ()  # the values tried for a ``count``

    def draws_log(self) -> bool:
        return self.role in LOG_ROLES if self.log is None else self.log

    @property
    def is_count(self) -> bool:
        return self.role == "count"

    @property
    def is_contrast(self) -> bool:
        return self.role == "contrast"


def size(lo=None, hi=None) -> Free:
    """A length the q window resolves."""
    return Free("size", lo, hi)


def long(lo=None, hi=None) -> Free:
    """A length that may exceed the window (rod length, cluster size, cutoff)."""
    return Free("long", lo, hi)


def far(lo=None, hi=None) -> Free:
    """A length the window sees only as a cutoff (contour length, fractal cutoff)."""
    return Free("far", lo, hi)


def exp(lo=0.0, hi=6.0) -> Free:
    """A power-law exponent."""
    return Free("value", lo, hi, log=False)


def value(lo, hi, log=False) -> Free:
    """Anything else, with explicit bounds."""
    return Free("value", lo, hi, log=log)


def count(*choices: int, lo: int | None = None, hi: int | None = None) -> Free:
    """An integer count (layers, pearls, shells) in ``lo..hi`` (default: the range of
    ``choices``): tried at ``choices``, refined by an integer search over the range."""
    lo = min(choices) if lo is None else lo
    hi = max(choices) if hi is None else hi
    return Free("count", float(lo), float(hi), log=False, choices=tuple(map(float, choices)))


SIZE = size()
LONG = long()
FAR = far()
RATIO = Free("ratio")
AREA = Free("area")
QPOS = Free("qpos")
QWIDTH = Free("qwidth")
FRAC = Free("frac")
CONTRAST = Free("contrast", *CONTRAST_BOUNDS, log=False)
LAYERS = count(3, 5, 8, 13, 20, 32, 50, 80, lo=2, hi=100)
PEARLS = count(2, 3, 5, 8, 13, 20)

Guess = Callable[["Invariants"], list[dict]]


@dataclass(frozen=True)
class Contrasts:
    """A multi-component model fitted in relative contrast: ``solvent`` SLD 0,
    ``reference`` 1, ``fitted`` SLDs free (``scale`` carries the absolute contrast)."""

    solvent: str
    reference: str
    fitted: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.solvent, self.reference, *self.fitted)


@dataclass(frozen=True)
class FitSpec:
    """How the verification fits one model (the roles are explained in
    :mod:`sasnets_plugin.verification.parameters`)."""

    free: dict[str, Free]
    amplitudes: tuple[str, ...] = ("scale",)
    fixed: dict[str, float] = field(default_factory=dict)
    background: bool = True
    signed: bool = False  # amplitudes may be negative (``line``)
    order: tuple[tuple[str, str], ...] = ()  # (a, b): keep a <= b in drawn starts
    guess: Guess | None = None
    notes: str = ""
    contrasts: Contrasts | None = None

    def in_relative_contrast(self) -> "FitSpec":
        """This spec with its :attr:`contrasts` among the free and fixed parameters."""
        c = self.contrasts
        if c is None:
            return self
        note = (f"SLDs relative: {c.solvent} = 0, {c.reference} = 1, {', '.join(c.fitted)} "
                "fitted (scale carries the absolute contrast)")
        return replace(self, free={**self.free, **{name: CONTRAST for name in c.fitted}},
                       fixed={**self.fixed, c.solvent: 0.0, c.reference: 1.0},
                       notes="; ".join(n for n in (self.notes, note) if n))


@dataclass(frozen=True)
class Family:
    """Size-family settings of an expensive model (see :mod:`training.simulate`).

    *size* curves share one shape (one kernel evaluation); *up* are the length parameters
    that scale with the size factor s, *down* those that scale with 1/s; *budget_us* is
    the kernel budget of the whole family (its one reference evaluation: generator v4;
    v3 had it per curve), *min_eval* the minimum number of evaluated reference points,
    *pd_n* the polydispersity points, *max_pd_params* how many size parameters may be
    polydisperse and *pd_probability* how often (None: the training default).
    """

    size: int
    up: tuple[str, ...]
    down: tuple[str, ...] = ()
    budget_us: float = 128000.0
    min_eval: int = 150
    pd_n: int = 7
    max_pd_params: int = 1
    pd_probability: float | None = None


# Generator v4 (measured on the v3 dataset's worker time per class): a reference grid
# needs about as many points however many curves share it, so a family's budget is per
# shape and the families are larger than v3's (16 / 16 / 8 curves at the same budget per
# curve), which divides the kernel time per curve by 4 (slow, medium) and 4 (lattices).
#: Slow kernels (pringle, superball): 64 curves per shape.
SLOW = dict(size=64, budget_us=1.2e6, min_eval=250, pd_n=5)
#: Paracrystals: sharp Bragg peaks need a dense reference grid (~0.6 % steps); no size
#: polydispersity (it would only damp the sphere form factor while costing 5x the
#: points; the lattice distortion d_factor already broadens). 64 curves per shape.
LATTICE = dict(SLOW, budget_us=1.6e6, pd_probability=0.0)
#: Medium kernels (prisms, parallelepipeds, elliptical and core-shell shapes, cylinders):
#: 32 curves per shape.
MEDIUM = dict(size=32, budget_us=96000.0, min_eval=120, pd_n=5)


@dataclass(frozen=True)
class Simulation:
    """What simulating this model costs: mean kernel time per q point (microseconds,
    parameters from the prior, no polydispersity; ``python -m training.simulate`` measures
    it) and, for expensive kernels, its size family."""

    cost_us: float = 1.0
    family: Family | None = None


@dataclass(frozen=True)
class Nested:
    """An exact limit where this model *is* a simpler one: ``limit(p)`` moves parameters
    ``p`` onto it, and the simpler model with parameters ``same(p)`` then gives the same
    curve up to a constant factor (checked against the kernels by the conformance test).
    Training curves drawn at such a limit carry the simpler model's label: it is the
    right suggestion for them (and the only one the data can support)."""

    simpler: str
    limit: Callable[[dict], dict]
    same: Callable[[dict], dict]


@dataclass(frozen=True)
class Model:
    """Everything the project knows about one sasmodels model."""

    name: str
    prior: Callable[["Draw"], dict]  # non-polydispersity parameters for a q window
    fit: FitSpec
    simulation: Simulation
    polydisperse: tuple[str, ...]  # size parameters training may make polydisperse
    #: parameters sasmodels' table gives in Å that the kernel treats as relative
    dimensionless: tuple[str, ...] = ()
    nested: tuple[Nested, ...] = ()  # exact limits where it is a simpler model
    doc: str = ""
