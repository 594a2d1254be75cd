"""Detection near chip edges and corners (issue #11): the median filter's
edge mode repeats pixels there, so its output is noisier than inside; the
threshold must follow, without losing a real artifact near a corner."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from acs_flecks.detect import find_artifacts_in_chip, prepare_chip
from acs_flecks.detect.finder import edge_noise_factors

LEVEL = 1500.0


def noise_chip(seed, shape=(512, 1024)):
    rng = np.random.default_rng(seed)
    return rng.normal(LEVEL, np.sqrt(LEVEL), shape).astype(np.float32)


class TestEdgeNoiseFactors:
    def test_interior_is_one(self):
        f = edge_noise_factors(100, 15)
        assert_allclose(f[7:-7], 1.0)
        assert np.all(f[:7] > 1) and np.all(f[-7:] > 1)

    def test_reflect_edge_value(self):
        # row 0 of a 15-row 'reflect' window: rows 0-6 twice, row 7 once:
        # n_eff = 15**2 / (7 * 4 + 1)
        assert_allclose(edge_noise_factors(50, 15)[0],
                        np.sqrt(15 / (225 / 29)), rtol=1e-6)

    def test_symmetric_and_nearest(self):
        f = edge_noise_factors(40, 15)
        assert_allclose(f, f[::-1])
        assert edge_noise_factors(40, 15, 'nearest')[0] > f[0]

    def test_short_axis(self):
        f = edge_noise_factors(5, 15)
        assert np.all(np.isfinite(f)) and np.all(f >= 1)


class TestEdgeNoise:
    @pytest.mark.parametrize('where', ['bottom', 'top', 'left', 'right'])
    def test_normalized_noise_at_edges(self, where):
        """(deficit - background) / noise has unit scatter at the edges as
        inside (without the correction it is ~1.35 in the outer rows)."""
        z = []
        for seed in range(3):
            p = prepare_chip(noise_chip(seed), threads=1)
            zz = (p.inverted - p.background) / p.noise
            z.append({'bottom': zz[:3, 20:-20], 'top': zz[-3:, 20:-20],
                      'left': zz[20:-20, :3].T,
                      'right': zz[20:-20, -3:].T}[where])
            inner = zz[50:-50, 50:-50]
        assert_allclose(np.std(np.concatenate(z, axis=1)), np.std(inner),
                        rtol=0.12)

    def test_corner_scatter(self):
        zs = []
        for seed in range(4):
            p = prepare_chip(noise_chip(seed), threads=1)
            zs.append(((p.inverted - p.background) / p.noise)[:3, :3])
        # 1.93 x too large without the correction
        assert np.std(zs) < 1.4


def test_blank_chip_nothing_found():
    for seed in range(3):
        assert len(find_artifacts_in_chip(noise_chip(seed), threads=1)) == 0


@pytest.mark.parametrize('corner', ['LL', 'LR', 'UL', 'UR'])
def test_artifact_near_corner_found(corner):
    """A freckle-like deficit 10 px from a corner (both axes) is found."""
    sci = noise_chip(7)
    ny, nx = sci.shape
    cx = 10 if corner[1] == 'L' else nx - 11      # 0-indexed column
    cy = 10 if corner[0] == 'L' else ny - 11
    yy, xx = np.mgrid[:ny, :nx]
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    sci *= np.where(r2 <= 5.5 ** 2, 0.6, 1.0).astype(np.float32)
    cat = find_artifacts_in_chip(sci, ccdchip=1)
    assert len(cat) == 1
    # 1-indexed chip position
    assert abs(cat['x'][0].value - (cx + 1)) < 1.5
    assert abs(cat['y'][0].value - (cy + 1)) < 1.5
