"""Tests of the §7 search (acs_flecks.detect) on small synthetic chips."""

import pickle

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from numpy.testing import assert_allclose

from acs_flecks.detect import (DEFAULT_MASK_FLAGS, FindParameters,
                               find_artifacts, find_artifacts_in_chip,
                               find_chip, match_known, read_catalog,
                               smooth_background, write_catalog,
                               write_ds9_regions)
from acs_flecks.exceptions import AcsFlecksError, NotFlashedWarning
from acs_flecks.simulate.evaluation import completeness

SHAPE = (300, 420)


def make_chip(*, shape=SHAPE, level=40.0, gradient=0.15, noise=1.0,
              blobs=(), seed=0):
    """A flashed dark: smooth LED-like gradient x (1 - blocking of round
    blobs) + Gaussian noise.  ``blobs`` are (x, y, radius, depth) with
    1-indexed (x, y) in the image frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    illum = level * (1 - gradient * (xx / shape[1])) * \
        (1 - 0.3 * gradient * (yy / shape[0]) ** 2)
    trans = np.ones(shape)
    for x, y, r, depth in blobs:
        d2 = (xx - (x - 1)) ** 2 + (yy - (y - 1)) ** 2
        blob = np.exp(-0.5 * d2 / (r / 1.5) ** 2) * (d2 < (2 * r) ** 2)
        trans *= 1 - depth * blob
    sci = illum * trans + rng.normal(0, noise, shape)
    return sci.astype(np.float32), np.zeros(shape, np.uint16)


BLOBS = ((100, 80, 8, 0.6), (300, 200, 6, 0.5), (380, 60, 7, 0.4))


def write_dkc(path, chips, *, flashed=True, ltv=(0.0, 0.0)):
    """Write an ACS-layout flashed dark; ``chips``: ccdchip -> (sci, dq)."""
    ph = fits.Header()
    ph.update(INSTRUME='ACS', DETECTOR='WFC', FILTER1='CLEAR1L',
              FILTER2='CLEAR2L', EXPTIME=0.5, EXPSTART=57880.1,
              FLASHDUR=4.6 if flashed else 0.0,
              FLASHSTA='SUCCESSFUL' if flashed else 'NOT PERFORMED',
              IMAGETYP='DARK', OBSTYPE='INTERNAL', ROOTNAME='testdkc')
    hdus = [fits.PrimaryHDU(header=ph)]
    for ver, ccdchip in enumerate(sorted(chips, reverse=True), start=1):
        sci, dq = chips[ccdchip]
        h = fits.Header()
        h.update(CCDCHIP=ccdchip, BUNIT='ELECTRONS', LTV1=ltv[0],
                 LTV2=ltv[1], NCOMBINE=20)
        hdus += [fits.ImageHDU(sci, header=h, name='SCI', ver=ver),
                 fits.ImageHDU(np.ones_like(sci), header=h, name='ERR',
                               ver=ver),
                 fits.ImageHDU(dq.astype(np.int16), header=h, name='DQ',
                               ver=ver)]
    fits.HDUList(hdus).writeto(path)
    return str(path)


def _xy(cat):
    return np.c_[cat['x'].value, cat['y'].value]


class TestFindInChip:
    def test_finds_injected_blobs_only(self):
        sci, dq = make_chip(blobs=BLOBS)
        cat = find_artifacts_in_chip(sci, dq, ccdchip=2)
        assert len(cat) == 3
        order = np.argsort(cat['x'].value)
        assert_allclose(_xy(cat)[order], [b[:2] for b in BLOBS], atol=0.5)
        assert (cat['ccdchip'] == 2).all()
        assert (cat['area'].value >= 25).all()
        # deeper blobs have deeper deficits (percent)
        assert cat['peak_deficit'].unit == '%'
        assert cat['peak_deficit'][order][0] > cat['peak_deficit'][order][2]
        for col in ('bbox_xmin', 'bbox_xmax', 'bbox_ymin', 'bbox_ymax',
                    'semimajor_sigma', 'semiminor_sigma', 'ellipticity',
                    'orientation', 'mean_deficit', 'isophotal_sum'):
            assert col in cat.colnames
        assert (cat['bbox_xmin'] <= cat['x'].value).all()
        assert (cat['bbox_xmax'] >= cat['x'].value).all()

    def test_off_by_one_both_ways(self):
        # a symmetric blob centred on numpy [row 150, col 200] is at
        # 1-indexed (x, y) = (201, 151)
        sci, dq = make_chip(blobs=((201, 151, 7, 0.6),), gradient=0.0,
                            noise=0.2)
        cat = find_artifacts_in_chip(sci, dq)
        assert len(cat) == 1
        assert_allclose(_xy(cat)[0], [201, 151], atol=0.05)

    def test_ltv_gives_full_chip_frame(self):
        sci, dq = make_chip(blobs=BLOBS[:1])
        cat = find_artifacts_in_chip(sci, dq, ltv=(-1000.0, -200.0))
        assert_allclose(_xy(cat)[0], [1100, 280], atol=0.5)
        assert cat['bbox_xmin'][0] > 1000

    def test_gradient_creates_nothing(self):
        # LED-like gradients, curved, 15% and 25% across 420 pixels (per
        # pixel 10-20 times steeper than the LED across a 4096-pixel chip)
        for seed, grad in ((0, 0.15), (3, 0.25)):
            sci, dq = make_chip(gradient=grad, seed=seed)
            assert len(find_artifacts_in_chip(sci, dq)) == 0
        # dividing by one number instead would create false "deficits"
        sci, dq = make_chip(gradient=0.25, seed=3)
        flat = 100 * (1 - sci / np.median(sci))
        assert flat.max() > 5 * 0.25

    def test_gradient_does_not_hide(self):
        # the same blob is found, with the same depth, in the bright and in
        # the dim part of the gradient
        bright, _ = make_chip(blobs=((40, 150, 7, 0.3),), gradient=0.25)
        dim, _ = make_chip(blobs=((390, 150, 7, 0.3),), gradient=0.25)
        cb = find_artifacts_in_chip(bright)
        cd = find_artifacts_in_chip(dim)
        assert len(cb) == len(cd) == 1
        assert_allclose(cb['peak_deficit'].value, cd['peak_deficit'].value,
                        rtol=0.15)

    def test_blank_detector_nothing(self):
        for seed in range(3):
            sci, dq = make_chip(seed=seed)
            assert len(find_artifacts_in_chip(sci, dq)) == 0


class TestDQ:
    def _bad_cluster(self, value, flag):
        sci, dq = make_chip(seed=5)
        # a 10x10 cluster of dead (low) or hot pixels
        sci[140:150, 200:210] = value
        dq[140:150, 200:210] = flag
        return sci, dq

    @pytest.mark.parametrize('flag', [16, 64, 256, 1024, 8192])
    def test_flagged_low_pixels_make_no_artifact(self, flag):
        sci, dq = self._bad_cluster(0.0, flag)
        assert len(find_artifacts_in_chip(sci, dq)) == 0
        # without the DQ array the same pixels are an artifact: the mask
        # is what removes them
        assert len(find_artifacts_in_chip(sci, None)) == 1

    def test_hot_and_saturated_pixels(self):
        sci, dq = make_chip(blobs=BLOBS, seed=6)
        rng = np.random.default_rng(6)
        hot = rng.random(sci.shape) < 0.01
        sci[hot] = 5000.0
        dq[hot] |= 16
        sat = rng.random(sci.shape) < 0.002
        sci[sat] = 80000.0
        dq[sat] |= 256
        cat = find_artifacts_in_chip(sci, dq)
        assert len(cat) == 3

    def test_dq4_fleck_pixels_are_not_masked(self):
        sci, dq = make_chip(blobs=BLOBS, seed=7)
        ref = find_artifacts_in_chip(sci, dq)
        # the new bpixtab flags fleck pixels (transmissivity < 50%) with 4
        yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
        for x, y, r, depth in BLOBS:
            dq[(xx - (x - 1)) ** 2 + (yy - (y - 1)) ** 2 <= r ** 2] |= 4
        assert (dq == 4).sum() > 300
        cat = find_artifacts_in_chip(sci, dq)
        assert len(cat) == 3
        assert_allclose(_xy(cat), _xy(ref), atol=1e-6)
        # masking 4 (not the default) would lose them once the whole
        # shadow is flagged
        assert 4 & DEFAULT_MASK_FLAGS == 0
        for x, y, r, depth in BLOBS:
            dq[(xx - (x - 1)) ** 2 + (yy - (y - 1)) ** 2 <= (2 * r) ** 2] |= 4
        assert len(find_artifacts_in_chip(sci, dq)) == 3
        lost = find_artifacts_in_chip(sci, dq,
                                      mask_flags=DEFAULT_MASK_FLAGS | 4)
        assert len(lost) == 0

    def test_all_masked_chip(self):
        sci, dq = make_chip()
        dq[:] = 16
        with pytest.raises(AcsFlecksError, match='every pixel is masked'):
            find_artifacts_in_chip(sci, dq, ccdchip=1)

    def test_no_illumination(self):
        sci = np.random.default_rng(0).normal(0, 1, SHAPE).astype(np.float32)
        with pytest.raises(AcsFlecksError, match='no positive illumination'):
            find_artifacts_in_chip(sci)


class TestParameters:
    @pytest.mark.parametrize('kw, match', [
        ({'median_size': 14}, 'odd integer'), ({'median_size': 1}, 'odd'),
        ({'nsigma': 0}, 'nsigma'), ({'nsigma': -1.0}, 'nsigma'),
        ({'nsigma': np.nan}, 'nsigma'), ({'min_area': 0}, 'min_area'),
        ({'min_area': 2.5}, 'min_area'), ({'mask_flags': -1}, 'mask_flags')])
    def test_bad_values(self, kw, match):
        with pytest.raises(AcsFlecksError, match=match):
            FindParameters(**kw)
        sci, dq = make_chip()
        with pytest.raises(AcsFlecksError, match=match):
            find_artifacts_in_chip(sci, dq, **kw)

    def test_min_area_and_nsigma_act(self):
        sci, dq = make_chip(blobs=BLOBS)
        base = find_artifacts_in_chip(sci, dq)
        big = find_artifacts_in_chip(sci, dq, min_area=int(
            base['area'].value.max()) + 1)
        assert len(big) == 0
        high = find_artifacts_in_chip(sci, dq, nsigma=1e4)
        assert len(high) == 0

    def test_picklable_for_dask(self):
        p = FindParameters(median_size=9)
        assert pickle.loads(pickle.dumps(p)) == p
        assert pickle.loads(pickle.dumps(find_chip)) is find_chip


class TestFindArtifactsFile:
    def test_both_chips_and_meta(self, tmp_path):
        s2, d2 = make_chip(blobs=BLOBS[:2], seed=1)
        s1, d1 = make_chip(blobs=BLOBS[2:], seed=2)
        path = write_dkc(tmp_path / 'a_dkc.fits', {1: (s1, d1), 2: (s2, d2)})
        cat = find_artifacts(path)
        assert list(cat['ccdchip']) == [1, 2, 2]
        assert list(cat['id']) == [1, 2, 3]
        assert_allclose(_xy(cat)[0], BLOBS[2][:2], atol=0.5)
        assert cat.meta['source_file'] == path
        assert cat.meta['obs_time'].startswith('2017-05-')
        assert cat.meta['detector'] == 'WFC'
        assert cat.meta['median_size'] == 15
        assert cat.meta['nsigma'] == 5.0
        assert cat.meta['min_area'] == 25
        # the per-chip worker function gives the same rows
        one = find_chip(path, 2, {'median_size': 15})
        assert_allclose(_xy(one), _xy(cat[cat['ccdchip'] == 2]))
        only1 = find_artifacts(path, chips=[1])
        assert len(only1) == 1

    def test_unknown_chip(self, tmp_path):
        s, d = make_chip()
        path = write_dkc(tmp_path / 'b_dkc.fits', {1: (s, d), 2: (s, d)})
        with pytest.raises(AcsFlecksError, match='CCDCHIP=3'):
            find_artifacts(path, chips=[3])

    def test_not_flashed_warns(self, tmp_path):
        s, d = make_chip()
        path = write_dkc(tmp_path / 'c_drk.fits', {1: (s, d), 2: (s, d)},
                         flashed=False)
        with pytest.warns(NotFlashedWarning, match='c_drk.fits.*invisible'):
            find_artifacts(path)

    def test_catalog_roundtrip_and_regions(self, tmp_path):
        s, d = make_chip(blobs=BLOBS)
        path = write_dkc(tmp_path / 'd_dkc.fits', {1: (s, d), 2: (s, d)},
                         ltv=(-1000.0, -200.0))
        cat = find_artifacts(path)
        out = write_catalog(cat, tmp_path / 'cat.ecsv')
        back = read_catalog(out)
        assert_allclose(_xy(back), _xy(cat))
        assert back['x'].unit == 'pix'
        assert back.meta['obs_time'] == cat.meta['obs_time']
        reg = write_ds9_regions(cat, tmp_path / 'cat.reg')
        lines = [ln for ln in open(reg) if ln.startswith('ellipse')]
        assert len(lines) == len(cat)
        # regions are in image coordinates: chip x - 1000 -> image x
        x0 = float(lines[0].split('(')[1].split(',')[0])
        assert_allclose(x0, cat['x'][0].value - 1000, atol=0.01)
        assert 'WFC1' in lines[0]


class TestKnownAndCompleteness:
    def test_match_known(self):
        cat = QTable({'ccdchip': [1, 1, 2], 'x': [10.0, 50.0, 10.0],
                      'y': [10.0, 50.0, 10.0]})
        known = QTable({'ccdchip': [1, 1], 'x': [12.0, 90.0],
                        'y': [11.0, 90.0]})
        assert list(match_known(cat, known, radius=5)) == [True, False, False]

    def test_completeness_by_area_and_depth(self):
        truth = QTable({'ccdchip': [1, 1, 2, 2],
                        'x': [10.0, 50.0, 10.0, 80.0],
                        'y': [10.0, 50.0, 10.0, 80.0],
                        'area': [15, 150, 30, 300],
                        'peak_blocking': [0.15, 0.8, 0.25, 0.9]})
        cat = QTable({'ccdchip': [1, 2, 2, 1], 'x': [50.5, 80.0, 10.0, 300.],
                      'y': [50.2, 81.0, 10.0, 300.]})
        res = completeness(cat, truth, radius=2.0, area_bins=(0, 20, 100,
                           1000), depth_bins=(0, 0.5, 1.0), led_frame=False)
        area = res[res['quantity'] == 'area']
        assert list(area['n_true']) == [1, 1, 2]
        assert list(area['n_found']) == [0, 1, 2]
        depth = res[res['quantity'] == 'depth']
        assert list(depth['n_found']) == [1, 2]
        assert_allclose(depth['completeness'], [0.5, 1.0])
        assert res.meta['overall'] == 0.75
        assert res.meta['found'] == [False, True, True, True]

    def test_completeness_on_injected_blobs(self):
        sci, dq = make_chip(blobs=BLOBS + ((200, 250, 3, 0.2),))
        cat = find_artifacts_in_chip(sci, dq)
        truth = QTable({'ccdchip': [1] * 4,
                        'x': [b[0] for b in BLOBS] + [200.0],
                        'y': [b[1] for b in BLOBS] + [250.0],
                        'area': [200, 110, 150, 10],
                        'peak_blocking': [0.6, 0.5, 0.4, 0.2]})
        res = completeness(cat, truth, led_frame=False)
        assert res.meta['found'] == [True, True, True, False]


class TestNormalize:
    def test_smooth_background_follows_gradient_and_ignores_blobs(self):
        sci, _ = make_chip(blobs=BLOBS, noise=0.0)
        clean, _ = make_chip(noise=0.0)
        bkg = smooth_background(sci)
        # within 1% of the true illumination (curved gradient)
        assert_allclose(bkg, clean, rtol=0.01)


class TestDeblend:
    # two particles 28 pixels apart whose median-filtered deficits touch
    # above the threshold, and an isolated one
    PAIR = ((150, 150, 8, 0.5), (178, 150, 8, 0.4), (300, 100, 7, 0.5))

    def test_blend_is_split(self):
        sci, dq = make_chip(blobs=self.PAIR, seed=3)
        cat = find_artifacts_in_chip(sci, dq)
        assert len(cat) == 3
        xy = _xy(cat)
        for x, y, _, _ in self.PAIR:
            d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
            assert d.min() < 1.0

    def test_no_deblend_merges(self):
        sci, dq = make_chip(blobs=self.PAIR, seed=3)
        cat = find_artifacts_in_chip(sci, dq, deblend=False)
        assert len(cat) == 2
        merged = cat[cat['area'].value > 1000][0]
        # the merged centroid lies between the two particles
        assert 155 < merged['x'].value < 173

    def test_isolated_sources_unchanged(self):
        sci, dq = make_chip(blobs=BLOBS, seed=4)
        on = find_artifacts_in_chip(sci, dq)
        off = find_artifacts_in_chip(sci, dq, deblend=False)
        assert_allclose(_xy(on), _xy(off))
        assert_allclose(on['area'].value, off['area'].value)

    def test_contrast_one_disables(self):
        sci, dq = make_chip(blobs=self.PAIR, seed=3)
        assert len(find_artifacts_in_chip(sci, dq, deblend_contrast=1.0)) == 2

    @pytest.mark.parametrize('kw, match', [
        (dict(deblend_nlevels=0), 'deblend_nlevels'),
        (dict(deblend_contrast=1.5), 'deblend_contrast'),
        (dict(deblend='yes'), 'deblend must be'),
        (dict(deblend_min_area=0), 'deblend_min_area')])
    def test_bad_values(self, kw, match):
        with pytest.raises(AcsFlecksError, match=match):
            FindParameters(**kw)

    def test_parameters_in_meta(self):
        meta = FindParameters(deblend=False).as_meta()
        assert meta['deblend'] is False
        assert meta['deblend_nlevels'] == 32
        assert meta['deblend_contrast'] == 0.005
        assert meta['deblend_min_area'] is None


class TestFastPathIdentical:
    """The search without full-size intermediate images (`_search_images`,
    `_segments`) gives exactly what the documented steps give
    (`prepare_chip`, photutils `detect_sources`)."""

    @pytest.mark.parametrize('box', [64, 50])
    def test_data_threshold_and_noise_identical(self, box):
        from acs_flecks.detect.finder import (_data_and_below,
                                              _search_images, prepare_chip)
        sci, dq = make_chip(blobs=BLOBS, seed=3)
        dq[10:14, 20:30] = 16
        p = FindParameters(box=box, min_area=5)
        prep = prepare_chip(sci, dq, params=p)
        data0, below0, n0 = _data_and_below(prep.inverted, prep.background,
                                            prep.noise, np.float32(5.0))
        data, above, n, noise = _search_images(sci, dq, p)
        assert n == n0 > 0
        assert np.array_equal(above, ~below0)
        assert np.array_equal(noise, prep.noise)
        if box % 4:
            assert np.array_equal(data, data0)
        else:
            # the bracketed median: exact wherever the threshold may be
            # reached (every pixel of a segment), a proven upper bound of
            # the deficit elsewhere
            assert np.array_equal(data[above], data0[above])
            assert (data >= data0).all()
            assert not np.array_equal(data, data0)

    @pytest.mark.parametrize('min_area', [1, 5, 25])
    def test_segments_equal_detect_sources(self, min_area):
        from photutils.segmentation import detect_sources

        from acs_flecks.detect.segmentation import segment_above as _segments
        rng = np.random.default_rng(5)
        data = rng.normal(0, 1, (200, 260)).astype(np.float32)
        data[50:60, 40:47] += 5
        data[120:123, 200:230] += 5
        above = data > 1.5
        ref = detect_sources(data, 0.0, n_pixels=min_area, connectivity=8,
                             mask=~above)
        segm = _segments(above, min_area)
        assert segm.n_labels == ref.n_labels > 1
        assert np.array_equal(segm.data, ref.data)
        assert np.array_equal(segm.labels, ref.labels)
        assert _segments(np.zeros((20, 30), bool), min_area) is None
        buf = np.full(above.shape, 7, np.int32)
        assert np.array_equal(_segments(above, min_area, out=buf).data,
                              ref.data)

    def test_catalog_same_with_and_without_prepared(self):
        sci, dq = make_chip(blobs=BLOBS)
        cat = find_artifacts_in_chip(sci, dq)
        cat2, _ = find_artifacts_in_chip(sci, dq, return_prepared=True)
        assert len(cat) == len(BLOBS)
        for name in cat.colnames:
            assert np.array_equal(np.asarray(getattr(cat[name], 'value',
                                                     cat[name])),
                                  np.asarray(getattr(cat2[name], 'value',
                                                     cat2[name]))), name
