"""The ranking of one data set (Qt view): every model the network ranks, with the
verification's numbers once verified.

The table keeps to its width: long model names and failure reasons are elided (whole in
the tooltips), and the *Category* column is shown only where it fits beside the others
(the category is in the model's tooltip too). A header click sorts best first (the most
probable, the lowest χ²ᵣ); a double click or Enter asks to fit the row's model.
"""
from __future__ import annotations

import math
from typing import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from ..estimates import describe
from ..models.products import display_name
from . import state
from .cells import cell, read_only_rows
from .state import DataSet

#: Rows of the ranking visible without scrolling when the perspective opens.
VISIBLE_ROWS = 5
#: Widest the model column gets by itself: room for a product such as
#: "core_shell_ellipsoid × hayter_msa"; longer names are elided, whole in tooltips.
MODEL_COLUMN_WIDTH = 300
#: Narrowest the model column gets when the table is short of room.
MODEL_COLUMN_MIN = 150
#: The fit status the status column always has room for (the verdict of a fit within
#: the noise; longer verdicts are elided, and shown whole in the cell's tooltip).
STATUS_ROOM = "fits within the noise"
COLUMNS = ("Rank", "Model", "Probability", "Verified #", "Combined score", "χ²ᵣ", "BIC",
           "Fit status", "Category")
(COL_RANK, COL_MODEL, COL_PROBABILITY, COL_VERIFIED, COL_POSTERIOR, COL_CHI2R, COL_BIC,
 COL_STATUS, COL_CATEGORY) = range(len(COLUMNS))
#: Columns whose first click sorts the largest first (a higher value is better).
DESCENDING_FIRST = frozenset({COL_PROBABILITY, COL_POSTERIOR})
#: Columns shown once the data set has been verified.
VERIFICATION_COLUMNS = (COL_VERIFIED, COL_POSTERIOR, COL_CHI2R, COL_BIC, COL_STATUS)
#: Pixels a row has beyond its text's height (Qt's default rows are taller).
ROW_PADDING = 8


def header_label(name: str) -> str:
    """A column's header text: a name of several words on two lines, so that the
    verified columns fit SasView's default 900-pixel width ("Combined score" stays
    "Combined score" for the report and the copies)."""
    first, _, rest = name.partition(" ")
    return f"{first}\n{rest}" if rest else name


#: Item data role holding the model's sasmodels name (the cell shows a readable one).
MODEL_ROLE = QtCore.Qt.UserRole + 2
#: Colour of a failed fit's status.
ERROR_COLOUR = "#b00020"
_HEADER_TIPS = {
    COL_RANK: "Rank by the network's probability",
    COL_VERIFIED: "Rank after fitting the candidates to the data (best combined score first)",
    COL_POSTERIOR: "Combined score: the network probability updated by the fit's BIC",
    COL_CHI2R: "Reduced χ² of the verification fit: χ² / (points − free parameters); "
               "in brackets the weighting: dI (the file's uncertainties) or no dI "
               "(a relative error estimated from the curve's scatter)",
    COL_BIC: "Bayesian information criterion of the fit (lower is better; compare within "
             "one data set only)",
    COL_CATEGORY: "The model's category in SasView's Fitting perspective (also in the "
                  "model's tooltip; the column is left out when the table is narrow)",
    COL_STATUS: "'ok', or why the fit failed",
}


class RankingTable(QtWidgets.QTableWidget):
    """The ranking of the data set shown."""

    #: The user chose another row (not emitted while the table is filled).
    chosen = QtCore.Signal()
    #: A double click or Enter on a row: fit its model.
    fitRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("tblRanking")

        self.setHorizontalHeaderLabels([header_label(name) for name in COLUMNS])
        for column, tip in _HEADER_TIPS.items():
            self.horizontalHeaderItem(column).setToolTip(f"{tip} (click to sort by it)")
        read_only_rows(self)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + ROW_PADDING)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOn)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        for column in (COL_MODEL, COL_STATUS):  # sized by _fit_columns
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.Interactive)
        header.setStretchLastSection(True)
        # The network rank order at first; a click on a header sorts by it.
        self._sort_order = (COL_RANK, QtCore.Qt.AscendingOrder)
        # The sort order is an arrow in the sorted column's title: Qt's own indicator
        # reserves its room in every column, which would not fit 900 pixels.
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.sectionClicked.connect(self._sort_clicked)
        self._labels = list(COLUMNS)
        for column in VERIFICATION_COLUMNS:
            self.setColumnHidden(column, True)
        self._filling = False
        self.activated.connect(lambda _index: self.fitRequested.emit())
        self.itemSelectionChanged.connect(self._selection_changed)

    def preferred_height(self, rows: int = VISIBLE_ROWS) -> int:
        """Height showing the header and ``rows`` rows (and a horizontal scroll bar)."""
        two_lines = 2 * self.fontMetrics().lineSpacing() + ROW_PADDING  # (header_label)
        return (rows * self.verticalHeader().defaultSectionSize()
                + max(self.horizontalHeader().sizeHint().height(), two_lines)
                + self.horizontalScrollBar().sizeHint().height()
                + 2 * self.frameWidth() + 2)

    # ------------------------------------------------------------------ content

    def fill(self, dataset: DataSet | None, category: Callable[[str], str]) -> None:
        """Show ``dataset``'s ranking (nothing when it has none) and select its chosen
        model; ``category`` gives a model's SasView category."""
        self._filling = True
        try:
            self.setRowCount(0)
            ranking = None if dataset is None else dataset.ranking
            verified = None if dataset is None else dataset.verified
            for column in VERIFICATION_COLUMNS:
                self.setColumnHidden(column, verified is None)
            weighting = "" if verified is None else f" ({state.verification_weighting(verified)})"
            self._labels[COL_CHI2R] = f"χ²ᵣ{weighting}"
            self._show_labels()
            if self.isColumnHidden(self._sort_order[0]):
                self._sort_order = (COL_RANK, QtCore.Qt.AscendingOrder)
            if ranking is None:
                return
            # rows: the network's list, then models only the verification's rescue fitted
            # (e.g. products a v2 network does not rank): the verified best may be one
            rows = list(zip(ranking.models, map(float, ranking.probabilities)))
            listed = set(ranking.models)
            rows += [(c.model, 0.0) for c in (verified.candidates if verified else ())
                     if c.model not in listed]
            self.setRowCount(len(rows))
            for row, (model, probability) in enumerate(rows):
                self._fill_row(dataset, row, model, probability, category(model))
                if row >= len(ranking.models):  # not ranked by the network
                    self.setItem(row, COL_RANK, cell("rescue", row + 1, right=True))
            self._sort(*self._sort_order)
        finally:
            self._filling = False
        self._fit_columns()
        if not self.select_model(dataset.chosen() or ""):
            self.selectRow(0)
            self.scrollToTop()

    def _fill_row(self, dataset: DataSet, row: int, model: str, probability: float,
                  category: str):
        shown = display_name(model)
        cells = {COL_RANK: (str(row + 1), row + 1), COL_MODEL: (shown, None),
                 COL_PROBABILITY: (f"{100 * probability:.1f} %", probability),
                 COL_CATEGORY: (category, None)}
        fit = dataset.candidate_fit(model)
        if dataset.verified is not None:
            cells.update(_fit_cells(fit))
        for column, (text, key) in cells.items():
            item = cell(text, key, right=column not in (COL_MODEL, COL_STATUS, COL_CATEGORY))
            if column == COL_MODEL:
                item.setData(MODEL_ROLE, model)
                target = state.fit_target(model)
                tip = model if shown == model else f"{shown} (sasmodels: {model})"
                if category:
                    tip += f"\nSasView category: {category}"
                if target != model:
                    tip += (f"\n{model} is a structure factor S(q) alone; Fit in SasView fits "
                            f"it as {display_name(target)}.")
                estimate = dataset.ranking.estimate(model)
                if estimate:
                    tip += f"\nNetwork estimate: {describe(model, estimate)}"
                item.setToolTip(tip)
            if column == COL_PROBABILITY:
                item.setToolTip(f"p = {probability:.6f}")
                item.setData(QtCore.Qt.UserRole, probability)
            if fit is not None and column in VERIFICATION_COLUMNS:
                item.setToolTip(_fit_tooltip(fit))
                if column == COL_VERIFIED and fit.verified_rank == 1 and fit.ok:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if column == COL_STATUS and not fit.ok:
                    item.setForeground(QtGui.QColor(ERROR_COLOUR))
            self.setItem(row, column, item)

    # ------------------------------------------------------------------ width

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Share the width: the model column up to :data:`MODEL_COLUMN_WIDTH`, the fit
        status room for :data:`STATUS_ROOM`, the category only where it fits whole."""
        if not self.rowCount():
            return
        header = self.horizontalHeader()
        padding = 2 * self.style().pixelMetric(QtWidgets.QStyle.PM_HeaderMargin) + 12
        room = self.fontMetrics().horizontalAdvance(STATUS_ROOM) + padding
        status = min(self.sizeHintForColumn(COL_STATUS), room)
        if not self.isColumnHidden(COL_STATUS):
            header.resizeSection(COL_STATUS, status)

        def wanted(column: int) -> int:  # (the last section shown is stretched)
            if column == COL_STATUS:
                return status
            return max(self.sizeHintForColumn(column), header.sectionSizeHint(column))

        fixed = sum(wanted(c) for c in range(self.columnCount())
                    if c not in (COL_MODEL, COL_CATEGORY) and not self.isColumnHidden(c))
        model = min(max(self.sizeHintForColumn(COL_MODEL),
                        header.sectionSizeHint(COL_MODEL)), MODEL_COLUMN_WIDTH)
        category = max(self.sizeHintForColumn(COL_CATEGORY),
                       header.sectionSizeHint(COL_CATEGORY))
        available = self.viewport().width()
        fits = fixed + model + category <= available
        self.setColumnHidden(COL_CATEGORY, not fits)
        if not fits:
            model = max(MODEL_COLUMN_MIN, min(model, available - fixed))
        header.resizeSection(COL_MODEL, model)

    # ------------------------------------------------------------------ sorting

    def _sort_clicked(self, column: int):
        """A header click: sort by that column, best first; again: the other way."""
        ascending, descending = QtCore.Qt.AscendingOrder, QtCore.Qt.DescendingOrder
        if column == self._sort_order[0]:
            order = descending if self._sort_order[1] == ascending else ascending
        else:
            order = descending if column in DESCENDING_FIRST else ascending
        self._sort(column, order)

    def _sort(self, column: int, order):
        self._sort_order = (column, order)
        self.horizontalHeader().setSortIndicator(column, order)
        self.sortItems(column, order)
        self._show_labels()

    def sort_arrow(self) -> tuple[int, str]:
        """The sorted column and its arrow: ▲ smallest first, ▼ largest first."""
        column, order = self._sort_order
        return column, ("▲" if order == QtCore.Qt.AscendingOrder else "▼")

    def _show_labels(self):
        sorted_column, arrow = self.sort_arrow()
        for column, name in enumerate(self._labels):
            text = header_label(name) + (f" {arrow}" if column == sorted_column else "")
            self.horizontalHeaderItem(column).setText(text)

    # ------------------------------------------------------------------ choice, filter

    def _selection_changed(self):
        if not self._filling:
            self.chosen.emit()

    def selected_model(self) -> str | None:
        """The sasmodels name of the selected row (None when none is selected)."""
        rows = self.selectionModel().selectedRows()
        item = self.item(rows[0].row(), COL_MODEL) if rows else None
        return None if item is None else item.data(MODEL_ROLE)

    def select_model(self, model: str) -> bool:
        """Select ``model``'s row (as a click would)."""
        for row in range(self.rowCount()):
            item = self.item(row, COL_MODEL)
            if item is not None and item.data(MODEL_ROLE) == model:
                self.selectRow(row)
                self.scrollToItem(item)
                return True
        return False

    def apply_filter(self, text: str) -> tuple[list[int], str]:
        """Show only the rows whose model contains ``text``: the rows shown, and the
        matches line. A filter only hides rows: the chosen model stays chosen."""
        text = text.strip().lower()
        shown = []
        for row in range(self.rowCount()):
            item = self.item(row, COL_MODEL)
            hide = bool(text) and text not in f"{item.text()} {item.data(MODEL_ROLE)}".lower()
            self.setRowHidden(row, hide)
            if not hide:
                shown.append(row)
        matches = f"{len(shown)} of {self.rowCount()}" if text else ""
        rows = self.selectionModel().selectedRows()
        if text and rows and rows[0].row() not in shown:
            matches += f"; the chosen {self.item(rows[0].row(), COL_MODEL).text()} is hidden"
        return shown, matches

    def select_row(self, row: int) -> None:
        """Choose ``row`` (as a click would) and bring it into view."""
        self.selectRow(row)
        self.scrollToItem(self.item(row, COL_MODEL))


def _fit_cells(fit) -> dict[int, tuple[str, float | None]]:
    """Verification columns of one row: (text, sort key); blank when not verified."""
    if fit is None:
        return {column: ("", None) for column in VERIFICATION_COLUMNS}

    def number(value, fmt):
        return (format(value, fmt) if math.isfinite(value) else "—"), value

    return {COL_VERIFIED: (str(fit.verified_rank), fit.verified_rank),
            COL_POSTERIOR: ((f"{100 * fit.posterior:.1f} %", fit.posterior) if fit.ok
                            else ("—", None)),
            COL_CHI2R: number(fit.chi2r, ".3g"),
            COL_BIC: number(fit.bic, ".1f"),
            COL_STATUS: (fit.verdict, None)}


def _fit_tooltip(fit) -> str:
    if not fit.ok:
        return fit.status
    lines = [f"{display_name(fit.model)}: {fit.verdict}",
             f"reduced χ² = {fit.chi2r:.4g}, BIC = {fit.bic:.2f}, "
             f"combined score {100 * fit.posterior:.1f} %",
             "Fitted: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.parameters.items())]
    if fit.fixed:
        lines.append("Held: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.fixed.items()))
    lines.extend(fit.notes)
    return "\n".join(lines)
