"""Tests of ``acs_flecks find`` and of the agreement with SExtractor."""

import os

import numpy as np
import pytest
from astropy.table import QTable
from numpy.testing import assert_allclose

from acs_flecks.cli import main
from acs_flecks.detect import find_artifacts_in_chip, read_catalog
from acs_flecks.detect.sextractor import run_sextractor, sextractor_available

from test_detect import BLOBS, make_chip, write_dkc


@pytest.fixture
def dkc(tmp_path):
    s2, d2 = make_chip(blobs=BLOBS[:2], seed=1)
    s1, d1 = make_chip(blobs=BLOBS[2:], seed=2)
    return write_dkc(tmp_path / 'cli_dkc.fits', {1: (s1, d1), 2: (s2, d2)})


class TestCommand:
    def test_writes_catalog_regions_thumbnails(self, dkc, tmp_path, capsys):
        out = tmp_path / 'cat.ecsv'
        reg = tmp_path / 'cat.reg'
        thumbs = tmp_path / 'thumbs'
        thumbs.mkdir()
        known = tmp_path / 'known.ecsv'
        QTable({'ccdchip': [2], 'x': [100.0], 'y': [80.0]}).write(known)
        rc = main(['find', dkc, '-o', str(out), '--regions', str(reg),
                   '--thumbnails', str(thumbs), '--known', str(known)])
        assert rc == 0
        cat = read_catalog(out)
        assert len(cat) == 3
        assert list(cat['known']) == [False, True, False]
        assert_allclose(cat['x'][1].value, 100, atol=0.5)
        assert sum(ln.startswith('ellipse') for ln in open(reg)) == 3
        assert os.listdir(thumbs) == ['testdkc_artifacts.png']
        text = capsys.readouterr().out
        assert '3 artifact(s)' in text and '2 new' in text

    def test_options_reach_the_search(self, dkc, tmp_path):
        out = tmp_path / 'cat.ecsv'
        assert main(['find', dkc, '-o', str(out), '--median-size', '9',
                     '--nsigma', '7', '--min-area', '30']) == 0
        cat = read_catalog(out)
        assert cat.meta['median_size'] == 9
        assert cat.meta['nsigma'] == 7.0
        assert cat.meta['min_area'] == 30
        assert (cat['area'].value >= 30).all()
        assert cat.meta['deblend'] is True

    def test_no_deblend_option(self, tmp_path):
        blobs = ((150, 150, 8, 0.5), (178, 150, 8, 0.4))
        sci, dq = make_chip(blobs=blobs, seed=3)
        path = write_dkc(tmp_path / 'pair_dkc.fits', {1: (sci, dq)})
        out = tmp_path / 'cat.ecsv'
        assert main(['find', path, '-o', str(out)]) == 0
        assert len(read_catalog(out)) == 2
        assert main(['find', path, '-o', str(out), '--no-deblend']) == 0
        cat = read_catalog(out)
        assert len(cat) == 1 and cat.meta['deblend'] is False

    def test_several_images(self, dkc, tmp_path):
        out = tmp_path / 'cat.ecsv'
        reg = tmp_path / 'r.reg'
        other = tmp_path / 'other_dkc.fits'
        other.write_bytes(open(dkc, 'rb').read())
        assert main(['find', dkc, str(other), '-o', str(out),
                     '--regions', str(reg)]) == 0
        cat = read_catalog(out)
        assert len(cat) == 6
        assert list(cat['id']) == list(range(1, 7))
        assert set(cat['file']) == {'cli_dkc.fits', 'other_dkc.fits'}

    @pytest.mark.parametrize('args, match', [
        (['--median-size', '14'], 'odd integer'),
        (['--median-size', '1'], 'odd integer'),
        (['--nsigma', '0'], 'nsigma'), (['--nsigma', '-2'], 'nsigma'),
        (['--min-area', '0'], 'min_area')])
    def test_bad_options_exit_2_nothing_written(self, dkc, tmp_path, capsys,
                                                args, match):
        out = tmp_path / 'cat.ecsv'
        assert main(['find', dkc, '-o', str(out)] + args) == 2
        assert match in capsys.readouterr().err
        assert not out.exists()
        assert os.listdir(tmp_path) == ['cli_dkc.fits']

    def test_all_masked_chip_exit_2(self, tmp_path, capsys):
        s, d = make_chip()
        bad = np.full_like(d, 256)
        path = write_dkc(tmp_path / 'm_dkc.fits', {1: (s, d), 2: (s, bad)})
        out = tmp_path / 'cat.ecsv'
        assert main(['find', path, '-o', str(out)]) == 2
        err = capsys.readouterr().err
        assert 'm_dkc.fits' in err and 'CCDCHIP=2' in err
        assert 'every pixel is masked' in err
        assert not out.exists()

    def test_not_flashed_warns_with_file_name(self, tmp_path, capsys):
        s, d = make_chip()
        path = write_dkc(tmp_path / 'u_drk.fits', {1: (s, d), 2: (s, d)},
                         flashed=False)
        assert main(['find', path, '-o', str(tmp_path / 'c.ecsv')]) == 0
        err = capsys.readouterr().err
        assert 'NotFlashedWarning' in err and 'u_drk.fits' in err

    def test_missing_input(self, tmp_path, capsys):
        out = tmp_path / 'cat.ecsv'
        assert main(['find', str(tmp_path / 'nope.fits'), '-o',
                     str(out)]) == 2
        assert not out.exists()


@pytest.mark.skipif(not sextractor_available(),
                    reason='source-extractor is not installed')
class TestSExtractorAgreement:
    def _prep(self, seed=11):
        blobs = BLOBS + ((200, 250, 6, 0.25), (60, 240, 9, 0.2))
        sci, dq = make_chip(blobs=blobs, seed=seed)
        return find_artifacts_in_chip(sci, dq, return_prepared=True)

    def test_same_threshold_identical_detections(self):
        # SExtractor given the acs_flecks background and noise maps applies
        # the same threshold: same sources, areas, fluxes and positions
        cat, prep = self._prep()
        sx = run_sextractor(prep.inverted - prep.background,
                            rms_map=prep.noise)
        assert len(sx) == len(cat) == 5
        order = np.argsort(sx['x'])
        corder = np.argsort(cat['x'].value)
        # X_IMAGE/Y_IMAGE are 1-indexed like the catalog
        assert_allclose(sx['x'][order], cat['x'].value[corder], atol=1e-3)
        assert_allclose(sx['y'][order], cat['y'].value[corder], atol=1e-3)
        assert_allclose(sx['area'][order], cat['area'].value[corder])
        assert_allclose(sx['flux_iso'][order],
                        cat['isophotal_sum'].value[corder], rtol=1e-4)

    def test_report_configuration_agrees(self):
        # SExtractor with its own background mesh (the report's run): same
        # artifacts, positions within 0.5 pixel
        cat, prep = self._prep(seed=12)
        sx = run_sextractor(prep.inverted)
        assert len(sx) == len(cat)
        for row in cat:
            d = np.hypot(sx['x'] - row['x'].value, sx['y'] - row['y'].value)
            assert d.min() < 0.5

    @pytest.mark.parametrize('deblend', [True, False])
    def test_deblending_matches(self, deblend):
        # a blend of two particles: both programs split it (SExtractor's
        # default DEBLEND_NTHRESH 32, DEBLEND_MINCONT 0.005) or neither
        blobs = ((150, 150, 8, 0.5), (178, 150, 8, 0.4), (300, 100, 7, 0.5))
        sci, dq = make_chip(blobs=blobs, seed=3)
        cat, prep = find_artifacts_in_chip(sci, dq, deblend=deblend,
                                           return_prepared=True)
        sx = run_sextractor(prep.inverted - prep.background,
                            rms_map=prep.noise, deblend=deblend)
        assert len(sx) == len(cat) == (3 if deblend else 2)
        # pixels below the split level go to the branches by watershed
        # (photutils) or by Gaussian profiles (SExtractor): centroids of
        # split artifacts differ by < 0.5 pixel, the others not at all
        for row in cat:
            d = np.hypot(sx['x'] - row['x'].value, sx['y'] - row['y'].value)
            assert d.min() < (0.5 if deblend else 1e-3)
