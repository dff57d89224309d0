"""Exceptions whose message is written for the scientist using the tool."""


class SasnetsError(Exception):
    """Base class: ``str(error)`` is a complete, user-facing explanation."""


class DataError(SasnetsError):
    """The data cannot be ranked (unreadable file, 2D data, too few usable points...)."""


class WeightsError(SasnetsError):
    """The bundled network is missing, corrupt or inconsistent with its class list."""
