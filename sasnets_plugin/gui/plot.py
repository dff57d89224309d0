"""The plot of the data set shown (Qt view): the data the network reads, the curve it
saw, the verification fit of the selected model; matplotlib's navigation toolbar on top."""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from PySide6 import QtCore, QtWidgets

from ..cleaning import clean_raw
from ..errors import DataError
from ..models.products import display_name
from .state import DataSet

#: Smallest height of the plot's canvas (its axes and labels stay readable).
PLOT_MIN_HEIGHT = 200
#: Dots per inch of the plot (matplotlib's default).
FIGURE_DPI = 100
#: Icon size of the plot's toolbar (matplotlib's default is taller than SasView's).
TOOLBAR_ICON = 20
#: Factor of room below the smallest and above the largest intensity on the plot's
#: log axis: error bars reaching down to ~0 (dI ≥ I) would otherwise stretch it over
#: decades and squeeze the data (SDS, apoferritin).
Y_MARGIN = 3.0


def rows_used(dataset: DataSet) -> np.ndarray:
    """The raw rows cleaning keeps (those the network reads); none when the data set
    cannot be cleaned (its status line says why)."""
    if dataset.ranking is not None:
        return dataset.ranking.prepared.report.kept
    raw = dataset.raw
    try:
        return clean_raw(raw)[1].kept
    except DataError:
        return np.zeros(np.size(raw.q), dtype=bool)


class _Canvas(FigureCanvasQTAgg):
    """matplotlib's canvas, asking for :data:`PLOT_MIN_HEIGHT` only: its own size hint
    is the figure's current size, which grows with the window and then keeps the
    perspective's scroll area from ever shrinking back."""

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(self.minimumWidth(), PLOT_MIN_HEIGHT)


class DataPlot(QtWidgets.QWidget):
    """The figure, its canvas and its navigation toolbar."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.figure = Figure(figsize=(5.5, PLOT_MIN_HEIGHT / FIGURE_DPI), dpi=FIGURE_DPI,
                             layout="constrained")
        self.canvas = _Canvas(self.figure)
        self.canvas.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.axes = self.figure.add_subplot(1, 1, 1)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        self.toolbar.setIconSize(QtCore.QSize(TOOLBAR_ICON, TOOLBAR_ICON))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)

    def show_dataset(self, dataset: DataSet | None, selected: str | None) -> None:
        """Draw ``dataset`` (the data the network reads, its network input, the
        verification fit of the ``selected`` model); a hint when there is none."""
        ax = self.axes
        ax.clear()
        if dataset is None:
            ax.text(0.5, 0.5, "Send 1D data from the Data Explorer", ha="center", va="center",
                    transform=ax.transAxes, color="0.5")
            ax.set_xticks([])
            ax.set_yticks([])
            self.canvas.draw_idle()
            return
        raw = dataset.raw
        keep = rows_used(dataset)
        q, I = raw.q[keep], raw.I[keep]  # noqa: E741
        dI = None if raw.dI is None else raw.dI[keep]
        if dI is not None and np.all(np.isfinite(dI)) and np.any(dI > 0):
            ax.errorbar(q, I, yerr=dI, fmt="o", ms=3, lw=0.8, color="C0", label="data")
        else:
            ax.plot(q, I, "o", ms=3, color="C0", label="data")
        ranking = dataset.ranking
        if ranking is not None:
            curve = ranking.prepared.curve
            q_net, i_net = ranking.network_curve()  # relative intensities: put on the data
            offset = float(np.mean(np.interp(np.log10(q_net), np.log10(curve.q),
                                             np.log10(curve.I)) - np.log10(i_net)))
            ax.plot(q_net, i_net * 10 ** offset, "-", color="C3", lw=1.5,
                    label=f"network input ({q_net.size} points)")
            title = (f"{dataset.title}: {display_name(ranking.models[0])} "
                     f"({100 * ranking.probabilities[0]:.0f} %)")
            verified = dataset.verified
            if verified is not None and verified.best is not None:
                title += f"; best fit: {display_name(verified.best.model)}"
            ax.set_title(title, fontsize=10)
            fit = dataset.candidate_fit(selected or "")
            if fit is not None and fit.ok and fit.q is not None and fit.I_fit is not None:
                show = np.isfinite(fit.I_fit) & (fit.I_fit > 0)
                ax.plot(fit.q[show], fit.I_fit[show], "-", color="C2", lw=1.5,
                        label=f"{display_name(fit.model)} fit (χ²ᵣ = {fit.chi2r:.3g})")
        else:
            ax.set_title(dataset.title, fontsize=10)
        if q.size:
            ax.set_xscale("log")
            ax.set_yscale("log")
            positive = I[I > 0]
            if positive.size:  # the data fill the plot; long lower error bars are cut
                ax.set_ylim(positive.min() / Y_MARGIN, positive.max() * Y_MARGIN)
        ax.set_xlabel("Q (Å$^{-1}$)")
        ax.set_ylabel("I(Q)")
        ax.legend(loc="best", fontsize=8)
        self.canvas.draw_idle()
