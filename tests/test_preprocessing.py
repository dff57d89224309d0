"""network_input: scale-free, window-relative, robust to point count, noise and spacing."""
import numpy as np
import pytest

from sasnets_plugin.preprocessing import LOG_Q_OFFSET, N_CHANNELS, N_POINTS, network_input


def sphere(q, r=60.0):
    x = q * r
    return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-4


def test_shape_dtype_and_channels():
    q = np.logspace(-3, -0.3, 300)
    x = network_input(q, sphere(q))
    assert x.shape == (N_POINTS, N_CHANNELS) and x.dtype == np.float32
    assert x[:, 0].mean() == pytest.approx(0, abs=1e-5)
    np.testing.assert_allclose(x[[0, -1], 1], np.log10(q[[0, -1]]) + LOG_Q_OFFSET, rtol=1e-6)
    assert np.all(np.diff(x[:, 1]) > 0)


def test_absolute_scale_does_not_matter():
    q = np.logspace(-2.5, -0.5, 150)
    np.testing.assert_allclose(network_input(q, sphere(q)), network_input(q, 1e5 * sphere(q)), atol=1e-5)


def test_power_law_is_a_straight_line_of_the_right_slope():
    q = np.logspace(-2, 0, 37)
    x = network_input(q, 3.0 * q**-4)
    slope = np.diff(x[:, 0]) / np.diff(x[:, 1])
    np.testing.assert_allclose(slope, -4.0, rtol=1e-4)


@pytest.mark.parametrize("n", [10, 30, 100, 1000, 1_000_000])
def test_any_point_count_follows_the_true_curve(n):
    grid = np.logspace(-2.5, -0.5, N_POINTS)
    exact = np.log10(sphere(grid))
    exact -= exact.mean()
    q = np.logspace(-2.5, -0.5, n)
    error = np.abs(network_input(q, sphere(q))[:, 0] - exact)
    assert np.median(error) < 0.02
    if n >= N_POINTS:  # dense data: only the deep minima are softened by bin averaging
        assert error.max() < 0.3


def test_linear_spacing_and_noise_are_averaged_in_bins():
    rng = np.random.default_rng(1)
    q = np.linspace(0.002, 0.3, 20_000)
    clean = sphere(q)
    noisy = clean * (1 + 0.2 * rng.standard_normal(q.size)).clip(0.05)
    dI = 0.2 * clean
    diff = network_input(q, noisy, dI)[:, 0] - network_input(q, clean, dI)[:, 0]
    assert np.abs(diff).max() < 0.1


def test_uncertainties_weight_points_within_a_bin():
    q = np.array([0.0100, 0.0101, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1])
    I = np.ones_like(q)
    I[1] = 10.0
    dI = np.full_like(q, 0.01)
    trusted_first = network_input(q, I, dI * np.where(np.arange(q.size) == 1, 1e3, 1))
    trusted_second = network_input(q, I, dI * np.where(np.arange(q.size) == 0, 1e3, 1))
    assert trusted_first[0, 0] < trusted_second[0, 0]
