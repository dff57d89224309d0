"""Generator v4's reuse of kernel evaluations, upturns and grids, checked against sasmodels.

A family member (a curve made from a shared reference evaluation, scaled in size and
measured on its own instrument) must equal the curve a fresh kernel evaluation gives; a
product family member must equal sasmodels' own ``form@structure`` kernel.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from sasnets_plugin import models
from sasnets_plugin.models import products
from training import instrument, priors, simulate


def _scaled(family, pars: dict, s: float) -> dict:
    out = dict(pars)
    out.update({k: pars[k] * s for k in family.up})
    out.update({k: pars[k] / s for k in family.down})
    return out


def _pinhole_instrument(seed: int) -> instrument.Instrument:
    """A SANS instrument of 1-1.5 decades (a few hundred grid points: fast kernels)."""
    rng = np.random.default_rng(seed)
    while True:
        inst = instrument.draw_instrument(rng)
        if inst.archetype == "sans" and 10 < inst.q[-1] / inst.q[0] < 30:
            return inst


def _compare_smeared(inst, q_calc, reused, fresh) -> None:
    """The two theories as the instrument measures them: the same shape to 1 %, the
    log-log interpolation of a reference at :data:`~training.simulate.REFERENCE_STEP`
    (the smearing's own discretisation error is of the same order; counting noise of
    the brightest simulated points is 1 %)."""
    a = simulate.smear(inst, q_calc, reused)
    b = simulate.smear(inst, q_calc, fresh)
    ratio = a / b
    np.testing.assert_allclose(ratio / np.median(ratio), 1.0, rtol=1e-2)


@pytest.mark.parametrize("name", ["cylinder", "barbell", "pringle"])
def test_a_family_member_equals_a_fresh_kernel_evaluation(name):
    family = models.get(name).simulation.family
    info, _ = simulate.load_model(name)
    inst = _pinhole_instrument(7)
    q_calc = simulate.calc_grid(inst)
    pars = priors.draw_parameters(info, np.random.default_rng(3),
                                  q_range=(inst.q[0], inst.q[-1]), pd_probability=0.0)
    s = 1.6
    # the reference covers the member's s * q_calc on the generator's finest step
    n_ref = int(math.log(q_calc[-1] / q_calc[0]) / simulate.REFERENCE_STEP) + 2
    q_ref = np.geomspace(s * q_calc[0], s * q_calc[-1], n_ref)
    reference = simulate.Reference.evaluate(name, q_ref, pars)
    reused = reference.member(s, q_calc)
    fresh = simulate.evaluate(name, q_calc, _scaled(family, pars, s))
    _compare_smeared(inst, q_calc, reused, fresh)


@pytest.mark.parametrize("product", ["cylinder@hardsphere", "ellipsoid@hayter_msa",
                                     "barbell@squarewell", "core_shell_cylinder@stickyhardsphere"])
def test_a_product_family_member_equals_sasmodels_product_kernel(product):
    form, structure = products.split(product)
    family = models.get(form).simulation.family
    info, _ = simulate.load_model(product)
    structure_info, _ = simulate.load_model(structure)
    inst = _pinhole_instrument(11)
    q_calc = simulate.calc_grid(inst)
    rng = np.random.default_rng(5)
    pars = priors.draw_parameters(info, rng, q_range=(inst.q[0], inst.q[-1]), pd_n=5,
                                  pd_probability=1.0, max_pd_params=1)
    s = 0.7
    n_ref = int(math.log(q_calc[-1] / q_calc[0]) / simulate.REFERENCE_STEP) + 2
    q_ref = np.geomspace(s * q_calc[0], s * q_calc[-1], n_ref)
    reference = simulate.Reference.evaluate(product, q_ref, pars)
    interaction = priors.draw_parameters(structure_info, rng, q_range=(inst.q[0], inst.q[-1]),
                                         pd_probability=0.0)
    for key in ("radius_effective", "scale", "background"):
        interaction.pop(key)
    reused = reference.member(s, q_calc, interaction)
    fresh = simulate.evaluate(product, q_calc,
                              {**_scaled(family, pars, s), **interaction,
                               **products.PRODUCT_SETTINGS})
    _compare_smeared(inst, q_calc, reused, fresh)


def test_products_of_family_forms_are_simulated_as_families_with_their_own_structure():
    curves = simulate.simulate_curves("cylinder", np.random.default_rng(1), 400)
    made = [c for c in curves if "@" in c.label]
    assert made and all("family_factor" in c.params for c in made)
    # each member draws its own interaction parameters
    by_family = Counter((c.label, c.params["model"]["radius"] / c.params["family_factor"])
                        for c in made)
    label, _ = max(by_family, key=by_family.get)
    members = [c for c in made if c.label == label]
    assert len({c.params["model"]["volfraction"] for c in members}) > 1


def test_forty_percent_of_the_draws_of_a_combinable_form_are_products():
    rng = np.random.default_rng(0)
    drafts = [simulate.draft("core_shell_sphere", rng) for _ in range(4000)]
    share = sum("@" in d.model for d in drafts) / len(drafts)
    assert abs(share - simulate.PRODUCT_FRACTION) < 0.025 and simulate.PRODUCT_FRACTION >= 0.4
    structures = Counter(products.split(d.model)[1] for d in drafts if "@" in d.model)
    assert set(structures) == set(products.STRUCTURES)


def test_an_upturn_crosses_the_curve_in_the_lower_part_of_the_window():
    inst = _pinhole_instrument(3)
    q_calc = simulate.calc_grid(inst)
    radius = 1.0 / math.sqrt(inst.q[0] * inst.q[-1])  # the knee in mid-window
    particle = 1.0 / (1.0 + (q_calc * radius) ** 2) ** 2  # plateau, then q^-4
    turns = []
    rng = np.random.default_rng(8)
    for _ in range(300):
        out, record = simulate.add_upturn(rng, inst, q_calc, particle)
        if record is None:
            assert out is particle
            continue
        turns.append(record)
        p, q_x = record["exponent"], record["q_cross"]
        assert 2.0 <= p <= 4.0
        position = math.log(q_x / inst.q[0]) / math.log(inst.q[-1] / inst.q[0])
        assert 0.0 <= position <= 0.4
        added = out - particle
        np.testing.assert_allclose(added * q_calc ** p, added[0] * q_calc[0] ** p, rtol=1e-9)
        at = np.searchsorted(q_calc, q_x)
        assert added[at - 1] >= 0.9 * particle[at - 1] and added[at + 1] <= 1.1 * particle[at + 1]
    # drawn for UPTURN["fraction"], kept where the particle decays more slowly
    assert 0.25 * simulate.UPTURN["fraction"] < len(turns) / 300 <= simulate.UPTURN["fraction"] + 0.05


def test_no_upturn_where_the_particle_decays_as_steeply():
    inst = _pinhole_instrument(3)
    q_calc = simulate.calc_grid(inst)
    steep = q_calc ** -4.5
    rng = np.random.default_rng(2)
    assert all(simulate.add_upturn(rng, inst, q_calc, steep)[1] is None for _ in range(200))


def test_simulated_curves_record_their_upturn_and_keep_their_label():
    curves = simulate.simulate_curves("sphere", np.random.default_rng(4), 200)
    turned = [c for c in curves if "upturn" in c.params]
    assert 0.05 < len(turned) / len(curves) < simulate.UPTURN["fraction"]
    assert {c.label for c in turned} <= {"sphere"} | {f"sphere@{s}" for s in products.STRUCTURES}


def test_every_resolution_function_spans_about_the_same_number_of_grid_points():
    q = np.geomspace(1e-3, 0.3, 120)
    dq_over_q = np.geomspace(0.2, 0.01, q.size)  # geometry-limited at low q, as in SANS
    inst = instrument.Instrument("sans", q, q * dq_over_q, 0.0, np.ones_like(q))
    q_calc = simulate.calc_grid(inst)
    inside = [np.count_nonzero(abs(q_calc - q) <= dq) for q, dq in zip(inst.q, inst.dq)]
    width = 2 * simulate.SMEAR_STEPS  # +-1 sigma at a log step of (dQ/Q) / SMEAR_STEPS
    assert width - 2 <= min(inside) and max(inside) <= width + 3
