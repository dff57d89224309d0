"""Products ``form@structure``: a form factor times a structure factor (sasmodels' syntax).

Concentrated samples scatter ``P(q) S(q)``. sasmodels (and SasView's *Structure factor*
combo) combine a form factor that defines an effective radius with one of the interaction
structure factors; the product's ``radius_effective`` is then computed from the form
(``radius_effective_mode`` 1), so the structure factor adds only its own interaction
parameters (volume fraction, charge and salt, stickiness, well depth and width).

What the project knows of a product is derived from its two models' files: the prior
draws the form, then the structure factor's interaction parameters (its own prior, the
radius dropped); the fit varies both sets; simulating costs both kernels.
"""
from __future__ import annotations

from functools import lru_cache

from .draw import Draw
from .spec import FitSpec, Model, Simulation

#: The interaction structure factors SasView multiplies form factors by.
STRUCTURES = ("hardsphere", "stickyhardsphere", "squarewell", "hayter_msa")
#: sasmodels' product settings: S(q) from the form's effective radius, plain P(q) S(q)
#: (forms without the beta approximation have no ``structure_factor_mode``).
PRODUCT_SETTINGS = {"radius_effective_mode": 1, "structure_factor_mode": 0}


#: Separator of sasmodels' product names.
SEPARATOR = "@"


def split(name: str) -> tuple[str, str | None]:
    """``("ellipsoid", "hayter_msa")`` for ``"ellipsoid@hayter_msa"``; ``(name, None)``
    for a single model."""
    form, _, structure = name.partition(SEPARATOR)
    return form, (structure or None)


def combinable(form: str) -> bool:
    """True if SasView can multiply ``form`` by a structure factor (it defines an
    effective radius)."""
    from . import model_info

    return bool(model_info(form).radius_effective_modes)


def _product_prior(form: Model, structure: Model, settings: dict, d: Draw) -> dict:
    pars = form.prior(d)
    interaction = structure.prior(d)
    interaction.pop("radius_effective", None)
    return {**pars, **interaction, **settings}


def _product_fit(form: FitSpec, structure: FitSpec, settings: dict) -> FitSpec:
    interaction = {k: v for k, v in structure.free.items() if k != "radius_effective"}
    guess_s = structure.guess

    def guess(v):
        extra = [{k: x for k, x in g.items() if k != "radius_effective"}
                 for g in (guess_s(v) if guess_s else [{}])]
        extra = [e for i, e in enumerate(extra) if e not in extra[:i]]
        return [{**g, **e} for g in (form.guess(v) if form.guess else [{}]) for e in extra]

    notes = "; ".join(n for n in (form.notes, structure.notes,
                                  "radius_effective from the form") if n)
    return FitSpec({**form.free, **interaction}, form.amplitudes,
                   {**form.fixed, **structure.fixed, **settings}, form.background,
                   form.signed, form.order, guess, notes, form.contrasts)


@lru_cache(maxsize=None)
def model(name: str) -> Model:
    """The :class:`Model` of product ``name``; ValueError if SasView cannot form it."""
    from . import get, model_info

    form_name, structure_name = split(name)
    if structure_name not in STRUCTURES:
        raise ValueError(f"'{structure_name}' is not a structure factor SasView multiplies "
                         f"form factors by ({', '.join(STRUCTURES)})")
    form, structure = get(form_name), get(structure_name)
    if not combinable(form_name):
        raise ValueError(f"SasView cannot multiply '{form_name}' by a structure factor "
                         "(it defines no effective radius)")
    table = {p.name for p in model_info(name).parameters.call_parameters}
    settings = {k: v for k, v in PRODUCT_SETTINGS.items() if k in table}
    return Model(name, lambda d: _product_prior(form, structure, settings, d),
                 _product_fit(form.fit, structure.fit, settings),
                 Simulation(form.simulation.cost_us + structure.simulation.cost_us),
                 form.polydisperse, form.dimensionless,
                 doc=f"{form_name} x {structure_name}: product (see models.products).")


def display_name(name: str) -> str:
    """How people read a model name: ``"ellipsoid × hayter_msa"`` for a product."""
    form, structure = split(name)
    return f"{form} × {structure}" if structure else form
