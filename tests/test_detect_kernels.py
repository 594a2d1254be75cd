"""The compiled loops of the search (acs_flecks.detect._kernels): they check
what they are given (a wrong call raises, never reads out of bounds),
release the GIL, and agree with plain numpy."""

import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from acs_flecks.detect import _kernels
from acs_flecks.detect.finder import _data_and_below, _deficit
from acs_flecks.detect.medfilt import (fill_and_pad, median_brackets,
                                       median_of_padded)
from acs_flecks.detect.normalize import _two_tap_rows


def rng_image(shape=(40, 50), seed=0):
    rng = np.random.default_rng(seed)
    return (100 + rng.normal(0, 5, shape)).astype(np.float32)


class TestChecks:
    def test_wrong_dtype(self):
        img = rng_image()
        level = np.ones_like(img)
        out = np.zeros_like(img)
        with pytest.raises(TypeError, match='filtered: wrong dtype'):
            _kernels.deficit(img.astype(np.float64), level, out)
        with pytest.raises(TypeError, match='out: wrong dtype'):
            _kernels.deficit(img, level, out.astype(np.float64))

    def test_non_native_byte_order(self):
        img = rng_image()
        with pytest.raises(TypeError, match='wrong dtype'):
            _kernels.deficit(img.astype('>f4'), np.ones_like(img),
                             np.empty_like(img))

    def test_wrong_shape(self):
        img = rng_image()
        with pytest.raises(ValueError, match='level: wrong shape'):
            _kernels.deficit(img, np.ones((40, 49), np.float32),
                             np.empty_like(img))
        with pytest.raises(ValueError, match='2-D'):
            _kernels.deficit(img.ravel(), img.ravel(), img.ravel().copy())

    def test_not_contiguous_or_read_only(self):
        img = rng_image()
        with pytest.raises(TypeError, match='C-contiguous'):
            _kernels.deficit(img[:, ::2], np.ones((40, 25), np.float32),
                             np.empty((40, 25), np.float32))
        ro = np.empty_like(img)
        ro.flags.writeable = False
        with pytest.raises(TypeError, match='writable'):
            _kernels.deficit(img, np.ones_like(img), ro)

    def test_taps_outside_the_rows(self):
        rows = np.ones((3, 8), np.float32)
        w = np.full(5, 0.5, np.float32)
        with pytest.raises(IndexError, match='i0'):
            _kernels.two_tap_rows(rows, np.array([0, 1, 2, 0, 0]), w, w,
                                  np.empty((5, 8), np.float32))

    def test_median_windows_outside_the_image(self):
        codes = np.zeros((20, 20), np.uint8)
        coarse = np.zeros((10, 10), np.uint8)
        below = np.zeros((10, 10), np.uint8)
        with pytest.raises(ValueError, match='coarse_rows'):
            _kernels.coarse_rows(codes, 15, 0, 10, 10, coarse, below)
        with pytest.raises(ValueError, match='codes: wrong shape'):
            _kernels.exact_grid(codes, np.zeros((20, 20), np.uint32), 15,
                                coarse, below, 4,
                                np.empty((3, 3), np.uint32))

    def test_codes_outside_the_histograms(self):
        # codes that would index past the histograms are refused
        codes = np.full((30, 30), 64, np.uint8)
        coarse = np.zeros((16, 16), np.uint8)
        below = np.zeros((16, 16), np.uint8)
        with pytest.raises(ValueError, match='not coarse codes'):
            _kernels.coarse_rows(codes, 15, 0, 16, 16, coarse, below)
        packed = np.full((30, 30), 0xFFFF, np.uint64)
        with pytest.raises(ValueError, match='nbins'):
            _kernels.median_rows(packed, np.zeros(16384, bool), 15, 16384,
                                 0, 16, np.empty((16, 16), np.uint32))

    def test_coarse_bins_outside_the_bounds(self):
        img = rng_image((64, 64))
        br = median_brackets(np.pad(img, 1, mode='symmetric'), size=3)
        codes, bits, size, coarse, below = br.exact_args()
        coarse = coarse.copy()
        coarse[10, 10] = 200
        level = np.ones_like(img)
        rows = np.zeros((2, 64), np.float32)
        i0 = np.zeros(64, np.int64)
        w = np.zeros(64, np.float32)
        with pytest.raises(ValueError, match='inconsistent'):
            _kernels.data_and_above_bracketed(
                level, rows, i0, w, w, np.ones_like(img), 5.0, codes, bits,
                size, coarse, below, br.lower, np.empty_like(img),
                np.empty(img.shape, bool))

    def test_sizes_and_steps_out_of_range(self):
        # every refusal is an exception (never a bare NULL return)
        img = rng_image((20, 20))
        br = median_brackets(np.pad(img, 1, mode='symmetric'), size=3)
        codes, bits, size, coarse, below = br.exact_args()
        with pytest.raises(ValueError, match='exact_grid'):
            _kernels.exact_grid(codes, bits, size, coarse, below, 0,
                                np.empty((20, 20), np.uint32))
        with pytest.raises(ValueError, match='fill_and_pad'):
            _kernels.fill_and_pad(img, np.zeros(img.shape, np.uint16), 0,
                                  img, -1, True, np.empty((18, 18),
                                                          np.float32),
                                  np.empty(img.shape, bool))
        empty = np.empty((0, 5), np.float32)
        with pytest.raises(ValueError):
            _kernels.fill_and_pad(empty, np.empty((0, 5), np.uint16), 0,
                                  empty, 1, True,
                                  np.empty((2, 7), np.float32),
                                  np.empty((0, 5), bool))
        with pytest.raises(ValueError, match='encode_keys'):
            _kernels.encode_keys(img, 0.0, 1.0, 0,
                                 np.empty((20, 20), np.uint64),
                                 np.empty(0, np.int64), np.empty(0, np.int64))

    def test_inconsistent_brackets(self):
        # counts that do not match the codes: an error, not a wild read
        img = rng_image()
        br = median_brackets(np.pad(img, 1, mode='symmetric'), size=3)
        codes, bits, size, coarse, below = br.exact_args()
        bad = np.full_like(below, 9)
        with pytest.raises(ValueError, match='inconsistent'):
            _kernels.exact_at(codes, bits, size, coarse, bad, 3, 3)


class TestAgreement:
    def test_deficit_and_data_and_below(self):
        img = rng_image()
        level = rng_image(seed=1)
        assert_array_equal(_deficit(img, level),
                           np.float32(100) * (np.float32(1) - img / level))
        # a strided level, as the search passes level[::4, ::4]
        big = rng_image((160, 200), seed=2)
        assert_array_equal(_deficit(img, big[::4, ::4]),
                           np.float32(100) * (np.float32(1)
                                              - img / big[::4, ::4]))
        bkg, noise = rng_image(seed=3) / 50, rng_image(seed=4) / 100
        data, below, n = _data_and_below(img, bkg, noise, np.float32(1.1))
        assert_array_equal(data, img - bkg)
        assert_array_equal(below, ~(img - bkg > np.float32(1.1) * noise))
        assert n == np.count_nonzero(~below)

    def test_two_tap_rows_into_a_view(self):
        rows = rng_image((4, 30))
        i0 = np.array([0, 0, 1, 2, 2])
        w0 = np.array([1, .75, .5, .25, 0], np.float32)
        w1 = (1 - w0).astype(np.float32)
        expect = w0[:, None] * rows[i0] + w1[:, None] * rows[i0 + 1]
        whole = np.zeros((5, 60), np.float32)
        view = whole[:, ::2]
        assert _two_tap_rows(rows, i0, w0, w1, view) is view
        assert_array_equal(whole[:, ::2], expect)
        assert not whole[:, 1::2].any()

    def test_fill_and_pad_masks_flags_and_non_finite(self):
        img = rng_image()
        img[3, 4] = np.nan
        img[5, 6] = np.inf
        dq = np.zeros(img.shape, np.uint16)
        dq[7, 8] = 16
        dq[9, 10] = 4           # not in the flags
        level = np.full_like(img, 77)
        padded, mask, n = fill_and_pad(img, dq, 16 | 8, level, size=5)
        assert n == 3
        assert mask[3, 4] and mask[5, 6] and mask[7, 8] and not mask[9, 10]
        filled = np.where(mask, level, img)
        assert_array_equal(padded, np.pad(filled, 2, mode='symmetric'))
        padded, _, _ = fill_and_pad(img, dq, 16 | 8, level, size=5,
                                    mode='nearest')
        assert_array_equal(padded, np.pad(filled, 2, mode='edge'))

    def test_non_contiguous_input_same_median(self):
        img = rng_image((60, 80))
        padded = np.pad(img, 7, mode='symmetric')
        wide = np.zeros((padded.shape[0], 2 * padded.shape[1]), np.float32)
        wide[:, ::2] = padded
        assert_array_equal(median_of_padded(wide[:, ::2], size=15),
                           median_of_padded(padded, size=15))


def test_kernels_release_the_gil():
    # a kernel running in one thread lets another thread's Python run
    img = rng_image((1200, 1200))
    padded = np.pad(img, 7, mode='symmetric')
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)
    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.perf_counter()
        median_of_padded(padded, size=15, threads=1)
        end = time.perf_counter()
    finally:
        done.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # with the GIL held the other thread would not run at all meanwhile
    assert len(during) >= 5
