"""be_polyelectrolyte: Polyelectrolyte with the RPA expression derived by Borue and
Erukhimovich.

Prior: The polyelectrolyte peak depends on all parameters; the monomer length is scaled
with the window. Draws whose denominator turns negative (strong positive virial
parameter: the kernel's intensity would be negative) are redrawn.
"""
from __future__ import annotations

import math

from .draw import Draw
from .spec import FitSpec, Simulation, value


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


def prior(d: Draw) -> dict:
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


FIT = FitSpec(
    {"monomer_length": value(0.2, 300.0, log=True),
     "ionization_degree": value(0.001, 1.0, log=True),
     "polymer_concentration": value(0.001, 10.0, log=True),
     "virial_param": value(-100.0, 100.0)},
    notes="contrast_factor (degenerate with scale), bjerrum_length and salt fixed")

SIMULATION = Simulation()

POLYDISPERSE = ()
