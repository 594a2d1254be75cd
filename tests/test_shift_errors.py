"""Honest errors of the EPER motion (issue 10): interpolation noise, a
static texture common to both images, and the combination of pairs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import ndimage

from acs_flecks.characterize.shifts import (ShiftResult, interpolation_variance,
                                            measure_shift, texture_variance,
                                            weighted_mean_shift)


@pytest.mark.parametrize('f', [0.0, 0.2, 0.5, 0.8])
def test_interpolation_variance_matches_white_noise(f):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 400))
    s = ndimage.shift(a, (0, f), order=3, mode='wrap')
    assert_allclose(np.var(s), interpolation_variance(f, 0), rtol=0.02)
    assert_allclose(np.var(a - s), texture_variance(f, 0), rtol=0.03,
                    atol=5e-3)


def test_texture_variance_symmetric_and_zero_at_zero():
    assert texture_variance(0, 0) == 0
    assert_allclose(texture_variance(-0.3, 0.1), texture_variance(0.3, -0.1))
    assert_allclose(texture_variance(2.0, 0), 2.0)


def _fleck(shape, dx=0.0, dy=0.0, depth=0.9, sigma=2.0):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r2 = (xx - shape[1] / 2 - dx) ** 2 + (yy - shape[0] / 2 - dy) ** 2
    return depth * np.exp(-r2 / (2 * sigma ** 2))


def test_static_texture_error_part():
    shape = (40, 40)
    rng = np.random.default_rng(2)
    p = 1 + 0.01 * rng.standard_normal(shape)       # same in both epochs
    e = (1 - _fleck(shape)) * p + 0.002 * rng.standard_normal(shape)
    l_ = (1 - _fleck(shape, dy=-0.3)) * p + 0.002 * rng.standard_normal(shape)
    err = np.full(shape, 0.002)
    plain = measure_shift(1 - e, 1 - l_, reference_err=err, image_err=err)
    tex = measure_shift(1 - e, 1 - l_, reference_err=err, image_err=err,
                        static_texture=0.01, static_flux=e)
    assert plain.dy_err_static == 0
    assert 0 < tex.dy_err_static <= tex.dy_err
    # unmodelled, the texture inflates chi2; modelled, it is explained
    assert tex.chi2_reduced < plain.chi2_reduced
    assert abs(tex.dy + 0.3) < 3 * tex.dy_err


def test_weighted_mean_keeps_the_correlated_part():
    def r(d, e, t):
        return ShiftResult(dx=d, dy=d, dx_err=e, dy_err=e, scale=1,
                           scale_err=0, chi2_reduced=1, npix=10,
                           dx_err_static=t, dy_err_static=t)
    # six consistent results, errors half static: the static half does not
    # average down
    res = [r(0.0, 0.01, np.sqrt(0.5) * 0.01) for _ in range(6)]
    dx, dxe, dy, dye = weighted_mean_shift(res)
    expect = np.sqrt(0.5 * 0.01 ** 2 / 6 + 0.5 * 0.01 ** 2)
    assert_allclose(dxe, expect)
    # independent errors only: 1 / sqrt(N)
    dx, dxe, _, _ = weighted_mean_shift([r(0.0, 0.01, 0.0) for _ in range(4)])
    assert_allclose(dxe, 0.005)
    # scatter beyond the errors scales the error up (PDG scale factor)
    vals = [-0.03, 0.03, -0.03, 0.03]
    dx, dxe, _, _ = weighted_mean_shift([r(v, 0.01, 0.0) for v in vals])
    chi2 = np.sum((np.array(vals) / 0.01) ** 2) / 3
    assert_allclose(dxe, 0.005 * np.sqrt(chi2))
