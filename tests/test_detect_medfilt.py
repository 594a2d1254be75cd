"""Tests of the exact sliding median (acs_flecks.detect.medfilt)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import ndimage

from acs_flecks.detect.medfilt import (check_median_size, fill_and_pad,
                                      median_filter, median_of_padded)
from acs_flecks.exceptions import AcsFlecksError


def _scipy(img, size, mode='reflect'):
    return ndimage.median_filter(np.asarray(img, np.float32), size=size,
                                 mode=mode)


class TestEqualsScipy:
    @pytest.mark.parametrize('size', [3, 5, 15])
    @pytest.mark.parametrize('mode', ['reflect', 'nearest'])
    def test_gaussian_noise_with_gradient(self, size, mode):
        rng = np.random.default_rng(size)
        yy, xx = np.mgrid[:97, :131]
        img = (40 + 0.1 * xx + 0.05 * yy
               + rng.normal(0, 1.5, xx.shape)).astype(np.float32)
        assert_array_equal(median_filter(img, size=size, mode=mode),
                           _scipy(img, size, mode))

    def test_discrete_values_and_ties(self):
        # averages of integers: few distinct values, many ties per window
        rng = np.random.default_rng(2)
        img = (rng.poisson(30, (120, 150)) / 7.0).astype(np.float32)
        assert_array_equal(median_filter(img), _scipy(img, 15))

    def test_hot_pixels_negative_values_and_extremes(self):
        rng = np.random.default_rng(3)
        img = rng.normal(0.0, 2.0, (80, 90)).astype(np.float32)
        img[::7, ::5] = 8.0e4                      # hot / saturated
        img[3::11, 2::13] = -3.0e4
        img[10:40, 10:40] = np.float32(1e-30)      # tiny and signed zero
        img[20:30, 15:25] = np.float32(-1e-30)
        img[50, 50] = -0.0
        out = median_filter(img)
        ref = _scipy(img, 15)
        assert_array_equal(out, ref)

    def test_constant_and_tiny_images(self):
        img = np.full((20, 33), 7.25, np.float32)
        assert_array_equal(median_filter(img), img)
        rng = np.random.default_rng(4)
        small = rng.normal(size=(5, 6)).astype(np.float32)  # < window
        assert_array_equal(median_filter(small, size=15), _scipy(small, 15))

    def test_threads_do_not_change_result(self):
        rng = np.random.default_rng(5)
        img = rng.normal(30, 3, (101, 64)).astype(np.float32)
        one = median_filter(img, threads=1)
        assert_array_equal(median_filter(img, threads=3), one)
        assert one.dtype == np.float32

    def test_result_is_an_input_value(self):
        rng = np.random.default_rng(6)
        img = rng.normal(30, 3, (40, 50)).astype(np.float32)
        assert np.isin(median_filter(img), img).all()

    @pytest.mark.fullframe
    def test_full_wfc_chip(self):
        # a real-sized chip (2048 x 4096) with an LED-like gradient and hot
        # pixels; scipy needs ~20 s for the whole chip, so it is compared on
        # the first and last 128 rows (edges) and on a central band
        rng = np.random.default_rng(7)
        yy, xx = np.mgrid[:2048, :4096].astype(np.float32)
        img = 40 * (1 - 0.2 * (xx / 4096) ** 2 - 0.1 * yy / 2048)
        img += rng.normal(0, 1.5, img.shape).astype(np.float32)
        img[rng.random(img.shape) < 0.003] = 3000.0
        img = img.astype(np.float32)
        out = median_filter(img)
        assert out.shape == img.shape
        for rows in (slice(0, 128), slice(960, 1088), slice(1920, 2048)):
            pad = 7
            r0 = max(rows.start - pad, 0)
            r1 = min(rows.stop + pad, 2048)
            ref = _scipy(img[r0:r1], 15)
            # rows away from the band's artificial edges are exact
            lo = rows.start - r0 if rows.start > 0 else 0
            hi = lo + (rows.stop - rows.start)
            assert_array_equal(out[rows], ref[lo:hi])


class TestBadInput:
    @pytest.mark.parametrize('size', [2, 14, 1, 0, -3, 15.0, True, '15'])
    def test_bad_size(self, size):
        with pytest.raises(AcsFlecksError, match='odd integer >= 3'):
            check_median_size(size)
        with pytest.raises(AcsFlecksError, match='odd integer >= 3'):
            median_filter(np.zeros((20, 20), np.float32), size=size)

    def test_nan(self):
        img = np.ones((20, 20), np.float32)
        img[3, 3] = np.nan
        with pytest.raises(AcsFlecksError, match='finite'):
            median_filter(img)

    def test_not_2d(self):
        with pytest.raises(AcsFlecksError, match='2-D'):
            median_filter(np.ones((3, 20, 20), np.float32))

    def test_bad_mode(self):
        with pytest.raises(AcsFlecksError, match='mode'):
            median_filter(np.ones((20, 20), np.float32), mode='wrap')


class TestFillAndPad:
    @pytest.mark.parametrize('shape', [(5, 9), (40, 33), (120, 150)])
    @pytest.mark.parametrize('mode', ['reflect', 'nearest'])
    @pytest.mark.parametrize('size', [3, 15])
    def test_masked_fill_then_median_equals_scipy(self, shape, mode, size):
        # the one-pass fill + pad used by the search gives scipy's median
        # of the filled image, bit for bit, also for pads longer than the
        # image
        rng = np.random.default_rng(sum(shape) + size)
        sci = rng.normal(30, 3, shape).astype(np.float32)
        dq = np.where(rng.random(shape) < 0.05, 16, 0).astype(np.uint16)
        dq[0, 0] = 4                       # not in flags: kept
        sci[shape[0] // 2, 1] = np.nan
        level = np.full(shape, 30.5, np.float32)
        padded, mask, n = fill_and_pad(sci, dq, 16 | 256, level, size=size,
                                       mode=mode)
        filled = np.where(mask, level, sci)
        assert n == mask.sum() == np.count_nonzero(dq == 16) + 1
        assert not mask[0, 0]
        half = size // 2
        assert_array_equal(padded[half:-half, half:-half], filled)
        assert_array_equal(median_of_padded(padded, size=size, threads=2),
                           _scipy(filled, size, mode))

    def test_bad_mode(self):
        z = np.zeros((8, 8), np.float32)
        with pytest.raises(AcsFlecksError, match='median mode'):
            fill_and_pad(z, np.zeros((8, 8), np.uint16), 16, z,
                         mode='wrap')


def _bracket_cases():
    """(name, image): smooth noise, discrete values, a constant, signed
    zeros and negatives, hot pixels far outside the quantizer's range."""
    rng = np.random.default_rng(7)
    yield 'noise', (40 + rng.normal(0, 3, (70, 90))).astype(np.float32)
    yield 'discrete', rng.integers(0, 6, (50, 61)).astype(np.float32)
    yield 'constant', np.full((33, 40), 2.5, np.float32)
    signed = rng.normal(0, 1, (45, 52)).astype(np.float32)
    signed[::3, ::2] = -0.0
    signed[1::4, ::3] = 0.0
    yield 'signed', signed
    hot = (30 + rng.normal(0, 2, (64, 75))).astype(np.float32)
    hot[rng.random(hot.shape) < 0.08] = 6.0e4
    hot[rng.random(hot.shape) < 0.03] = -1.0e3
    yield 'hot', hot


class TestMedianBrackets:
    """The bracketed median of the search: proven lower bounds
    everywhere, exact values on request, equal to the full median."""

    @pytest.mark.parametrize('size', [3, 15, 17])
    @pytest.mark.parametrize('case', [c for c, _ in _bracket_cases()])
    def test_bounds_grid_and_exact_values(self, case, size):
        from acs_flecks.detect.medfilt import exact_median_at, median_brackets
        img = dict(_bracket_cases())[case]
        half = size // 2
        padded = np.pad(img, half, mode='symmetric')
        exact = _scipy(img, size, 'reflect')
        br = median_brackets(padded, size=size, threads=2)
        assert br.shape == img.shape
        # the lower bound holds everywhere
        assert (br.lower[br.coarse] <= exact).all()
        # the exact grid at every step, edges included (-0.0 == 0.0: which
        # zero a median selects is not specified)
        for step in (1, 4, 7):
            assert_array_equal(br.grid(step), exact[::step, ::step])
        # exact values one pixel at a time (as the fused search takes
        # them), at the corners, the edges and random pixels
        ny, nx = img.shape
        rng = np.random.default_rng(size)
        pts = [(0, 0), (0, nx - 1), (ny - 1, 0), (ny - 1, nx - 1),
               (half, 0), (ny // 2, nx - 1)]
        pts += [tuple(p) for p in rng.integers(0, (ny, nx), (40, 2))]
        codes, bits, sz, coarse, below = br.exact_args()
        buf = np.empty(sz * sz, np.int64)
        got = [exact_median_at(codes, bits, sz, coarse, below, i, j, buf)
               for i, j in pts]
        assert_array_equal(np.array(got, np.float32),
                           np.array([exact[i, j] for i, j in pts]))

    def test_counts_widen_beyond_15x15(self):
        # 17x17 windows hold 289 values: here up to 289 in one bin, which
        # byte counts would wrap
        from acs_flecks.detect.medfilt import median_brackets
        img = np.zeros((40, 40), np.float32)
        img[:, 20:] = 1.0
        br = median_brackets(np.pad(img, 8, mode='symmetric'), size=17)
        assert br.below.dtype == np.uint16
        assert_array_equal(br.grid(1), _scipy(img, 17, 'reflect'))
