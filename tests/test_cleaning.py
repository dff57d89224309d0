"""clean_curve: each repair is made, counted and reported; unusable data is refused."""
import numpy as np
import pytest

from sasnets_plugin.cleaning import MIN_POINTS, clean_curve
from sasnets_plugin.errors import DataError


def curve(n=50):
    q = np.logspace(-2.5, -0.5, n)
    return q, 1.0 / (1.0 + (30 * q) ** 2) ** 2 + 1e-3, np.full(n, 1e-4)


def test_clean_data_is_untouched():
    q, I, dI = curve()
    out, report = clean_curve(q, I, dI)
    np.testing.assert_array_equal(out.q, q)
    np.testing.assert_array_equal(out.I, I)
    np.testing.assert_array_equal(out.dI, dI)
    assert report.notes() == []
    assert report.n_usable == 50


def test_nan_inf_and_nonpositive_rows_are_dropped_and_counted():
    q, I, dI = curve()
    I[[3, 7]] = np.nan
    q[9] = np.inf
    I[[11, 12, 13]] = [-1.0, 0.0, -5.0]
    q[20] = 0.0
    out, report = clean_curve(q, I, dI)
    assert report.n_nonfinite == 3
    assert report.n_nonpositive == 3
    assert report.n_bad_q == 1
    assert report.n_usable == out.q.size == 50 - 7
    assert np.all(out.I > 0) and np.all(np.isfinite(out.q))
    notes = " | ".join(report.notes())
    assert "3 point(s) with NaN or infinite values" in notes
    assert "3 point(s) with I <= 0" in notes
    assert "1 point(s) with q <= 0" in notes


def test_unsorted_q_is_sorted():
    q, I, dI = curve()
    perm = np.random.default_rng(0).permutation(q.size)
    out, report = clean_curve(q[perm], I[perm], dI[perm])
    np.testing.assert_array_equal(out.q, q)
    np.testing.assert_array_equal(out.I, I)
    assert report.reordered and "sorted the points by q" in report.notes()


def test_duplicate_q_are_merged_with_inverse_variance_weights():
    q = np.array([0.01, 0.02, 0.02, 0.03] + list(np.linspace(0.04, 0.2, 10)))
    I = np.array([5.0, 4.0, 2.0, 1.5] + [1.0] * 10)
    dI = np.array([0.1, 0.1, 0.2, 0.1] + [0.1] * 10)
    out, report = clean_curve(q, I, dI)
    assert report.n_merged == 1
    assert out.q.size == 13 and np.all(np.diff(out.q) > 0)
    w = np.array([0.1, 0.2]) ** -2
    assert out.I[1] == pytest.approx((4.0 * w[0] + 2.0 * w[1]) / w.sum())
    assert out.dI[1] == pytest.approx(w.sum() ** -0.5)
    assert "merged 1 point(s) sharing a q value" in report.notes()[0]


def test_zero_dI_means_no_uncertainties_silently():
    q, I, _ = curve()
    out, report = clean_curve(q, I, np.zeros_like(q))
    assert out.dI is None and not report.dI_dropped and report.notes() == []


def test_partly_invalid_dI_is_ignored_and_reported():
    q, I, dI = curve()
    dI[5] = np.nan
    out, report = clean_curve(q, I, dI)
    assert out.dI is None and report.dI_dropped
    assert "ignored the uncertainties" in report.notes()[-1]


def test_too_few_points_is_refused_with_the_minimum_named():
    q, I, dI = curve(MIN_POINTS - 1)
    with pytest.raises(DataError, match=f"Only {MIN_POINTS - 1} usable point.*at least {MIN_POINTS}"):
        clean_curve(q, I, dI)


def test_too_few_after_cleaning_says_what_was_dropped():
    q, I, dI = curve(15)
    I[:8] = -1
    with pytest.raises(DataError, match=r"Only 7 usable point\(s\) out of 15 \(dropped 8 point\(s\) with I <= 0\)"):
        clean_curve(q, I, dI)


def test_all_intensities_nonpositive_is_refused():
    q, I, dI = curve()
    with pytest.raises(DataError, match="All 50 intensities are zero, negative or invalid"):
        clean_curve(q, -I, dI)


def test_empty_and_mismatched_input():
    with pytest.raises(DataError, match="contains no points"):
        clean_curve([], [])
    with pytest.raises(DataError, match="different lengths"):
        clean_curve([1, 2, 3], [1, 2])
    with pytest.raises(DataError, match="must be a 1D array"):
        clean_curve(np.ones((3, 3)), np.ones((3, 3)))


def test_report_marks_the_rows_it_kept_in_input_order():
    q, I, dI = curve()
    I[[2, 5]] = [np.nan, -1.0]
    q[8] = 0.0
    perm = np.random.default_rng(1).permutation(q.size)
    out, report = clean_curve(q[perm], I[perm], dI[perm])
    expected = np.isfinite(I[perm]) & (I[perm] > 0) & (q[perm] > 0)
    np.testing.assert_array_equal(report.kept, expected)
    np.testing.assert_array_equal(np.sort(q[perm][report.kept]), out.q)


@pytest.mark.parametrize("bad", [["0.01", "abc"], np.array(["x"] * 12)])
def test_text_instead_of_numbers_is_a_data_error(bad):
    q, I, _ = curve(len(bad))
    with pytest.raises(DataError, match="I must hold numbers only; '(abc|x)' is not one"):
        clean_curve(q, bad)


def test_reading_notes_come_first_in_the_notes():
    q, I, dI = curve()
    I[0] = -1
    _, report = clean_curve(q, I, dI, read_notes=("the file reader skipped 1 row(s) of numbers",))
    assert report.notes() == ["the file reader skipped 1 row(s) of numbers",
                              "dropped 1 point(s) with I <= 0"]


def test_resolution_follows_the_cleaned_points():
    q, I, dI = curve()
    dQ = 0.05 * q
    q2, I2, dQ2 = np.concatenate([q[::-1], q[:1]]), np.concatenate([I[::-1], I[:1]]), \
        np.concatenate([dQ[::-1], 3 * dQ[:1]])
    I2[5] = -1.0
    out, report = clean_curve(q2, I2, dQ=dQ2)
    assert np.all(np.diff(out.q) > 0) and out.dQ.shape == out.q.shape
    np.testing.assert_allclose(out.dQ[1:], 0.05 * out.q[1:])
    assert out.dQ[0] == pytest.approx(2 * dQ[0])  # the merged pair's mean
    assert out.slit_length == 0.0 and not report.dQ_dropped


def test_zero_resolution_is_no_resolution_and_a_broken_one_is_named():
    q, I, dI = curve()
    out, report = clean_curve(q, I, dI, dQ=np.zeros_like(q))
    assert out.dQ is None and report.notes() == []
    broken = 0.05 * q
    broken[3] = np.nan
    out, report = clean_curve(q, I, dI, dQ=broken)
    assert out.dQ is None
    assert "ignored the resolution dQ (zero or not finite at some points)" in report.notes()


def test_a_slit_length_wins_over_pinhole_and_is_one_value():
    q, I, dI = curve()
    slit = np.full(q.size, 0.117)
    slit[:3] = 0.0
    out, _ = clean_curve(q, I, dI, dQ=0.05 * q, slit_length=slit)
    assert out.slit_length == pytest.approx(0.117) and out.dQ is None
    assert clean_curve(q, I, slit_length=0.05)[0].slit_length == 0.05
