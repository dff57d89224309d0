"""One conformance test for every file in ``sasnets_plugin/models`` (sasmodels-style).

Each model file says what the project knows about one sasmodels model; these checks hold
each of them to the kernel they describe: prior draws inside sasmodels' limits and in the
kernel's units, fit bounds that reach every value the prior draws, polydispersity only
where the kernel integrates it, integer counts, exact size-family scaling laws.
"""
from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from sasnets_plugin import models
from sasnets_plugin.models import draw as draw_module
from sasnets_plugin.models import products
from sasnets_plugin.models.draw import Draw
from sasnets_plugin.verification.parameters import setup_for
from training import priors, simulate

NAMES = models.names()
#: Prior draws per model and check.
N_DRAWS = 150
#: Training windows the checks draw from: q_min and q_max ranges (1/Å).
Q_MIN, Q_MAX = (5e-4, 2e-2), (0.08, 0.7)


def _windows(seed: int = 0):
    """(q_min, q_max, generator seed) triples, log-uniform over the training windows."""
    rng = np.random.default_rng(seed)
    for _ in range(N_DRAWS):
        lo = math.exp(rng.uniform(*np.log(Q_MIN)))
        hi = math.exp(rng.uniform(*np.log(Q_MAX)))
        yield lo, hi, int(rng.integers(2**31))


def _kernel_table(name: str) -> dict:
    return {p.name: p for p in models.model_info(name).parameters.kernel_parameters}


def test_every_network_class_has_its_file():
    assert set(models.DEFAULT_MODELS) <= set(NAMES)
    assert len(models.DEFAULT_MODELS) == len(set(models.DEFAULT_MODELS)) == 71


@pytest.mark.parametrize("name", NAMES)
def test_model_file_is_complete_and_frozen(name):
    model = models.get(name)
    assert model.name == name and models.get(name) is model
    assert model.doc.startswith(f"{name}: ") and "Prior: " in model.doc
    with pytest.raises(FrozenInstanceError):
        model.name = "other"  # type: ignore[misc]
    table = {p.name: p for p in models.model_info(name).parameters.call_parameters}
    fit = model.fit
    for pname in (*fit.free, *fit.amplitudes, *fit.fixed):
        assert pname in table, (name, pname)
    if fit.contrasts is not None:
        assert all(table[s].type == "sld" for s in fit.contrasts.names), name
    assert model.simulation.cost_us > 0


@pytest.mark.parametrize("name", NAMES)
def test_prior_draws_lie_inside_sasmodels_limits(name):
    table = _kernel_table(name)
    prior = models.get(name).prior
    for lo, hi, seed in _windows():
        for key, value in prior(Draw(np.random.default_rng(seed), (lo, hi))).items():
            if key in table:
                low, high = table[key].limits
                assert low <= value <= high, (key, value, (low, high))


@pytest.mark.parametrize("name", NAMES)
def test_prior_follows_the_kernels_units(name):
    """Lengths (Å) follow the window: for windows 10x lower in q, the median of every
    length is at least as large and the model's main length clearly larger. Parameters
    sasmodels lists in Å but the kernel reads as relative (``DIMENSIONLESS``) must not
    follow the window (stacked_disks' sigma_d once did). Medians, not draw-by-draw
    ratios: priors that redraw rejected values desynchronise the random streams."""
    model = models.get(name)
    table = _kernel_table(name)
    angstrom = [k for k, p in table.items() if p.units == "Ang"]
    near, far = {k: [] for k in angstrom}, {k: [] for k in angstrom}
    for lo, hi, seed in _windows(1):
        a = model.prior(Draw(np.random.default_rng(seed), (lo, hi)))
        b = model.prior(Draw(np.random.default_rng(seed), (lo / 10, hi / 10)))
        for key in angstrom:
            if key in a:
                near[key].append(a[key])
                far[key].append(b[key])
    ratio = {k: np.median(far[k]) / np.median(near[k]) for k in angstrom if near[k]}
    for key, r in ratio.items():
        if key in model.dimensionless:
            assert 0.7 < r < 1.4, (key, r)
        else:
            assert r > 0.7, (key, r)
    lengths = [r for k, r in ratio.items() if k not in model.dimensionless]
    if lengths:
        assert max(lengths) > 2.5, ratio


@pytest.mark.parametrize("name", NAMES)
def test_fit_bounds_contain_the_priors_range(name, monkeypatch):
    """Whatever the prior draws for a window, the verification's bounds for that window
    reach it (features placed in the window: the prior's own extension beyond it is
    meant to be partly unresolvable)."""
    monkeypatch.setattr(draw_module, "OUTSIDE_FRACTION", 0.0)
    model = models.get(name)
    for lo, hi, seed in _windows(2):
        values = model.prior(Draw(np.random.default_rng(seed), (lo, hi)))
        setup = setup_for(name, lo, hi)
        for key, (low, high) in setup.shape.items():
            if key in values and not model.fit.free[key].is_contrast:
                assert low <= values[key] <= high, (key, values[key], (low, high), (lo, hi))


@pytest.mark.parametrize("name", NAMES)
def test_polydispersity_goes_to_volume_parameters_the_kernel_accepts(name):
    model = models.get(name)
    table = _kernel_table(name)
    for key in model.polydisperse:
        p = table[key]
        assert p.polydisperse and p.type == "volume" and p.length == 1, key
        assert key not in model.dimensionless, key
    info = models.model_info(name)
    pars = priors.draw_parameters(info, np.random.default_rng(3), q_range=(1e-3, 0.3),
                                  pd_probability=1.0)
    pd = {k[:-3] for k in pars if k.endswith("_pd")}
    assert pd <= set(model.polydisperse)
    assert bool(pd) == bool(model.polydisperse)


@pytest.mark.parametrize("name", NAMES)
def test_counts_are_integers(name):
    model = models.get(name)
    counts = [k for k, f in model.fit.free.items() if f.is_count]
    for key in counts:
        free = model.fit.free[key]
        assert all(c == int(c) for c in (*free.choices, free.lo, free.hi)), key
        assert free.lo <= min(free.choices) and max(free.choices) <= free.hi
    for lo, hi, seed in _windows(3):
        values = model.prior(Draw(np.random.default_rng(seed), (lo, hi)))
        for key in counts:
            assert isinstance(values[key], int), (key, values[key])


FAMILY_MODELS = [n for n in NAMES if models.get(n).simulation.family is not None]


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_size_family_scaling_law(name):
    """The size-family remedy relies on I(q; s L) being proportional to I(s q; L), with
    exactly the family's up/down parameters scaled (its recorded labels depend on it)."""
    family = models.get(name).simulation.family
    assert not set(family.up + family.down) & set(models.get(name).dimensionless)
    q = np.geomspace(3e-3, 0.2, 24)
    info, _ = simulate.load_model(name)
    pars = priors.draw_parameters(info, np.random.default_rng(1), q_range=(3e-3, 0.2),
                                  pd_probability=0.0)
    s = 1.7
    scaled = dict(pars)
    scaled.update({k: pars[k] * s for k in family.up})
    scaled.update({k: pars[k] / s for k in family.down})
    ratio = simulate.evaluate(name, q, scaled) / simulate.evaluate(name, s * q, pars)
    np.testing.assert_allclose(ratio / ratio[0], 1.0, rtol=1e-6)


def test_models_without_a_file_get_the_generic_rules():
    model = models.get("onion")  # a sasmodels model with no file here
    assert "onion" not in NAMES and model.name == "onion"
    assert model.simulation.cost_us == 1.85  # measured, from the generic table
    pars = model.prior(Draw(np.random.default_rng(0), (1e-3, 0.3)))
    assert "radius_core" in pars and set(model.polydisperse) <= set(_kernel_table("onion"))
    with pytest.raises(ValueError, match="unknown sasmodels model 'no_such_model'"):
        models.get("no_such_model")


PRODUCTS = [f"{form}@{s}" for form in NAMES if products.combinable(form)
            for s in products.STRUCTURES]


def test_products_are_the_combinations_sasview_allows():
    assert len(PRODUCTS) == 4 * 26  # 25 network classes and superball have a radius
    for name in ("porod@hardsphere", "sphere@porod"):
        with pytest.raises(ValueError, match="SasView cannot multiply 'porod'|not a structure"):
            models.get(name)


@pytest.mark.parametrize("name", PRODUCTS)
def test_product_draws_and_fits_the_kernels_parameters(name):
    model = models.get(name)
    table = {p.name: p for p in models.model_info(name).parameters.call_parameters}
    assert set(model.fit.free) | set(model.fit.fixed) <= set(table)
    assert "radius_effective" not in model.fit.free
    for lo, hi, seed in list(_windows(4))[:20]:
        values = model.prior(Draw(np.random.default_rng(seed), (lo, hi)))
        assert values["radius_effective_mode"] == 1 and "radius_effective" not in values
        for key, value in values.items():
            low, high = table[key].limits
            assert low <= value <= high, (key, value)


NESTED = [(n, i) for n in NAMES for i in range(len(models.get(n).nested))]


def test_the_nested_limits_cover_the_simple_families():
    simpler = {models.get(n).nested[i].simpler for n, i in NESTED}
    assert {"sphere", "vesicle", "lamellar", "mono_gauss_coil", "power_law"} <= simpler
    assert len(NESTED) >= 12


@pytest.mark.parametrize("name,index", NESTED)
def test_a_curve_at_a_nested_limit_is_the_simpler_models_curve(name, index):
    """The label rule for curves drawn at an exact nested limit (the simpler model) is
    only right if the kernels agree there: same curve up to a constant factor."""
    nested = models.get(name).nested[index]
    q = np.geomspace(1e-3, 0.5, 120)
    for lo, hi, seed in list(_windows(5))[:8]:
        pars = nested.limit(models.get(name).prior(Draw(np.random.default_rng(seed), (lo, hi))))
        rich = simulate.evaluate(name, q, {**pars, "scale": 1.0, "background": 0.0})
        simple = simulate.evaluate(nested.simpler, q,
                                   {**nested.same(pars), "scale": 1.0, "background": 0.0})
        ratio = rich / simple
        np.testing.assert_allclose(ratio / ratio[0], 1.0, rtol=1e-8)
