"""Hand a suggested model over to SasView's Fitting perspective, with start values.

Two halves:

* **Planning** (Qt-free, run off the GUI thread): which model parameters to tick and
  which values to start from. Both come from the fit-verification engine
  (:mod:`sasnets_plugin.verification`), so the GUI, the CLI and the API share one
  parameter table and one start-value method:

  - *ticked parameters*: the parameters the verification varies for that model over
    the data's q range (its per-model table in :mod:`..verification.parameters`:
    sizes, ratios, exponents..., relative contrasts of multi-component models, the
    linear amplitudes and ``background``; other SLDs, orientations and degenerate
    volume fractions stay fixed; integer counts get the verified value, unticked);
  - *start values*: a verified candidate's fitted values
    (:meth:`~sasnets_plugin.verification.CandidateFit.start_values`) when the model
    was verified (:func:`plan_from_fit`), else those of a short verification fit on the
    same prepared data, resolution (slit included) and all, started from the network's
    estimate when it gives one (:func:`plan_fit`);
  - *products* ``form@structure`` (:func:`plan_fit`): the form's plan, plus the
    structure factor's own defaults (its parameters the network estimated: the
    estimates) with what the verification fits of it ticked (its
    volume fraction and interaction parameters, from ``sasnets_plugin.models``); its
    effective radius follows the form (SasView's default effective-radius mode).

* **The hand-off** (:func:`open_fit_page`, :func:`run_fit`): drives the real Fitting
  perspective the way a user would: data into a fit page (or the data set's earlier
  page again), category, model and structure factor chosen in their combo boxes,
  values typed into the parameter table, exactly the planned boxes ticked, *Fit*.
  Every typed continuous value lies strictly inside the min/max SasView shows for
  that parameter (:func:`start_text`): bumps coerces a start value on a limit and
  SasView's fit then fails. Choice and integer parameters (``structure_factor_mode``,
  counts: :func:`whole_number_parameters`) are typed as exact whole numbers, a limit
  included, and never ticked. :func:`fit_outcome` reads SasView's own result when the
  page signals the end of the fit.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import SasnetsError
from ..models import get, model_info, products
from ..models.products import display_name

log = logging.getLogger(__name__)

#: :attr:`FitPlan.source` of a plan started from a verified fit.
FROM_VERIFIED_FIT = "verified fit"
#: :attr:`FitPlan.source` of a plan started from quick start values.
FROM_START_VALUES = "start values"
#: Work budget of the quick plan's fit (estimated kernel microseconds, see
#: ``verification.fitting``): a fifth of a verification fit, about a second of
#: model evaluations.
PLAN_WORK = 3e5


class FitHandOffError(SasnetsError):
    """The model could not be set up in SasView's Fitting perspective."""


class PlanningError(SasnetsError):
    """Start values could not be computed."""


@dataclass(frozen=True)
class FitPlan:
    """What to put into a fit page: model, start values, parameters to tick."""

    model: str
    values: dict[str, float] = field(default_factory=dict)
    fit: tuple[str, ...] = ()
    source: str = FROM_START_VALUES


# --------------------------------------------------------------------------- planning

_PD_SUFFIXES = ("_pd", "_pd_n", "_pd_nsigma", "_pd_type")


def _main_table(names) -> list[str]:
    """``names`` without polydispersity settings: a plan fills SasView's main parameter
    table only, so SasView's fit starts monodisperse (its Polydispersity tab is left to
    the user)."""
    return [name for name in names if not name.endswith(_PD_SUFFIXES)]


def _ticked(model_name: str, names) -> tuple[str, ...]:
    """The main-table ``names`` SasView should vary: integer counts (number of layers,
    pearls...) get their verified value but stay unticked (a least-squares fit cannot
    move an integer)."""
    from ..verification.parameters import count_names

    counts = count_names(products.split(model_name)[0])
    return tuple(name for name in _main_table(names) if name not in counts)


def free_parameters(model_name: str, q_min: float, q_max: float) -> tuple[str, ...]:
    """The main-table parameters the verification engine varies for ``model_name`` on
    data covering ``q_min..q_max`` (shape parameters, amplitudes, ``background``), its
    integer counts excepted."""
    from ..verification import setup_for

    try:
        return _ticked(model_name, setup_for(model_name, float(q_min), float(q_max)).free_names())
    except ValueError as exc:  # unknown model, or a table entry sasmodels disagrees with
        raise PlanningError(f"No fit set-up for '{model_name}': {exc}.") from exc


def plan_from_fit(candidate) -> FitPlan:
    """Start from a verified candidate's fit: its fitted and fixed values, its varied
    parameters ticked (a :class:`~sasnets_plugin.verification.CandidateFit` with
    ``ok``)."""
    if not candidate.ok:
        raise PlanningError(f"The verification fit of {candidate.model} failed "
                            f"({candidate.status}); it gives no start values.")
    values = candidate.start_values()
    return FitPlan(candidate.model, {k: values[k] for k in _main_table(values)},
                   _ticked(candidate.model, candidate.parameters), FROM_VERIFIED_FIT)


def plan_fit(model_name: str, data, estimate: Mapping[str, float] | None = None) -> FitPlan:
    """Quick plan for ``model_name`` on ``data`` (the prepared curve,
    ``suggestion.Prepared.data``: cleaned once, with its pinhole dQ or slit) without a
    full verification: a short verification fit (:data:`PLAN_WORK`, one LM run, the
    network's ``estimate`` screened first) on those data, its free parameters ticked; for
    a product ``form@structure``, the form's plan and the structure factor's defaults,
    replaced by the estimate where it has one.

    Takes about a second: call it off the GUI thread. Raises :class:`PlanningError` with
    a user message.
    """
    from ..verification import fit_model

    form, structure = products.split(model_name)
    if structure is not None:
        return _plan_product(plan_fit(form, data, estimate), structure, estimate or {})
    fit = free_parameters(model_name, data.q[0], data.q[-1])
    result = fit_model(model_name, data, n_starts=1, work=PLAN_WORK, estimate=estimate)
    if not result.ok:
        raise PlanningError(f"No start values for '{model_name}': {result.status}.")
    values = result.start_values()
    return FitPlan(model_name, {k: values[k] for k in _main_table(values)}, fit,
                   FROM_START_VALUES)


def _plan_product(form_plan: FitPlan, structure: str,
                  estimate: Mapping[str, float]) -> FitPlan:
    """``form_plan`` times the structure factor ``structure``: its defaults (the
    ``estimate`` where it has one), and ticked what the verification fits of it
    (``sasnets_plugin.models``: the volume fraction and the interaction parameters; the
    effective radius follows the form)."""
    name = f"{form_plan.model}{products.SEPARATOR}{structure}"
    try:
        fitted = get(name).fit.free
    except ValueError as exc:  # not a structure factor, or a form SasView can't multiply
        raise PlanningError(f"Cannot fit {display_name(name)}: {exc}.") from exc
    info = model_info(structure)
    defaults = {p.name: float(estimate.get(p.name, p.default))
                for p in info.parameters.kernel_parameters
                if p.name != "radius_effective" and not isinstance(p.default, str)}
    return FitPlan(name, {**defaults, **form_plan.values},
                   form_plan.fit + tuple(n for n in fitted if n in defaults),
                   form_plan.source)


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
        category = model_info(model_name).category or ""
    except Exception:  # unknown to sasmodels: no category
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


#: How far a start value on (or beyond) a limit is moved inside: this fraction of a
#: finite range, or of the model's default value when the range is open.
INSIDE = 1e-3


def start_text(value: float, lo: float, hi: float, default: float = 1.0) -> str:
    """``value`` as typed into SasView's table, strictly between its ``lo`` and ``hi``.

    bumps coerces a start value that is not strictly inside its range ("The initial
    value ... was outside the fitting range and was coerced") and SasView's fit then
    fails, so a value on or beyond a limit is moved inside by :data:`INSIDE` of the
    range (or of ``default`` for an open range). The check is made on the text, so
    that rounding cannot put the value back on the limit.
    """
    lo = -math.inf if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    text = f"{value:.6g}"
    typed = float(text)  # a value just inside a limit may round onto it
    if lo < typed < hi or not lo < hi:
        return text
    if math.isfinite(lo) and math.isfinite(hi):
        step = INSIDE * (hi - lo)
    else:
        step = INSIDE * (abs(default) or 1.0)
    low_side = typed <= lo
    inside = lo + step if low_side else hi - step
    if not lo < inside < hi:  # an open range much wider than the default: use the bound
        inside = lo + INSIDE * abs(lo) if low_side else hi - INSIDE * abs(hi)
    return f"{inside:.9g}"


def whole_number_parameters(model_name: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(choices, counts)`` of ``model_name`` (a product too): the parameters SasView
    must receive as exact whole numbers, never moved off a limit like a continuous one.

    *choices* are those sasmodels declares with a list of choices
    (``structure_factor_mode``: 0 is P(q)·S(q), any other value the β approximation;
    ``radius_effective_mode``; rpa's ``case_num``): SasView shows a combo box for them
    and reads them back from a project with ``int(text, 0)``. *counts* are the integer
    counts the verification holds (number of layers, pearls...) and the parameters that
    set another's length (``n_shells``).
    """
    from ..verification.parameters import count_names

    parameters = model_info(model_name).parameters.kernel_parameters
    choices = frozenset(p.name for p in parameters if p.choices)
    lengths = frozenset(p.length_control for p in parameters if p.length_control)
    return choices, count_names(products.split(model_name)[0]) | lengths


def whole_number_text(value: float, lo: float | None, hi: float | None) -> str:
    """``value`` rounded to a whole number inside ``lo..hi`` (limits are valid here),
    as SasView's project loader reads it back (``int(text, 0)``: "0", never "0.0")."""
    number = round(float(value))
    if lo is not None and math.isfinite(lo):
        number = max(number, math.ceil(lo))
    if hi is not None and math.isfinite(hi):
        number = min(number, math.floor(hi))
    return str(int(number))


def _type_value(page, row: int, text: str, choice: bool) -> None:
    """Type ``text`` into the value cell of ``row``; a choice parameter is chosen in
    the combo box SasView shows in that cell (which writes its index into the cell)."""
    cell = page._model_model.item(row, 1)
    view = getattr(page, "lstParams", None)
    combo = None if view is None else view.indexWidget(page._model_model.index(row, 1))
    if choice and combo is not None and hasattr(combo, "setCurrentIndex"):
        index = int(text)
        if not 0 <= index < combo.count():
            raise FitHandOffError(f"SasView's page offers no choice {index} for "
                                  f"{page._model_model.item(row, 0).text()}.")
        combo.setCurrentIndex(index)
    if cell.text() != text:
        cell.setText(text)


def _defaults(model_name: str) -> dict[str, float]:
    """sasmodels' default values of ``model_name`` (a product too)."""
    info = model_info(model_name)
    return {p.name: float(p.default) for p in info.parameters.kernel_parameters
            if not isinstance(p.default, str)}


def page_is_open(gui_manager, page) -> bool:
    """True while ``page`` is one of the Fitting perspective's tabs (not closed)."""
    fitting = gui_manager.loadedPerspectives.get(FITTING)
    return page is not None and fitting is not None and page in fitting.tabs


def fit_running(page) -> bool:
    """True while a fit of ``page`` runs: its fit thread runs, or SasView's
    ``fit_started`` flag is up (alone it is not reliable: SasView clears it whenever a
    model calculation ends, long before a slow fit does)."""
    thread = getattr(page, "calc_fit", None)
    return bool(page.fit_started) or (thread is not None and bool(thread.isrunning()))


def open_fit_page(gui_manager, item, plan: FitPlan, page=None):
    """Put ``item``'s data into a fit page with ``plan``'s model and start values.

    ``page``: the page this data set was fitted in before; it is reused while it is
    open, else the data go to a new page (or a free one). Returns the page (a SasView
    ``FittingWidget``), made the current tab, with the planned parameters ticked and
    every other one unticked. Raises :class:`FitHandOffError` with a user message.
    """
    from PySide6.QtCore import Qt

    fitting = show_fitting(gui_manager)
    if not page_is_open(gui_manager, page):
        free_tabs = [tab for tab in fitting.tabs if tab.acceptsData()]
        before = list(fitting.tabs)
        fitting.setData(data_item=[item], is_batch=False)
        page = free_tabs[0] if free_tabs else next(
            (t for t in fitting.tabs if t not in before), None)
    if page is None or not hasattr(page, "cbModel"):
        raise FitHandOffError("SasView did not open a fit page for the data.")
    if fit_running(page):
        raise FitHandOffError("SasView is still fitting this data set on its page; wait "
                              "for that fit or stop it there.")
    fitting.setCurrentWidget(page)

    form, structure = products.split(plan.model)
    categories = [c for c in page.by_model_dict.get(form, [])]
    if not categories:
        raise FitHandOffError(
            f"SasView's model list has no '{form}' (check Fitting > Category Manager).")
    if not _choose(page.cbCategory, categories[0]):
        raise FitHandOffError(f"SasView has no model category '{categories[0]}'.")
    if not page.cbModel.isEnabled():  # greyed out only while a model calculation runs
        page.enableModelCombo()
    if not _choose(page.cbModel, form):
        raise FitHandOffError(
            f"'{form}' is disabled in SasView's Category Manager; enable it to fit it.")
    wanted = structure or "None"
    if page.cbStructureFactor.currentText() != wanted:
        if structure is not None and not page.enabled_sfmodel:
            raise FitHandOffError(f"SasView offers no structure factor for {form}.")
        if not _choose(page.cbStructureFactor, wanted):
            raise FitHandOffError(f"SasView has no structure factor '{wanted}'.")

    details = page.logic.kernel_module.details
    defaults = _defaults(plan.model)
    choices, counts = whole_number_parameters(plan.model)
    for name, value in plan.values.items():
        row = page.getRowFromName(name)
        if row is None or page._model_model.item(row, 1) is None:
            continue
        _units, lo, hi = details.get(name, ("", None, None))
        if name in choices or name in counts:  # held, not fitted: a limit is valid
            _type_value(page, row, whole_number_text(value, lo, hi), name in choices)
        else:
            _type_value(page, row, start_text(value, lo, hi, defaults.get(name, 1.0)), False)
    # Tick exactly the planned parameters of the main table (SasView's own defaults off).
    # Rows selected in the table would all follow one box (SasView's multi-row toggle).
    view = getattr(page, "lstParams", None)
    if view is not None:
        view.clearSelection()
    ticked = []
    table = page._model_model
    for row in range(table.rowCount()):
        name_item = table.item(row, 0)
        if name_item is None or not page.isCheckable(row):
            continue
        wanted_tick = (name_item.text() in plan.fit
                       and name_item.text() not in choices | counts)  # never fitted
        if (name_item.checkState() == Qt.Checked) != wanted_tick:
            page.changeCheckboxStatus(row, wanted_tick)
        if wanted_tick:
            ticked.append(name_item.text())
    if not ticked:
        raise FitHandOffError(f"No parameter of '{plan.model}' could be ticked for fitting.")
    missing = [name for name in plan.fit if name not in ticked]
    if missing:
        log.info("Model Suggestion: SasView's page for %s has no tickable %s",
                 plan.model, ", ".join(missing))
    return page


def run_fit(page) -> None:
    """Press the page's *Fit* button; raises :class:`FitHandOffError` when SasView
    does not start a fit (disabled button, nothing to fit: see SasView's log)."""
    if fit_running(page):
        raise FitHandOffError("A fit is already running on this page.")
    if not page.cmdFit.isEnabled():
        raise FitHandOffError("SasView's Fit button is disabled for this page.")
    page.cmdFit.click()
    if not fit_running(page):
        raise FitHandOffError("SasView did not start the fit (see SasView's log).")


def page_name(gui_manager, page) -> str:
    """The fit page's tab name (FitPage3), or "" when it is no longer a tab."""
    fitting = gui_manager.loadedPerspectives.get(FITTING)
    index = -1 if fitting is None else fitting.indexOf(page)
    return fitting.tabText(index) if index >= 0 else ""


def fit_outcome(page, result) -> dict:
    """SasView's own account of a finished fit, from the ``fittingFinishedSignal``
    payload ``(results, seconds)`` and the page: ``outcome`` (completed, cancelled or
    failed), ``chi2`` (SasView's χ²/Npts), ``parameters`` {name: (value, error)},
    ``seconds``, ``weighting`` (SasView's weighting option) and SasView's
    ``messages`` about the fit (fields of :class:`~.state.SasViewFit`)."""
    from .state import CANCELLED, COMPLETED, FAILED

    button = page.options_widget.weightingGroup.checkedButton()
    out = {"weighting": button.text() if button is not None else "",
           "seconds": None, "chi2": None, "parameters": {}, "messages": ()}
    try:
        fits, seconds = result
        res = fits[0][0]
        out["seconds"] = float(seconds)
    except (TypeError, ValueError, IndexError):
        return {**out, "outcome": FAILED}
    mesg = getattr(res, "mesg", None) or ""
    if isinstance(mesg, (list, tuple)):
        mesg = "\n".join(str(m) for m in mesg)
    out["messages"] = tuple(line.strip() for line in str(mesg).splitlines()
                            if "coerced" in line or "fail" in line.lower())
    chi2 = float(getattr(res, "fitness", math.nan))
    values = [float(v) for v in getattr(res, "pvec", ())]
    if not math.isfinite(chi2) or not all(math.isfinite(v) for v in values):
        return {**out, "outcome": FAILED}
    errors = [float(e) for e in getattr(res, "stderr", [math.nan] * len(values))]
    out["parameters"] = {str(name): (value, error) for name, value, error
                         in zip(res.param_list, values, errors)}
    out["chi2"] = chi2
    interrupted = bool(getattr(getattr(page, "calc_fit", None), "_interrupting", False))
    out["outcome"] = CANCELLED if interrupted else COMPLETED
    return out
