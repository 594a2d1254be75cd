"""The fast search (bracketed median, exact only where the catalogue
depends on it; segmentation and measurements without photutils) gives the
catalogue of the scipy-median path with photutils' ``detect_sources`` and
``SourceCatalog``, byte for byte, on a full WFC chip with artifacts at the
edges and corners."""

import numpy as np
import pytest
from scipy import ndimage

from acs_flecks.detect import catalog, finder
from acs_flecks.detect.catalog import write_catalog


def scipy_median_of_padded(padded, *, size=15, threads=None):
    """The report's median (scipy.ndimage.median_filter) on the same padded
    input: every interior window lies inside the padding, so the mode used
    on the padded array does not matter."""
    half = size // 2
    out = ndimage.median_filter(padded, size=size, mode='reflect')
    return np.ascontiguousarray(out[half:-half, half:-half])


def photutils_segments(above, min_area, *, out=None):
    """The report's segmentation, by photutils itself."""
    import warnings

    from photutils.segmentation import detect_sources
    from photutils.utils.exceptions import NoDetectionsWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NoDetectionsWarning)
        return detect_sources(above.astype(np.float32), 0.5,
                              n_pixels=min_area, connectivity=8)


def photutils_properties(data, segm):
    """The measurements by photutils' SourceCatalog."""
    from photutils.segmentation import SourceCatalog
    cat = SourceCatalog(data, segm)
    out = {}
    for name in ('labels', 'x_centroid', 'y_centroid', 'bbox_xmin',
                 'bbox_xmax', 'bbox_ymin', 'bbox_ymax', 'area',
                 'segment_flux', 'max_value', 'semimajor_axis',
                 'semiminor_axis', 'ellipticity', 'orientation'):
        v = getattr(cat, name)
        if name == 'orientation':
            v = v.to_value('deg')
        out[name] = np.asarray(getattr(v, 'value', v))
    return out


def deficit(img, x, y, depth, sigma):
    """Multiply ``img`` by a Gaussian shadow at 1-indexed (x, y)."""
    ny, nx = img.shape
    r = int(4 * sigma) + 1
    r0, r1 = max(int(y) - 1 - r, 0), min(int(y) + r, ny)
    c0, c1 = max(int(x) - 1 - r, 0), min(int(x) + r, nx)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    d = ((xx + 1 - x) ** 2 + (yy + 1 - y) ** 2) / (2 * sigma ** 2)
    img[r0:r1, c0:c1] *= (1 - depth * np.exp(-d)).astype(np.float32)


def chip(ny, nx, spots, seed=12):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:ny, :nx].astype(np.float32)
    img = 40 * (1 - 0.2 * (xx / nx) ** 2 - 0.1 * yy / ny)
    img = img.astype(np.float32)
    for x, y, depth, sigma in spots:
        deficit(img, x, y, depth, sigma)
    img += rng.normal(0, 1.2, img.shape).astype(np.float32)
    dq = np.zeros(img.shape, np.uint16)
    hot = rng.random(img.shape) < 0.002
    img[hot] = 3000.0
    dq[hot] = 16
    dq[100:140, nx - 6:nx] = 4          # DQ 4 is searched (not masked)
    dq[150:160, 0:3] = 256              # masked at the edge
    return img, dq


def edge_spots(nx, ny):
    """Artifacts in the interior, on each edge, in the corners, a blend."""
    return [(nx // 3, ny // 2, 0.9, 5.0), (nx // 2, ny // 3, 0.4, 3.0),
            (1, 1, 0.8, 6.0), (nx, ny, 0.8, 6.0), (nx, 1, 0.6, 5.0),
            (1, ny, 0.6, 5.0), (2, ny // 2, 0.7, 5.0),
            (nx * 3 // 4, ny - 1, 0.7, 5.0), (nx - 1, ny * 2 // 3, 0.5, 4.0),
            (nx // 5, 3, 0.5, 4.0), (nx * 2 // 3, ny * 3 // 4, 0.6, 3.0),
            (nx * 2 // 3 + 9, ny * 3 // 4 + 3, 0.5, 3.0)]


def assert_same_catalogue(sci, dq, tmp_path, monkeypatch, *, min_rows):
    fast = finder.find_artifacts_in_chip(sci, dq, ccdchip=2, file='f.fits',
                                         threads=2)
    # the reference: the full median by scipy, the full-size images of
    # prepare_chip, photutils' detect_sources and SourceCatalog
    with monkeypatch.context() as m:
        m.setattr(finder, 'median_of_padded', scipy_median_of_padded)
        m.setattr(finder, 'segment_above', photutils_segments)
        m.setattr(catalog, '_source_properties', photutils_properties)
        ref, prep = finder.find_artifacts_in_chip(
            sci, dq, ccdchip=2, file='f.fits', threads=2,
            return_prepared=True)
    a = write_catalog(fast, tmp_path / 'fast.ecsv')
    b = write_catalog(ref, tmp_path / 'scipy.ecsv')
    assert len(fast) >= min_rows
    ny, nx = sci.shape
    x, y = np.asarray(fast['x'].value), np.asarray(fast['y'].value)
    assert ((x < 8) | (x > nx - 8) | (y < 8) | (y > ny - 8)).sum() >= 5
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        assert fa.read() == fb.read()


def test_small_chip_catalogue_bytes(tmp_path, monkeypatch):
    sci, dq = chip(300, 520, edge_spots(520, 300), seed=3)
    assert_same_catalogue(sci, dq, tmp_path, monkeypatch, min_rows=8)


@pytest.mark.fullframe
def test_full_chip_catalogue_bytes(tmp_path, monkeypatch):
    sci, dq = chip(2048, 4096, edge_spots(4096, 2048)
                   + [(1521, 1773, 0.9, 5.0), (3510, 355, 0.7, 3.5)])
    assert_same_catalogue(sci, dq, tmp_path, monkeypatch, min_rows=10)
