"""SASNets for SasView: suggest which sasmodels model describes 1D small-angle scattering data.

>>> from sasnets_plugin import suggest_file
>>> suggest_file("cyl_400_20.txt", top=3)   # doctest: +SKIP
[('cylinder', 0.71), ...]
"""
from .errors import DataError, SasnetsError, WeightsError
from .suggestion import suggest, suggest_file

__all__ = ["suggest", "suggest_file", "SasnetsError", "DataError", "WeightsError"]
