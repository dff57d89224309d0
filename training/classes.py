"""Model classes the network ranks, and helpers to select subsets of them.

The order of :data:`DEFAULT_MODELS` is the output order of the network.
"""
from __future__ import annotations

import fnmatch
from functools import lru_cache

#: The 71 default classes, in network output order.
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

assert len(DEFAULT_MODELS) == 71 and len(set(DEFAULT_MODELS)) == 71


@lru_cache(maxsize=1)
def available_models() -> tuple[str, ...]:
    """Every model name known to the installed sasmodels."""
    from sasmodels.core import list_models

    return tuple(list_models())


def resolve_models(spec: str | None) -> list[str]:
    """Turn a model specification into an ordered, duplicate-free list of names.

    *spec* is a comma separated list whose items are model names, shell
    globs (``core_shell_*``), ``default`` (the 71 default classes, in order)
    or ``all`` (every model of the installed sasmodels).  ``None`` or an
    empty string means ``default``.  Items keep the order they are given in;
    a glob expands in sorted order.  Unknown names or globs that match
    nothing raise :class:`ValueError` naming them.
    """
    if spec is None or not str(spec).strip():
        return list(DEFAULT_MODELS)
    known = available_models()
    known_set = set(known)
    result: list[str] = []
    unknown: list[str] = []
    for item in (part.strip() for part in str(spec).split(",")):
        if not item:
            continue
        if item == "all":
            names = list(known)
        elif item == "default":
            names = list(DEFAULT_MODELS)
        elif any(ch in item for ch in "*?["):
            names = sorted(fnmatch.filter(known, item))
            if not names:
                unknown.append(item)
        elif item in known_set:
            names = [item]
        else:
            unknown.append(item)
            names = []
        for name in names:
            if name not in result:
                result.append(name)
    if unknown:
        raise ValueError(
            "unknown sasmodels model(s) or pattern(s) matching nothing: "
            + ", ".join(repr(u) for u in unknown)
            + f" (sasmodels knows {len(known)} models; use 'all' to list them "
            "via sasmodels.core.list_models())")
    if not result:
        raise ValueError(f"model specification {spec!r} selects no model")
    return result
