"""Parameter priors for simulating SAS curves of each sasmodels model.

The central idea: every model has one or more characteristic lengths
(radius, correlation length, lattice spacing, ...) that put a *feature*
(Guinier knee, form-factor minima, Bragg/correlation peak, change of slope)
at a scattering vector of roughly ``c / length``.  Instead of drawing the
lengths blindly, we draw the feature position ``q*`` log-uniformly inside the
q window of the simulated instrument (most of the time; sometimes a bit
outside it, as in real experiments where a feature is only partly seen) and
derive the main length from it.  Secondary lengths are drawn as ratios of
the main one.  Lengths therefore stay log-uniformly distributed while their
features usually land inside the window, so each class is learnable.

Nested models.  Many models contain a simpler one as a limit (a vesicle is
a multilayer vesicle with one shell, a core-shell sphere without shell
contrast is a sphere, a polydisperse Gaussian coil with Mw/Mn = 2 is exactly
a Lorentzian).  A curve drawn in such a limit carries the simpler model's
label in disguise: it teaches the network noise, and the right suggestion
for such data is the simpler model anyway.  The priors of the richer models
therefore keep their distinguishing feature visible: shells and head groups
with real contrast and thickness, aspect ratios away from 1, enough shells,
arms or polydispersity to matter (see :data:`MIN_SHELL_CONTRAST`).

Models without a specific rule fall back to a generic prior built from the
sasmodels parameter table (units, limits, defaults), so ``--models all``
still works.

Overall intensity (``scale``) and ``background`` are *not* drawn here: they
are part of the instrument model in :mod:`training.simulate` and are fixed to
``scale=1, background=0``.  Orientation parameters are left at their defaults
(1D data are orientationally averaged by the kernels anyway).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

#: q window assumed when the caller does not give one (1/Angstrom).
DEFAULT_Q_RANGE = (1e-3, 0.5)
#: Probability that a curve gets size polydispersity (when the model has any).
PD_PROBABILITY = 0.5
#: Range of the relative polydispersity (gaussian sigma / mean).
PD_RANGE = (0.02, 0.3)
#: Number of points in the gaussian polydispersity integration.
PD_N_DEFAULT = 35
#: Fraction of curves whose feature position is drawn in a wider range than
#: the window (feature partly or not at all visible, as in practice).
OUTSIDE_FRACTION = 0.15
#: Minimum SLD difference (1e-6/Ang^2) between a shell, rim or head group and
#: its neighbours, so the layer is visible in the curve.
MIN_SHELL_CONTRAST = 1.0

# Parameters that are volume parameters in sasmodels but must not be made
# polydisperse (counts and ratios).
_NO_PD = {
    "n_shells", "num_pearls", "n_stacking", "x_core", "x_polar_shell",
    "axis_ratio", "b2a_ratio", "c2a_ratio", "alpha", "beta", "penetration",
}

# Settings that define the priors; written into the dataset manifest so that a
# change of priors is detected on restart.
PRIOR_VERSION = 2
PRIOR_SETTINGS = {
    "prior_version": PRIOR_VERSION,
    "min_shell_contrast": MIN_SHELL_CONTRAST,
    "pd_probability": PD_PROBABILITY,
    "pd_range": PD_RANGE,
    "pd_type": "gaussian",
    "pd_nsigma": 3.0,
    "outside_fraction": OUTSIDE_FRACTION,
}


class Draw:
    """Random helpers bound to one generator and one q window."""

    def __init__(self, rng: np.random.Generator, q_range=DEFAULT_Q_RANGE):
        self.rng = rng
        self.q_lo, self.q_hi = float(q_range[0]), float(q_range[1])
        if not 0 < self.q_lo < self.q_hi:
            raise ValueError(f"bad q range {q_range!r}")

    # --- primitive distributions -------------------------------------
    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def logu(self, a: float, b: float) -> float:
        return float(math.exp(self.rng.uniform(math.log(a), math.log(b))))

    def integer(self, a: int, b: int) -> int:
        """Integer in [a, b], log-uniformly distributed."""
        return int(min(b, max(a, round(self.logu(a, b + 0.499)))))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def sld(self, lo: float = -0.5, hi: float = 7.0) -> float:
        """A neutron/X-ray scattering length density in 1e-6/Ang^2."""
        return self.u(lo, hi)

    def sld_pair(self, min_contrast: float = 0.3, lo: float = -0.5,
                 hi: float = 7.0) -> tuple[float, float]:
        """(particle, solvent) SLDs with a non-negligible contrast."""
        while True:
            a, b = self.sld(lo, hi), self.sld(lo, hi)
            if abs(a - b) >= min_contrast:
                return a, b

    def sld_apart(self, *others: float, gap: float = MIN_SHELL_CONTRAST,
                  lo: float = -0.5, hi: float = 7.0) -> float:
        """An SLD at least *gap* away from each of *others* (a visible layer)."""
        while True:
            value = self.sld(lo, hi)
            if all(abs(value - other) >= gap for other in others):
                return value

    def ratio_apart(self, lo: float, hi: float, gap: float = 1.4) -> float:
        """A log-uniform aspect ratio in [lo, hi] outside [1/gap, gap], so the
        shape differs visibly from the isotropic one."""
        while True:
            value = self.logu(lo, hi)
            if not 1.0 / gap < value < gap:
                return value

    # --- window-aware feature positions -------------------------------
    def qstar(self, margin: float = 1.5) -> float:
        """Position of a feature: inside the window (shrunk by *margin* on
        both sides) most of the time, within a 4x wider window otherwise."""
        lo, hi = self.q_lo * margin, self.q_hi / margin
        if hi <= lo or self.chance(OUTSIDE_FRACTION):
            lo, hi = self.q_lo / 4, self.q_hi * 4
        return self.logu(lo, hi)

    def length(self, c: float = 1.0, margin: float = 1.5) -> float:
        """A length whose feature at q ~ c/length lies in the window."""
        return c / self.qstar(margin)

    def length_in(self, c: float, lo: float, hi: float, tries: int = 20) -> float:
        """Like :meth:`length`, restricted to the physical range [lo, hi]
        (redrawn up to *tries* times, then clipped)."""
        for _ in range(tries):
            value = self.length(c)
            if lo <= value <= hi:
                return value
        return _clip(value, lo, hi)


def _clip(x: float, lo: float, hi: float) -> float:
    return float(min(hi, max(lo, x)))


# ---------------------------------------------------------------------------
# Model specific priors.  Each returns the drawn non-polydispersity values;
# lengths in Angstrom, SLDs in 1e-6/Ang^2.
# ---------------------------------------------------------------------------

def _adsorbed_layer(d: Draw) -> dict:
    # I ~ exp(-(q sigma)^2)/q^2: the knee sits at q = 1/second_moment.
    return dict(
        second_moment=_clip(d.length(1.0), 2.0, 5000.0),
        adsorbed_amount=d.u(0.5, 5.0), density_shell=d.u(0.5, 1.5),
        radius=d.logu(100.0, 5000.0), volfraction=d.logu(0.01, 0.3),
        sld_shell=d.sld(), sld_solvent=d.sld())


def _barbell(d: Draw) -> dict:
    radius_bell = d.length(2.0)
    radius = radius_bell * d.logu(0.2, 0.95)
    length = radius_bell * d.logu(0.5, 20.0)
    sld, solvent = d.sld_pair()
    return dict(radius_bell=radius_bell, radius=radius, length=length,
                sld=sld, sld_solvent=solvent)


def _paracrystal(d: Draw, first_peak: float) -> dict:
    # first Bragg peak at q ~ first_peak * 2 pi / dnn
    dnn = d.length(first_peak * 2 * math.pi)
    radius = 0.5 * dnn * d.u(0.4, 0.95)
    sld, solvent = d.sld_pair(lo=0.0)  # sc_paracrystal requires SLD >= 0
    return dict(dnn=dnn, radius=radius, d_factor=d.logu(0.01, 0.15),
                sld=sld, sld_solvent=solvent)


def _be_positive(p: dict) -> bool:
    """True if the Borue-Erukhimovich denominator stays positive for all q.

    I(q) ~ (q^2 + k^2) / (1 + r0^4 (q^2 + k^2) (q^2 - A)) with
    A = 12 v c / b^2; for A > 0 the denominator has its minimum
    1 - r0^4 ((A + k^2)/2)^2 at q^2 = (A - k^2)/2.
    """
    c_pol = p["polymer_concentration"] * 6.022136e-4
    c_salt = p["salt_concentration"] * 6.022136e-4
    lb, b, alpha = p["bjerrum_length"], p["monomer_length"], p["ionization_degree"]
    k2 = 4 * math.pi * lb * (2 * c_salt + alpha * c_pol)
    r0_2 = b / (alpha * math.sqrt(c_pol) * math.sqrt(48 * math.pi * lb))
    a = 12.0 * p["virial_param"] * c_pol / b ** 2
    if a <= 0:
        return True
    x_min = max((a - k2) / 2.0, 0.0)
    return 1.0 + r0_2 ** 2 * (x_min + k2) * (x_min - a) > 1e-3


def _be_polyelectrolyte(d: Draw) -> dict:
    # Borue-Erukhimovich: the polyelectrolyte peak position depends on all
    # parameters (mostly monomer length, concentrations and ionization).
    # Draws whose intensity would turn negative (strong positive virial
    # parameter) are redrawn.
    while True:
        pars = dict(
            contrast_factor=d.u(1.0, 100.0),
            bjerrum_length=d.u(5.0, 10.0),
            virial_param=d.u(-50.0, 50.0),
            monomer_length=d.logu(2.0, 50.0) * (1e-2 / d.qstar()) ** 0.5,
            salt_concentration=d.logu(1e-5, 0.1) if d.chance(0.7) else 0.0,
            ionization_degree=d.logu(0.01, 1.0),
            polymer_concentration=d.logu(0.005, 1.0))
        if _be_positive(pars):
            return pars


def _binary_hard_sphere(d: Draw) -> dict:
    radius_lg = d.length(3.0)
    radius_sm = radius_lg * d.logu(0.1, 0.9)
    vf_lg = d.u(0.02, 0.3)
    vf_sm = d.u(0.02, 0.3)
    return dict(radius_lg=radius_lg, radius_sm=radius_sm,
                volfraction_lg=vf_lg, volfraction_sm=vf_sm,
                sld_lg=d.sld(), sld_sm=d.sld(), sld_solvent=d.sld())


def _broad_peak(d: Draw) -> dict:
    peak_pos = d.qstar(2.0)
    porod_exp = d.u(1.0, 4.5)
    porod_scale = 1e-6
    peak_scale = porod_scale / peak_pos ** porod_exp * d.logu(0.3, 300.0)
    return dict(porod_scale=porod_scale, porod_exp=porod_exp,
                peak_scale=peak_scale, peak_pos=peak_pos,
                correlation_length=d.logu(3.0, 50.0) / peak_pos,
                width_exp=d.u(1.0, 4.0), shape_exp=d.u(1.0, 3.0))


def _capped_cylinder(d: Draw) -> dict:
    # caps of large radius are flat and short caps on long rods are invisible:
    # both are cylinders
    radius_cap = d.length(2.0)
    radius = radius_cap * d.logu(0.6, 0.98)
    length = radius_cap * d.logu(0.5, 6.0)
    sld, solvent = d.sld_pair()
    return dict(radius_cap=radius_cap, radius=radius, length=length,
                sld=sld, sld_solvent=solvent)


def _core_shell_bicelle(d: Draw) -> dict:
    outer = d.length(2.5)
    thick_rim = outer * d.logu(0.05, 0.5)
    radius = outer - thick_rim
    total_length = outer * d.logu(0.1, 10.0)
    thick_face = total_length * d.logu(0.05, 0.3)
    core, solvent = d.sld(), d.sld()
    return dict(radius=radius, thick_rim=thick_rim, thick_face=thick_face,
                length=max(total_length - 2 * thick_face, 1.0),
                sld_core=core, sld_face=d.sld_apart(core, solvent),
                sld_rim=d.sld_apart(core, solvent), sld_solvent=solvent)


def _core_shell_bicelle_elliptical(d: Draw) -> dict:
    pars = _core_shell_bicelle(d)
    pars["x_core"] = d.logu(1.5, 4.0)
    return pars


def _core_shell_cylinder(d: Draw) -> dict:
    outer = d.length(2.5)
    thickness = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                length=outer * d.logu(0.3, 30.0),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


def _core_shell_ellipsoid(d: Draw) -> dict:
    outer = d.length(2.5)
    thick = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius_equat_core=outer - thick, x_core=d.ratio_apart(0.2, 5.0),
                thick_shell=thick, x_polar_shell=d.logu(0.3, 3.0),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


def _core_shell_parallelepiped(d: Draw) -> dict:
    a = d.length(3.0)
    lengths = sorted([a, a * d.logu(1.0, 5.0), a * d.logu(1.0, 30.0)])
    thick = [x * d.logu(0.08, 0.4) for x in lengths]
    core, solvent = d.sld(), d.sld()
    return dict(length_a=lengths[0], length_b=lengths[1], length_c=lengths[2],
                thick_rim_a=thick[0], thick_rim_b=thick[1], thick_rim_c=thick[2],
                sld_core=core, sld_a=d.sld_apart(core, solvent),
                sld_b=d.sld_apart(core, solvent), sld_c=d.sld_apart(core, solvent),
                sld_solvent=solvent)


def _core_shell_sphere(d: Draw) -> dict:
    outer = d.length(3.0)
    thickness = outer * d.logu(0.08, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


def _correlation_length(d: Draw) -> dict:
    xi = d.length(1.0)
    porod_exp = d.u(1.0, 4.0)
    porod_scale = 1e-6
    lorentz_scale = porod_scale * (1.0 / xi) ** -porod_exp * d.logu(1.0, 300.0)
    return dict(cor_length=xi, porod_exp=porod_exp, porod_scale=porod_scale,
                lorentz_scale=lorentz_scale, lorentz_exp=d.u(1.5, 4.0))


def _cylinder(d: Draw) -> dict:
    # either the radius or the length sets the feature in the window
    if d.chance(0.5):
        radius = d.length(2.5)
        length = radius * d.logu(0.2, 50.0)
    else:
        length = d.length(4.0)
        radius = length * d.logu(0.01, 2.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, length=length, sld=sld, sld_solvent=solvent)


def _dab(d: Draw) -> dict:
    return dict(cor_length=d.length(1.0))


def _ellipsoid(d: Draw) -> dict:
    re = d.length(2.5)
    sld, solvent = d.sld_pair()
    return dict(radius_equatorial=re, radius_polar=re * d.ratio_apart(0.1, 10.0),
                sld=sld, sld_solvent=solvent)


def _elliptical_cylinder(d: Draw) -> dict:
    r = d.length(2.5)
    sld, solvent = d.sld_pair()
    return dict(radius_minor=r, axis_ratio=d.logu(1.4, 6.0),
                length=max(r * d.logu(0.3, 50.0), 1.0), sld=sld, sld_solvent=solvent)


def _flexible_cylinder(d: Draw) -> dict:
    kuhn = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(kuhn_length=kuhn, length=kuhn * d.logu(2.0, 100.0),
                radius=kuhn * d.logu(0.01, 0.3), sld=sld, sld_solvent=solvent)


def _flexible_cylinder_elliptical(d: Draw) -> dict:
    # the elliptical cross-section is what tells it from flexible_cylinder:
    # put the cross-section feature (not the Kuhn length) in the window
    radius = max(d.length(2.5), 1.0)
    sld, solvent = d.sld_pair()
    kuhn = radius * d.logu(3.0, 100.0)
    return dict(radius=radius, axis_ratio=d.logu(1.8, 5.0), kuhn_length=kuhn,
                length=kuhn * d.logu(2.0, 100.0), sld=sld, sld_solvent=solvent)


def _fractal(d: Draw) -> dict:
    radius = d.length(1.5)
    return dict(radius=radius, cor_length=radius * d.logu(5.0, 100.0),
                fractal_dim=d.u(1.2, 3.0), volfraction=d.logu(0.001, 0.3),
                sld_block=d.sld(), sld_solvent=d.sld())


def _fractal_core_shell(d: Draw) -> dict:
    outer = d.length(2.0)
    thickness = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                cor_length=outer * d.logu(5.0, 100.0),
                fractal_dim=d.u(1.2, 3.0), volfraction=d.logu(0.001, 0.3),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


def _fuzzy_sphere(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, fuzziness=radius * d.logu(0.08, 0.35),
                sld=sld, sld_solvent=solvent)


def _gauss_lorentz_gel(d: Draw) -> dict:
    xs = d.length(1.5)
    return dict(cor_length_static=xs, cor_length_dynamic=xs * d.logu(0.02, 0.5),
                gauss_scale=100.0, lorentz_scale=100.0 * d.logu(0.01, 3.0))


def _gaussian_peak(d: Draw) -> dict:
    q0 = d.qstar(1.3)
    return dict(peak_pos=q0, sigma=q0 * d.logu(0.03, 0.4))


def _gel_fit(d: Draw) -> dict:
    rg = max(d.length(2.0), 2.0)
    return dict(rg=rg, cor_length=rg * d.logu(0.02, 0.5),
                fractal_dim=d.u(1.0, 3.0), guinier_scale=1.0,
                lorentz_scale=d.logu(0.01, 1.0))


def _guinier(d: Draw) -> dict:
    return dict(rg=d.length(1.7))


def _guinier_porod(d: Draw) -> dict:
    s = d.u(0.0, 2.5)
    return dict(rg=d.length(1.7), s=s, porod_exp=s + d.u(0.5, 3.0))


def _hardsphere(d: Draw) -> dict:
    # main peak at q ~ 2 pi / (2 R)
    return dict(radius_effective=d.length(math.pi), volfraction=d.u(0.05, 0.5))


def _hayter_msa(d: Draw) -> dict:
    volfraction = d.logu(0.01, 0.3)
    # the peak sits near 2 pi / (mean distance) = 2 pi / (2 R phi^-1/3)
    # (charged micelles/proteins: the MSA solver fails for radii above a few
    # hundred Angstrom or strong screening)
    radius = d.length_in(math.pi * volfraction ** (1.0 / 3.0), 10.0, 250.0)
    return dict(radius_effective=radius, volfraction=volfraction,
                charge=d.logu(8.0, 100.0), temperature=d.u(280.0, 350.0),
                concentration_salt=d.logu(1e-4, 0.02) if d.chance(0.8) else 0.0,
                dielectconst=d.u(30.0, 80.0))


def _hollow_cylinder(d: Draw) -> dict:
    outer = d.length(2.5)
    thickness = outer * d.logu(0.05, 0.7)
    sld, solvent = d.sld_pair()
    return dict(radius=outer - thickness, thickness=thickness,
                length=outer * d.logu(0.3, 30.0), sld=sld, sld_solvent=solvent)


def _rectangular_prism(d: Draw) -> dict:
    a = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(length_a=a, b2a_ratio=d.logu(1.0, 5.0), c2a_ratio=d.logu(1.0, 30.0),
                sld=sld, sld_solvent=solvent)


def _hollow_rectangular_prism(d: Draw) -> dict:
    pars = _rectangular_prism(d)
    # thin walls are the hollow_rectangular_prism_thin_walls model
    pars["thickness"] = 0.5 * pars["length_a"] * d.logu(0.2, 0.8)
    return pars


def _lamellar(d: Draw) -> dict:
    # form factor minima at q = 2 pi n / thickness
    sld, solvent = d.sld_pair()
    return dict(thickness=d.length(2 * math.pi), sld=sld, sld_solvent=solvent)


def _lamellar_hg(d: Draw) -> dict:
    total = d.length(2 * math.pi)  # full bilayer = 2 (tail + head)
    head = 0.5 * total * d.u(0.2, 0.6)
    tail, solvent = d.sld(), d.sld()
    return dict(length_tail=0.5 * total - head, length_head=head,
                sld=tail, sld_head=d.sld_apart(tail, solvent), sld_solvent=solvent)


def _stack_common(d: Draw) -> tuple[float, float, int]:
    d_spacing = d.length(2 * math.pi)
    thickness = d_spacing * d.u(0.1, 0.8)
    nlayers = d.integer(2, 100)
    return d_spacing, thickness, nlayers


def _lamellar_hg_stack_caille(d: Draw) -> dict:
    d_spacing, thickness, nlayers = _stack_common(d)
    head = 0.5 * thickness * d.u(0.2, 0.6)
    tail, solvent = d.sld(), d.sld()
    return dict(d_spacing=d_spacing, length_tail=0.5 * thickness - head,
                length_head=head, Nlayers=nlayers,
                Caille_parameter=d.logu(0.005, 0.4),
                sld=tail, sld_head=d.sld_apart(tail, solvent), sld_solvent=solvent)


def _lamellar_stack_caille(d: Draw) -> dict:
    d_spacing, thickness, nlayers = _stack_common(d)
    sld, solvent = d.sld_pair()
    return dict(d_spacing=d_spacing, thickness=thickness, Nlayers=nlayers,
                Caille_parameter=d.logu(0.005, 0.4), sld=sld, sld_solvent=solvent)


def _lamellar_stack_paracrystal(d: Draw) -> dict:
    d_spacing, thickness, nlayers = _stack_common(d)
    sld, solvent = d.sld_pair()
    return dict(d_spacing=d_spacing, thickness=thickness, Nlayers=nlayers,
                sigma_d=d.logu(0.01, 0.3), sld=sld, sld_solvent=solvent)


def _line(d: Draw) -> dict:
    intercept = d.logu(0.1, 10.0)
    qc = d.qstar(1.2)  # where the linear term equals the intercept
    if d.chance(0.8):
        slope = intercept / qc
    else:  # decreasing line that stays positive in the window
        slope = -intercept / d.q_hi * d.u(0.05, 0.7)
    return dict(intercept=intercept, slope=slope)


def _linear_pearls(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, edge_sep=radius * d.logu(0.05, 5.0),
                num_pearls=d.integer(2, 20), sld=sld, sld_solvent=solvent)


def _lorentz(d: Draw) -> dict:
    return dict(cor_length=d.length(1.0))


def _mass_fractal(d: Draw) -> dict:
    radius = d.length(2.0)
    return dict(radius=radius, cutoff_length=radius * d.logu(5.0, 100.0),
                fractal_dim_mass=d.u(1.2, 3.0))


def _mass_surface_fractal(d: Draw) -> dict:
    rg_cluster = d.length(1.5)
    return dict(rg_cluster=rg_cluster, rg_primary=rg_cluster * d.logu(0.01, 0.2),
                fractal_dim_mass=d.u(1.2, 3.0), fractal_dim_surf=d.u(1.2, 3.0))


def _mono_gauss_coil(d: Draw) -> dict:
    return dict(i_zero=1.0, rg=d.length(1.5))


def _multilayer_vesicle(d: Draw) -> dict:
    outer = d.length(3.0)
    n_shells = d.integer(2, 10)  # one shell is the vesicle model
    one = outer * d.u(0.2, 0.8) / n_shells
    thick_shell = one * d.u(0.2, 0.8)
    sld, solvent = d.sld_pair()
    return dict(radius=max(outer - n_shells * one, 1.0), n_shells=n_shells,
                thick_shell=thick_shell, thick_solvent=one - thick_shell,
                volfraction=d.logu(0.005, 0.3), sld=sld, sld_solvent=solvent)


def _parallelepiped(d: Draw) -> dict:
    a = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(length_a=a, length_b=a * d.logu(1.0, 5.0),
                length_c=a * d.logu(1.0, 30.0), sld=sld, sld_solvent=solvent)


def _peak_lorentz(d: Draw) -> dict:
    q0 = d.qstar(1.3)
    return dict(peak_pos=q0, peak_hwhm=q0 * d.logu(0.02, 0.5))


def _pearl_necklace(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, edge_sep=radius * d.logu(0.2, 10.0),
                thick_string=radius * d.logu(0.02, 0.3),
                num_pearls=d.integer(2, 20), sld=sld,
                sld_string=d.sld(), sld_solvent=solvent)


def _poly_gauss_coil(d: Draw) -> dict:
    # Mw/Mn -> 1 is mono_gauss_coil and Mw/Mn = 2 (Schulz-Zimm) is exactly a
    # Lorentzian in q^2 Rg^2: draw on either side of the latter.
    pdi = d.u(1.25, 1.7) if d.chance(0.5) else d.u(2.5, 5.0)
    return dict(i_zero=1.0, rg=d.length(1.5), polydispersity=pdi)


def _polymer_excl_volume(d: Draw) -> dict:
    # porod_exp = 1/nu; nu = 1/2 (theta solvent) is the Gaussian coil
    exponent = d.u(1.5, 1.8) if d.chance(0.5) else d.u(2.3, 3.5)
    return dict(rg=d.length(1.5), porod_exp=exponent)


def _polymer_micelle(d: Draw) -> dict:
    radius_core = d.length(3.0)
    rg = radius_core * d.logu(0.05, 0.5)
    n_aggreg = d.integer(5, 200)
    v_core = 4 * math.pi / 3 * radius_core ** 3 / n_aggreg * 0.68
    segments = d.integer(6, 50)
    v_corona = math.pi * rg ** 3 * math.sqrt(6.0 / segments)
    solvent = d.u(0.0, 6.5)
    return dict(radius_core=radius_core, rg=rg, n_aggreg=n_aggreg,
                v_core=v_core, v_corona=v_corona, ndensity=d.logu(0.1, 50.0),
                d_penetration=d.u(0.8, 1.2), sld_solvent=solvent,
                sld_core=d.u(0.0, 6.5), sld_corona=d.sld_apart(solvent, lo=0.0, hi=6.5))


def _porod(d: Draw) -> dict:
    return {}


def _power_law(d: Draw) -> dict:
    return dict(power=d.u(1.0, 4.5))


def _pringle(d: Draw) -> dict:
    # saddle-shaped discs of 20-500 A (larger ones also cost seconds per curve)
    radius = d.length_in(2.5, 20.0, 500.0)
    sld, solvent = d.sld_pair()
    # alpha and beta are curvatures (1/Ang): keep alpha*R^2 and beta*R^2
    # comparable to the radius so the saddle shape matters.
    return dict(radius=radius, thickness=radius * d.logu(0.02, 0.4),
                alpha=d.logu(0.01, 0.5) / radius, beta=d.logu(0.01, 0.5) / radius,
                sld=sld, sld_solvent=solvent)


def _raspberry(d: Draw) -> dict:
    radius_lg = d.length(3.0)
    return dict(radius_lg=radius_lg, radius_sm=radius_lg * d.logu(0.03, 0.3),
                penetration=d.u(0.0, 0.5), surface_fraction=d.u(0.2, 0.9),
                volfraction_lg=d.logu(0.005, 0.2), volfraction_sm=d.logu(0.002, 0.1),
                sld_lg=d.sld(), sld_sm=d.sld(), sld_solvent=d.sld())


def _sphere(d: Draw) -> dict:
    sld, solvent = d.sld_pair()
    return dict(radius=d.length(3.0), sld=sld, sld_solvent=solvent)


def _spinodal(d: Draw) -> dict:
    return dict(q_0=d.qstar(1.5), gamma=d.u(2.0, 6.0))


def _squarewell(d: Draw) -> dict:
    return dict(radius_effective=d.length(math.pi), volfraction=d.u(0.01, 0.08),
                welldepth=d.u(0.1, 1.5), wellwidth=d.u(1.0, 1.5))


def _stacked_disks(d: Draw) -> dict:
    radius = d.length(2.5)
    repeat = radius * d.logu(0.05, 1.0)
    thick_core = repeat * d.u(0.2, 0.8)
    return dict(radius=radius, thick_core=thick_core,
                thick_layer=0.5 * (repeat - thick_core),
                n_stacking=d.integer(1, 50), sigma_d=repeat * d.logu(0.01, 0.3),
                sld_core=d.sld(), sld_layer=d.sld(), sld_solvent=d.sld())


def _star_polymer(d: Draw) -> dict:
    rg = d.length(1.5)
    # one or two arms make a linear chain (mono_gauss_coil)
    return dict(rg_squared=rg * rg, arms=d.u(3.0, 12.0))


def _sticky_ok(volfraction: float, perturb: float, stickiness: float) -> bool:
    """Baxter's adhesive sphere solution exists (real, physical root lambda);
    otherwise the sasmodels kernel returns S(q) = -1."""
    eta = volfraction / (1.0 - perturb) ** 3
    qa = eta / 6.0
    qb = stickiness + eta / (1.0 - eta)
    qc = (1.0 + eta / 2.0) / (1.0 - eta) ** 2
    disc = qb * qb - 2.0 * qa * qc
    if disc < 0:
        return False
    lam = min((qb - math.sqrt(disc)) / qa, (qb + math.sqrt(disc)) / qa)
    return lam * eta * (1.0 - eta) <= 1.0 + 2.0 * eta


def _stickyhardsphere(d: Draw) -> dict:
    radius = d.length(math.pi)
    while True:
        pars = dict(radius_effective=radius, volfraction=d.u(0.02, 0.4),
                    perturb=d.u(0.01, 0.1), stickiness=d.u(0.05, 0.4))
        if _sticky_ok(pars["volfraction"], pars["perturb"], pars["stickiness"]):
            return pars


def _surface_fractal(d: Draw) -> dict:
    # The sasmodels formula (sin(-(5-Ds) atan(q xi)) / q) is only positive,
    # hence only valid, for atan(q xi) > pi/(5-Ds); the kernel clamps it to 0
    # below.  Keep that region under the window: xi > tan(pi/(5-Ds)) / q_min.
    radius = d.length(1.5)
    dim = d.u(1.1, 2.9)
    xi_min = 1.5 * math.tan(math.pi / (5.0 - dim)) / (0.5 * d.q_lo)
    return dict(radius=radius, fractal_dim_surf=dim,
                cutoff_length=max(radius * d.logu(10.0, 1000.0), xi_min * d.logu(1.0, 10.0)))


def _teubner_strey(d: Draw) -> dict:
    period = d.length(2 * math.pi)
    sld_a, sld_b = d.sld_pair()
    return dict(d=period, xi=period * d.logu(0.2, 5.0),
                volfraction_a=d.u(0.1, 0.9), sld_a=sld_a, sld_b=sld_b)


def _triaxial_ellipsoid(d: Draw) -> dict:
    a = d.length(2.5)
    sld, solvent = d.sld_pair()
    radii = sorted([a, a * d.logu(1.5, 5.0)])  # equal radii: ellipsoid
    return dict(radius_equat_minor=radii[0], radius_equat_major=radii[1],
                radius_polar=a * d.logu(0.1, 10.0), sld=sld, sld_solvent=solvent)


def _two_lorentzian(d: Draw) -> dict:
    l1 = d.length(1.0)
    return dict(lorentz_length_1=l1, lorentz_length_2=l1 * d.logu(0.01, 0.3),
                lorentz_exp_1=d.u(1.5, 4.0), lorentz_exp_2=d.u(1.5, 4.0),
                lorentz_scale_1=1.0, lorentz_scale_2=d.logu(1e-3, 1.0))


def _two_power_law(d: Draw) -> dict:
    p1 = d.u(0.5, 4.5)
    while True:
        p2 = d.u(1.0, 5.0)
        if abs(p2 - p1) >= 0.5:
            break
    # NB: the sasmodels parameter really is spelled "coefficent_1".
    return dict(coefficent_1=1.0, crossover=d.qstar(1.5), power_1=p1, power_2=p2)


def _unified_power_rg(d: Draw) -> dict:
    level = 1 + min(int(d.rng.poisson(0.7)), 3)
    # hierarchical structure: each level at least 4x larger than the previous
    rgs = [d.length(1.7)]
    for _ in range(level - 1):
        rgs.append(rgs[-1] * d.logu(4.0, 30.0))
    rgs = sorted(rgs)
    pars: dict = dict(level=level)
    g = 1.0
    for k, rg in enumerate(rgs, start=1):
        power = d.u(1.5, 4.0)
        if k > 1:
            g *= d.logu(10.0, 1e3) * (rg / rgs[k - 2]) ** 1.5
        b = g * power / rg ** power * math.gamma(power / 2.0)
        pars.update({f"rg{k}": rg, f"power{k}": power, f"G{k}": g, f"B{k}": b})
    return pars


def _vesicle(d: Draw) -> dict:
    outer = d.length(3.0)
    thickness = outer * d.logu(0.02, 0.8)
    sld, solvent = d.sld_pair()
    return dict(radius=outer - thickness, thickness=thickness,
                volfraction=d.logu(0.005, 0.3), sld=sld, sld_solvent=solvent)


PRIORS: dict[str, Callable[[Draw], dict]] = {
    "adsorbed_layer": _adsorbed_layer,
    "barbell": _barbell,
    "bcc_paracrystal": lambda d: _paracrystal(d, math.sqrt(3.0) / math.sqrt(2.0)),
    "be_polyelectrolyte": _be_polyelectrolyte,
    "binary_hard_sphere": _binary_hard_sphere,
    "broad_peak": _broad_peak,
    "capped_cylinder": _capped_cylinder,
    "core_shell_bicelle": _core_shell_bicelle,
    "core_shell_bicelle_elliptical": _core_shell_bicelle_elliptical,
    "core_shell_cylinder": _core_shell_cylinder,
    "core_shell_ellipsoid": _core_shell_ellipsoid,
    "core_shell_parallelepiped": _core_shell_parallelepiped,
    "core_shell_sphere": _core_shell_sphere,
    "correlation_length": _correlation_length,
    "cylinder": _cylinder,
    "dab": _dab,
    "ellipsoid": _ellipsoid,
    "elliptical_cylinder": _elliptical_cylinder,
    "fcc_paracrystal": lambda d: _paracrystal(d, math.sqrt(3.0) / math.sqrt(2.0)),
    "flexible_cylinder": _flexible_cylinder,
    "flexible_cylinder_elliptical": _flexible_cylinder_elliptical,
    "fractal": _fractal,
    "fractal_core_shell": _fractal_core_shell,
    "fuzzy_sphere": _fuzzy_sphere,
    "gauss_lorentz_gel": _gauss_lorentz_gel,
    "gaussian_peak": _gaussian_peak,
    "gel_fit": _gel_fit,
    "guinier": _guinier,
    "guinier_porod": _guinier_porod,
    "hardsphere": _hardsphere,
    "hayter_msa": _hayter_msa,
    "hollow_cylinder": _hollow_cylinder,
    "hollow_rectangular_prism": _hollow_rectangular_prism,
    "hollow_rectangular_prism_thin_walls": _rectangular_prism,
    "lamellar": _lamellar,
    "lamellar_hg": _lamellar_hg,
    "lamellar_hg_stack_caille": _lamellar_hg_stack_caille,
    "lamellar_stack_caille": _lamellar_stack_caille,
    "lamellar_stack_paracrystal": _lamellar_stack_paracrystal,
    "line": _line,
    "linear_pearls": _linear_pearls,
    "lorentz": _lorentz,
    "mass_fractal": _mass_fractal,
    "mass_surface_fractal": _mass_surface_fractal,
    "mono_gauss_coil": _mono_gauss_coil,
    "multilayer_vesicle": _multilayer_vesicle,
    "parallelepiped": _parallelepiped,
    "peak_lorentz": _peak_lorentz,
    "pearl_necklace": _pearl_necklace,
    "poly_gauss_coil": _poly_gauss_coil,
    "polymer_excl_volume": _polymer_excl_volume,
    "polymer_micelle": _polymer_micelle,
    "porod": _porod,
    "power_law": _power_law,
    "pringle": _pringle,
    "raspberry": _raspberry,
    "rectangular_prism": _rectangular_prism,
    "sc_paracrystal": lambda d: _paracrystal(d, 1.0),
    "sphere": _sphere,
    "spinodal": _spinodal,
    "squarewell": _squarewell,
    "stacked_disks": _stacked_disks,
    "star_polymer": _star_polymer,
    "stickyhardsphere": _stickyhardsphere,
    "surface_fractal": _surface_fractal,
    "teubner_strey": _teubner_strey,
    "triaxial_ellipsoid": _triaxial_ellipsoid,
    "two_lorentzian": _two_lorentzian,
    "two_power_law": _two_power_law,
    "unified_power_Rg": _unified_power_rg,
    "vesicle": _vesicle,
}


# ---------------------------------------------------------------------------
# Generic prior from the parameter table (models without a specific rule).
# ---------------------------------------------------------------------------

def _generic(model_info, d: Draw) -> dict:
    pars: dict = {}
    qstar = d.qstar()
    for p in model_info.parameters.kernel_parameters:
        if p.type in ("orientation", "magnetic") or p.length > 1:
            continue
        lo, hi = p.limits
        if p.choices:
            pars[p.name] = int(d.rng.integers(len(p.choices)))
        elif p.type == "sld":
            pars[p.name] = d.sld(max(lo, -0.5), min(hi, 7.0))
        elif p.units == "Ang":
            value = d.logu(0.5, 5.0) / qstar
            pars[p.name] = _clip(value, max(lo, 1.0) if lo >= 0 else lo, hi)
        elif p.units in ("1/Ang", "1/A"):
            pars[p.name] = _clip(qstar, lo, hi)
        elif math.isfinite(lo) and math.isfinite(hi):
            pars[p.name] = d.u(lo, hi)
        else:
            default = float(p.default)
            if default == 0.0:
                pars[p.name] = 0.0
            else:
                value = default * d.logu(0.5, 2.0)
                pars[p.name] = _clip(value, lo, hi)
    return pars


def pd_candidates(model_info) -> list[str]:
    """Size parameters that may receive polydispersity."""
    return [p.name for p in model_info.parameters.kernel_parameters
            if p.polydisperse and p.type == "volume" and p.units == "Ang"
            and p.name not in _NO_PD and p.length == 1]


def draw_parameters(model_info, rng: np.random.Generator, q_range=None,
                    pd_n: int | Callable[[int], int] | None = None,
                    pd_probability: float = PD_PROBABILITY,
                    max_pd_params: int = 2) -> dict:
    """Draw one parameter set for *model_info* (a sasmodels ModelInfo).

    *q_range* is the (q_min, q_max) window of the simulated instrument in
    1/Ang: characteristic lengths are drawn so the model's features usually
    fall inside it.  With probability *pd_probability* one (70 %) or two
    (30 %; at most *max_pd_params*) size parameters receive gaussian
    polydispersity with relative
    width in :data:`PD_RANGE` using *pd_n* integration points (default 35;
    a callable gets the number of polydisperse parameters and returns it).

    The result holds plain floats/ints for sasmodels, with ``scale=1`` and
    ``background=0``.
    """
    d = Draw(rng, q_range or DEFAULT_Q_RANGE)
    rule = PRIORS.get(model_info.id)
    pars = rule(d) if rule is not None else _generic(model_info, d)
    pars = {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                else float(v)) for k, v in pars.items()}
    known = {p.name for p in model_info.parameters.kernel_parameters}
    known |= {p.id for p in model_info.parameters.call_parameters}
    known |= {f"{p.name}{k}" for p in model_info.parameters.kernel_parameters
              if p.length > 1 for k in range(1, p.length + 1)}
    bad = sorted(set(pars) - known)
    if bad:  # a typo in a prior would otherwise be silently ignored
        raise KeyError(f"{model_info.id}: prior emits unknown parameter(s) {bad}")
    candidates = pd_candidates(model_info)
    if candidates and rng.random() < pd_probability:
        n_pd = 2 if (len(candidates) > 1 and rng.random() < 0.3) else 1
        n_pd = max(1, min(n_pd, max_pd_params))
        chosen = rng.choice(len(candidates), size=n_pd, replace=False)
        if callable(pd_n):
            n = int(pd_n(n_pd))
        else:
            n = int(pd_n or PD_N_DEFAULT)
        for index in sorted(int(i) for i in chosen):
            name = candidates[index]
            pars[f"{name}_pd"] = float(rng.uniform(*PD_RANGE))
            pars[f"{name}_pd_n"] = n
            pars[f"{name}_pd_nsigma"] = 3.0
            pars[f"{name}_pd_type"] = "gaussian"
    pars["scale"] = 1.0
    pars["background"] = 0.0
    return pars
