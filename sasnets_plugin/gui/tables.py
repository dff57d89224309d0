"""The perspective's tables as values (Qt-free): the ranking of one data set for the
clipboard and the report (:func:`table_rows`, :func:`as_tsv`, :func:`as_latex`), one
row per data set for the overview (:func:`overview_row`), and the fit-status words the
table, the report and the copies share (a fit's status is its ``verdict``, as in the
command line's table).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..models.products import display_name
from . import state
from .state import DataSet

#: Columns of the overview: one row per data set.
OVERVIEW_COLUMNS = ("Data set", "Chosen model", "Probability", "Verification", "χ²ᵣ",
                    "SasView χ²/Npts")


@dataclass(frozen=True)
class OverviewRow:
    """A data set's answer at a glance; the numbers (None where there is none) sort the
    columns, the texts are shown."""

    key: int
    title: str
    model: str = ""
    probability: float | None = None
    verification: str = ""
    chi2r: float | None = None
    sasview: str = ""
    sasview_chi2: float | None = None

    def cells(self) -> list[tuple[str, float | None]]:
        """(text, sort key) per :data:`OVERVIEW_COLUMNS`."""
        probability = ("" if self.probability is None
                       else f"{100 * self.probability:.1f} %")
        chi2r = "" if self.chi2r is None else _number(self.chi2r, ".3g")
        return [(self.title, None), (self.model, None), (probability, self.probability),
                (self.verification, None), (chi2r, self.chi2r),
                (self.sasview, self.sasview_chi2)]


def overview_row(dataset: DataSet) -> OverviewRow:
    """What the overview shows for ``dataset``: its chosen model (what *Fit in SasView*
    would fit), the network's probability of it, its verification (rank among the
    verified, or why there is none) and χ²ᵣ, and the last SasView fit."""
    ranking = dataset.ranking
    if ranking is None:
        error = None if dataset.outcome is None else dataset.outcome.error
        return OverviewRow(dataset.key, dataset.title,
                           verification=f"not ranked: {error}" if error else "not ranked yet")
    model = dataset.chosen()
    probability = (float(ranking.probabilities[ranking.models.index(model)])
                   if model in ranking.models else None)
    verification, chi2r = "not verified", None
    if dataset.verified is not None:
        fit = dataset.candidate_fit(model)
        if fit is None:
            verification = "not among the verified"
        else:
            verification = f"#{fit.verified_rank} of {len(dataset.verified.candidates)}: " \
                           f"{fit.verdict}"
            chi2r = fit.chi2r if fit.ok and math.isfinite(fit.chi2r) else None
    sasview, sasview_chi2 = "", None
    record = dataset.fit
    if record is not None:  # the model named only when it is not the chosen one
        sasview_chi2 = record.chi2
        other = "" if record.model == model else f" ({display_name(record.model)})"
        if record.outcome == state.COMPLETED and record.chi2 is not None:
            sasview = f"{record.chi2:.4g}{other}"
        else:
            sasview = f"{record.outcome}{other}"
    return OverviewRow(dataset.key, dataset.title, display_name(model), probability,
                       verification, chi2r, sasview, sasview_chi2)


def table_rows(dataset: DataSet, top: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ranking as text (clipboard, report): network rank,
    model, probability and, when verified, the verification's numbers."""
    ranking = dataset.ranking
    if ranking is None:
        return [], []
    verified = dataset.verified
    header = ["Rank", "Model", "Probability"]
    if verified is not None:
        header += ["Verified #", "Combined score",
                   f"chi2r ({state.verification_weighting(verified)})", "BIC", "Fit status"]
    rows = []
    count = len(ranking.models) if top is None else min(top, len(ranking.models))
    for rank in range(count):
        model = ranking.models[rank]
        probability = float(ranking.probabilities[rank])
        row = [str(rank + 1), display_name(model), f"{100 * probability:.2f} %"]
        if verified is not None:
            fit = dataset.candidate_fit(model)
            if fit is None:
                row += ["", "", "", "", ""]
            else:
                row += [str(fit.verified_rank),
                        f"{100 * fit.posterior:.1f} %" if fit.ok else "",
                        _number(fit.chi2r, ".4g"), _number(fit.bic, ".1f"), fit.verdict]
        rows.append(row)
    return header, rows


def as_tsv(header: list[str], rows: list[list[str]]) -> str:
    """Tab-separated text (pastes into a spreadsheet as a table)."""
    return "\n".join("\t".join(cells) for cells in [header, *rows]) + "\n"


def as_latex(header: list[str], rows: list[list[str]]) -> str:
    """A LaTeX ``tabular`` of the table."""
    def cell(text: str) -> str:
        text = text.replace("\\", r"\textbackslash{}")
        for char in "&%$#_{}":
            text = text.replace(char, "\\" + char)
        return text.replace("×", r"$\times$").replace("~", r"\textasciitilde{}")

    lines = [r"\begin{tabular}{" + "l" * len(header) + "}", r"\hline",
             " & ".join(cell(h) for h in header) + r" \\", r"\hline"]
    lines += [" & ".join(cell(c) for c in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _number(value: float, fmt: str) -> str:
    return format(value, fmt) if math.isfinite(value) else "—"
