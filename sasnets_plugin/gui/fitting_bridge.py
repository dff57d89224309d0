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
    was verified (:func:`plan_from_fit`), else the verification's screened starts
    (:func:`sasnets_plugin.verification.start_values`, :func:`plan_fit`).

* **The hand-off** (:func:`open_fit_page`, :func:`run_fit`): drives the real Fitting
  perspective the way a user would: data into a fit page, category and model chosen
  in their combo boxes, values typed into the parameter table, exactly the planned
  boxes ticked, *Fit*.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..errors import SasnetsError

log = logging.getLogger(__name__)

#: :attr:`FitPlan.source` of a plan started from a verified fit.
FROM_VERIFIED_FIT = "verified fit"
#: :attr:`FitPlan.source` of a plan started from quick start values.
FROM_START_VALUES = "start values"


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

    counts = count_names(model_name)
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


def plan_fit(model_name: str, raw) -> FitPlan:
    """Quick plan for ``model_name`` on ``raw`` (a ``loading.RawCurve``) without a fit:
    the verification's screened start values, its free parameters ticked.

    Takes about a second (one model evaluation per screened start): call it off the
    GUI thread. Raises :class:`PlanningError` or ``DataError`` with a user message.
    """
    from ..cleaning import clean_curve
    from ..verification import start_values

    curve, _ = clean_curve(raw.q, raw.I, raw.dI)
    fit = free_parameters(model_name, curve.q[0], curve.q[-1])
    try:
        values = start_values(model_name, raw.q, raw.I, raw.dI, dQ=raw.dQ)
    except ValueError as exc:  # unknown model
        raise PlanningError(f"No start values for '{model_name}': {exc}.") from exc
    return FitPlan(model_name, values, fit, FROM_START_VALUES)


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
    from ..models import model_info

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


def open_fit_page(gui_manager, item, plan: FitPlan):
    """Put ``item``'s data into a fit page with ``plan``'s model and start values.

    Returns the page (a SasView ``FittingWidget``), made the current tab, with the
    planned parameters ticked and every other one unticked. Raises
    :class:`FitHandOffError` with a user message.
    """
    from PySide6.QtCore import Qt

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
        wanted = name_item.text() in plan.fit
        if (name_item.checkState() == Qt.Checked) != wanted:
            page.changeCheckboxStatus(row, wanted)
        if wanted:
            ticked.append(name_item.text())
    if not ticked:
        raise FitHandOffError(f"No parameter of '{plan.model}' could be ticked for fitting.")
    missing = [name for name in plan.fit if name not in ticked]
    if missing:
        log.info("Model Suggestion: SasView's page for %s has no tickable %s",
                 plan.model, ", ".join(missing))
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
