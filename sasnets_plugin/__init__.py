"""SASNets for SasView: suggest which sasmodels model describes 1D small-angle scattering data.

>>> from sasnets_plugin import suggest_file
>>> suggest_file("cyl_400_20.txt", top=3)   # doctest: +SKIP
[('cylinder', 0.71), ...]
"""
from .errors import DataError, SasnetsError, WeightsError
from .suggestion import suggest, suggest_file

__all__ = ["suggest", "suggest_file", "register", "SasnetsError", "DataError", "WeightsError"]


def register() -> None:
    """Add the *Model Suggestion* perspective to SasView, for custom start-up scripts.

    Call it before SasView builds its main window (e.g. before ``sas.cli.main()``);
    Qt and SasView's GUI are imported only when SasView starts. ``sasnets-sasview`` and
    ``python -m sasnets_plugin`` do this for you.
    """
    from .gui.launcher import register as _register

    _register()
