"""The search's segmentation and catalogue without photutils
(`acs_flecks.detect.segmentation`, `acs_flecks.detect.catalog`) give
photutils' results, bit for bit."""

import numpy as np
import pytest

from acs_flecks.detect import catalog
from acs_flecks.detect.catalog import measure_sources, write_catalog
from acs_flecks.detect.deblend import deblend_segments
from acs_flecks.detect.segmentation import Segments, segment_above

PROPERTIES = ('labels', 'x_centroid', 'y_centroid', 'bbox_xmin',
              'bbox_xmax', 'bbox_ymin', 'bbox_ymax', 'area', 'segment_flux',
              'max_value', 'semimajor_axis', 'semiminor_axis', 'ellipticity',
              'orientation')


def photutils_properties(data, segm):
    """The reference: photutils' SourceCatalog (what measure_sources
    called before), as plain arrays."""
    from photutils.segmentation import SegmentationImage, SourceCatalog
    if not isinstance(segm, SegmentationImage):
        segm = SegmentationImage(np.array(segm.data))
    cat = SourceCatalog(data, segm)
    out = {}
    for name in PROPERTIES:
        v = getattr(cat, name)
        if name == 'orientation':
            v = v.to_value('deg')
        out[name] = np.asarray(getattr(v, 'value', v))
    return out


def scene(seed=4, shape=(120, 150)):
    """Segments of every kind: interior, on each edge and corner, one
    pixel wide (row, column, diagonal: the covariance's 1/12 rule), with
    negative and non-finite pixels inside, and one wholly non-finite."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, shape).astype(np.float32)
    data[20:31, 30:38] += 6
    data[0:6, 0:9] += 5                          # corner
    data[shape[0] - 4:, 60:75] += 5              # bottom edge
    data[50:64, shape[1] - 3:] += 5              # right edge
    data[79:82, 9:41] = 0
    data[80, 10:40] = 8                          # one row
    data[85:110, 100] += 8                       # one column
    for k in range(15):                          # a diagonal line
        data[60 + k, 40 + k] += 8
    data[90:96, 60:66] += 6
    data[92, 62] = np.nan                         # a NaN inside
    data[39:44, 99:104] = 0
    data[40:43, 100:103] = np.nan                 # a wholly NaN segment
    data[22, 33] = -50                            # negative inside
    above = (data > 2.5) | ~np.isfinite(data)
    return data, above


@pytest.mark.parametrize('min_area', [1, 4, 9])
def test_segments_attributes_equal_segmentation_image(min_area):
    from photutils.segmentation import SegmentationImage
    data, above = scene()
    segm = segment_above(above, min_area)
    ref = SegmentationImage(np.array(segm.data))
    assert segm.n_labels == ref.n_labels > 5
    assert np.array_equal(segm.labels, ref.labels)
    assert segm.labels.dtype == ref.labels.dtype
    assert segm.slices == ref.slices
    assert np.array_equal(segm.areas, ref.areas)
    assert segm.max_label == ref.max_label
    # from the array alone (no pixel list), and after relabelling in place
    plain = Segments(np.array(segm.data))
    assert plain.slices == ref.slices
    segm.data[segm.data == 2] = segm.max_label + 1
    segm.data = segm.data
    ref = SegmentationImage(np.array(segm.data))
    assert np.array_equal(segm.labels, ref.labels)
    assert segm.slices == ref.slices
    assert np.array_equal(segm.areas, ref.areas)


def test_segments_empty():
    assert segment_above(np.zeros((10, 12), bool), 1) is None
    above = np.zeros((10, 12), bool)
    above[2, 2] = True
    assert segment_above(above, 2) is None
    empty = Segments(np.zeros((4, 5), np.int32))
    assert empty.n_labels == 0 and empty.max_label == 0
    assert empty.slices == []


@pytest.mark.parametrize('seed', [4, 7])
def test_properties_bit_identical_to_source_catalog(seed):
    data, above = scene(seed)
    segm = segment_above(above, 3)
    mine = catalog._source_properties(data, segm)
    ref = photutils_properties(data, segm)
    assert len(mine['labels']) > 5
    for name in PROPERTIES:
        a, b = np.asarray(mine[name]), ref[name]
        assert a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=True), name
        if a.dtype.kind == 'f':
            # bit for bit, not just equal
            assert np.array_equal(a.view(np.int64), b.view(np.int64)), name
    # the cases the scene is made for are present
    assert np.isnan(mine['area']).any()                 # wholly NaN
    # the one-row segment: zero variance across, SExtractor's 1/12 added
    assert np.isclose(mine['semiminor_axis'], np.sqrt(1 / 12)).any()


def test_measure_sources_bytes_equal_photutils(tmp_path, monkeypatch):
    data, above = scene()
    noise = np.full(data.shape, 0.5, np.float32)
    segm = segment_above(above, 3)
    segm = deblend_segments(data, segm, noise=noise, nsigma=5.0,
                            branch_area=3)
    mine = measure_sources(data, segm, ccdchip=1, ltv=(-10.0, -20.0),
                           noise=noise, file='f.fits')
    with monkeypatch.context() as m:
        m.setattr(catalog, '_source_properties', photutils_properties)
        ref = measure_sources(data, segm, ccdchip=1, ltv=(-10.0, -20.0),
                              noise=noise, file='f.fits')
    a = write_catalog(mine, tmp_path / 'mine.ecsv')
    b = write_catalog(ref, tmp_path / 'ref.ecsv')
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        assert fa.read() == fb.read()
    assert len(mine) > 5


def test_photutils_segmentation_image_accepted():
    from photutils.segmentation import SegmentationImage
    data, above = scene()
    segm = segment_above(above, 3)
    a = measure_sources(data, segm, ccdchip=2)
    b = measure_sources(data, SegmentationImage(np.array(segm.data)),
                        ccdchip=2)
    for name in a.colnames:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name]),
                              equal_nan=a[name].dtype.kind == 'f')


def _masks():
    """Masks where 8-connected labelling is easy to get wrong: random
    densities around percolation (many merges of provisional labels),
    spirals and combs (a group whose first pixel comes late in its
    provisional labels), diagonal chains, single rows and columns, empty
    and full."""
    rng = np.random.default_rng(5)
    for density in (0.0, 0.05, 0.3, 0.45, 0.6, 1.0):
        for shape in ((1, 1), (1, 37), (29, 1), (40, 53), (128, 97)):
            yield rng.random(shape) < density
    comb = np.zeros((20, 31), bool)
    comb[:, ::2] = True
    comb[-1] = True                      # teeth joined at the bottom only
    yield comb
    yield comb[::-1, ::-1].copy()
    diag = np.eye(25, dtype=bool) | np.eye(25, k=3, dtype=bool)[::-1]
    yield diag
    spiral = np.zeros((21, 21), bool)
    r0, c0, r1, c1 = 0, 0, 20, 20
    while r0 <= r1 and c0 <= c1:
        spiral[r0, c0:c1 + 1] = spiral[r0:r1 + 1, c1] = True
        spiral[r1, c0:c1 + 1] = True
        spiral[r0 + 2:r1 + 1, c0] = True
        r0, c0, r1, c1 = r0 + 2, c0 + 2, r1 - 2, c1 - 2
    yield spiral
    yield ~spiral


def test_label8_equals_scipy_label():
    # the compiled labelling gives scipy.ndimage.label's labels (8-
    # connected, numbered in raster order of each group's first pixel) and
    # the labelled pixels in raster order
    from scipy import ndimage

    from acs_flecks.detect.segmentation import label8
    n_cases = 0
    for mask in _masks():
        ref, nref = ndimage.label(mask, structure=np.ones((3, 3), bool))
        got, n, pixels = label8(mask)
        assert n == nref
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(pixels, np.flatnonzero(mask))
        # a dirty buffer is zeroed first
        buf = np.full(mask.shape, 7, np.int32)
        again, _, _ = label8(mask, out=buf)
        assert again is buf
        np.testing.assert_array_equal(buf, ref)
        n_cases += 1
    assert n_cases >= 34


def test_find_imports_no_scipy_ndimage():
    # the search (median, noise grids, segmentation, deblending of blends
    # that do not split, catalogue) runs without importing scipy.ndimage,
    # nor numba (its loops are the compiled acs_flecks.detect._kernels)
    import subprocess
    import sys
    code = (
        'import sys, numpy as np\n'
        'from acs_flecks.detect.finder import find_artifacts_in_chip\n'
        'rng = np.random.default_rng(0)\n'
        'img = (40 + rng.normal(0, 1, (300, 400))).astype(np.float32)\n'
        'yy, xx = np.mgrid[:300, :400]\n'
        'img *= (1 - 0.5 * np.exp(-((xx - 200) ** 2 + (yy - 150) ** 2)'
        ' / 50.)).astype(np.float32)\n'
        'cat = find_artifacts_in_chip(img, box=64, threads=1)\n'
        'assert len(cat) == 1, len(cat)\n'
        'print([m for m in ("scipy.ndimage", "numba", "llvmlite")'
        ' if m in sys.modules])\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == '[]'


def test_sparse_zeros():
    from acs_flecks.detect.segmentation import SPARSE_MIN_BYTES, sparse_zeros
    big = sparse_zeros((2048, 1024), np.int32)
    assert big.nbytes >= SPARSE_MIN_BYTES
    assert big.dtype == np.int32 and big.shape == (2048, 1024)
    assert big.flags.writeable and big.flags.c_contiguous
    assert not big.any()
    big[1000, 7] = 5
    assert big.sum() == 5
    # independent arrays, and small ones are plain numpy zeros
    assert not sparse_zeros((2048, 1024), np.int32).any()
    small = sparse_zeros((10, 10), np.int64)
    assert small.dtype == np.int64 and not small.any() and \
        small.flags.owndata
