"""The network transforms. v1 (shipped network): scale-free, window-relative, robust to
point count, noise and spacing. v3: the same, plus shift-invariant in log q, and it
carries dI and the resolution with flags."""
import numpy as np
import pytest

from sasnets_plugin.cleaning import Curve, clean_curve
from sasnets_plugin.preprocessing import (CHANNEL, DECADE_POINTS, LOG_Q_OFFSET, N_CHANNELS_V1,
                                          N_POINTS_V1, N_POINTS_V3, PREPROCESSING_VERSION, V1,
                                          V3, get_transform, loglog_window_v1, shift_invariant_v3)

N_POINTS, N_CHANNELS = N_POINTS_V1, N_CHANNELS_V1


def sphere(q, r=60.0):
    x = q * r
    return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-4


def test_shape_dtype_and_channels():
    q = np.logspace(-3, -0.3, 300)
    x = loglog_window_v1(q, sphere(q))
    assert x.shape == (N_POINTS, N_CHANNELS) and x.dtype == np.float32
    assert x[:, 0].mean() == pytest.approx(0, abs=1e-5)
    np.testing.assert_allclose(x[[0, -1], 1], np.log10(q[[0, -1]]) + LOG_Q_OFFSET, rtol=1e-6)
    assert np.all(np.diff(x[:, 1]) > 0)


def test_absolute_scale_does_not_matter():
    q = np.logspace(-2.5, -0.5, 150)
    np.testing.assert_allclose(loglog_window_v1(q, sphere(q)), loglog_window_v1(q, 1e5 * sphere(q)), atol=1e-5)


def test_power_law_is_a_straight_line_of_the_right_slope():
    q = np.logspace(-2, 0, 37)
    x = loglog_window_v1(q, 3.0 * q**-4)
    slope = np.diff(x[:, 0]) / np.diff(x[:, 1])
    np.testing.assert_allclose(slope, -4.0, rtol=1e-4)


@pytest.mark.parametrize("n", [10, 30, 100, 1000, 1_000_000])
def test_any_point_count_follows_the_true_curve(n):
    grid = np.logspace(-2.5, -0.5, N_POINTS)
    exact = np.log10(sphere(grid))
    exact -= exact.mean()
    q = np.logspace(-2.5, -0.5, n)
    error = np.abs(loglog_window_v1(q, sphere(q))[:, 0] - exact)
    assert np.median(error) < 0.02
    if n >= N_POINTS:  # dense data: only the deep minima are softened by bin averaging
        assert error.max() < 0.3


def test_linear_spacing_and_noise_are_averaged_in_bins():
    rng = np.random.default_rng(1)
    q = np.linspace(0.002, 0.3, 20_000)
    clean = sphere(q)
    noisy = clean * (1 + 0.2 * rng.standard_normal(q.size)).clip(0.05)
    dI = 0.2 * clean
    diff = loglog_window_v1(q, noisy, dI)[:, 0] - loglog_window_v1(q, clean, dI)[:, 0]
    assert np.abs(diff).max() < 0.1


def test_uncertainties_weight_points_within_a_bin():
    q = np.array([0.0100, 0.0101, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1])
    I = np.ones_like(q)
    I[1] = 10.0
    dI = np.full_like(q, 0.01)
    trusted_first = loglog_window_v1(q, I, dI * np.where(np.arange(q.size) == 1, 1e3, 1))
    trusted_second = loglog_window_v1(q, I, dI * np.where(np.arange(q.size) == 0, 1e3, 1))
    assert trusted_first[0, 0] < trusted_second[0, 0]


# --- v3 --------------------------------------------------------------------------------

def _v3(q, I, dI=None, dQ=None, slit=0.0):  # noqa: E741
    return shift_invariant_v3(q, I, dI, dQ, slit)


def test_v3_is_the_current_version_and_unknown_versions_are_named():
    assert PREPROCESSING_VERSION == V3
    assert get_transform().shape == (N_POINTS_V3, len(CHANNEL))
    assert get_transform(V1).shape == (100, 2)
    with pytest.raises(KeyError, match="unknown preprocessing version 'v0' .*knows "
                       "loglog-window-2ch-v1, logq-shift-invariant-8ch-v3"):
        get_transform("v0")


def test_v3_a_larger_sphere_is_the_same_input_shifted_in_log_q():
    """I(q; s R) = s^6 I(s q; R): the window moved by s gives the identical input."""
    q = np.logspace(-2.6, -0.4, 240)
    dQ = 0.05 * q
    for s in (1e-3, 0.37, 10.0, 1e3):
        a = _v3(q, sphere(q, 60.0), 0.02 * sphere(q, 60.0), dQ)
        b = _v3(q / s, s**6 * sphere(q / s, 60.0 * s), 0.02 * s**6 * sphere(q / s, 60.0 * s),
                dQ / s)
        np.testing.assert_allclose(a, b, atol=2e-5)
        slit_a = _v3(q, sphere(q), None, None, 0.05)
        slit_b = _v3(q / s, sphere(q / s, 60.0 * s), None, None, 0.05 / s)
        np.testing.assert_allclose(slit_a, slit_b, atol=2e-5)


def test_v3_where_the_window_sits_changes_nothing_but_what_it_shows():
    """The same shape seen in two windows: the overlap has the same slopes."""
    q = np.logspace(-3, 0, 600)
    I = q**-4 + 1e-3 / q  # noqa: E741 - a knee between two power laws
    low = _v3(q[:400], I[:400])
    high = _v3(q[200:], I[200:])
    step = 1 / DECADE_POINTS
    slope_low = np.diff(low[:, 0]) / step
    slope_high = np.diff(high[:, 0]) / step
    # grid point k of the high window is k + 40 of the low one (one decade later)
    np.testing.assert_allclose(slope_high[:30], slope_low[40:70], atol=0.05)


def test_v3_grid_density_mask_and_padding():
    q = np.logspace(-2, -0.5, 50)  # 1.5 decades: 61 points inside, the rest padding
    x = _v3(q, 3.0 * q**-4)
    mask = x[:, CHANNEL["mask"]]
    assert x.shape == (N_POINTS_V3, 8) and x.dtype == np.float32
    assert mask.sum() == 61 and mask[:61].all()
    assert not x[61:, [CHANNEL["log_i"], CHANNEL["relative_error"]]].any()
    np.testing.assert_allclose(np.diff(x[:61, 0]) * DECADE_POINTS, -4.0, rtol=1e-4)
    assert x[:61, 0].mean() == pytest.approx(0, abs=1e-5)
    position = x[:, CHANNEL["position"]]
    np.testing.assert_allclose(np.diff(position), 1 / (DECADE_POINTS * 4.0), rtol=1e-5)


def test_v3_windows_wider_than_four_decades_are_compressed_onto_the_grid():
    q = np.logspace(-5, 0, 300)
    x = _v3(q, 3.0 * q**-4)
    assert x[:, CHANNEL["mask"]].all()
    assert x[-1, CHANNEL["position"]] == pytest.approx(5.0 / 4.0, rel=1e-5)
    slope = np.diff(x[:, 0]) / (np.diff(x[:, CHANNEL["position"]]) * 4.0)
    np.testing.assert_allclose(slope, -4.0, rtol=1e-4)


def test_v3_relative_error_channel_follows_the_binned_noise():
    q = np.logspace(-2, -0.5, 61)  # one point per grid bin
    I = sphere(q)  # noqa: E741
    for rel in (1e-3, 1e-2, 0.1):
        x = _v3(q, I, rel * I)
        encoded = x[:61, CHANNEL["relative_error"]]
        np.testing.assert_allclose(encoded, (np.log10(rel) + 2.0) / 2.0, atol=1e-4)
        assert x[:61, CHANNEL["has_error"]].all()
    dense = np.logspace(-2, -0.5, 61 * 16)  # 16 points per bin: 4 times smaller error
    x = _v3(dense, sphere(dense), 0.04 * sphere(dense))
    np.testing.assert_allclose(x[1:60, CHANNEL["relative_error"]], (np.log10(0.01) + 2) / 2,
                               atol=0.02)


def test_v3_flags_say_what_the_file_does_not_state():
    q = np.logspace(-2, -0.5, 80)
    bare = _v3(q, sphere(q))
    for name in ("relative_error", "has_error", "resolution", "pinhole", "slit"):
        assert not bare[:, CHANNEL[name]].any(), name
    pinhole = _v3(q, sphere(q), dQ=0.1 * q)
    assert pinhole[:61, CHANNEL["pinhole"]].all() and not pinhole[:, CHANNEL["slit"]].any()
    np.testing.assert_allclose(pinhole[:61, CHANNEL["resolution"]], (-1.0 + 1.0) / 2.0, atol=1e-5)
    slit = _v3(q, sphere(q), slit=0.1)
    assert slit[:61, CHANNEL["slit"]].all() and not slit[:, CHANNEL["pinhole"]].any()
    # slit length / q falls by a decade per decade of q
    np.testing.assert_allclose(np.diff(slit[:61, CHANNEL["resolution"]]) * DECADE_POINTS,
                               -1.0 / 2.0, atol=1e-4)


def test_v3_sparse_curves_are_interpolated_in_log_log():
    q = np.logspace(-2, 0, 10)
    x = _v3(q, 2.0 * q**-2.5)
    np.testing.assert_allclose(np.diff(x[:81, 0]) * DECADE_POINTS, -2.5, rtol=1e-4)


def network_input(curve, version=None):
    return get_transform(version).encode(curve)


def test_network_input_reads_the_cleaned_resolution():
    q = np.logspace(-2, -0.5, 60)
    I = sphere(q)  # noqa: E741
    curve, _ = clean_curve(q[::-1], I[::-1], 0.01 * I[::-1], dQ=0.03 * q[::-1])
    assert np.all(np.diff(curve.q) > 0) and curve.dQ is not None
    np.testing.assert_array_equal(network_input(curve), _v3(q, I, 0.01 * I, 0.03 * q))
    np.testing.assert_array_equal(network_input(curve, V1), loglog_window_v1(q, I, 0.01 * I))
    slit, _ = clean_curve(q, I, dQ=0.03 * q, slit_length=np.full(q.size, 0.02))
    assert slit.dQ is None and slit.slit_length == 0.02  # the slit is what was measured
    np.testing.assert_array_equal(network_input(slit), _v3(q, I, None, None, 0.02))
    display_q, display_i = get_transform().display(network_input(curve), curve)
    assert display_q[0] == pytest.approx(q[0]) and display_q.size == 61
    assert display_i.size == 61 and isinstance(curve, Curve)
