"""The network's parameter estimates: which parameters it estimates and in what units.

Network v4 has a third head beside the ranking: for every model of its list it estimates
the parameters the fits vary (the roles the model files declare in ``FIT``: sizes,
lengths, aspect ratios, fractions, peak positions, exponents, counts; not the relative
contrasts, which scale with the SLDs the curve cannot tell), the polydispersity of the
main size, and for each structure factor its own parameters (volume fraction, charge,
stickiness, well; its effective radius comes from the form). A product's estimate is
its form's slots plus its structure factor's.

The input is shift-invariant (its grid starts at the window's first q), so the network
can only see lengths *relative to the window*: a length is estimated as
``log10(length * q_min)``, a q position as ``log10(q / q_min)``, and converted back with
the curve's own ``q_min``. Ratios and counts are estimated in ``log10``, bounded values
as their place between the bounds, fractions and polydispersities as they are.

One :class:`Slot` per estimated number; the list is made once from the model files at
training time and recorded in the weights' metadata (``"estimate_slots"``), so a runtime
decodes a network's estimates with the list it was trained with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from .models import get, products

#: Metadata key of the slot list.
METADATA_KEY = "estimate_slots"
#: Scales (see the module docstring).
LENGTH, AREA, WAVEVECTOR, LOG, LINEAR, BOUNDED = ("length", "area", "q", "log", "linear",
                                                  "bounded")
#: Scale of each fit role; ``value`` roles are LOG or BOUNDED by their own setting.
ROLE_SCALE = {"size": LENGTH, "long": LENGTH, "far": LENGTH, "area": AREA, "qpos": WAVEVECTOR,
              "qwidth": WAVEVECTOR, "ratio": LOG, "count": LOG, "frac": LINEAR}
#: Encoded values are clipped here: a length 10^6 times the window is not an estimate.
LIMIT = 8.0
PD_SUFFIX = "_pd"


@dataclass(frozen=True)
class Slot:
    """One estimated number: ``parameter`` of ``model`` on ``scale`` (``lo``/``hi`` for
    a BOUNDED value)."""

    model: str
    parameter: str
    scale: str
    lo: float = 0.0
    hi: float = 1.0

    def encode(self, value: float, q_min: float) -> float:
        """The network's target for ``value`` (NaN where it has none: a log of <= 0)."""
        if self.scale == LINEAR:
            return float(value)
        if self.scale == BOUNDED:
            return float(np.clip((value - self.lo) / (self.hi - self.lo), -0.5, 1.5))
        if not value > 0:
            return math.nan
        return float(np.clip(math.log10(value) + self._window(q_min), -LIMIT, LIMIT))

    def decode(self, t: float, q_min: float) -> float:
        """The parameter value for the network output ``t`` on a window from ``q_min``."""
        if self.scale == LINEAR:  # fractions and polydispersities: never negative
            return max(float(t), 0.0)
        if self.scale == BOUNDED:
            return float(self.lo + np.clip(t, 0.0, 1.0) * (self.hi - self.lo))
        return 10.0 ** (float(np.clip(t, -LIMIT, LIMIT)) - self._window(q_min))

    def _window(self, q_min: float) -> float:
        """What a log scale adds to log10(value) to put it in the window's units."""
        power = {LENGTH: 1, AREA: 2, WAVEVECTOR: -1}.get(self.scale, 0)
        return power * math.log10(q_min)

    def as_list(self) -> list:
        return [self.model, self.parameter, self.scale, self.lo, self.hi]


def _scale(model: str, parameter: str, role) -> tuple[str, float, float] | None:
    if role.is_contrast:
        return None
    if role.role == "value":
        if role.draws_log():
            return LOG, 0.0, 1.0
        return BOUNDED, float(role.lo), float(role.hi)
    scale = ROLE_SCALE.get(role.role)
    if scale is None:
        return None
    if scale == LENGTH and parameter in get(model).dimensionless:
        scale = LOG  # listed in Å, relative in the kernel: no window to scale by
    return scale, 0.0, 1.0


def main_size(model: str) -> str | None:
    """The parameter whose polydispersity is estimated: the first fitted size parameter
    training may make polydisperse (the verification's own choice of a ``_pd``)."""
    info = get(model)
    return next((name for name in info.fit.free if name in info.polydisperse), None)


def model_slots(model: str, skip: Iterable[str] = ()) -> list[Slot]:
    """The slots of one single model (form or structure factor), ``skip`` left out."""
    out = []
    for parameter, role in get(model).fit.free.items():
        scale = _scale(model, parameter, role)
        if scale is not None and parameter not in skip:
            out.append(Slot(model, parameter, *scale))
    size = main_size(model)
    if size is not None:
        out.append(Slot(model, size + PD_SUFFIX, LINEAR))
    return out


def make_slots(forms: Iterable[str]) -> tuple[Slot, ...]:
    """Every slot of a network ranking ``forms`` and the structure factors: the forms'
    in their order, then each structure factor's (without its effective radius)."""
    slots = [s for form in forms for s in model_slots(form)]
    for structure in products.STRUCTURES:
        slots += model_slots(structure, skip=("radius_effective",))
    return tuple(slots)


def slots_from_metadata(metadata: Mapping) -> tuple[Slot, ...]:
    """The slot list a network was trained with (empty for networks without estimates)."""
    return tuple(Slot(str(m), str(p), str(s), float(lo), float(hi))
                 for m, p, s, lo, hi in metadata.get(METADATA_KEY, ()))


class SlotIndex:
    """Which slots belong to which ranked entry (a product: its form's and structure's)."""

    def __init__(self, slots: tuple[Slot, ...]):
        self.slots = slots
        self._by_model: dict[str, list[int]] = {}
        for i, slot in enumerate(slots):
            self._by_model.setdefault(slot.model, []).append(i)

    def __len__(self) -> int:
        return len(self.slots)

    def indices(self, entry: str) -> list[int]:
        """Slot indices of a ranked entry (``model`` or ``form@structure``)."""
        form, structure = products.split(entry)
        found = list(self._by_model.get(form, ()))
        if structure:
            found += self._by_model.get(structure, ())
        return found

    def targets(self, label: str, params: Mapping[str, float], q_min: float) -> np.ndarray:
        """The training targets of one curve labelled ``label`` with drawn ``params``
        (NaN in every slot the curve does not inform)."""
        row = np.full(len(self.slots), np.nan, np.float32)
        for i in self.indices(label):
            slot = self.slots[i]
            if slot.parameter.endswith(PD_SUFFIX):
                value = float(params.get(slot.parameter, 0.0))
            elif slot.parameter in params:
                value = float(params[slot.parameter])
            else:
                continue
            row[i] = slot.encode(value, q_min)
        return row

    def estimate(self, entry: str, outputs: np.ndarray, q_min: float) -> dict[str, float]:
        """``{parameter: value}`` of a ranked entry from one curve's estimate outputs."""
        return {self.slots[i].parameter: self.slots[i].decode(float(outputs[i]), q_min)
                for i in self.indices(entry)}


def describe(entry: str, estimate: Mapping[str, float]) -> str:
    """``radius 52.1 Å, radius_pd 0.08``: an estimate as people read it (sasmodels units)."""
    from .models import model_info

    units = {p.name: p.units for p in model_info(entry).parameters.call_parameters}
    parts = []
    for name, value in estimate.items():
        unit = {"Ang": " Å", "1/Ang": " 1/Å", "Ang^2": " Å²", "": ""}.get(
            units.get(name, ""), f" {units.get(name)}")
        parts.append(f"{name} {value:.3g}{unit}")
    return ", ".join(parts)
