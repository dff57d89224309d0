"""The overview of every data set sent to the perspective (Qt view): one row each, with
its chosen model, the network's probability of it, its verification, χ²ᵣ and the last
SasView fit (:func:`.tables.overview_row`). For a series of measurements: sort by any
column; a double click (or Enter) opens the data set's ranking."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .cells import cell, read_only_rows
from .tables import OVERVIEW_COLUMNS, OverviewRow

#: Item data role holding the data set's key on each row's first cell.
KEY_ROLE = QtCore.Qt.UserRole + 3
#: Columns whose numbers are right-aligned.
_NUMERIC = frozenset({2, 4, 5})


class OverviewTable(QtWidgets.QTableWidget):
    """One row per data set; :attr:`opened` asks to show one of them."""

    #: A row was double-clicked or Enter pressed on it: the data set's key.
    opened = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(OVERVIEW_COLUMNS), parent)
        self.setObjectName("tblOverview")
        self.setHorizontalHeaderLabels(OVERVIEW_COLUMNS)
        read_only_rows(self)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.Interactive)
        header.setStretchLastSection(True)
        self.setSortingEnabled(True)
        header.setSortIndicator(-1, QtCore.Qt.AscendingOrder)  # the order they came in
        self.setToolTip("Every data set sent here: click a header to sort, double-click "
                        "(or Enter) a row to open its ranking.")
        self.activated.connect(self._activated)

    def fill(self, rows: list[OverviewRow]) -> None:
        """Show ``rows`` (kept in the user's sort order)."""
        self.setSortingEnabled(False)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for column, (text, key) in enumerate(row.cells()):
                item = cell(text, key, right=column in _NUMERIC)
                item.setToolTip(text)
                if column == 0:
                    item.setData(KEY_ROLE, row.key)
                self.setItem(r, column, item)
        self.setSortingEnabled(True)
        self.resizeColumnsToContents()

    def key_at(self, row: int) -> int | None:
        item = self.item(row, 0)
        return None if item is None else item.data(KEY_ROLE)

    @QtCore.Slot(QtCore.QModelIndex)
    def _activated(self, index: QtCore.QModelIndex) -> None:
        key = self.key_at(index.row())
        if key is not None:
            self.opened.emit(key)
