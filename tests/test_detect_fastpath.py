"""The fast search gives the catalogue of the scipy-median path, byte for
byte, on a full WFC chip with artifacts at the edges and corners."""

import numpy as np
import pytest
from scipy import ndimage

from acs_flecks.detect import finder
from acs_flecks.detect.catalog import write_catalog


def scipy_median_of_padded(padded, *, size=15, threads=None):
    """The report's median (scipy.ndimage.median_filter) on the same padded
    input: every interior window lies inside the padding, so the mode used
    on the padded array does not matter."""
    half = size // 2
    out = ndimage.median_filter(padded, size=size, mode='reflect')
    return np.ascontiguousarray(out[half:-half, half:-half])


def deficit(img, x, y, depth, sigma):
    """Multiply ``img`` by a Gaussian shadow at 1-indexed (x, y)."""
    ny, nx = img.shape
    r = int(4 * sigma) + 1
    r0, r1 = max(int(y) - 1 - r, 0), min(int(y) + r, ny)
    c0, c1 = max(int(x) - 1 - r, 0), min(int(x) + r, nx)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    d = ((xx + 1 - x) ** 2 + (yy + 1 - y) ** 2) / (2 * sigma ** 2)
    img[r0:r1, c0:c1] *= (1 - depth * np.exp(-d)).astype(np.float32)


@pytest.fixture(scope='module')
def full_chip():
    rng = np.random.default_rng(12)
    ny, nx = 2048, 4096
    yy, xx = np.mgrid[:ny, :nx].astype(np.float32)
    img = 40 * (1 - 0.2 * (xx / nx) ** 2 - 0.1 * yy / ny)
    img = img.astype(np.float32)
    # artifacts: interior, on each edge, in the corners, and a blend
    for x, y, depth, sigma in [
            (1521, 1773, 0.9, 5.0), (3510, 355, 0.7, 3.5), (2000, 1000, 0.4,
                                                             3.0),
            (1, 1, 0.8, 6.0), (4096, 2048, 0.8, 6.0), (4096, 1, 0.6, 5.0),
            (1, 2048, 0.6, 5.0), (2, 900, 0.7, 5.0), (3000, 2047, 0.7, 5.0),
            (4095, 1200, 0.5, 4.0), (700, 3, 0.5, 4.0),
            (2500, 1500, 0.6, 3.0), (2509, 1503, 0.5, 3.0)]:
        deficit(img, x, y, depth, sigma)
    img += rng.normal(0, 1.2, img.shape).astype(np.float32)
    dq = np.zeros(img.shape, np.uint16)
    hot = rng.random(img.shape) < 0.002
    img[hot] = 3000.0
    dq[hot] = 16
    dq[100:140, 4090:4096] = 4          # DQ 4 is searched (not masked)
    dq[1500:1510, 0:3] = 256            # masked at the edge
    return img, dq


@pytest.mark.fullframe
def test_catalogue_bytes_equal_scipy_path(full_chip, tmp_path, monkeypatch):
    sci, dq = full_chip
    fast = finder.find_artifacts_in_chip(sci, dq, ccdchip=2, file='f.fits',
                                         threads=2)
    with monkeypatch.context() as m:
        m.setattr(finder, 'median_of_padded', scipy_median_of_padded)
        ref = finder.find_artifacts_in_chip(sci, dq, ccdchip=2,
                                            file='f.fits', threads=2)
    a = write_catalog(fast, tmp_path / 'fast.ecsv')
    b = write_catalog(ref, tmp_path / 'scipy.ecsv')
    assert len(fast) >= 10
    # artifacts at the edges are in both
    x, y = np.asarray(fast['x'].value), np.asarray(fast['y'].value)
    assert ((x < 8) | (x > 4088) | (y < 8) | (y > 2040)).sum() >= 5
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        assert fa.read() == fb.read()
