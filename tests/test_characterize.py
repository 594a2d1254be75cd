"""
Tests of acs_flecks.characterize on small synthetic windowed ACS files with a
known transmissivity map (super-Gaussian shadow, filter-dependent opacity,
lamp gradient, PRNU, Poisson + read noise).
"""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time
from numpy.testing import assert_allclose

from acs_flecks.characterize import (bad_pixels, compare_led_lamp,
                                     effective_wavelength, eper_ratio,
                                     extract_cutout, measure_shift,
                                     measure_transmissivity, normalize_cutout,
                                     pair_eper, parse_box, select_aperture,
                                     shadow_time_series)
from acs_flecks.exceptions import (AcsFlecksError, ExcludedPixelsWarning,
                                   SkippedFileWarning)

FX, FY = 1521, 1773          # fleck position, chip frame (WFC2)
WIN = 100                    # window size
COL0 = FX - WIN // 2         # 0-indexed chip column of window[.., 0]
ROW0 = FY - WIN // 2
LTV = (-float(COL0), -float(ROW0))
OPACITY = {'F435W': 1.0, 'F475W': 0.998, 'F555W': 0.996, 'F606W': 0.994,
           'F625W': 0.992, 'F775W': 0.985, 'F814W': 0.935, 'F850LP': 0.835}
LEVEL = {'F435W': 180653, 'F475W': 176405, 'F555W': 169050, 'F606W': 205767,
         'F625W': 167525, 'F775W': 142623, 'F814W': 177182, 'F850LP': 163937,
         'F658N': 60000}
READ_NOISE = 4.0


def blocking_map(dx=0.0, dy=0.0, *, a=5.5, b=4.0, peak=1.0, n=2.5, sub=5,
                 cx=FX, cy=FY):
    """Pixel-integrated super-Gaussian blocking on the window (chip frame)."""
    off = (np.arange(sub) + 0.5) / sub - 0.5
    yy, xx = np.mgrid[0:WIN, 0:WIN]
    xc = xx + COL0 + 1          # 1-indexed chip x of each pixel
    yc = yy + ROW0 + 1
    out = np.zeros((WIN, WIN))
    for oy in off:
        for ox in off:
            rx = (xc + ox - cx - dx) / a
            ry = (yc + oy - cy - dy) / b
            rho = np.hypot(rx, ry)
            out += peak * 2.0 ** (-rho ** n)
    return out / sub ** 2


BLOCK = blocking_map()
PRNU = 1 + 0.004 * np.random.default_rng(99).standard_normal((WIN, WIN))


def true_transmissivity(filt, block=BLOCK):
    return 1 - OPACITY.get(filt, 1.0) * block


def write_file(path, sci2, *, filt='F435W', date='2017-12-01', err2=None, dq2=None,
               flashdur=0.0, imagetyp='FLAT', with_err=True, ltv=LTV):
    """A windowed 2-chip ACS file; chip 2 gets sci2, chip 1 a flat level."""
    mjd = float(Time(date).mjd)
    ph = fits.Header()
    for k, v in (('INSTRUME', 'ACS'), ('DETECTOR', 'WFC'), ('FILTER1', filt),
                 ('FILTER2', 'CLEAR2L'), ('EXPTIME', 10.0), ('EXPSTART', mjd),
                 ('DATE-OBS', date[:10]), ('TIME-OBS', '00:00:00'),
                 ('FLASHDUR', flashdur),
                 ('FLASHSTA', 'SUCCESSFUL' if flashdur else 'NOT PERFORMED'),
                 ('IMAGETYP', imagetyp), ('OBSTYPE', 'INTERNAL')):
        ph[k] = v
    hdus = [fits.PrimaryHDU(header=ph)]
    level1 = float(np.median(sci2))
    sci1 = np.full_like(sci2, level1)
    if err2 is None:
        err2 = np.sqrt(np.clip(sci2, 0, None) + READ_NOISE ** 2)
    if dq2 is None:
        dq2 = np.zeros(sci2.shape, np.int16)
    for ver, (chip, sci, err, dq) in enumerate(
            ((2, sci2, err2, dq2),
             (1, sci1, np.sqrt(sci1 + 16), np.zeros(sci1.shape, np.int16))), 1):
        h = fits.Header()
        h['CCDCHIP'] = chip
        h['LTV1'], h['LTV2'] = ltv
        h['BUNIT'] = 'ELECTRONS'
        hdus.append(fits.ImageHDU(sci.astype(np.float32), h, name='SCI', ver=ver))
        if with_err:
            hdus.append(fits.ImageHDU(err.astype(np.float32), h, name='ERR', ver=ver))
        hdus.append(fits.ImageHDU(dq.astype(np.int16), h, name='DQ', ver=ver))
    fits.HDUList(hdus).writeto(path)
    return str(path)


def lamp_image(filt, rng, *, block=BLOCK, level=None, gradient=(0.004, -0.003)):
    level = LEVEL[filt] if level is None else level
    yy, xx = np.mgrid[0:WIN, 0:WIN]
    illum = level * (1 + gradient[0] * (xx - WIN / 2) + gradient[1] * (yy - WIN / 2))
    expect = illum * PRNU * true_transmissivity(filt, block)
    return rng.poisson(np.clip(expect, 0, None)) + rng.normal(0, READ_NOISE, expect.shape)


@pytest.fixture(scope='module')
def flats(tmp_path_factory):
    d = tmp_path_factory.mktemp('flats')
    rng = np.random.default_rng(1)
    paths = {}
    for f in list(OPACITY) + ['F658N']:
        paths[f] = write_file(d / f'flat_{f}_crc.fits', lamp_image(f, rng), filt=f)
    return paths


@pytest.fixture(scope='module')
def result(flats):
    bb = [p for f, p in flats.items() if f != 'F658N']
    return measure_transmissivity(bb, ccdchip=2, x=FX, y=FY)


class TestCutouts:
    def test_origin_and_ltv(self, flats):
        cut = extract_cutout(flats['F435W'], ccdchip=2, x=FX, y=FY, box=(40, 40))
        assert cut.origin == (FX - 20, FY - 20)
        assert cut.shape == (40, 40)
        # the cutout pixel at the fleck position is the darkest one
        r, c = np.unravel_index(np.argmin(cut.sci), cut.shape)
        assert abs(c + cut.origin[0] - FX) <= 1 and abs(r + cut.origin[1] - FY) <= 1

    def test_parse_box(self):
        assert parse_box('20x30') == (30, 20)
        assert parse_box((40, 40)) == (40, 40)
        assert parse_box(25) == (25, 25)
        with pytest.raises(AcsFlecksError, match='NXxNY'):
            parse_box('abc')

    def test_off_chip(self, flats):
        with pytest.raises(AcsFlecksError, match='off the WFC chip'):
            extract_cutout(flats['F435W'], ccdchip=2, x=5000, y=FY)

    def test_not_in_window(self, flats):
        with pytest.raises(AcsFlecksError, match='not in this'):
            extract_cutout(flats['F435W'], ccdchip=2, x=100, y=100)

    def test_too_close_to_edge(self, flats):
        with pytest.raises(AcsFlecksError, match='too close to the image edge'):
            extract_cutout(flats['F435W'], ccdchip=2, x=COL0 + 5, y=FY)


class TestNormalization:
    def test_gradient_does_not_bias(self):
        rng = np.random.default_rng(3)
        ny = nx = 40
        yy, xx = np.mgrid[0:ny, 0:nx]
        truth = np.ones((ny, nx))
        truth[8:20, 5:16] = 0.4        # an off-centre fleck
        bkg = 1e5 * (1 + 0.01 * (xx - 20))  # 40 % gradient across the box
        sci = rng.poisson(bkg * truth).astype(float)
        err = np.sqrt(sci)
        plane = normalize_cutout(sci, err, method='plane')
        med = normalize_cutout(sci, err, method='median')
        ap = truth < 1
        err_plane = abs(plane.image[ap].mean() - 0.4)
        err_med = abs(med.image[ap].mean() - 0.4)
        assert err_plane < 0.003
        assert err_med > 5 * err_plane
        assert_allclose(plane.background, bkg, rtol=0.002)

    def test_bad_method(self):
        with pytest.raises(AcsFlecksError, match='background method'):
            normalize_cutout(np.ones((10, 10)), np.ones((10, 10)), method='spline')

    def test_not_illuminated(self):
        with pytest.raises(AcsFlecksError, match='no positive background'):
            normalize_cutout(np.zeros((20, 20)), np.ones((20, 20)))


class TestTransmissivity:
    def test_table_columns(self, result):
        t = result.to_table()
        assert isinstance(t, QTable)
        assert list(t['filter']) == list(OPACITY)
        assert t['wavelength'].unit == u.AA
        for c in ('transmissivity', 'transmissivity_err', 'aperture_npix'):
            assert c in t.colnames
        assert 'pivot' in t.meta['wavelength_source']
        assert t.meta['origin_x'] == FX - 20

    def test_within_error_of_truth(self, result):
        t = result.to_table()
        ap = result.master_aperture
        # truth on the same cutout pixels
        sl = (slice(FY - 20 - ROW0 - 1, FY + 20 - ROW0 - 1),
              slice(FX - 20 - COL0 - 1, FX + 20 - COL0 - 1))
        pulls = []
        for row in t:
            truth = true_transmissivity(row['filter'])[sl][ap].mean()
            pulls.append((row['transmissivity'] - truth) / row['transmissivity_err'])
        pulls = np.array(pulls)
        assert np.all(np.abs(pulls) < 3), pulls
        assert np.all(t['transmissivity_err'] < 0.01)

    def test_red_upturn(self, result):
        t = result.to_table()
        tr = dict(zip(t['filter'], t['transmissivity']))
        assert tr['F850LP'] - tr['F775W'] > 0.05
        assert abs(tr['F435W'] - tr['F606W']) < 0.01

    def test_master_aperture(self, result):
        sl = (slice(FY - 20 - ROW0 - 1, FY + 20 - ROW0 - 1),
              slice(FX - 20 - COL0 - 1, FX + 20 - COL0 - 1))
        true_ap = BLOCK[sl] > 0.05 / 0.835   # blocks > 5 % even in F850LP
        assert np.all(result.master_aperture[true_ap])
        truth_any = BLOCK[sl] > 0.04
        assert np.sum(result.master_aperture & ~truth_any) <= 2
        assert result.selection_count.max() == 8
        assert result.master_npix == int(result.master_aperture.sum())

    def test_badpix_count(self, result):
        sl = (slice(FY - 20 - ROW0 - 1, FY + 20 - ROW0 - 1),
              slice(FX - 20 - COL0 - 1, FX + 20 - COL0 - 1))
        ntrue = int(np.sum(true_transmissivity('F435W')[sl] < 0.5))
        bad = bad_pixels(result, fleck_id='fleck1')
        assert abs(len(bad) - ntrue) <= 3
        assert bad.meta['counts'] == {'fleck1': len(bad)}
        assert set(bad.colnames) >= {'ccdchip', 'x', 'y', 'transmissivity', 'fleck_id'}
        assert np.all(bad['ccdchip'] == 2)
        # coordinates are 1-indexed chip frame: check against the truth map
        tt = true_transmissivity('F435W')
        vals = tt[bad['y'] - ROW0 - 1, bad['x'] - COL0 - 1]
        assert np.all(vals < 0.6)
        mean = bad_pixels(result, combine='mean')
        red = bad_pixels(result, combine='F850LP')
        assert len(red) <= len(bad) and len(mean) <= len(bad) + 2
        with pytest.raises(AcsFlecksError, match='combine'):
            bad_pixels(result, combine='F999W')

    def test_narrowband_skipped(self, flats):
        with pytest.warns(SkippedFileWarning, match='F658N'):
            res = measure_transmissivity([flats['F435W'], flats['F658N']],
                                         ccdchip=2, x=FX, y=FY)
        assert res.filters == ['F435W']
        assert 'F658N' in res.to_table().meta['skipped'][0]

    def test_only_narrowband(self, flats):
        with pytest.warns(SkippedFileWarning):
            with pytest.raises(AcsFlecksError, match='no broadband flat'):
                measure_transmissivity([flats['F658N']], ccdchip=2, x=FX, y=FY)

    def test_dates_mixed(self, flats, tmp_path):
        rng = np.random.default_rng(5)
        old = write_file(tmp_path / 'old.fits', lamp_image('F475W', rng),
                         filt='F475W', date='2016-12-01')
        # flats of two dates are grouped (issue 10): the set on/after the
        # date of origin is measured, the earlier one is the check
        res = measure_transmissivity([flats['F435W'], old], ccdchip=2,
                                     x=FX, y=FY, date_of_origin='2017-05-05')
        assert res.filters == ['F435W'] and res.flat_set == '2017-12-01'
        assert res.meta['flat_sets_before'] == ['2016-12-01']
        assert res.before and res.before[0][0] == '2016-12-01'
        with pytest.raises(AcsFlecksError, match='before the date of origin'):
            measure_transmissivity([old], ccdchip=2, x=FX, y=FY,
                                   date_of_origin='2017-05-05')
        with pytest.raises(AcsFlecksError, match='two flats in F435W'):
            measure_transmissivity([flats['F435W'], flats['F435W']],
                                   ccdchip=2, x=FX, y=FY)

    def test_bad_position(self, flats):
        with pytest.raises(AcsFlecksError, match='off the WFC chip'):
            measure_transmissivity([flats['F435W']], ccdchip=2, x=0, y=FY)
        with pytest.raises(AcsFlecksError, match='ccdchip must be'):
            measure_transmissivity([flats['F435W']], ccdchip=3, x=FX, y=FY)

    def test_saturated_pixels_excluded(self, tmp_path):
        rng = np.random.default_rng(7)
        sci = lamp_image('F435W', rng)
        dq = np.zeros(sci.shape, np.int16)
        r, c = FY - ROW0 - 1, FX - COL0 - 1
        dq[r, c - 3:c + 3] = 256
        dq[r + 1, c] = 4          # bpixtab flag of the fleck: not excluded
        p = write_file(tmp_path / 'sat.fits', sci, dq2=dq)
        with pytest.warns(ExcludedPixelsWarning, match='6 of .* excluded .*256'):
            res = measure_transmissivity([p], ccdchip=2, x=FX, y=FY)
            t = res.to_table()
        assert t['n_excluded'][0] == 6
        assert np.isnan(res.transmissivity_maps[0][20, 20])

    def test_write(self, result, tmp_path):
        paths = result.write(tmp_path, prefix='fl')
        t = QTable.read(paths['table'])
        assert_allclose(t['transmissivity'], result.to_table()['transmissivity'])
        assert t['wavelength'].unit == u.AA
        with fits.open(paths['aperture']) as h:
            assert h['MASTER'].header['LTV1'] == -(FX - 20 - 1)
            assert h['MASTER'].data.sum() == result.master_npix
            assert h['COUNT'].data.max() == 8
        with fits.open(paths['maps']) as h:
            assert h['TRANS'].data.shape == (8, 40, 40)
            assert h['TRANS'].header['FILTER8'] == 'F850LP'


class TestWavelengths:
    def test_pivot(self):
        assert_allclose(effective_wavelength('F814W').value, 8045.0)

    def test_lamp(self):
        w = np.linspace(7000, 9000, 201) * u.AA
        thr = np.exp(-0.5 * ((w.value - 8000) / 300) ** 2)
        lam = effective_wavelength('F814W', method='lamp', throughput=(w, thr))
        # a red lamp spectrum pulls the effective wavelength redward
        assert 8000 < lam.value < 8100

    def test_unknown(self):
        with pytest.raises(AcsFlecksError, match='no pivot'):
            effective_wavelength('F999W')


class TestShift:
    @pytest.mark.parametrize('dx,dy', [(0.3, 0.0), (0.0, -0.3), (0.9, 0.6)])
    def test_recover(self, dx, dy):
        rng = np.random.default_rng(11)
        a = blocking_map()[30:70, 30:70]
        b = blocking_map(dx, dy)[30:70, 30:70]
        sig = 0.01
        res = measure_shift(a + rng.normal(0, sig, a.shape), b + rng.normal(0, sig, a.shape),
                            reference_err=np.full(a.shape, sig),
                            image_err=np.full(a.shape, sig))
        assert abs(res.dx - dx) < 0.05 and abs(res.dy - dy) < 0.05
        assert abs(res.dx - dx) < 4 * res.dx_err + 0.01
        assert 0 < res.dx_err < 0.05


class TestSelectAperture:
    def test_ignores_far_noise(self):
        b = np.zeros((40, 40))
        b[18:23, 18:23] = 0.5
        b[2, 2] = 0.2   # a noise pixel far away
        ap = select_aperture(b, threshold=0.05)
        assert ap.sum() == 25 and not ap[2, 2]

    def test_empty(self):
        assert not select_aperture(np.zeros((20, 20))).any()


def _dkc(rng, *, dx=0.9, dy=0.6, level=40.0, fleck=True, trail=0.0, nframes=30):
    block = blocking_map(dx, dy) if fleck else np.zeros((WIN, WIN))
    yy, xx = np.mgrid[0:WIN, 0:WIN]
    expect = level * (1 + 0.002 * (xx - 50)) * (1 - block)
    if trail:
        # deficit in the 3 rows above the shifted shadow, 11 columns
        rows = np.nonzero((block > 0.05).any(axis=1))[0]
        top = rows.max()
        cx = int(round(FX + dx)) - COL0 - 1
        for k, w in enumerate((0.5, 0.3, 0.2)):
            expect[top + 1 + k, cx - 5:cx + 6] -= trail * w / 11
    sci = rng.poisson(expect * nframes) / nframes
    err = np.sqrt(np.clip(expect, 1, None) / nframes)
    return sci, err


class TestLedLamp:
    def test_offset(self, result, tmp_path):
        rng = np.random.default_rng(21)
        sci, err = _dkc(rng, nframes=200)
        dq = np.zeros(sci.shape, np.int16)
        sci[45, 55] += 500
        dq[45, 55] = 16   # a hot pixel
        p = write_file(tmp_path / 'dkc.fits', sci, err2=err, dq2=dq, filt='CLEAR1L',
                       flashdur=4.6, imagetyp='DARK')
        comp = compare_led_lamp(p, result)
        s = comp.shift
        assert abs(s.dx - 0.9) < 0.1 and abs(s.dy - 0.6) < 0.1
        assert s.dx_err < 0.1
        assert comp.difference.min() == -1 and comp.difference.max() == 1
        assert comp.led_transmissivity < 0.7
        t = comp.to_table()
        assert t['led_npix'][0] > 0
        paths = comp.write(tmp_path, prefix='x')
        with fits.open(paths['fits']) as h:
            assert h['DIFF'].data.shape == (40, 40)

    def test_post_flash_reference(self, result, tmp_path, capsys):
        """The CRDS post-flash reference (FLSHFILE, _fls: e-/s of flash, a
        USEAFTER and no EXPSTART/FLASHDUR/FLASHSTA) is an LED input."""
        rng = np.random.default_rng(21)
        sci, err = _dkc(rng, nframes=200)
        p = write_file(tmp_path / 'x_fls.fits', sci / 4.6, err2=err / 4.6,
                       filt='CLEAR1L', flashdur=4.6, imagetyp='DARK')
        with fits.open(p, mode='update') as h:
            for k in ('EXPSTART', 'DATE-OBS', 'TIME-OBS', 'FLASHDUR',
                      'FLASHSTA', 'EXPTIME'):
                h[0].header.remove(k, ignore_missing=True)
            h[0].header['FILETYPE'] = 'POST FLASH'
            h[0].header['USEAFTER'] = 'Mar 01 2012 00:00:00'
            for ext in h[1:]:
                if ext.name in ('SCI', 'ERR'):
                    ext.header['BUNIT'] = 'ELECTRONS/S'
        from acs_flecks.io import ACSImage
        img = ACSImage(p)
        assert img.is_flash_reference and img.flashed
        assert img.obs_time.isot[:10] == '2012-03-01'
        comp = compare_led_lamp(p, result)
        assert abs(comp.shift.dx - 0.9) < 0.1 and abs(comp.shift.dy - 0.6) < 0.1
        flats = [m.path for m in result.measurements]
        from acs_flecks.cli import main
        rc = main(['ledlamp', p, '--flats', *flats, '--ccdchip', '2', '--x',
                   str(FX), '--y', str(FY), '-o', str(tmp_path / 'o'),
                   '--no-figures'])
        assert rc == 0

    def test_no_fleck(self, result, tmp_path):
        rng = np.random.default_rng(22)
        sci, err = _dkc(rng, fleck=False, nframes=200)
        p = write_file(tmp_path / 'dkc0.fits', sci, err2=err, filt='CLEAR1L',
                       flashdur=4.6, imagetyp='DARK')
        with pytest.raises(AcsFlecksError, match='fleck absent'):
            compare_led_lamp(p, result)


@pytest.fixture(scope='module')
def eper_files(tmp_path_factory):
    d = tmp_path_factory.mktemp('eper')
    rng = np.random.default_rng(31)
    early_block = blocking_map(0.0, 0.3)      # fleck moves by -0.3 px in y
    paths = []
    for date, block in (('2017-05-10', early_block), ('2017-11-13', BLOCK)):
        for lev in (180, 1000, 5000, 12000, 25000, 42000):
            scale = 1.02 if date > '2017-06' else 1.0
            img = lamp_image('F435W', rng, block=block, level=lev * scale)
            paths.append(write_file(d / f'eper_{date}_{lev}.fits', img,
                                    filt='F435W', date=date, with_err=False))
    return paths


class TestEper:
    def test_pairing(self, eper_files):
        pairs = pair_eper(eper_files[::-1], ccdchip=2)
        assert len(pairs) == 6
        for p in pairs:
            assert p.early.obs_time < p.late.obs_time
            assert abs(p.level_late / p.level_early - 1.02) < 0.05

    def test_ratio_and_motion(self, eper_files):
        pairs = pair_eper(eper_files, ccdchip=2)
        res = eper_ratio(pairs, ccdchip=2, x=FX, y=FY)
        t = res.to_table()
        assert len(t) == 6
        ok = t['level_early'].value > 4000
        assert np.all(np.abs(t['flux_ratio'][ok] - 1) < 3 * t['flux_ratio_err'][ok] + 0.01)
        dx, dxe, dy, dye = res.shift
        assert abs(dy - (-0.3)) < 0.1 and abs(dx) < 0.1
        assert dye < 0.05
        assert t.meta['motion_dy'] == dy

    def test_one_epoch(self, eper_files):
        with pytest.raises(AcsFlecksError, match='exactly two epochs'):
            pair_eper(eper_files[:6], ccdchip=2)


class TestShadow:
    def test_series(self, tmp_path, result):
        rng = np.random.default_rng(41)
        paths = []
        for i, date in enumerate(['2017-01-10', '2017-03-10', '2017-06-10',
                                  '2017-08-10', '2017-10-10']):
            after = date > '2017-05-05'
            sci, err = _dkc(rng, fleck=after, trail=200.0 if after else 0.0,
                            nframes=30)
            paths.append(write_file(tmp_path / f'dkc{i}.fits', sci, err2=err,
                                    filt='CLEAR1L', date=date, flashdur=4.6,
                                    imagetyp='DARK'))
        # the trail blocks > 5 % of the post-flash: the dark's own aperture
        # would put the box above it; the model footprint (smoothed, top edge
        # mirrored from the bottom) puts it where the lamp footprint does
        series0 = shadow_time_series(paths, ccdchip=2, x=FX, y=FY)
        series = shadow_time_series(paths, ccdchip=2, x=FX, y=FY, lamp=result)
        assert abs(series0.shadow_box[2] - series.shadow_box[2]) <= 1
        t = series.table
        assert len(t) == 5
        x0, x1, y0, y1 = series.shadow_box
        assert (x1 - x0 + 1, y1 - y0 + 1) == (11, 3)
        assert series.empty_box[0] > x1
        before = ~(t['time'].isot > '2017-05-05')
        # the LED gradient makes the +x empty box brighter by a constant:
        # compare with the darks before the fleck, as Figure 9 does
        base = t['difference'][before].value
        assert np.ptp(base) < 3 * t['difference_err'][before].value.max()
        assert_allclose(t['difference'][~before].value - base.mean(), -200, atol=50)
        assert_allclose(t['shadow_err'].value, np.sqrt(t['shadow_signal'].value))
        out = series.write(tmp_path, prefix='s')
        assert QTable.read(out['table'])['difference'].unit == u.electron

    def test_boxes_mismatch(self, tmp_path):
        rng = np.random.default_rng(42)
        sci, err = _dkc(rng)
        p = write_file(tmp_path / 'd.fits', sci, err2=err, filt='CLEAR1L',
                       flashdur=4.6, imagetyp='DARK')
        with pytest.raises(AcsFlecksError, match='differ in size'):
            shadow_time_series([p], ccdchip=2, x=FX, y=FY,
                               shadow_box=(1500, 1510, 1790, 1792),
                               empty_box=(1530, 1535, 1790, 1792))


class TestPlotting:
    def test_figures(self, result, eper_files, tmp_path):
        from matplotlib.figure import Figure
        from acs_flecks.plotting import characterize as pc
        rng = np.random.default_rng(51)
        sci, err = _dkc(rng, nframes=200)
        dkc = write_file(tmp_path / 'dkc.fits', sci, err2=err, filt='CLEAR1L',
                         flashdur=4.6, imagetyp='DARK')
        comp = compare_led_lamp(dkc, result)
        eper = eper_ratio(pair_eper(eper_files, ccdchip=2), ccdchip=2, x=FX, y=FY)
        series = shadow_time_series([dkc], ccdchip=2, x=FX, y=FY, lamp=result)
        figs = {
            'thumb': pc.plot_filter_thumbnails(result, before=result),
            'analysis': pc.plot_aperture_analysis(result, 'F435W'),
            'master': pc.plot_master_aperture(result),
            'sed': pc.plot_sed([result, result], labels=['a', 'b']),
            'led': pc.plot_led_lamp(comp),
            'eper': pc.plot_eper_ratios(eper),
            'shadow': pc.plot_shadow_series(series, appeared='2017-05-05'),
        }
        for name, fig in figs.items():
            assert isinstance(fig, Figure)
            assert any(a.get_xlabel() for a in fig.axes), name
            assert any(a.get_ylabel() for a in fig.axes), name
            pc.save_figure(fig, str(tmp_path / f'{name}.png'))
            assert (tmp_path / f'{name}.png').stat().st_size > 5000
        # colour bars on the image figures
        for name in ('thumb', 'analysis', 'master', 'led', 'eper'):
            assert any(a.get_label() == '<colorbar>' for a in figs[name].axes), name
        sed_ax = figs['sed'].axes[0]
        assert 'Angstrom' in sed_ax.get_xlabel()
        assert '%' in sed_ax.get_ylabel()

    def test_outline_follows_mask(self):
        from matplotlib.figure import Figure
        from acs_flecks.plotting.characterize import _outline
        ax = Figure().subplots()
        mask = np.zeros((5, 5), bool)
        mask[1:3, 1:4] = True      # a 2x3 block: perimeter of 10 unit edges
        _outline(ax, mask, (10, 20))
        segs = ax.collections[0].get_segments()
        assert len(segs) == 10
        xs = np.concatenate([s[:, 0] for s in segs])
        ys = np.concatenate([s[:, 1] for s in segs])
        assert_allclose([xs.min(), xs.max(), ys.min(), ys.max()],
                        [10.5, 13.5, 20.5, 22.5])


class TestShiftConvergence:
    """A shift fit that does not converge says so (issue #11)."""

    def blob(self, dx=0.0, dy=0.0):
        yy, xx = np.mgrid[:31, :31]
        return 0.8 * np.exp(-((xx - 15 - dx) ** 2 + (yy - 15 - dy) ** 2)
                            / (2 * 2.5 ** 2))

    def test_real_shift_converges(self):
        from acs_flecks.characterize.shifts import measure_shift
        err = np.full((31, 31), 0.01)
        res = measure_shift(self.blob(), self.blob(0.4, -0.3),
                            reference_err=err, image_err=err)
        assert res.converged and res.message == ''
        assert abs(res.dx - 0.4) < 0.05 and abs(res.dy + 0.3) < 0.05

    def test_start_returned_after_many_evaluations(self):
        # the demo's 1614 e- pair: least_squares stopped on ftol after 13
        # evaluations at dx = 2e-8, dy = 6e-9 from the integer start, with
        # a large gradient -- the start returned, not a measurement
        from types import SimpleNamespace

        from acs_flecks.characterize.shifts import _converged
        start = np.array([0.0, 0.0, 0.98])
        jac = np.ones((50, 3))
        fit = SimpleNamespace(success=True, status=2, message='ftol',
                              jac=jac, nfev=13,
                              x=np.array([2.1e-8, 5.7e-9, 0.999]))
        ok, why = _converged(fit, start)
        assert not ok and 'starting point' in why
        fit.x = np.array([0.008, 0.006, 0.999])     # a real (small) shift
        assert _converged(fit, start) == (True, '')

    def test_no_signal_does_not_converge(self):
        from acs_flecks.characterize.shifts import (measure_shift,
                                                    weighted_mean_shift)
        err = np.full((31, 31), 0.01)
        flat = np.zeros((31, 31))
        res = measure_shift(flat, flat, reference_err=err, image_err=err,
                            fit_mask=np.ones((31, 31), bool))
        assert not res.converged
        assert 'did not converge' in res.message
        # left out of the combined motion
        good = measure_shift(self.blob(), self.blob(0.4, -0.3),
                             reference_err=err, image_err=err)
        dx, _, dy, _ = weighted_mean_shift([res, good])
        assert abs(dx - good.dx) < 1e-12
