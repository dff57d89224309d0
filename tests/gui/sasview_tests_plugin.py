"""pytest plugin (``-p sasview_tests_plugin``): SasView's own GUI tests, our perspective in.

Does what SasView's root ``conftest.py`` does for its tests (config reset to defaults,
never saved) and registers the Model Suggestion perspective the way
``sasnets-sasview`` does, so the windows those tests build include it. At the end it
writes how many perspective instances SasView created to ``$SASNETS_PLUGIN_REPORT``.
"""
import json
import os

_created = []


def pytest_configure(config):
    from sas.system import config as sas_config

    sas_config.override_with_defaults()
    import sasnets_plugin

    sasnets_plugin.register()  # main windows built by the tests get the Analysis item
    from sasnets_plugin.gui.launcher import add_to_perspectives

    cls = add_to_perspectives()  # the Data Explorer / GuiManager the tests build see it
    original = cls.__init__

    def counting_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        _created.append(type(self).__name__)

    cls.__init__ = counting_init


def pytest_sessionfinish(session, exitstatus):
    report = os.environ.get("SASNETS_PLUGIN_REPORT")
    if report:
        import sas.qtgui.Perspectives as perspectives

        with open(report, "w") as handle:
            json.dump({"instances": len(_created),
                       "registered": sorted(perspectives.PERSPECTIVES)}, handle)
