"""Table cells that sort by a number, and the read-only row tables they sit in (Qt),
shared by the ranking and the overview."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

#: Item data role holding a cell's numeric sort key.
SORT_ROLE = QtCore.Qt.UserRole + 1


class SortCell(QtWidgets.QTableWidgetItem):
    """A cell that sorts by its numeric key (:data:`SORT_ROLE`) when it has one; cells
    without a key (not verified, failed fit) go last in either order."""

    def __lt__(self, other):
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is None and theirs is None:
            return self.text() < other.text()  # (PySide's base __lt__ would call us back)
        table = self.tableWidget()
        descending = (table is not None and table.horizontalHeader().sortIndicatorOrder()
                      == QtCore.Qt.DescendingOrder)
        if mine is None:
            return descending
        if theirs is None:
            return not descending
        return mine < theirs


def cell(text: str, key: float | None = None, right: bool = False) -> SortCell:
    """A cell showing ``text`` that sorts by ``key`` (when finite)."""
    import math

    item = SortCell(text)
    if key is not None and math.isfinite(key):
        item.setData(SORT_ROLE, key)
    if right:
        item.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
    return item


def read_only_rows(table: QtWidgets.QTableWidget) -> None:
    """Make ``table`` a read-only list of rows: one whole row selected at a time, long
    texts elided, no row numbers."""
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
    table.setTextElideMode(QtCore.Qt.ElideRight)
