"""Hand a suggested model over to SasView's Fitting perspective, with start values.

Two halves:

* **Qt-free planning** (importable anywhere, no Qt, no SasView GUI):
  :func:`start_values` guesses start values from simple invariants of the curve,
  :func:`parameters_to_fit` picks which parameters to free, and :func:`plan_fit`
  combines them into a :class:`FitPlan`. They evaluate the model with sasmodels
  directly, so they run in a worker thread, never on the GUI thread.
* **The hand-off** (:func:`open_fit_page`, :func:`run_fit`): drives the real Fitting
  perspective the way a user would: data into a fit page, category and model chosen
  in their combo boxes, values typed into the parameter table, boxes ticked, *Fit*.

Start values
------------
All length parameters of a model (units Å, Å², Å³, 1/Å) are scaled together by one
factor ``s``, keeping the default aspect ratios of the model:

1. *Guinier radius*: when the lowest-q points of the data follow
   ``ln I = ln I0 - (q Rg)^2 / 3`` (up to ``q Rg = 1.3``) the data's ``Rg`` is compared
   with the model's own ``Rg`` at its default parameters (from the model curve at
   vanishing q); ``s = Rg_data / Rg_model`` centres the search.
2. *Shape match*: ``s`` is then refined on a logarithmic grid (±0.3 decade around the
   Guinier estimate, or ±1 decade around the defaults when the data show no Guinier
   region); for each ``s`` the model curve is matched to the data by a linear fit of
   ``scale`` and ``background`` (relative residuals) and the ``s`` with the smallest
   log-residual wins. ``scale`` and ``background`` come from that linear fit.
3. *Power-law exponent*: a model's ``power`` parameter starts at minus the mean
   log-log slope of the data.

Parameters to fit
-----------------
``scale``, ``background`` and the model's shape parameters, except SLDs (they only
set the contrast, which is degenerate with ``scale``), orientation angles (no effect
on 1D data), magnetic parameters, integer counts (``n_shells``, ``num_pearls``...)
and vector parameters. A parameter is also left fixed when, over the data's q range,
changing it does nothing that the parameters already chosen cannot do (e.g. a
``volfraction`` that only multiplies the curve, or a second amplitude when ``scale``
is free): the relative Jacobian columns are added one by one and kept only when they
bring a new direction.
"""
from __future__ import annotations

import functools
import logging
import math
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import SasnetsError

log = logging.getLogger(__name__)

#: Highest q*Rg accepted in a Guinier fit.
GUINIER_QRG_MAX = 1.3
#: Fewest points used in a Guinier fit.
GUINIER_MIN_POINTS = 5
#: Most points used to evaluate the model when planning (the data are thinned).
MAX_PLANNING_POINTS = 200
#: A parameter is freed when its Jacobian column has at least this much component
#: outside the span of the columns already chosen (sine of the angle).
INDEPENDENCE_TOLERANCE = 1e-3
#: Relative step of the finite differences that build the Jacobian.
JACOBIAN_STEP = 1e-4
#: Units whose parameters scale with the size factor s, and the power of s they take.
LENGTH_UNITS = {"Ang": 1, "Ang^2": 2, "Ang^3": 3, "1/Ang": -1}
_COUNT_NAME = re.compile(r"^(n_|num_|N[a-z])|^(arms|level|n)$")
_NOT_FITTED_TYPES = {"sld", "orientation", "magnetic"}


class FitHandOffError(SasnetsError):
    """The model could not be set up in SasView's Fitting perspective."""


class PlanningError(SasnetsError):
    """Start values could not be computed."""


@dataclass(frozen=True)
class FitPlan:
    """What to put into a fit page: model, start values, parameters to free."""

    model: str
    values: dict[str, float] = field(default_factory=dict)
    fit: tuple[str, ...] = ()


# --------------------------------------------------------------------------- models

_kernel_lock = threading.Lock()


@functools.lru_cache(maxsize=16)
def _model(model_name: str):
    from sasmodels.core import build_model

    return build_model(_info(model_name), dtype="double", platform="dll")


@functools.lru_cache(maxsize=None)
def _info(model_name: str):
    from sasmodels.core import load_model_info

    try:
        return load_model_info(model_name)
    except Exception as exc:  # sasmodels raises ImportError, ValueError... for unknown names
        raise SasnetsError(f"sasmodels has no model called {model_name!r} ({exc}).") from exc


def _evaluate(model_name: str, q: np.ndarray, values: dict[str, float]) -> np.ndarray:
    """I(q) of the model, without resolution, with ``values`` over the defaults."""
    from sasmodels.direct_model import call_kernel

    with _kernel_lock:  # one sasmodels call at a time: kernels are not re-entrant
        kernel = _model(model_name).make_kernel([np.asarray(q, dtype=float)])
        try:
            return np.asarray(call_kernel(kernel, dict(values)), dtype=float)
        finally:
            kernel.release()


def _limits(model_name: str) -> dict[str, tuple[float, float]]:
    out = {"scale": (0.0, math.inf), "background": (-math.inf, math.inf)}
    for p in _info(model_name).parameters.kernel_parameters:
        out[p.name] = (float(p.limits[0]), float(p.limits[1]))
    return out


def _defaults(model_name: str) -> dict[str, float]:
    out = {"scale": 1.0, "background": 0.0}
    for p in _info(model_name).parameters.kernel_parameters:
        if p.length == 1 and not p.length_control:
            out[p.name] = float(p.default)
    return out


def _length_power(p) -> int:
    if "ratio" in p.name:  # some ratio parameters carry units "Ang" by mistake
        return 0
    return LENGTH_UNITS.get((p.units or "").strip(), 0)


def _candidates(model_name: str) -> list[str]:
    """Parameters a fit may free, in order of preference."""
    volume, other = [], []
    for p in _info(model_name).parameters.kernel_parameters:
        if (p.type in _NOT_FITTED_TYPES or p.length > 1 or p.length_control or p.choices
                or _COUNT_NAME.search(p.name)):
            continue
        (volume if p.type == "volume" else other).append(p.name)
    return ["scale", "background", *volume, *other]


# --------------------------------------------------------------------------- invariants

def _usable(q, I) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    q = np.asarray(q, dtype=float)
    I = np.asarray(I, dtype=float)  # noqa: E741
    keep = np.isfinite(q) & np.isfinite(I) & (q > 0) & (I > 0)
    q, I = q[keep], I[keep]  # noqa: E741
    order = np.argsort(q, kind="stable")
    q, I = q[order], I[order]  # noqa: E741
    if q.size > MAX_PLANNING_POINTS:
        pick = np.unique(np.round(np.geomspace(1, q.size, MAX_PLANNING_POINTS)).astype(int) - 1)
        q, I = q[pick], I[pick]  # noqa: E741
    return q, I


def guinier_radius(q, I) -> float | None:  # noqa: E741
    """Radius of gyration from the lowest-q points, or None without a Guinier region.

    Uses the widest window starting at the first point whose straight-line fit of
    ``ln I`` against ``q^2`` has a negative slope and ends at ``q Rg <= 1.3``.
    """
    q, I = _usable(q, I)  # noqa: E741
    best = None
    for n in range(GUINIER_MIN_POINTS, q.size + 1):
        slope = np.polyfit(q[:n] ** 2, np.log(I[:n]), 1)[0]
        if slope >= 0:
            continue
        rg = math.sqrt(-3.0 * slope)
        if q[n - 1] * rg <= GUINIER_QRG_MAX:
            best = rg
        elif best is not None or q[0] * rg > GUINIER_QRG_MAX:
            break
    return best


def model_guinier_radius(model_name: str, values: dict[str, float] | None = None) -> float | None:
    """The model's own Rg, from its curve at vanishing q (None if it has no plateau)."""
    info = _info(model_name)
    values = values or {}
    lengths = [abs(values.get(p.name, p.default)) ** (1 / _length_power(p))
               for p in info.parameters.kernel_parameters
               if _length_power(p) > 0 and p.length == 1
               and abs(values.get(p.name, p.default)) > 0]
    if not lengths:
        return None
    q = np.array([0.02, 0.04, 0.08]) / max(lengths)
    pars = dict(values, background=0.0)
    try:
        I = _evaluate(model_name, q, pars)  # noqa: E741
    except Exception:  # a kernel that fails at tiny q has no usable Guinier radius
        log.debug("no Guinier radius for %s", model_name, exc_info=True)
        return None
    if not np.all(np.isfinite(I)) or np.any(I <= 0):
        return None
    ln = np.log(I)
    rg2 = 3.0 * (ln[0] - ln[1]) / (q[1] ** 2 - q[0] ** 2)
    rg2_check = 3.0 * (ln[1] - ln[2]) / (q[2] ** 2 - q[1] ** 2)
    if not (rg2 > 0 and abs(rg2_check - rg2) <= 0.1 * rg2):
        return None  # no Guinier plateau (e.g. lamellae, power laws)
    return math.sqrt(rg2)


def _scale_background(I, m) -> tuple[float, float, float]:  # noqa: E741
    """``(scale, background, cost)`` matching ``scale * m + background`` to ``I``."""
    if not np.all(np.isfinite(m)) or np.all(m <= 0):
        return 1.0, 0.0, math.inf
    design = np.column_stack([m / I, 1.0 / I])
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(I), rcond=None)
    if b < 0:
        x = m / I
        a, b = float(np.dot(x, np.ones_like(x)) / np.dot(x, x)), 0.0
    if not a > 0:
        return 1.0, 0.0, math.inf
    model = a * m + b
    if np.any(model <= 0):
        return a, b, math.inf
    return float(a), float(b), float(np.mean((np.log(I) - np.log(model)) ** 2))


def _scaled(model_name: str, base: dict[str, float], s: float) -> dict[str, float]:
    out = dict(base)
    for p in _info(model_name).parameters.kernel_parameters:
        power = _length_power(p)
        if power and p.name in out:
            out[p.name] = base[p.name] * s ** power
    return out


def _clip(model_name: str, values: dict[str, float]) -> dict[str, float]:
    limits = _limits(model_name)
    out = {}
    for name, value in values.items():
        lo, hi = limits.get(name, (-math.inf, math.inf))
        out[name] = float(min(max(value, lo), hi))
    return out


def start_values(model_name: str, q, I) -> dict[str, float]:  # noqa: E741
    """Start values for fitting ``model_name`` to the curve ``(q, I)``.

    Returns ``scale``, ``background`` and the model parameters it estimated (lengths
    scaled together from the defaults, a power-law exponent); parameters left out
    keep SasView's defaults. See the module docstring for the method.
    """
    q, I = _usable(q, I)  # noqa: E741
    if q.size < 3:
        raise PlanningError("Too few usable points to estimate start values.")
    info = _info(model_name)
    base = _defaults(model_name)
    base["background"] = 0.0
    pars = {p.name for p in info.parameters.kernel_parameters}

    if "power" in pars:  # power_law and relatives: exponent from the log-log slope
        slope = np.polyfit(np.log(q), np.log(I), 1)[0]
        base["power"] = float(-slope)

    has_lengths = any(_length_power(p) for p in info.parameters.kernel_parameters
                      if p.length == 1 and p.name in base)
    candidates = [1.0]
    if has_lengths:
        rg_data = guinier_radius(q, I)
        rg_model = model_guinier_radius(model_name, base) if rg_data else None
        if rg_data and rg_model:
            centre = rg_data / rg_model
            candidates = list(centre * np.logspace(-0.3, 0.3, 13))
        else:
            candidates = list(np.logspace(-1.0, 1.0, 41))

    best = None
    for s in candidates:
        values = _clip(model_name, _scaled(model_name, base, s))
        try:
            m = _evaluate(model_name, q, dict(values, scale=1.0, background=0.0))
        except Exception:  # some corners of parameter space make a kernel fail
            log.debug("%s failed at size factor %g", model_name, s, exc_info=True)
            continue
        a, b, cost = _scale_background(I, m)
        if best is None or cost < best[0]:
            best = (cost, s, values, a, b)
    if best is None or not math.isfinite(best[0]):
        return _clip(model_name, {"scale": 1.0, "background": float(np.min(I)) * 1e-3})
    _, s, values, a, b = best
    estimated = {p.name for p in info.parameters.kernel_parameters
                 if _length_power(p) and p.name in values}
    if "power" in pars:
        estimated.add("power")
    out = {name: values[name] for name in sorted(estimated)}
    out["scale"] = a * base.get("scale", 1.0)
    out["background"] = b
    log.debug("start values for %s (size factor %.3g): %s", model_name, s, out)
    return _clip(model_name, out)


def parameters_to_fit(model_name: str, q, values: dict[str, float]) -> list[str]:
    """The parameters to free when fitting ``model_name`` from ``values`` over ``q``."""
    q = _usable(q, np.ones_like(np.asarray(q, dtype=float)))[0]
    current = dict(_defaults(model_name), **values)
    limits = _limits(model_name)
    base = _evaluate(model_name, q, current)
    if not np.all(np.isfinite(base)) or np.any(base <= 0):
        return ["scale", "background"]
    chosen: list[str] = []
    basis: list[np.ndarray] = []
    for name in _candidates(model_name):
        value = current.get(name, 0.0)
        if name == "scale":
            column = (base - current.get("background", 0.0)) / base
        elif name == "background":
            column = 1.0 / base
        else:
            lo, hi = limits.get(name, (-math.inf, math.inf))
            step = JACOBIAN_STEP * (value if value else 1.0)
            if not lo <= value + step <= hi:
                step = -step
            try:
                moved = _evaluate(model_name, q, dict(current, **{name: value + step}))
            except Exception:
                continue
            column = (moved - base) / base
        norm = float(np.linalg.norm(column))
        if not np.isfinite(norm) or norm < 1e-9:
            continue  # no effect over the data's q range
        residual = column / norm
        for b in basis:
            residual = residual - np.dot(b, residual) * b
        size = float(np.linalg.norm(residual))
        if size > INDEPENDENCE_TOLERANCE:
            chosen.append(name)
            basis.append(residual / size)
    return chosen


def plan_fit(model_name: str, q, I) -> FitPlan:  # noqa: E741
    """Start values and free parameters for fitting ``model_name`` to ``(q, I)``."""
    values = start_values(model_name, q, I)
    return FitPlan(model_name, values, tuple(parameters_to_fit(model_name, q, values)))


# --------------------------------------------------------------------------- categories

def sasview_categories() -> dict[str, str]:
    """Model name -> SasView category, as SasView's Fitting page lists them."""
    import json
    import os

    from sas.qtgui.Utilities.CategoryInstaller import CategoryInstaller

    out: dict[str, str] = {}
    try:
        path = CategoryInstaller.get_user_file()
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                for category, models in json.load(handle).items():
                    for name, _enabled in models:
                        out.setdefault(name, category)
    except Exception:  # a damaged user file: fall back on sasmodels' own categories
        log.warning("Could not read SasView's model categories", exc_info=True)
    return out


def fallback_category(model_name: str) -> str:
    """sasmodels' category (``shape:cylinder`` -> ``Cylinder``) when SasView has none."""
    try:
        category = _info(model_name).category or ""
    except SasnetsError:
        return ""
    tail = category.split(":")[-1]
    return tail.replace("-", " ").title()


# --------------------------------------------------------------------------- hand-off

FITTING = "Fitting"


def show_fitting(gui_manager) -> object:
    """Switch SasView to its Fitting perspective (as the Data Explorer's combo does)."""
    explorer = gui_manager.filesWidget
    index = explorer.cbFitting.findText(FITTING)
    if index < 0:
        raise FitHandOffError("SasView's Fitting perspective is not available.")
    if explorer.cbFitting.currentIndex() != index:
        explorer.cbFitting.setCurrentIndex(index)  # emits perspectiveChangedSignal
    if gui_manager.perspective() is not gui_manager.loadedPerspectives.get(FITTING):
        gui_manager.perspectiveChanged(FITTING)
    return gui_manager.loadedPerspectives[FITTING]


def _choose(combo, text: str) -> bool:
    index = combo.findText(text)
    if index < 0:
        return False
    if combo.currentIndex() != index:
        combo.setCurrentIndex(index)
    return True


def open_fit_page(gui_manager, item, plan: FitPlan):
    """Put ``item``'s data into a fit page with ``plan``'s model and start values.

    Returns the page (a SasView ``FittingWidget``), made the current tab, with the
    planned parameters ticked. Raises :class:`FitHandOffError` with a user message.
    """
    fitting = show_fitting(gui_manager)
    free_tabs = [tab for tab in fitting.tabs if tab.acceptsData()]
    before = list(fitting.tabs)
    fitting.setData(data_item=[item], is_batch=False)
    page = free_tabs[0] if free_tabs else next((t for t in fitting.tabs if t not in before), None)
    if page is None or not hasattr(page, "cbModel"):
        raise FitHandOffError("SasView did not open a fit page for the data.")
    fitting.setCurrentWidget(page)

    categories = [c for c in page.by_model_dict.get(plan.model, [])]
    if not categories:
        raise FitHandOffError(
            f"SasView's model list has no '{plan.model}' (check Fitting > Category Manager).")
    from sas.qtgui.Perspectives.Fitting.FittingWidget import CATEGORY_STRUCTURE

    category = categories[0]
    if not _choose(page.cbCategory, category):
        raise FitHandOffError(f"SasView has no model category '{category}'.")
    if category == CATEGORY_STRUCTURE:
        chosen = _choose(page.cbStructureFactor, plan.model)
    else:
        chosen = _choose(page.cbModel, plan.model)
    if not chosen:
        raise FitHandOffError(
            f"'{plan.model}' is disabled in SasView's Category Manager; enable it to fit it.")

    for name, value in plan.values.items():
        row = page.getRowFromName(name)
        if row is None:
            continue
        cell = page._model_model.item(row, 1)
        if cell is not None:
            cell.setText(f"{value:.6g}")
    ticked = []
    for name in plan.fit:
        row = page.getRowFromName(name)
        if row is not None and page.isCheckable(row):
            page.changeCheckboxStatus(row, True)
            ticked.append(name)
    if not ticked:
        raise FitHandOffError(f"No parameter of '{plan.model}' could be ticked for fitting.")
    return page


def run_fit(page) -> None:
    """Press the page's *Fit* button; raises :class:`FitHandOffError` if it is disabled."""
    if page.fit_started:
        raise FitHandOffError("A fit is already running on this page.")
    if not page.cmdFit.isEnabled():
        raise FitHandOffError("SasView's Fit button is disabled for this page.")
    page.cmdFit.click()


def fit_result_chi2(result) -> float | None:
    """χ² from a ``fittingFinishedSignal`` payload, or None when the fit failed."""
    try:
        fits = result[0]
        if not isinstance(fits, list) or not fits or not fits[0]:
            return None
        chi2 = float(fits[0][0].fitness)
    except (TypeError, IndexError, AttributeError, ValueError):
        return None
    return chi2 if math.isfinite(chi2) else None
