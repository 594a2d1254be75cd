"""Genuine ACSREJ sums vs script averages (issue 10): the decision from the
header, and the §5 shadow series' Poisson errors, box placement and
excluded pixels on both."""

import glob
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from acs_flecks.characterize import shadow_time_series
from acs_flecks.cli import main
from acs_flecks.combined import combination
from acs_flecks.exceptions import AcsFlecksError, InputFileError
from acs_flecks.simulate import simulate_scenario

from conftest import write_acs


def _file(tmp_path, name, *, ncombine, exptime, texptime=None,
          bunit='ELECTRONS', sci=100.0, err=None):
    path = write_acs(tmp_path / name, sci={c: np.full((64, 96), sci, np.float32)
                                           for c in (1, 2)})
    with fits.open(path, mode='update') as h:
        h[0].header['EXPTIME'] = exptime
        if texptime is None:
            h[0].header.remove('TEXPTIME', ignore_missing=True)
        else:
            h[0].header['TEXPTIME'] = texptime
        for ext in h[1:]:
            if ext.name == 'SCI':
                ext.header['NCOMBINE'] = ncombine
                ext.header['BUNIT'] = bunit
            if ext.name == 'ERR' and err is not None:
                ext.data = np.full(ext.data.shape, err, np.float32)
    return str(path)


class TestCombination:
    def test_acsrej_sum(self, tmp_path):
        c = combination(_file(tmp_path, 'a.fits', ncombine=4, exptime=2080.0,
                              texptime=2080.0))
        assert (c.kind, c.ncombine, c.counted_per_unit) == ('sum', 4, 1.0)
        assert_allclose(c.poisson_error(400.0), 20.0)
        assert 'cumulative' in c.reason

    def test_script_average(self, tmp_path):
        c = combination(_file(tmp_path, 'b.fits', ncombine=20, exptime=0.5,
                              texptime=10.0))
        assert (c.kind, c.counted_per_unit) == ('average', 20.0)
        # 400 e- per exposure averaged over 20: 8000 e- counted
        assert_allclose(c.poisson_error(400.0), np.sqrt(8000.0) / 20)

    def test_single(self, tmp_path):
        c = combination(_file(tmp_path, 'c.fits', ncombine=1, exptime=10.0))
        assert c.kind == 'single' and c.poisson_error(100.0) == 10.0

    def test_rate(self, tmp_path):
        # read as electrons (rate x cumulative EXPTIME): a sum
        c = combination(_file(tmp_path, 'd.fits', ncombine=4, exptime=100.0,
                              texptime=100.0, bunit='ELECTRONS/S'))
        assert c.kind == 'sum' and c.counted_per_unit == 1.0

    def test_unconvertible_unit_refused(self, tmp_path):
        with pytest.raises(InputFileError, match="BUNIT='MJY/SR'"):
            combination(_file(tmp_path, 'e.fits', ncombine=4, exptime=10.0,
                              texptime=10.0, bunit='MJy/sr'))

    @pytest.mark.parametrize('n,err,kind', [(4, np.sqrt(1000.0 + 4 * 16), 'sum'),
                                            (4, np.sqrt((1000.0 + 16) / 4),
                                             'average')])
    def test_no_texptime_pixels_decide(self, tmp_path, n, err, kind):
        c = combination(_file(tmp_path, f'f{kind}.fits', ncombine=n,
                              exptime=10.0, sci=1000.0, err=err))
        assert c.kind == kind and 'ERR^2/SCI' in c.reason


@pytest.fixture(scope='module')
def darks(tmp_path_factory):
    """Simulated averaged short darks (dkc) and ACSREJ-style sums of the
    same data: SCI, ERR x NCOMBINE, cumulative EXPTIME, ERR[0,0] = -1, DQ
    8192 with SCI = SKYSUM and ERR = 0 on two shadow-box pixels, a hot
    pixel (DQ 16) in the empty box."""
    out = tmp_path_factory.mktemp('dkc')
    res = simulate_scenario('discovery', out, seed=2, window=120,
                            kinds=['dkc'])
    trail = res.truth.trail
    avgs = sorted(glob.glob(os.path.join(out, '*_dkc.fits')))
    sums = []
    for f in avgs:
        g = f.replace('_dkc.fits', '_crj.fits')
        with fits.open(f) as h:
            n = h[1].header['NCOMBINE']
            h[0].header['EXPTIME'] = h[0].header['TEXPTIME']
            h[0].header['SKYSUM'] = 0.0
            for ver in (1, 2):
                sci, err, dq = h['SCI', ver], h['ERR', ver], h['DQ', ver]
                sci.data = sci.data * n
                err.data = err.data * n
                err.data[0, 0] = -1.0
                if sci.header['CCDCHIP'] == 2:
                    ltv1, ltv2 = sci.header['LTV1'], sci.header['LTV2']
                    r = int(trail['y_min'] + ltv2) - 1
                    c = int(trail['x_min'] + ltv1) - 1
                    dq.data[r, c:c + 2] |= 8192
                    sci.data[r, c:c + 2] = 0.0      # SKYSUM
                    err.data[r, c:c + 2] = 0.0
                    ce = int(trail['empty_x_min'] + ltv1) - 1 + 3
                    sci.data[r + 1, ce] += 5000.0 * n
                    dq.data[r + 1, ce] |= 16
            h.writeto(g)
        sums.append(g)
    return avgs, sums, trail


class TestShadowOnCombinedDarks:
    def test_average_and_sum(self, darks):
        avgs, sums, trail = darks
        sa = shadow_time_series(avgs, ccdchip=2, x=1521, y=1773)
        ss = shadow_time_series(sums, ccdchip=2, x=1521, y=1773)
        # box on the trail (model footprint from the dark, no flats)
        assert sa.shadow_box == (trail['x_min'], trail['x_max'],
                                 trail['y_min'], trail['y_max'])
        ta, ts = sa.table, ss.table
        assert set(ta['combination']) == {'average'}
        assert set(ts['combination']) == {'sum'}
        n = ta['ncombine']
        # Poisson from the electrons counted
        assert_allclose(ta['shadow_err'].value,
                        np.sqrt(ta['shadow_signal'].value / n), rtol=1e-4)
        assert_allclose(ts['shadow_err'].value[ts['shadow_npix_excluded'] == 0],
                        np.sqrt(ts['shadow_signal'].value
                                [ts['shadow_npix_excluded'] == 0]), rtol=1e-4)
        # flagged pixels excluded and counted
        assert np.all(ts['shadow_npix_excluded'] == 2)
        assert np.all(ts['empty_npix_excluded'] == 1)
        assert np.all(ta['shadow_npix_excluded'] == 0)
        before = ~(ta['time'].isot >= trail['appear'])
        for t in (ta, ts):
            assert np.all(np.abs(t['significance'][before]) < 3)
            assert np.all(t['significance'][~before] < -5)
        # same significance either way (within the excluded pixels' share)
        assert_allclose(ts['significance'][~before],
                        ta['significance'][~before], atol=2.0)

    def test_mixed_sum_and_average_refused(self, darks):
        avgs, sums, _ = darks
        with pytest.raises(AcsFlecksError, match='averaged and summed'):
            shadow_time_series([avgs[0], sums[-1]], ccdchip=2, x=1521, y=1773)

    def test_cli_says_how(self, darks, tmp_path, capsys):
        _, sums, _ = darks
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            rc = main(['shadow', *sums, '--ccdchip', '2', '--x', '1521',
                       '--y', '1773', '-o', str(tmp_path), '--no-figures'])
        assert rc == 0
        out = capsys.readouterr().out
        assert 'model footprint' in out and 'sum' in out


class TestUnits:
    """Every file is read in electrons (issue 10 item 3)."""

    @pytest.mark.parametrize('bunit,header,factor', [
        ('ELECTRONS', {}, 1.0),
        ('ELECTRONS/S', {'EXPTIME': 50.0}, 50.0),
        ('COUNTS', {'CCDGAIN': 2.0, 'ATODGNC': 0.0, 'ATODGND': 0.0}, 2.0),
        ('COUNTS', {'ATODGNC': 1.5, 'ATODGND': 1.5,
                    'ATODGNA': 1.7, 'ATODGNB': 1.7}, None),
        ('COUNTS/S', {'CCDGAIN': 2.0, 'EXPTIME': 10.0}, 20.0)])
    def test_converted(self, tmp_path, bunit, header, factor):
        from acs_flecks.io import ACSImage
        p = _file(tmp_path, 'u.fits', ncombine=1, exptime=10.0, bunit=bunit,
                  sci=3.0)
        with fits.open(p, mode='update') as h:
            h[0].header.update(header)
        img = ACSImage(p)
        if factor is None:   # per chip: C/D on chip 2, A/B on chip 1
            assert_allclose(img.chip(2).sci, 4.5)
            assert_allclose(img.chip(1).sci, 5.1)
        else:
            for c in (1, 2):
                assert_allclose(img.chip(c).sci, 3.0 * factor, rtol=1e-6)
        # sections scale the same way
        part = img.chip(2, section=(slice(0, 2), slice(3, 5)))
        assert_allclose(part.sci, img.chip(2).sci[0:2, 3:5])

    @pytest.mark.parametrize('bunit,header,match', [
        ('MJy/sr', {}, 'cannot be converted'),
        ('ELECTRONS/S', {'EXPTIME': 0.0}, 'cannot convert the rate'),
        ('COUNTS', {'CCDGAIN': 0.0, 'ATODGNC': 0.0}, 'no gain')])
    def test_refused(self, tmp_path, bunit, header, match):
        from acs_flecks.io import ACSImage
        p = _file(tmp_path, 'r.fits', ncombine=1, exptime=10.0, bunit=bunit)
        with fits.open(p, mode='update') as h:
            h[0].header.update(header)
        with pytest.raises(InputFileError, match=match):
            ACSImage(p)          # at open: before any output is written


def test_sbc_counts_need_no_gain(tmp_path):
    from acs_flecks.io import ACSImage
    from conftest import write_acs as _w
    p = _w(tmp_path / 'sbc.fits', detector='SBC', chips=(1,),
           sci={1: np.full((64, 96), 7.0, np.float32)})
    with fits.open(p, mode='update') as h:
        h[1].header['BUNIT'] = 'COUNTS'
    assert_allclose(ACSImage(p).chip(1).sci, 7.0)
