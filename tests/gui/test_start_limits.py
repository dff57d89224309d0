"""Bug 2 for every model: the start values typed into SasView's fit page lie strictly
inside the min/max SasView shows for that parameter (bumps coerces a value on a limit
and SasView's fit then fails), for every entry the network ranks (the 71 models and the
products form@structure), in one real fit page reused model after model."""
from __future__ import annotations

import pytest
from sasview_helpers import load_files

from sasnets_plugin.gui import fitting_bridge, state
from sasnets_plugin.loading import from_data1d
from sasnets_plugin.models import products
from sasnets_plugin.verification import prepare_data
from sasnets_plugin.verification.parameters import count_names

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_every_model_starts_strictly_inside_sasview_limits(gui, qtbot, example_data,
                                                            network_classes):
    from sas.qtgui.Utilities import GuiUtils

    (item,) = load_files(gui, qtbot, [example_data / "1d_data" / "hSDS_D2O_2p0_percent.xml"])
    raw = from_data1d(GuiUtils.dataFromItem(item), title=item.text())
    assert len({products.split(c)[0] for c in network_classes}) == 71
    data = prepare_data(raw)[0]
    page, problems, checked = None, [], 0
    for model in network_classes:
        target = state.fit_target(model)
        plan = fitting_bridge.plan_fit(target, data)
        page = fitting_bridge.open_fit_page(gui, item, plan, page)
        details = page.logic.kernel_module.details
        choices, counts = fitting_bridge.whole_number_parameters(target)
        assert count_names(products.split(target)[0]) <= counts
        table = page._model_model
        for name in plan.values:
            row = page.getRowFromName(name)
            if row is None or table.item(row, 1) is None or name not in details:
                continue  # not in SasView's main table (e.g. a polydispersity setting)
            value = float(table.item(row, 1).text())
            _units, lo, hi = details[name]
            if name in choices | counts:  # exact whole numbers, a limit included
                inside = lo <= value <= hi and table.item(row, 1).text() == str(int(value))
            else:
                inside = lo < value < hi
            checked += 1
            if not inside:
                problems.append(f"{target}.{name} = {value} not in ({lo}, {hi})")
        ticked = set(page.main_params_to_fit)
        assert ticked and ticked <= set(plan.fit), (target, ticked, plan.fit)
    assert not problems, problems
    assert checked > 5 * len(network_classes)
    fitting = gui.loadedPerspectives["Fitting"]
    assert sum(tab is page for tab in fitting.tabs) == 1  # one page, reused for all
