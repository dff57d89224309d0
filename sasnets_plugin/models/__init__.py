"""Everything the project knows about a sasmodels model, one file per model.

``models/<name>.py`` (named like sasmodels' own ``sasmodels/models/<name>.py``) holds, for
one model: its training prior (:func:`prior`, a function of the random helpers in
:mod:`.draw`, which know the q window), its fit specification (``FIT``: free
parameters, bounds by role, starts from the curve invariants, relative contrasts,
integer counts), its simulation cost and size-family settings (``SIMULATION``), the size
parameters training may make polydisperse (``POLYDISPERSE``), optionally the parameters
sasmodels lists in Å that its kernel treats as relative (``DIMENSIONLESS``), the exact
limits where it is a simpler model (``NESTED``), and in its docstring the nested limits
the prior avoids and why. :func:`get` returns it as one frozen
:class:`~.spec.Model`; a sasmodels model without a file gets the generic rules of
:mod:`.generic`, a product ``form@structure`` what :mod:`.products` derives from both.

Adding a model is writing ``models/<name>.py`` (see the README); the conformance test
``tests/test_models.py`` checks every file alike.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from .spec import Model

#: The 71 classes of the shipped network, in its output order.
DEFAULT_MODELS: tuple[str, ...] = (
    "adsorbed_layer", "barbell", "bcc_paracrystal", "be_polyelectrolyte",
    "binary_hard_sphere", "broad_peak", "capped_cylinder", "core_shell_bicelle",
    "core_shell_bicelle_elliptical", "core_shell_cylinder", "core_shell_ellipsoid",
    "core_shell_parallelepiped", "core_shell_sphere", "correlation_length",
    "cylinder", "dab", "ellipsoid", "elliptical_cylinder", "fcc_paracrystal",
    "flexible_cylinder", "flexible_cylinder_elliptical", "fractal",
    "fractal_core_shell", "fuzzy_sphere", "gauss_lorentz_gel", "gaussian_peak",
    "gel_fit", "guinier", "guinier_porod", "hardsphere", "hayter_msa",
    "hollow_cylinder", "hollow_rectangular_prism",
    "hollow_rectangular_prism_thin_walls", "lamellar", "lamellar_hg",
    "lamellar_hg_stack_caille", "lamellar_stack_caille",
    "lamellar_stack_paracrystal", "line", "linear_pearls", "lorentz",
    "mass_fractal", "mass_surface_fractal", "mono_gauss_coil",
    "multilayer_vesicle", "parallelepiped", "peak_lorentz", "pearl_necklace",
    "poly_gauss_coil", "polymer_excl_volume", "polymer_micelle", "porod",
    "power_law", "pringle", "raspberry", "rectangular_prism", "sc_paracrystal",
    "sphere", "spinodal", "squarewell", "stacked_disks", "star_polymer",
    "stickyhardsphere", "surface_fractal", "teubner_strey", "triaxial_ellipsoid",
    "two_lorentzian", "two_power_law", "unified_power_Rg", "vesicle",
)

#: Modules of this package that are not models.
_SUPPORT = frozenset({"draw", "generic", "guess", "products", "shared", "spec"})


def names() -> tuple[str, ...]:
    """Every model with its own file here, sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                        if m.name not in _SUPPORT))


@lru_cache(maxsize=None)
def model_info(name: str):
    """sasmodels' ModelInfo of ``name`` (``form@structure`` too); :class:`ValueError` for
    an unknown model."""
    from sasmodels.core import list_models, load_model_info

    known = set(list_models())
    for part in name.split("@", 1):
        if part not in known:
            raise ValueError(f"unknown sasmodels model '{part}'")
    return load_model_info(name)


@lru_cache(maxsize=None)
def get(name: str) -> Model:
    """What the project knows about model ``name`` (its file, the generic rules, or for
    ``form@structure`` the product of both models, :mod:`.products`)."""
    if "@" in name:
        from . import products

        return products.model(name)
    if name not in names():
        from . import generic

        return generic.model(model_info(name))
    module = importlib.import_module(f"{__name__}.{name}")
    return Model(name, module.prior, module.FIT.in_relative_contrast(), module.SIMULATION,
                 tuple(module.POLYDISPERSE), tuple(getattr(module, "DIMENSIONLESS", ())),
                 tuple(getattr(module, "NESTED", ())), doc=module.__doc__ or "")
