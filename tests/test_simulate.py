"""Tests of acs_flecks.simulate: layout, truth, timeline, windows, physics."""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from numpy.testing import assert_allclose

from acs_flecks.coords import (chip_to_image, image_to_chip, index_to_pixel,
                               pixel_to_index)
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.filters import BROADBAND_FILTERS
from acs_flecks.io import ACSCollection, ACSImage
from acs_flecks.simulate import (DATE_OF_ORIGIN, EPER_LEVELS, Region,
                                 SimulationResult, simulate_scenario)

WINDOW = 160


@pytest.fixture(scope='module')
def disc(tmp_path_factory):
    """The discovery scenario, every kind, small windows."""
    out = tmp_path_factory.mktemp('disc')
    return simulate_scenario('discovery', out, seed=1, window=WINDOW)


def _chip_value(chip, x, y):
    """SCI value at the 1-indexed full-chip pixel (x, y) of a chip."""
    xi, yi = chip_to_image(x, y, chip.ltv)
    row, col = pixel_to_index(int(round(xi)), int(round(yi)))
    return chip.sci[row, col]


def _box(chip, x, y, half):
    """SCI of a (2 half + 1)^2 box centred on the chip pixel (x, y)."""
    xi, yi = chip_to_image(x, y, chip.ltv)
    row, col = pixel_to_index(int(round(xi)), int(round(yi)))
    return chip.sci[row - half:row + half + 1, col - half:col + half + 1]


def _file(res, kind, **match):
    paths = res.paths(kind, **match)
    assert paths, (kind, match)
    return paths[0]


class TestLayout:
    def test_result_and_manifest(self, disc):
        assert isinstance(disc, SimulationResult)
        assert set(disc.files.colnames) >= {'path', 'kind', 'date', 'epoch',
                                            'filter', 'level'}
        kinds = list(disc.files['kind'])
        assert kinds.count('dkc') == 12
        assert kinds.count('flat') == 17          # 2 x 8 broadband + F658N
        assert kinds.count('eper') == 12          # 2 epochs x 6 levels
        assert kinds.count('dark') == 4
        assert kinds.count('daily') == 1
        assert all(os.path.exists(p) for p in disc.files['path'])
        man = QTable.read(os.path.join(disc.outdir, 'manifest.ecsv'))
        assert list(man['path']) == list(disc.files['path'])
        eper = disc.files['kind'] == 'eper'
        assert sorted(set(disc.files['level'][eper].to_value('electron'))) \
            == list(EPER_LEVELS)
        assert np.all(disc.files['level'][~eper].value == 0)
        assert os.path.exists(os.path.join(disc.outdir,
                                           'truth_artifacts.ecsv'))
        assert os.path.exists(os.path.join(disc.outdir, 'truth_maps.fits'))

    def test_real_extension_order(self, disc):
        with fits.open(_file(disc, 'dkc')) as hdul:
            hdul.verify('exception')
            names = [(h.name, h.ver) for h in hdul]
            assert names == [('PRIMARY', 1), ('SCI', 1), ('ERR', 1), ('DQ', 1),
                             ('SCI', 2), ('ERR', 2), ('DQ', 2)]
            assert hdul['SCI', 1].header['CCDCHIP'] == 2
            assert hdul['SCI', 2].header['CCDCHIP'] == 1
            assert hdul['SCI', 1].data.dtype == np.dtype('>f4')
            assert hdul['ERR', 1].data.dtype == np.dtype('>f4')
            assert hdul['DQ', 1].data.dtype == np.dtype('>i2')
            p = hdul[0].header
            assert p['INSTRUME'] == 'ACS' and p['DETECTOR'] == 'WFC'
            for key in ('FILTER1', 'FILTER2', 'EXPTIME', 'TEXPTIME',
                        'EXPSTART',
                        'DATE-OBS', 'TIME-OBS', 'FLASHDUR', 'FLASHSTA',
                        'OBSTYPE', 'IMAGETYP', 'BPIXTAB', 'CCDAMP', 'CCDGAIN',
                        'ROOTNAME', 'FILENAME'):
                assert key in p, key
            assert hdul['SCI', 1].header['BUNIT'] == 'ELECTRONS'
            assert p['FILENAME'] == os.path.basename(_file(disc, 'dkc'))

    def test_acsimage_metadata(self, disc):
        dkc = ACSImage(_file(disc, 'dkc'))
        assert dkc.chips == (1, 2)
        assert dkc.flashed and dkc.flashdur.value == pytest.approx(4.6)
        assert dkc.imagetyp == 'DARK' and dkc.bunit == 'ELECTRONS'
        assert dkc.exptime.value == pytest.approx(0.5)
        assert dkc.ncombine(2) > 20
        assert dkc.shape == (WINDOW, WINDOW)
        flat = ACSImage(_file(disc, 'flat', filter='F850LP'))
        assert flat.filter == 'F850LP' and not flat.flashed
        assert flat.ncombine(1) == 3
        assert flat.exptime.value == pytest.approx(3 * 12.6)
        dark = ACSImage(_file(disc, 'dark'))
        assert not dark.flashed and dark.flashsta == 'NOT PERFORMED'
        assert dark.exptime.value == pytest.approx(4160)
        c = dkc.chip(2)
        assert c.sci.dtype == np.float32 and c.dq.dtype == np.uint16
        assert np.all(c.err > 0)

    def test_collection_groups_by_epoch(self, disc):
        coll = ACSCollection(disc.paths('dkc'))
        groups = coll.group_by_epoch(disc.epochs)
        assert sorted(groups) == sorted(disc.epochs)
        for epoch, imgs in groups.items():
            assert len(imgs) == 1
            assert disc.files['epoch'][disc.files['path'] == imgs[0].path][0] \
                == epoch

    def test_levels(self, disc):
        # Table 1 median of the F435W CRC image; LED flash tens of e-
        flat = ACSImage(_file(disc, 'flat', filter='F435W')).chip(1)
        assert_allclose(np.median(flat.sci), 180653, rtol=0.05)
        dkc = ACSImage(_file(disc, 'dkc')).chip(1)
        assert 20 < np.median(dkc.sci) < 80
        # ERR is the noise of the average: std of pixel differences
        d = (dkc.sci[:, 1:] - dkc.sci[:, :-1])[dkc.dq[:, 1:] == 0]
        assert_allclose(np.std(d[np.abs(d) < 20]) / np.sqrt(2),
                        np.median(dkc.err), rtol=0.2)
        assert (dkc.dq & 16).any()       # hot pixels flagged


class TestTruthCounts:
    def test_report_flecks(self, disc):
        t = disc.truth.artifacts
        row = {r['id']: r for r in t}
        f1, f2, f3 = row['fleck1'], row['fleck2'], row['fleck3']
        assert (f1['ccdchip'], f1['x'].value, f1['y'].value) == (2, 1521, 1773)
        assert (f2['ccdchip'], f2['x'].value, f2['y'].value) == (1, 3510, 355)
        assert (f3['ccdchip'], f3['x'].value, f3['y'].value) == (1, 1850, 1755)
        assert abs(f1['area'].value - 144) <= 15
        assert abs(f1['n_below_50'].value - 67) <= 8
        assert abs(f2['area'].value - 52) <= 8
        assert abs(f2['n_below_50'].value - 21) <= 5
        assert f3['area'].value < 20 and f3['n_below_50'].value == 0
        assert all(r['appear'] == DATE_OF_ORIGIN for r in (f1, f2, f3))

    def test_fleck1_transparent_to_zero_at_centre(self, disc):
        tmap, _ = disc.truth.transmissivity_map('fleck1', 'F435W')
        assert tmap.min() < 0.02
        # elongated: the blocking footprint is at least twice as long as wide
        tmap2, _ = disc.truth.transmissivity_map('fleck2', 'F435W')
        rows, cols = np.nonzero(tmap2 < 0.5)
        cov = np.cov(np.vstack([cols, rows]).astype(float))
        ev = np.linalg.eigvalsh(cov)
        assert np.sqrt(ev[1] / ev[0]) > 2

    def test_freckles(self, disc):
        t = disc.truth.artifacts
        fr = t[t['kind'] == 'freckle']
        assert 90 <= len(fr) <= 110
        assert set(fr['ccdchip']) == {1, 2}
        assert np.all(fr['appear'] == '')
        assert np.mean(fr['peak_blocking'] < 0.5) > 0.8
        assert np.median(fr['area'].value) < 60
        assert np.all(fr['n_below_50'].value < 20)

    def test_truth_file_matches(self, disc):
        t = QTable.read(os.path.join(disc.outdir, 'truth_artifacts.ecsv'))
        assert list(t['id']) == list(disc.truth.artifacts['id'])
        assert_allclose(t['area'].value, disc.truth.artifacts['area'].value)
        with fits.open(os.path.join(disc.outdir, 'truth_maps.fits')) as hdul:
            h = hdul['fleck1'].header
            cube = hdul['fleck1'].data
            plane = [h[f'FILT{i + 1:02d}'] for i in range(cube.shape[0])]
            tmap, (x0, y0) = disc.truth.transmissivity_map('fleck1', 'F435W')
            assert (h['X0'], h['Y0']) == (x0, y0)
            assert_allclose(cube[plane.index('F435W')], tmap, atol=1e-6)

    def test_flat_measurement_matches_truth(self, disc):
        """Report §6.1 on the simulated F435W flat gives the truth counts."""
        chip = ACSImage(_file(disc, 'flat', filter='F435W',
                              date='2017-12-01T12:00:00')).chip(2)
        sub = _box(chip, 1521, 1773, 20)
        norm = sub / np.median(sub)
        row = disc.truth.artifacts[0]
        assert abs(int(((1 - norm) > 0.05).sum()) - row['area'].value) <= 8
        assert abs(int((norm < 0.5).sum()) - row['n_below_50'].value) <= 4


class TestPositions:
    """(x, y) in the truth are 1-indexed chip pixels: numpy [y-1, x-1]."""

    def test_darkest_pixel_both_ways(self, tmp_path):
        # both windows centred on fleck1's position: only WFC2 has the fleck
        res = simulate_scenario('discovery', tmp_path, seed=2, window=64,
                                kinds=['flat'],
                                window_centers={1: (1521, 1773)})
        tmap, (x0, y0) = res.truth.transmissivity_map('fleck1', 'F435W')
        r, c = np.unravel_index(np.argmin(tmap), tmap.shape)
        xd, yd = x0 + c, y0 + r        # 1-indexed chip pixel of the minimum
        assert abs(xd - 1521) <= 1 and abs(yd - 1773) <= 1
        img = ACSImage(_file(res, 'flat', filter='F435W',
                             date='2017-12-01T12:00:00'))
        wfc2, wfc1 = img.chip(2), img.chip(1)
        assert wfc2.ltv == wfc1.ltv
        # truth -> image: the value at numpy [y-1, x-1] (after LTV) is dark
        xi, yi = chip_to_image(xd, yd, wfc2.ltv)
        row, col = pixel_to_index(xi, yi)
        row, col = int(row), int(col)
        med = np.median(wfc2.sci)
        assert wfc2.sci[row, col] < 0.1 * med
        assert wfc1.sci[row, col] > 0.9 * np.median(wfc1.sci)  # wrong chip
        # the off-by-one neighbours are brighter than the darkest pixel
        # (its transmissivity is ~0, theirs is not all ~0)
        # image -> truth: the darkest image pixel maps back to (xd, yd)
        ri, ci = np.unravel_index(np.argmin(wfc2.sci), wfc2.shape)
        xb, yb = image_to_chip(*index_to_pixel(ri, ci), wfc2.ltv)
        assert abs(xb - xd) <= 1 and abs(yb - yd) <= 1
        assert tmap[int(yb - y0), int(xb - x0)] < 0.05

    def test_window_ltv(self, disc):
        img = ACSImage(_file(disc, 'dkc'))
        ltv2 = img.ltv(2)
        ltv1 = img.ltv(1)
        half = WINDOW // 2
        # window first column = chip column 1521 - half  ->  LTV1 = -(that - 1)
        assert ltv2 == (-(1521 - half - 1), -(1773 - half - 1))
        assert ltv1 == (-(3510 - half - 1), -(355 - half - 1))
        assert image_to_chip(1, 1, ltv2) == (1521 - half, 1773 - half)
        assert chip_to_image(1521, 1773, ltv2) == (half + 1, half + 1)
        with fits.open(_file(disc, 'dkc')) as hdul:
            assert hdul['SCI', 1].header['LTV1'] == ltv2[0]
            assert hdul['DQ', 2].header['LTV2'] == ltv1[1]
            assert hdul[0].header['SUBARRAY'] is True

    def test_window_clipped_to_chip(self):
        reg = Region.window(1, 4090, 5, 100)
        assert (reg.col0, reg.row0) == (4096 - 100, 0)
        assert reg.ltv == (-3996.0, 0.0)


class TestTimeline:
    def test_epochs(self, disc):
        ep = disc.epochs
        assert ep[0].startswith('2017-01') and ep[-1].startswith('2017-11')
        i = ep.index('2017-05-05')
        assert ep[i - 1] == '2017-04-04'

    @pytest.mark.parametrize('epoch', ['2017-01-04', '2017-04-04'])
    def test_flecks_absent_before(self, disc, epoch):
        img = ACSImage(_file(disc, 'dkc', epoch=epoch))
        for chip, x, y in ((2, 1521, 1773), (1, 3510, 355)):
            c = img.chip(chip)
            box = _box(c, x, y, 3)
            assert np.median(box) > 0.85 * np.median(c.sci)

    @pytest.mark.parametrize('epoch', ['2017-05-05', '2017-06-26',
                                       '2017-11-28'])
    def test_flecks_present_after(self, disc, epoch):
        img = ACSImage(_file(disc, 'dkc', epoch=epoch))
        c2 = img.chip(2)
        assert np.median(_box(c2, 1521, 1773, 2)) < 0.1 * np.median(c2.sci)
        c1 = img.chip(1)
        assert np.median(_box(c1, 3510, 355, 1)) < 0.5 * np.median(c1.sci)

    def test_freckles_stable(self, disc):
        # freckle002 lies in the WFC2 window: seen in every epoch
        fr = disc.truth.artifact('freckle002')
        for path in disc.paths('dkc'):
            c = ACSImage(path).chip(2)
            tmap, _ = disc.truth.transmissivity_map('freckle002', 'LED')
            depth = 1 - np.min(_box(c, fr.x + fr.led_dx, fr.y + fr.led_dy, 1)
                               ) / np.median(c.sci)
            assert depth > 0.5 * (1 - tmap.min())

    def test_flats_before_and_after(self, disc):
        old = ACSImage(_file(disc, 'flat', filter='F435W',
                             date='2016-12-01T12:00:00')).chip(2)
        new = ACSImage(_file(disc, 'flat', filter='F435W',
                             date='2017-12-01T12:00:00')).chip(2)
        assert _chip_value(old, 1521, 1773) > 0.9 * np.median(old.sci)
        assert _chip_value(new, 1521, 1773) < 0.05 * np.median(new.sci)

    def test_unflashed_dark_shows_no_fleck(self, disc):
        post = ACSImage(_file(disc, 'dark', date='2017-05-05T01:12:00'))
        assert post.obs_time.isot >= DATE_OF_ORIGIN
        c = post.chip(2)
        box = _box(c, 1521, 1773, 3)
        ok = (_box_dq(c, 1521, 1773, 3) == 0)
        good = c.sci[c.dq == 0]
        assert abs(np.median(box[ok]) - np.median(good)) < 3 * np.std(good)


def _box_dq(chip, x, y, half):
    xi, yi = chip_to_image(x, y, chip.ltv)
    row, col = pixel_to_index(int(round(xi)), int(round(yi)))
    return chip.dq[row - half:row + half + 1, col - half:col + half + 1]


class TestFilterDependence:
    def test_red_upturn(self, disc):
        for fid in ('fleck1', 'fleck2'):
            t = {f: disc.truth.mean_transmissivity(fid, f)
                 for f in BROADBAND_FILTERS}
            assert 0.05 <= t['F850LP'] - t['F775W'] <= 0.10
            blue = [t[f] for f in ('F435W', 'F475W', 'F555W', 'F606W',
                                   'F625W')]
            assert max(blue) - min(blue) < 0.01
            assert t['F435W'] < t['F814W'] < t['F850LP']

    def test_red_upturn_in_flats(self, disc):
        """Report §6.1 photometry on the simulated flats recovers the SED."""
        mask = disc.truth.master_aperture('fleck1')
        tmap, (x0, y0) = disc.truth.transmissivity_map('fleck1', 'F435W')
        meas = {}
        for f in ('F775W', 'F850LP'):
            c = ACSImage(_file(disc, 'flat', filter=f,
                               date='2017-12-01T12:00:00')).chip(2)
            xi, yi = chip_to_image(x0, y0, c.ltv)
            r0, c0 = pixel_to_index(int(xi), int(yi))
            sub = c.sci[r0:r0 + tmap.shape[0], c0:c0 + tmap.shape[1]]
            meas[f] = np.mean(sub[mask] / np.median(c.sci))
        truth = (disc.truth.mean_transmissivity('fleck1', 'F850LP')
                 - disc.truth.mean_transmissivity('fleck1', 'F775W'))
        assert_allclose(meas['F850LP'] - meas['F775W'], truth, atol=0.02)

    def test_aperture_argument(self, disc):
        tmap, _ = disc.truth.transmissivity_map('fleck1', 'F435W')
        mask = tmap < 0.5
        assert disc.truth.mean_transmissivity('fleck1', 'F435W', mask) < 0.5
        with pytest.raises(AcsFlecksError, match='aperture shape'):
            disc.truth.mean_transmissivity('fleck1', 'F435W', mask[1:])
        with pytest.raises(AcsFlecksError, match="no artifact 'nope'"):
            disc.truth.transmissivity_map('nope', 'F435W')


def _centroid(block, origin):
    yy, xx = np.indices(block.shape)
    return ((block * xx).sum() / block.sum() + origin[0],
            (block * yy).sum() / block.sum() + origin[1])


class TestLightPathAndMotion:
    def test_led_shift_same_for_all_flecks(self, disc):
        shifts = []
        for fid in ('fleck1', 'fleck2'):
            lamp, o1 = disc.truth.transmissivity_map(fid, 'F435W')
            led, o2 = disc.truth.transmissivity_map(fid, 'LED')
            assert o1 == o2
            c1 = _centroid(1 - lamp, o1)
            c2 = _centroid(1 - led, o2)
            shifts.append((c2[0] - c1[0], c2[1] - c1[1]))
            row = disc.truth.artifacts[list(disc.truth.ids).index(fid)]
            assert_allclose(shifts[-1], (row['led_dx'].value,
                                         row['led_dy'].value), atol=0.15)
            # reshaped, not only shifted: more pixels blocked > 5%
            assert ((1 - led) > 0.05).sum() > ((1 - lamp) > 0.05).sum()
        assert_allclose(shifts[0], shifts[1], atol=0.15)
        assert 0.5 < np.hypot(*shifts[0]) < 1.5

    def test_eper_motion(self, disc):
        art = disc.truth.artifact('fleck2')
        may, o = disc.truth.transmissivity_map('fleck2', 'F606W',
                                               date='2017-05-10')
        nov, o2 = disc.truth.transmissivity_map('fleck2', 'F606W',
                                                date='2017-11-13')
        dy = _centroid(1 - nov, o2)[1] - _centroid(1 - may, o)[1]
        assert_allclose(dy, art.eper_dy, atol=0.05)
        assert art.eper_dy == pytest.approx(-0.3)
        # the ratio of the EPER images shows it: mean ~1 (report 0.97-1.04),
        # the fleck's lower rows darker and upper rows brighter
        lvl = 42000.0
        a = ACSImage(_file(disc, 'eper', level=lvl, date='2017-05-10T13:00:00'
                           )).chip(1)
        b = ACSImage(_file(disc, 'eper', level=lvl, date='2017-11-13T13:00:00'
                           )).chip(1)
        ratio = _box(b, 3510, 355, 6) / _box(a, 3510, 355, 6)
        assert 0.97 < ratio.mean() < 1.04
        assert ratio[:6].mean() < ratio[7:].mean()
        # fleck1 does not move
        r1 = _box(ACSImage(_file(disc, 'eper', level=lvl,
                                 date='2017-11-13T13:00:00')).chip(2),
                  1521, 1773, 6)
        r0 = _box(ACSImage(_file(disc, 'eper', level=lvl,
                                 date='2017-05-10T13:00:00')).chip(2),
                  1521, 1773, 6)
        assert abs((r1 / r0)[:6].mean() - (r1 / r0)[7:].mean()) < 0.1


class TestShadowTrail:
    def _signal(self, path, tr):
        c = ACSImage(path).chip(2)
        def total(x0, x1):
            xi0, yi0 = chip_to_image(x0, tr['y_min'], c.ltv)
            r0, c0 = pixel_to_index(int(xi0), int(yi0))
            n_rows = tr['y_max'] - tr['y_min'] + 1
            return float(c.sci[r0:r0 + n_rows, c0:c0 + x1 - x0 + 1].sum())
        s = total(tr['x_min'], tr['x_max'])
        e = total(tr['empty_x_min'], tr['empty_x_max'])
        return s, e

    def test_trail(self, disc):
        tr = disc.truth.trail
        assert tr['ccdchip'] == 2
        assert tr['x_max'] - tr['x_min'] + 1 == 11
        assert tr['y_max'] - tr['y_min'] + 1 == 3
        assert tr['y_min'] > 1773          # +y of the large fleck
        before = self._signal(_file(disc, 'dkc', epoch='2017-04-04'), tr)
        after = self._signal(_file(disc, 'dkc', epoch='2017-06-26'), tr)
        noise = np.sqrt(before[1])
        assert abs(before[0] - before[1]) < 4 * noise
        assert_allclose(after[1] - after[0], tr['deficit'], atol=4 * noise)


class TestDeterminism:
    def test_same_seed_same_files(self, tmp_path):
        a = simulate_scenario('discovery', tmp_path / 'a', seed=5, window=32,
                              kinds='dkc', epochs=['2017-05-05'])
        b = simulate_scenario('discovery', tmp_path / 'b', seed=5, window=32,
                              kinds='dkc', epochs=['2017-05-05'])
        c = simulate_scenario('discovery', tmp_path / 'c', seed=6, window=32,
                              kinds='dkc', epochs=['2017-05-05'])
        for chip in (1, 2):
            sa = ACSImage(a.files['path'][0]).chip(chip).sci
            sb = ACSImage(b.files['path'][0]).chip(chip).sci
            sc = ACSImage(c.files['path'][0]).chip(chip).sci
            assert np.array_equal(sa, sb)
            assert not np.array_equal(sa, sc)
        ta, tc = a.truth.artifacts, c.truth.artifacts
        assert np.array_equal(ta['x'], b.truth.artifacts['x'])
        assert not np.array_equal(ta['x'][3:], tc['x'][3:])   # freckles move
        assert np.array_equal(ta['x'][:3], tc['x'][:3])       # flecks do not

    def test_window_has_full_frame_fixed_pattern(self, tmp_path):
        """Hot pixels are where they are, whatever the window."""
        a = simulate_scenario('blank', tmp_path / 'a', seed=3, window=64,
                              kinds='dkc', epochs=['2017-04-04'])
        b = simulate_scenario('blank', tmp_path / 'b', seed=3, window=64,
                              kinds='dkc', epochs=['2017-04-04'],
                              window_centers={2: (1531, 1783)})
        ia, ib = ACSImage(a.files['path'][0]), ACSImage(b.files['path'][0])
        da, db = ia.chip(2).dq, ib.chip(2).dq
        # b's window is a's shifted by (10, 10)
        assert np.array_equal(da[10:, 10:], db[:-10, :-10])
        assert (da & 16).any()


class TestScenarios:
    def test_population(self, tmp_path):
        res = simulate_scenario('population', tmp_path, seed=4, window=200,
                                kinds=['dkc'])
        t = res.truth.artifacts
        assert len(t) >= 10 and np.all(t['kind'] == 'fleck')
        assert np.all(t['in_window'])
        assert t['area'].value.min() < 40 and t['area'].value.max() > 80
        assert t['peak_blocking'].min() < 0.4
        assert t['peak_blocking'].max() > 0.7
        assert np.all(t['appear'] == DATE_OF_ORIGIN)
        assert len(res.files) == 3
        before = ACSImage(_file(res, 'dkc', epoch='2017-04-04'))
        after = ACSImage(_file(res, 'dkc', epoch='2017-05-05'))
        deep = t[np.argmax(t['n_below_50'].value)]
        cb, ca = before.chip(deep['ccdchip']), after.chip(deep['ccdchip'])
        x, y = deep['x'].value + deep['led_dx'].value, \
            deep['y'].value + deep['led_dy'].value
        assert _chip_value(ca, x, y) < 0.5 * np.median(ca.sci)
        assert _chip_value(cb, x, y) > 0.7 * np.median(cb.sci)

    def test_population_follows_moved_windows(self, tmp_path):
        res = simulate_scenario('population', tmp_path, seed=4, window=100,
                                kinds=['dkc'], epochs=['2017-05-05'],
                                window_centers={1: (500, 500)})
        t = res.truth.artifacts
        on1 = t[t['ccdchip'] == 1]
        assert len(on1) >= 1 and np.all(on1['in_window'])
        assert np.all(np.abs(on1['x'].value - 500) < 50)

    def test_blank(self, tmp_path):
        res = simulate_scenario('blank', tmp_path, seed=0, window=48,
                                kinds=['dkc', 'flat'])
        assert len(res.truth.artifacts) == 0
        dkc = ACSImage(_file(res, 'dkc')).chip(2)
        assert np.isfinite(dkc.sci).all()
        good = dkc.sci[dkc.dq == 0]
        assert np.percentile(good, 50) > 20
        t = QTable.read(os.path.join(res.outdir, 'truth_artifacts.ecsv'))
        assert len(t) == 0


class TestBadPixelFlags:
    def test_dq4_after(self, tmp_path):
        res = simulate_scenario('discovery', tmp_path, seed=1, window=48,
                                kinds='dkc', dq4_after='2017-06-26',
                                epochs=['2017-05-31', '2017-06-26'])
        tmap, (x0, y0) = res.truth.transmissivity_map('fleck1', 'F435W')
        n_bad = int((tmap < 0.5).sum())
        for path, flagged in zip(res.files['path'], (False, True)):
            c = ACSImage(path).chip(2)
            n4 = int(((c.dq & 4) > 0).sum())
            assert n4 == (n_bad if flagged else 0)
            if flagged:
                # the flagged pixels are the truth's pixels below 50%
                rows, cols = np.nonzero(c.dq & 4)
                xs, ys = image_to_chip(*index_to_pixel(rows, cols), c.ltv)
                assert np.all(tmap[(ys - y0).astype(int),
                                   (xs - x0).astype(int)] < 0.5)
            # the fleck is still in the pixels, flagged or not
            assert np.median(_box(c, 1521, 1773, 2)) < 0.1 * np.median(c.sci)


class TestBadInput:
    @pytest.mark.parametrize('kwargs, match', [
        (dict(scenario='nonsense'), "unknown scenario 'nonsense'"),
        (dict(kinds=['dkc', 'bias']), r"unknown file kind\(s\) \['bias'\]"),
        (dict(window=5), 'window must be an integer from 16'),
        (dict(window=3000), 'window must be an integer from 16'),
        (dict(epochs=['2016-01-01']), "unknown epoch"),
        (dict(seed='x'), 'seed must be an integer'),
        (dict(dq4_after='soon'), 'dq4_after must be an ISO date'),
        (dict(window_centers={3: (10, 10)}), 'not a WFC chip pixel'),
        (dict(window_centers={1: (5000, 10)}), 'not a WFC chip pixel'),
        (dict(window_centers={1: 'x'}), 'bad entry'),
    ])
    def test_errors_write_nothing(self, tmp_path, kwargs, match):
        out = tmp_path / 'out'
        kwargs = {'scenario': 'discovery', 'window': 32, **kwargs}
        scen = kwargs.pop('scenario')
        with pytest.raises(AcsFlecksError, match=match):
            simulate_scenario(scen, out, **kwargs)
        assert not out.exists()

    def test_outdir_is_a_file(self, tmp_path):
        f = tmp_path / 'file'
        f.write_text('x')
        with pytest.raises(AcsFlecksError, match='output directory is a file'):
            simulate_scenario('blank', f, window=32, kinds='dkc')


# -- LED penumbra (docs: "Scientific choices") ------------------------------

FLECKS = ('fleck1', 'fleck2', 'fleck3')


def _led_hit(cat, truth, fid, radius=2.5):
    """Catalogue row of the detection of ``fid`` at its LED position."""
    from acs_flecks.simulate.evaluation import match_truth
    row = truth[truth['id'] == fid]
    row['x'] = row['x'] + row['led_dx']
    row['y'] = row['y'] + row['led_dy']
    j = match_truth(cat, row, radius=radius)[0]
    return None if j < 0 else cat[j]


class TestLedPenumbra:
    def test_lamp_truth_unchanged(self, disc):
        """The penumbra is in the LED light path only: lamp counts are
        those of the report (and of the simulator before the penumbra)."""
        t = disc.truth.artifacts
        row = {r['id']: r for r in t}
        counts = {f: (int(row[f]['area'].value),
                      int(row[f]['n_below_50'].value)) for f in FLECKS}
        assert counts == {'fleck1': (143, 67), 'fleck2': (54, 21),
                          'fleck3': (11, 0)}
        for fid in FLECKS:
            lamp, o1 = disc.truth.transmissivity_map(fid, 'F435W')
            led, o2 = disc.truth.transmissivity_map(fid, 'LED')
            core, o3 = disc.truth.artifact(fid).transmissivity_map(
                'LED', penumbra=False)
            assert o1 == o2 == o3
            halo = (1 - led) > 0.01
            # faint and extended under the LED, absent under the lamp
            assert int(row[fid]['led_area'].value) == int(halo.sum()) > 150
            assert halo.sum() > ((1 - core) > 0.01).sum() + 30
            # the lamp shadow is no larger than the LED core (no penumbra)
            assert ((1 - lamp) > 0.01).sum() <= ((1 - core) > 0.01).sum()
            assert 0 < row[fid]['led_halo'] <= 0.15
        fr = t[t['kind'] == 'freckle']
        assert np.all(fr['led_halo'] == 0)

    def test_trail_box_on_core_shadow(self, disc):
        # the §5 trail sits just above the core LED shadow (> 5 %)
        tr = disc.truth.trail
        core, (x0, y0) = disc.truth.artifact('fleck1').transmissivity_map(
            'LED', penumbra=False)
        cols = slice(tr['x_min'] - x0, tr['x_max'] - x0 + 1)
        rows = np.nonzero(((1 - core[:, cols]) > 0.05).any(axis=1))[0]
        assert tr['y_min'] == rows.max() + y0 + 1

    @pytest.mark.parametrize('centers, fids', [
        (None, ('fleck1', 'fleck2')),
        ({1: (1850, 1755)}, ('fleck1', 'fleck3')),
    ])
    def test_report_search_finds_flecks_every_epoch(self, tmp_path, centers,
                                                    fids):
        """Report §7 parameters (median 15, 5 sigma, 25 px): each fleck in
        every DKC from 2017-05-05 on, in none before."""
        detect = pytest.importorskip('acs_flecks.detect')
        res = simulate_scenario('discovery', tmp_path, seed=0, window=200,
                                kinds=['dkc'], window_centers=centers)
        truth = res.truth.artifacts
        assert len(res.files) == 12
        for row in res.files:
            cat = detect.find_artifacts(row['path'])
            after = row['date'] >= DATE_OF_ORIGIN
            for fid in fids:
                hit = _led_hit(cat, truth, fid)
                assert (hit is not None) == after, (row['date'], fid)
                if hit is not None:
                    assert hit['peak_deficit'].value > 2.5
                    assert hit['peak_deficit'] > 7 * hit['noise']
                    assert hit['area'].value > 100


@pytest.mark.fullframe
def test_report_search_full_frame(tmp_path):
    """Full-frame 2017-04 and 2017-06 DKCs with the report's search: the
    three flecks in June, none of them in April."""
    detect = pytest.importorskip('acs_flecks.detect')
    res = simulate_scenario('discovery', tmp_path, seed=0, kinds=['dkc'],
                            epochs=['2017-04-04', '2017-06-26'])
    truth = res.truth.artifacts
    before, after = (detect.find_artifacts(p) for p in res.files['path'])
    for fid in FLECKS:
        assert _led_hit(before, truth, fid, radius=5.0) is None, fid
        hit = _led_hit(after, truth, fid)
        assert hit is not None, fid
        assert hit['peak_deficit'] > 7 * hit['noise']


class TestDailyDark:
    """The flashed long daily dark of the report's Figures 1-2 (§2)."""

    def test_header_and_signal(self, disc):
        path = _file(disc, 'daily')
        img = ACSImage(path)
        # the report's cycle, 2017-06-26 to 2017-07-26
        assert '2017-06-26' < img.obs_time.isot[:10] < '2017-07-26'
        assert img.flashed and img.imagetyp == 'DARK'
        assert img.ncombine(2) == 4
        assert img.exptime.value == pytest.approx(4 * 1000.5)
        fl = disc.truth.artifact('fleck1')
        chip = img.chip(2)
        x, y = fl.x + fl.led_dx, fl.y + fl.led_dy
        # totals of 4 exposures: post-flash 4 x ~40 e- plus 4 x 1000.5 s of
        # dark current (0.0065 e-/s); the fleck blocks the flash only
        far = _box(chip, x + 40, y, 3)
        per_exp = np.median(far) / 4
        assert 40 < per_exp < 60
        centre = _chip_value(chip, round(x), round(y)) / 4
        assert centre < per_exp - 25

    def test_fleck_cancels_against_short_dark(self, disc):
        # the report's daily superdark: daily dark - short dark (per
        # exposure) removes the post-flash and the fleck with it
        img = ACSImage(_file(disc, 'daily'))
        dkc = min((ACSImage(p) for p in disc.paths('dkc')),
                  key=lambda im: abs(im.obs_time.mjd - img.obs_time.mjd))
        fl = disc.truth.artifact('fleck1')
        x, y = round(fl.x + fl.led_dx), round(fl.y + fl.led_dy)
        d = _box(img.chip(2), x, y, 3) / 4 - _box(dkc.chip(2), x, y, 3)
        ref = _box(img.chip(2), x + 40, y, 3) / 4 - \
            _box(dkc.chip(2), x + 40, y, 3)
        assert abs(np.median(d) - np.median(ref)) < 3


class TestEperFleckWindows:
    def test_every_fleck_covered(self, tmp_path):
        from acs_flecks.characterize import covers, pair_eper
        res = simulate_scenario('discovery', tmp_path, seed=3, window=64,
                                kinds=['eper'], eper_fleck_windows=True)
        paths = res.paths('eper')
        # 12 two-chip windows on fleck1 / fleck2 + 12 one-chip on fleck3
        assert len(paths) == 24
        extra = [p for p in paths if '_x1850y1755_' in p]
        assert len(extra) == 12
        assert tuple(ACSImage(extra[0]).chips) == (1,)
        for fid in ('fleck1', 'fleck2', 'fleck3'):
            a = res.truth.artifact(fid)
            holding = [p for p in paths if covers(p, ccdchip=a.ccdchip,
                                                   x=a.x, y=a.y)]
            assert len(holding) == 12, fid
            pairs = pair_eper(paths, ccdchip=a.ccdchip, x=a.x, y=a.y)
            assert len(pairs) == 6
            used = {p.early.path for p in pairs} | {p.late.path for p in pairs}
            assert used == set(holding)
        # without the option: no extra files
        res2 = simulate_scenario('discovery', tmp_path / 'b', seed=3,
                                 window=64, kinds=['eper'])
        assert len(res2.paths('eper')) == 12

    def test_no_image_holds_the_position(self, tmp_path):
        from acs_flecks.characterize import pair_eper
        res = simulate_scenario('discovery', tmp_path, seed=3, window=64,
                                kinds=['eper'])
        with pytest.raises(AcsFlecksError, match='none of the 12 EPER'):
            pair_eper(res.paths('eper'), ccdchip=1, x=1850, y=1755)
        with pytest.raises(AcsFlecksError, match='needs its ccdchip'):
            pair_eper(res.paths('eper'), x=1850, y=1755)
