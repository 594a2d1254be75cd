"""The new-artifact search (issue #15): ratio against the median of earlier
epochs, matched filter, DQ, history integration, light path."""

import shutil
import sqlite3

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from acs_flecks.cli import main
from acs_flecks.detect.difference import (DifferenceParameters,
                                          find_new_in_chip, normalize_chip,
                                          ratio_image, reference_image,
                                          search_ratio)
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.io import ChipData
from acs_flecks.monitor import HistoryDatabase, monitor_epochs
from acs_flecks.simulate.injection import (appearing_flecks_scenario,
                                           no_penumbra, write_dkc_timeline)
from acs_flecks.simulate.scenarios import get_scenario

BEFORE = '2017-04-04'
ORIGIN = '2017-05-05'


def _chip(sci, dq=None, ltv=(0.0, 0.0), ccdchip=1):
    sci = np.asarray(sci, np.float32)
    dq = np.zeros(sci.shape, np.uint16) if dq is None else dq
    return ChipData(ccdchip=ccdchip, sci=sci, err=None, dq=dq,
                    header=fits.Header(), ltv=ltv)


def _gauss(shape, x, y, depth, sigma):
    """Transmissivity of a Gaussian shadow at 1-indexed (x, y)."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    r2 = (xx + 1 - x) ** 2 + (yy + 1 - y) ** 2
    return 1 - depth * np.exp(-0.5 * r2 / sigma ** 2)


def _epochs(n, shape=(256, 384), seed=0, level=40.0, noise=0.035):
    """Flashed-dark-like epochs: a gradient, a fixed pattern of freckles
    and PRNU, independent noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    pattern = (1 + 0.1 * xx / shape[1] - 0.05 * yy / shape[0]) * \
        (1 + 0.01 * rng.standard_normal(shape))
    for _ in range(15):       # stable freckles
        pattern *= _gauss(shape, rng.uniform(20, shape[1] - 20),
                          rng.uniform(20, shape[0] - 20),
                          rng.uniform(0.2, 0.6), rng.uniform(1.5, 3))
    out = []
    for _ in range(n):
        img = level * pattern * (1 + noise * rng.standard_normal(shape))
        out.append(img.astype(np.float32))
    return out, pattern


class TestParameters:
    @pytest.mark.parametrize('kw, match', [
        (dict(nsigma=0), 'nsigma'), (dict(nsigma=float('nan')), 'nsigma'),
        (dict(kernels=()), 'kernels'), (dict(kernels=(0.1,)), 'kernels'),
        (dict(kernels='a'), 'kernels'), (dict(min_pixels=0), 'min_pixels'),
        (dict(min_reference=0), 'min_reference'),
        (dict(min_reference=3, max_reference=2), 'max_reference'),
        (dict(mask_flags=-1), 'mask_flags'), (dict(box=True), 'box')])
    def test_bad(self, kw, match):
        with pytest.raises(AcsFlecksError, match=match):
            DifferenceParameters(**kw)

    def test_meta_is_plain(self):
        import json
        meta = DifferenceParameters(kernels=[2, 1]).as_meta()
        assert meta['kernels'] == [1.0, 2.0]
        assert json.loads(json.dumps(meta)) == meta


class TestRatio:
    def test_reference_median_ignores_nan_and_outlier(self):
        a = np.ones((4, 4), np.float32)
        b = a.copy()
        b[0, 0] = np.nan
        c = a * 5
        ref = reference_image([a, b, c])
        assert ref[0, 0] == 3.0          # median of (1, 5)
        assert ref[1, 1] == 1.0          # the outlier epoch is ignored
        assert_allclose(reference_image([a, b])[0, 0], 1.0)

    def test_static_pattern_level_and_tilt_cancel(self):
        """A 2% change of the flash level and a 1% tilt divide out."""
        imgs, _ = _epochs(4)
        shape = imgs[0].shape
        yy, xx = np.mgrid[:shape[0], :shape[1]]
        cur = imgs[3] * 1.02 * (1 + 0.01 * (xx / shape[1] - 0.5))
        norm = [normalize_chip(i) for i in (cur, *imgs[:3])]
        ratio = ratio_image(norm[0], norm[1:])
        assert abs(np.nanmedian(ratio) - 1) < 1e-3
        assert len(search_ratio(ratio, params=DifferenceParameters(
            box=64))) == 0


class TestSearch:
    def test_position_one_indexed_with_ltv(self):
        rng = np.random.default_rng(3)
        ratio = (1 + 0.04 * rng.standard_normal((200, 300))).astype(
            np.float32)
        ratio *= _gauss(ratio.shape, 150.0, 80.0, 0.3, 1.2).astype(np.float32)
        cat = search_ratio(ratio, params=DifferenceParameters(box=64),
                           ccdchip=2, ltv=(-1000.0, -500.0))
        assert len(cat) == 1
        assert cat['ccdchip'][0] == 2 and cat['search'][0] == 'difference'
        assert_allclose(cat['x'][0].value, 1150.0, atol=0.5)
        assert_allclose(cat['y'][0].value, 580.0, atol=0.5)
        assert cat['snr'][0] > 6 and cat['area'][0].value >= 3
        assert cat['bbox_xmin'][0].value <= 1150 <= cat['bbox_xmax'][0].value

    def test_single_pixel_is_not_a_particle(self):
        rng = np.random.default_rng(4)
        ratio = (1 + 0.04 * rng.standard_normal((200, 300))).astype(
            np.float32)
        ratio[100, 100] = 0.0         # one dead pixel, 25 sigma
        p = DifferenceParameters(box=64)
        assert len(search_ratio(ratio, params=p)) == 0

    def test_noise_only_no_candidate(self):
        rng = np.random.default_rng(5)
        for k in range(3):
            ratio = (1 + 0.05 * rng.standard_normal((512, 512))).astype(
                np.float32)
            assert len(search_ratio(ratio)) == 0

    def test_new_fleck_found_old_ones_cancel(self):
        imgs, _ = _epochs(4, seed=1)
        cur = imgs[3] * _gauss(imgs[3].shape, 200.0, 100.0, 0.3,
                               1.2).astype(np.float32)
        cat = find_new_in_chip(_chip(cur), [_chip(i) for i in imgs[:3]],
                               params=DifferenceParameters(box=64))
        assert len(cat) == 1 and cat.meta['n_reference'] == 3
        assert_allclose([cat['x'][0].value, cat['y'][0].value], [200, 100],
                        atol=0.5)

    def test_min_reference(self):
        imgs, _ = _epochs(2, seed=1)
        cat = find_new_in_chip(_chip(imgs[1]), [_chip(imgs[0])],
                               params=DifferenceParameters(min_reference=2))
        assert len(cat) == 0 and cat.meta['n_reference'] == 1

    def test_reference_of_other_pixels_refused(self):
        imgs, _ = _epochs(2, seed=1)
        with pytest.raises(AcsFlecksError, match='same pixels'):
            find_new_in_chip(_chip(imgs[1]), [_chip(imgs[0],
                                                    ltv=(-10.0, 0.0))])

    @pytest.mark.parametrize('flag, side, found', [
        (1024, 'current', False),   # a new sink pixel patch
        (8192, 'current', False),   # ACSREJ-rejected
        (16, 'current', False),     # hot
        (4, 'current', True),       # bad pixel (a flagged fleck) is kept
        (64, 'reference', True),    # warm in one reference: the others
    ])
    def test_dq(self, flag, side, found):
        imgs, _ = _epochs(4, seed=2)
        shape = imgs[0].shape
        cur = imgs[3] * _gauss(shape, 200.0, 100.0, 0.35, 1.3).astype(
            np.float32)
        dq = np.zeros(shape, np.uint16)
        dq[96:105, 196:205] = flag
        chips = [_chip(cur, dq if side == 'current' else None)]
        refs = [_chip(i, dq if side == 'reference' and k == 0 else None)
                for k, i in enumerate(imgs[:3])]
        cat = find_new_in_chip(chips[0], refs,
                               params=DifferenceParameters(box=64))
        assert (len(cat) == 1) is found

    def test_dq_of_every_reference(self):
        """A deficit under pixels masked in the epoch is not found even
        where the references are unmasked, and pixels masked in every
        reference cannot be compared."""
        imgs, _ = _epochs(3, seed=2)
        shape = imgs[0].shape
        cur = imgs[2] * _gauss(shape, 200.0, 100.0, 0.35, 1.3).astype(
            np.float32)
        dq = np.zeros(shape, np.uint16)
        dq[96:105, 196:205] = 1024
        cat = find_new_in_chip(_chip(cur), [_chip(i, dq) for i in imgs[:2]],
                               params=DifferenceParameters(box=64))
        assert len(cat) == 0


# -- monitor on the package's simulator, WITHOUT the LED penumbra ----------

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """The report's timeline without any LED penumbra, windows on the tiny
    fleck (WFC1) and the large fleck (WFC2)."""
    out = tmp_path_factory.mktemp('tiny')
    sc = no_penumbra(get_scenario('discovery', seed=0, kinds=('dkc',)))
    sc.centers = {1: (1850, 1755), 2: (1521, 1773)}
    paths = write_dkc_timeline(sc, out, window=200)
    return sc, paths, out


def _new(art):
    return art[art['status'] == 'new']


class TestMonitorTinyFleck:
    def test_tiny_fleck_new_and_dated(self, tiny, tmp_path):
        sc, paths, _ = tiny
        art = monitor_epochs(paths, db=tmp_path / 'h.sqlite',
                             scheduler='serial')
        new = _new(art)
        fleck3 = [a for a in sc.artifacts if a.id == 'fleck3'][0]
        # LED shadow position (the flash sees the particle shifted)
        x, y = fleck3.x + fleck3.led_dx, fleck3.y + fleck3.led_dy
        d = np.hypot(new['x'].value - x, new['y'].value - y)
        d[np.asarray(new['ccdchip']) != 1] = np.inf
        a = new[np.argmin(d)]
        assert d.min() < 1.5
        assert 'difference' in str(a['found_by']).split(',')
        assert a['first_seen'].startswith(ORIGIN)
        assert str(a['last_seen_absent']).startswith(BEFORE)
        # forced photometry in every later epoch: it never flickers
        assert a['n_epochs'] + a['n_forced'] == 8
        # the only other new artifact is the large fleck (WFC2)
        assert len(new) == 2
        other = new[np.asarray(new['ccdchip']) == 2][0]
        assert 'find' in other['found_by']

    def test_without_difference_not_found(self, tiny, tmp_path):
        """The §7 search alone misses the tiny fleck without penumbra."""
        _, paths, _ = tiny
        art = monitor_epochs(paths, db=tmp_path / 'h.sqlite',
                             scheduler='serial', difference=False)
        assert list(np.asarray(_new(art)['ccdchip'])) == [2]
        assert set(art['found_by']) == {'find'}

    def test_find_results_unchanged(self, tiny, tmp_path):
        _, paths, _ = tiny
        monitor_epochs(paths, db=tmp_path / 'a.sqlite', scheduler='serial')
        monitor_epochs(paths, db=tmp_path / 'b.sqlite', scheduler='serial',
                       difference=False)
        with HistoryDatabase(tmp_path / 'a.sqlite', readonly=True) as da, \
                HistoryDatabase(tmp_path / 'b.sqlite', readonly=True) as db:
            a, b = da.detections(), db.detections()
        a = a[np.char.find(np.asarray(a['search']), 'find') >= 0]
        assert len(a) == len(b)
        for c in ('epoch_id', 'ccdchip', 'x', 'y', 'area', 'mean_deficit'):
            assert_allclose(np.asarray(a[c], float), np.asarray(b[c], float))

    def test_one_at_a_time_and_out_of_order(self, tiny, tmp_path):
        _, paths, _ = tiny
        ref = monitor_epochs(paths, db=tmp_path / 'all.sqlite',
                             scheduler='serial')
        db = tmp_path / 'one.sqlite'
        order = paths[:4] + paths[5:] + [paths[4]]   # origin epoch last
        for p in order:
            art = monitor_epochs([p], db=db, scheduler='serial')
        for c in ('ccdchip', 'status', 'found_by', 'first_seen',
                  'last_seen_absent'):
            assert list(art[c]) == list(ref[c]), c
        assert_allclose(art['x'].value, ref['x'].value)

    def test_flash_level_and_tilt_no_false_new(self, tmp_path):
        """No new artifact on a timeline without new particles, with a 2%
        change of the flash level and a 1% tilt of its pattern."""
        sc = appearing_flecks_scenario(seed=7, n_epochs=5, n_flecks=0,
                                       n_freckles=20, window=256)
        starts = list(sc.cycles['start'])
        paths = write_dkc_timeline(
            sc, tmp_path, window=256,
            flash_scale={starts[2]: 1.02, starts[4]: 0.98},
            flash_tilt={starts[3]: (0.01, 0.0), starts[4]: (0.0, -0.01)})
        art = monitor_epochs(paths, db=tmp_path / 'h.sqlite',
                             scheduler='serial')
        assert len(_new(art)) == 0
        assert len(art[art['status'] == 'vanished']) == 0
        with HistoryDatabase(tmp_path / 'h.sqlite', readonly=True) as db:
            det = db.detections()
        assert not np.any(np.asarray(det['search']) == 'difference')


class TestHistory:
    def test_old_history_gets_search_column(self, tiny, tmp_path):
        """A history written before the search: the additions are made,
        nothing stored changes, the artifacts are re-derived."""
        _, paths, _ = tiny
        path = tmp_path / 'old.sqlite'
        monitor_epochs(paths[:3], db=path, scheduler='serial',
                       difference=False)
        con = sqlite3.connect(path)
        con.execute('ALTER TABLE detections DROP COLUMN search')
        con.execute('DROP TABLE difference_runs')
        con.execute('ALTER TABLE artifacts DROP COLUMN found_by')
        n_old = con.execute('SELECT COUNT(*) FROM detections').fetchone()[0]
        con.commit()
        con.close()
        with HistoryDatabase(path, readonly=True) as db:   # readable as is
            assert set(db.detections()['search']) == {'find'}
            assert 'found_by' in db.artifacts().colnames
        art = monitor_epochs(paths, db=path, scheduler='serial')
        assert any('difference' in str(f).split(',') for f in art['found_by'])
        with HistoryDatabase(path, readonly=True) as db:
            det = db.detections()
            assert np.count_nonzero(det['epoch_id'] <= 3) >= n_old

    def test_difference_rows_not_duplicated_when_rerun(self, tiny, tmp_path):
        _, paths, _ = tiny
        db = tmp_path / 'h.sqlite'
        monitor_epochs(paths, db=db, scheduler='serial')
        with HistoryDatabase(db, readonly=True) as h:
            n1 = len(h.detections())
        monitor_epochs(paths, db=db, scheduler='serial')   # nothing to do
        with HistoryDatabase(db, readonly=True) as h:
            assert len(h.detections()) == n1


    def test_missing_reference_file(self, tiny, tmp_path):
        """A reference epoch whose file is gone: that epoch's search is not
        run (warned, listed), the rest of the run goes on, and it runs once
        the file is back."""
        from acs_flecks.exceptions import SkippedFileWarning
        _, paths, _ = tiny
        local = [shutil.copy(p, tmp_path) for p in paths[:6]]
        db = tmp_path / 'h.sqlite'
        monitor_epochs(local[:5], db=db, scheduler='serial')
        hidden = str(local[0]) + '.away'
        shutil.move(local[0], hidden)
        with pytest.warns(SkippedFileWarning, match='new-artifact search'):
            art = monitor_epochs(local[5:], db=db, scheduler='serial')
        s = art.meta['summary']
        assert len(s['difference_skipped']) == 1 and s['added']
        assert 'skipped' not in s or not s['skipped']
        shutil.move(hidden, local[0])
        art = monitor_epochs(local[5:], db=db, scheduler='serial')
        assert len(art.meta['summary']['difference_searched']) == 1


class TestLightPath:
    def _dark(self, dkc, path, patch=None):
        """An un-flashed dark made from a DKC file's layout."""
        with fits.open(dkc) as hdul:
            hdul[0].header['FLASHDUR'] = 0.0
            hdul[0].header['FLASHSTA'] = 'NOT PERFORMED'
            rng = np.random.default_rng(9)
            for h in hdul:
                if h.name == 'SCI':
                    h.data = (400 + 3 * rng.standard_normal(h.data.shape)
                              ).astype(np.float32)
                    if patch is not None and h.header['CCDCHIP'] == 1:
                        h.data[patch] *= 0.6
            hdul.writeto(path)
        return str(path)

    def test_ccd_defect_dropped(self, tiny, tmp_path):
        _, paths, out = tiny
        paths = [shutil.copy(p, tmp_path) for p in paths[:6]]
        # a "defect" on WFC1 of the last epoch (not a particle)
        patch = (slice(40, 46), slice(60, 66))
        with fits.open(paths[-1], mode='update') as hdul:
            for h in hdul:
                if h.name == 'SCI' and h.header['CCDCHIP'] == 1:
                    h.data[patch] *= 0.6
        ltv = None
        with fits.open(paths[-1]) as hdul:
            for h in hdul:
                if h.name == 'SCI' and h.header['CCDCHIP'] == 1:
                    ltv = (h.header['LTV1'], h.header['LTV2'])
        x, y = 63 - ltv[0], 43 - ltv[1]
        kept = monitor_epochs(paths, db=tmp_path / 'a.sqlite',
                              scheduler='serial',
                              unflashed=[self._dark(paths[0],
                                                    tmp_path / 'd1.fits')])
        gone = monitor_epochs(paths, db=tmp_path / 'b.sqlite',
                              scheduler='serial',
                              unflashed=[self._dark(paths[0],
                                                    tmp_path / 'd2.fits',
                                                    patch)])

        def near(art):
            d = np.hypot(art['x'].value - x, art['y'].value - y)
            d[np.asarray(art['ccdchip']) != 1] = np.inf
            return np.min(d) < 3
        assert near(_new(kept))
        assert not near(gone)
        s = gone.meta['summary']['lightpath']
        assert any('CCD defect' in line for line in s)

    def test_flashed_dark_refused(self, tiny, tmp_path):
        _, paths, _ = tiny
        with pytest.raises(AcsFlecksError, match='un-flashed'):
            monitor_epochs(paths[:2], db=tmp_path / 'h.sqlite',
                           scheduler='serial', unflashed=[paths[0]])
        assert not (tmp_path / 'h.sqlite').exists()


class TestCli:
    def test_options(self, tiny, tmp_path, capsys):
        _, paths, _ = tiny
        db = str(tmp_path / 'h.sqlite')
        assert main(['monitor', *paths, '--db', db, '--scheduler', 'serial',
                     '--no-progress', '--difference-nsigma', '6.5']) == 0
        outp = capsys.readouterr().out
        assert 'found by: difference' in outp

    @pytest.mark.parametrize('opt', [['--difference-kernels', 'a,b'],
                                     ['--difference-nsigma', '-1'],
                                     ['--min-reference', '0']])
    def test_bad_options(self, tiny, tmp_path, capsys, opt):
        _, paths, _ = tiny
        db = tmp_path / 'h.sqlite'
        assert main(['monitor', *paths[:2], '--db', str(db), '--scheduler',
                     'serial', *opt]) == 2
        assert 'Traceback' not in capsys.readouterr().err
        assert not db.exists()
