"""What the perspective knows about each data set, and the rules its buttons follow.

Qt-free (and SasView-free), so that the rules can be tested without a window:

* :class:`DataSet`: one data set sent to the perspective, its ranking, its fit
  verification, its own status line, the SasView fit started from here and the fit
  page it uses (one page per data set, reused);
* the rules: which data sets *Suggest model* ranks (:func:`to_rank`: those never tried, keep
  the rest), which model is preselected for *Fit in SasView* and *Auto-fit*
  (:meth:`DataSet.preselected`: the verified best, else the network's first), what a
  structure-factor-only suggestion is fitted as (:func:`fit_target`), the warnings
  shown beside the ranking (:meth:`DataSet.warnings`) and how the χ² numbers are weighted
  (:func:`verification_weighting`);
* :class:`Settings` (the Preferences page) and the project file form of a data set
  (:meth:`DataSet.to_dict` / :meth:`DataSet.restore`).

Rankings and verifications may carry fields later network / verification versions add
(``Ranking.warning``, ``Verification.no_fit`` / ``best_chi2r``): they are read with
``getattr`` and a default, and saved and restored with whatever fields the running
version's classes have.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..models import model_info, products
from ..verification.verify import DEFAULT_MAX_SECONDS
from ..models.products import display_name

log = logging.getLogger(__name__)

#: Form factor a structure-factor-only suggestion is multiplied with in SasView.
DEFAULT_FORM = "sphere"
#: Version of :meth:`DataSet.to_dict`'s layout (stored in projects).
PROJECT_VERSION = 1


# --------------------------------------------------------------------------- model names

@functools.lru_cache(maxsize=None)
def is_structure_factor(model: str) -> bool:
    """True for a structure factor S(q) alone (hardsphere, hayter_msa...): sasmodels
    marks them, and SasView offers them in its *Structure factor* list."""
    if products.SEPARATOR in model:
        return False
    try:
        return bool(model_info(model).structure_factor)
    except ValueError:  # unknown to sasmodels: not something SasView could multiply
        return False


def fit_target(model: str) -> str:
    """The model SasView fits for a suggestion: the suggestion itself, except that an
    S(q) alone becomes ``sphere@<S(q)>``: SasView fits a structure factor only as a
    product with a form factor (alone it has no scale nor background)."""
    return f"{DEFAULT_FORM}{products.SEPARATOR}{model}" if is_structure_factor(model) else model


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    """The perspective's preferences (SasView's *Preferences* window).

    There is no network device: inside SasView the network always runs in the light
    runtime on the CPU (well under a millisecond per curve). The GPU path needs
    TensorFlow, whose own LLVM crashes a process that uses Mesa's OpenGL, as SasView does
    (see :func:`sasnets_plugin.classifier.tensorflow_conflict`).
    """

    #: Candidates fitted by a verification (the most probable ones).
    top_k: int = 5
    #: Wall-clock safety cap of one verification in seconds, the pipeline's own (the fits'
    #: budgets are work, so the cap only matters on a busy machine; the user can cancel).
    verify_seconds: float = DEFAULT_MAX_SECONDS

    TOP_K_RANGE = (1, 20)
    SECONDS_RANGE = (5.0, 600.0)

    def checked(self) -> Settings:
        """These settings with every value brought into its allowed range."""
        lo, hi = self.TOP_K_RANGE
        slo, shi = self.SECONDS_RANGE
        seconds = float(self.verify_seconds)
        return Settings(top_k=min(max(int(self.top_k), lo), hi),
                        verify_seconds=min(max(seconds, slo), shi) if math.isfinite(seconds)
                        else Settings.verify_seconds)

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Settings saved in ``path``; the defaults when it is missing or unreadable."""
        try:
            data = json.loads(Path(path).read_text())
            names = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in names}).checked()
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("Model Suggestion: ignoring unreadable preferences %s (%s)", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))


# --------------------------------------------------------------------------- fits

#: :attr:`SasViewFit.outcome` values.
PLANNING, RUNNING, COMPLETED, CANCELLED, FAILED = (
    "planning", "running", "completed", "cancelled", "failed")


@dataclass
class SasViewFit:
    """A fit started from the perspective in SasView's Fitting perspective, and what
    SasView reported when it finished."""

    model: str
    outcome: str = PLANNING
    #: SasView's χ²/Npts (``res.fitness``), None until it finished successfully.
    chi2: float | None = None
    #: SasView's weighting option for the fit (its Options tab), e.g. "Use dI Data".
    weighting: str = ""
    #: Fitted parameters: name -> (value, uncertainty), as SasView reports them.
    parameters: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float | None = None
    #: The fit page's tab name (FitPage3).
    page_name: str = ""
    #: SasView's messages about the fit (e.g. a start value it had to coerce).
    messages: tuple[str, ...] = ()

    @property
    def busy(self) -> bool:
        return self.outcome in (PLANNING, RUNNING)

    def summary(self) -> str:
        """One sentence for the status line, with SasView's numbers and weighting."""
        where = f" ({self.page_name})" if self.page_name else ""
        name = display_name(self.model)
        if self.outcome == PLANNING:
            return f"Preparing the SasView fit with {name} (start values)…"
        if self.outcome == RUNNING:
            return f"SasView is fitting {name}{where}…"
        if self.outcome == FAILED:
            text = f"SasView's fit with {name}{where} failed"
            return text + (f": {'; '.join(self.messages)}" if self.messages else
                           " (see SasView's log).")
        took = f" in {self.seconds:.1f} s" if self.seconds is not None else ""
        verb = "was stopped" if self.outcome == CANCELLED else "finished"
        chi2 = "" if self.chi2 is None else f": χ²/Npts = {self.chi2:.4g}"
        weight = f" (SasView weighting: {self.weighting})" if self.weighting else ""
        return f"SasView's fit with {name}{where} {verb}{took}{chi2}{weight}."

    def parameter_text(self) -> str:
        """``radius = 20.01 ± 0.03, ...`` as SasView reported them."""
        def one(name, value, error):
            err = f" ± {error:.3g}" if error is not None and math.isfinite(error) else ""
            return f"{name} = {value:.5g}{err}"

        return ", ".join(one(k, *v) for k, v in self.parameters.items())


# --------------------------------------------------------------------------- weighting

def verification_weighting(verification) -> str:
    """How the verification's χ²ᵣ is weighted, in a few words (column header)."""
    return "no dI" if verification.dI_estimated else "dI"


def weighting_note(verification) -> str:
    """The sentence shown beside the χ² numbers: which weights they use."""
    if verification.dI_estimated:
        return ("χ²ᵣ without dI: the file has no usable uncertainties, so the verification "
                "weights by a relative error estimated from the curve's scatter. SasView's "
                "χ²/Npts uses SasView's own weighting (Fitting page, Options tab): the two "
                "numbers cannot be compared.")
    return ("χ²ᵣ weighted by the file's dI, like SasView's 'Use dI Data' weighting "
            "(SasView's χ²/Npts is reduced the same way, for its own free parameters).")


# --------------------------------------------------------------------------- data sets

@dataclass(frozen=True)
class Outcome:
    """The ranking of one data set (a ``suggestion.Ranking``), or why it could not be
    ranked."""

    key: int
    ranking: Any = None
    error: str | None = None


@dataclass
class DataSet:
    """One data set sent from the Data Explorer and everything done with it here."""

    key: int
    #: The Data Explorer's item (a QStandardItem; opaque here).
    item: Any
    raw: Any  # loading.RawCurve
    outcome: Outcome | None = None
    #: The fit verification of ``verified_ranking``'s candidates, once run.
    verification: Any = None
    verified_ranking: Any = None
    #: This data set's own status line: (text, logging level).
    status: tuple[str, int] = ("", logging.INFO)
    #: The row chosen in the ranking (None: :meth:`preselected`).
    selected: str | None = None
    #: The last SasView fit started from here.
    fit: SasViewFit | None = None
    #: The SasView fit page this data set is fitted in (reused by every later fit).
    page: Any = None

    @property
    def title(self) -> str:
        return self.raw.title

    @property
    def ranking(self):
        return None if self.outcome is None else self.outcome.ranking

    @property
    def verified(self):
        """The verification of the current ranking (None if not verified)."""
        if self.verification is None or self.verified_ranking is not self.ranking:
            return None
        return self.verification

    def candidate_fit(self, model: str):
        """The verification fit of ``model``, or None if it was not verified."""
        verification = self.verified
        if verification is None:
            return None
        return next((c for c in verification.candidates if c.model == model), None)

    def preselected(self) -> str | None:
        """The model *Fit in SasView* and *Auto-fit* start with: the best verified fit
        when there is one, else the network's most probable model."""
        verification = self.verified
        best = None if verification is None else verification.best
        if best is not None:
            return best.model
        ranking = self.ranking
        return ranking.models[0] if ranking is not None and ranking.models else None

    def chosen(self) -> str | None:
        """The row chosen by the user, else :meth:`preselected`."""
        ranking = self.ranking
        if ranking is not None and self.selected in ranking.models:
            return self.selected
        return self.preselected()

    def set_outcome(self, outcome) -> None:
        """Take a new ranking; the verification is kept when the ranking is unchanged
        (same models in the same order with the same probabilities)."""
        old = self.ranking
        self.outcome = outcome
        new = self.ranking
        if self.verification is not None and same_ranking(old, new):
            self.verified_ranking = new
        else:
            self.verification = self.verified_ranking = None
            self.selected = None

    def warnings(self) -> list[str]:
        """Warnings about this data set's ranking and verification, shown beside them."""
        out = []
        warning = getattr(self.ranking, "warning", None)
        if warning:
            out.append(str(warning))
        verification = self.verified
        if verification is not None and getattr(verification, "no_fit", False):
            best = getattr(verification, "best_chi2r", math.nan)
            number = f" (best χ²ᵣ = {best:.3g})" if best is not None and math.isfinite(best) else ""
            out.append(f"None of the {len(verification.candidates)} fitted candidates fits the "
                       f"data within its noise{number}: the model may not be among them.")
        return out

    # ---------------------------------------------------------------- project files

    def to_dict(self) -> dict:
        """This data set's analysis as JSON-ready values (SasView's project file)."""
        status_text, level = self.status
        out: dict[str, Any] = {"version": PROJECT_VERSION, "title": self.title,
                               "status": [status_text, int(level)], "selected": self.selected}
        if self.outcome is not None:
            if self.ranking is not None:
                out["ranking"] = _ranking_to_dict(self.ranking)
            else:
                out["error"] = self.outcome.error
        if self.verified is not None:
            out["verification"] = _to_plain(self.verified)
        if self.fit is not None and not self.fit.busy:
            out["sasview_fit"] = _to_plain(self.fit)
        return out

    def restore(self, params: dict) -> None:
        """Take back what :meth:`to_dict` saved. Parts that cannot be restored are
        dropped with a log message: the data set stays usable and can be ranked again."""
        status = params.get("status") or ["", logging.INFO]
        self.status = (str(status[0]), int(status[1]))
        self.selected = params.get("selected")
        if "ranking" in params:
            try:
                self.outcome = Outcome(self.key, ranking=_ranking_from_dict(
                    params["ranking"], self.raw))
            except Exception:  # the data changed, or a ranking this version can't read
                log.warning("Model Suggestion: could not restore the ranking of %s",
                            self.title, exc_info=True)
                return
        elif params.get("error"):
            self.outcome = Outcome(self.key, error=str(params["error"]))
        if "verification" in params and self.ranking is not None:
            try:
                self.verification = _verification_from_dict(params["verification"])
                self.verified_ranking = self.ranking
            except Exception:
                log.warning("Model Suggestion: could not restore the verification of %s",
                            self.title, exc_info=True)
        if params.get("sasview_fit"):
            fit = params["sasview_fit"]
            try:
                self.fit = SasViewFit(**{**_known(SasViewFit, fit),
                                         "parameters": {k: tuple(v) for k, v in
                                                        fit.get("parameters", {}).items()},
                                         "messages": tuple(fit.get("messages", ()))})
            except TypeError:
                log.warning("Model Suggestion: could not restore the SasView fit of %s",
                            self.title, exc_info=True)


def same_ranking(old, new) -> bool:
    """True when two rankings list the same models with the same probabilities."""
    if old is None or new is None:
        return False
    return (tuple(old.models) == tuple(new.models)
            and np.allclose(old.probabilities, new.probabilities, rtol=1e-6, atol=1e-9))


def to_rank(datasets: list[DataSet], current: DataSet | None) -> list[DataSet]:
    """The data sets *Suggest model* ranks: those never tried yet; when there are none,
    the one shown (asked again). A data set that could not be ranked is tried again
    only when it is the one shown: it must not stand in the way of the others."""
    new = [d for d in datasets if d.outcome is None]
    if new:
        return new
    return [current] if current is not None else []


# --------------------------------------------------------------------------- (de)serialising

def _to_plain(value):
    """Dataclasses, arrays, tuples and numpy scalars as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _known(cls, values: dict) -> dict:
    """``values`` restricted to the fields ``cls`` has in this version."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _ranking_to_dict(ranking) -> dict:
    out = {"models": list(ranking.models),
           "probabilities": [float(p) for p in ranking.probabilities],
           "preprocessing": ranking.prepared.version}
    for f in dataclasses.fields(ranking):  # e.g. a later version's ``warning``
        value = getattr(ranking, f.name)
        if f.name not in out and (value is None or isinstance(value, (str, int, float, bool))):
            out[f.name] = value
    return out


def _ranking_from_dict(values: dict, raw):
    """A ``suggestion.Ranking`` from :func:`_ranking_to_dict`: the network input is
    rebuilt from the data (cleaning and resampling are deterministic)."""
    from ..preprocessing import get_transform
    from ..suggestion import Ranking, prepare

    extra = {k: v for k, v in _known(Ranking, values).items()
             if k not in ("prepared", "models", "probabilities")}
    version = values.get("preprocessing")
    prepared = prepare(raw, get_transform(version) if version else None)
    return Ranking(prepared, tuple(values["models"]),
                   np.asarray(values["probabilities"], float), **extra)


def _verification_from_dict(values: dict):
    from ..verification import CandidateFit, Verification

    def candidate(entry: dict):
        entry = _known(CandidateFit, entry)
        for name in ("q", "I_fit"):
            if entry.get(name) is not None:
                entry[name] = np.asarray(entry[name], float)
        entry["notes"] = tuple(entry.get("notes", ()))
        return CandidateFit(**{k: (math.nan if v is None and k in _FLOAT_FIELDS else v)
                               for k, v in entry.items()})

    values = _known(Verification, values)
    values["candidates"] = tuple(candidate(c) for c in values.get("candidates", ()))
    values["notes"] = tuple(values.get("notes", ()))
    return Verification(**values)


#: CandidateFit numbers that JSON may have turned into null (NaN is kept by SasView's
#: writer, but a hand-edited or other-tool file may not).
_FLOAT_FIELDS = frozenset({"chi2", "chi2r", "aic", "bic", "probability", "posterior"})
