"""Tests of ``acs_flecks impact`` and ``acs_flecks flag`` (issue 14).

Exposures are built on the real headers of the ACS/WFC flc ``jbt122x8q``
(SIP + D2IMARR/WCSDVARR lookup-table distortion; its pixels are stripped)
with synthetic pixels under them, dated after and before the flecks' date
of origin (2017-05-05).  The expected DQ of ``flag`` comes from a direct
transcription of hstcal ``dodqi.c`` (``doDQI`` row selection and
``DQINormal``) written here, independent of `acs_flecks.bpixtab`.
"""

import hashlib
import os
import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS

from acs_flecks.delivery import write_bpixtab
from acs_flecks.cli import main
from acs_flecks.exceptions import AcsFlecksError, InputFileError
from acs_flecks.flag import flag_exposures
from acs_flecks.impact import exposure_impact, read_fleck_maps
from acs_flecks.science import DeliveredTable, FleckRowsWarning
from acs_flecks.sources import read_sources

from conftest import real_file

REAL_FLC = 'wfc_flc_header_jbt122x8q.fits'
AFTER = 58200.5     # 2018-03-20
BEFORE = 57400.5    # 2016-01-25
#: fleck centres (CCDCHIP, x, y), 1-indexed chip frame, and their radius
FLECKS = ((2, 1521, 1773), (1, 3000, 600))
FLECK_R = 4.6


def sha256(path):
    with open(path, 'rb') as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# ------------------------------------------------------------- builders --
def fleck_pixels():
    rows = []
    for n, (chip, xc, yc) in enumerate(FLECKS, 1):
        for y in range(yc - 6, yc + 7):
            for x in range(xc - 6, xc + 7):
                d = np.hypot(x - xc, y - yc)
                if d <= FLECK_R:
                    rows.append((chip, x, y, 0.2 + 0.05 * d, f'fleck{n}'))
    return QTable(rows=rows, names=('ccdchip', 'x', 'y', 'transmissivity',
                                    'fleck_id'))


def write_reference(path):
    """A WFC reference table with rows that test dodqi.c's selection."""
    rows = [
        # CCDAMP, PIX1, PIX2, LENGTH, AXIS, VALUE, CCDCHIP, CCDGAIN
        ('N/A', 100, 1, 2048, 2, 4, -999, -999.0),   # bad column, both chips
        ('N/A', 1700, 1800, 40, 1, 16, 2, -999.0),   # hot run on WFC2 only
        ('A', 200, 200, 10, 1, 32, 1, -999.0),       # amplifier A only
        ('ABCD', 300, 300, 5, 1, 64, 1, -999.0),     # the full-frame amps
        ('N/A', 400, 400, 7, 2, 128, -999, 1.0),     # gain 1 only
        ('N/A', 500, 500, 3, 1, 256, -999, 2.0),     # gain 2 only
        ('N/A', 3000, 1500, 30, 2, 512, 2, -999.0),
    ]
    cols = list(zip(*rows))
    hdu = fits.BinTableHDU.from_columns([
        fits.Column('CCDAMP', '4A', array=np.array(cols[0])),
        fits.Column('PIX1', 'I', array=np.array(cols[1], np.int16)),
        fits.Column('PIX2', 'I', array=np.array(cols[2], np.int16)),
        fits.Column('LENGTH', 'I', array=np.array(cols[3], np.int16)),
        fits.Column('AXIS', 'I', array=np.array(cols[4], np.int16)),
        fits.Column('VALUE', 'I', array=np.array(cols[5], np.int16)),
        fits.Column('CCDCHIP', 'I', array=np.array(cols[6], np.int16)),
        fits.Column('CCDGAIN', 'E', array=np.array(cols[7], np.float32)),
    ], name='BPX')
    ph = fits.Header()
    ph['INSTRUME'] = 'ACS'
    ph['DETECTOR'] = 'WFC'
    ph['FILETYPE'] = 'BAD PIXELS'
    ph['USEAFTER'] = 'Mar 01 2002 00:00:00'
    ph['PEDIGREE'] = 'INFLIGHT 01/03/2002 01/03/2002'
    ph['DESCRIP'] = 'test reference'
    fits.HDUList([fits.PrimaryHDU(header=ph), hdu]).writeto(path)
    return path


def dodqi_reference(path, *, ccdchip, shape, ltv, ccdamp, ccdgain):
    """Independent transcription of hstcal dodqi.c for the tests."""
    with fits.open(path) as h:
        tab = h[1].data
        names = [n.upper() for n in tab.columns.names]
        int_gain = str(tab.columns['CCDGAIN'].format) in ('J', '1J')
        ny, nx = shape
        dq = np.zeros(shape, np.uint16)
        nrows = 0
        for r in tab:
            amp = r['CCDAMP'].strip() if 'CCDAMP' in names else 'N/A'
            sameamp = amp in ('N/A', 'ANY') or amp == ccdamp
            g = r['CCDGAIN']
            if int_gain:
                samegain = g in (-999, -1) or g == int(ccdgain)
            else:
                samegain = np.float32(g) in (np.float32(-999), np.float32(-1)) \
                    or np.float32(g) == np.float32(ccdgain)
            samechip = r['CCDCHIP'] in (-999, -1) or r['CCDCHIP'] == ccdchip
            if not (sameamp and samegain and samechip):
                continue
            nrows += 1
            xs = int(r['PIX1'] - 1 + ltv[0])
            ys = int(r['PIX2'] - 1 + ltv[1])
            if r['AXIS'] == 1:
                lo, hi = xs, xs + r['LENGTH'] - 1
                if hi < 0 or lo >= nx or ys < 0 or ys >= ny:
                    continue
                for i in range(max(lo, 0), min(hi, nx - 1) + 1):
                    dq[ys, i] |= np.uint16(r['VALUE'])
            else:
                lo, hi = ys, ys + r['LENGTH'] - 1
                if xs < 0 or xs >= nx or hi < 0 or lo >= ny:
                    continue
                for j in range(max(lo, 0), min(hi, ny - 1) + 1):
                    dq[j, xs] |= np.uint16(r['VALUE'])
        if nrows == 0:   # the place-holder at (int)LTM = 1
            dq[1, 1] |= 64
    return dq


def _set_date(header, mjd):
    from astropy.time import Time
    t = Time(mjd, format='mjd')
    header['EXPSTART'] = mjd
    header['EXPEND'] = mjd + 450 / 86400
    header['DATE-OBS'] = t.isot[:10]
    header['TIME-OBS'] = t.isot[11:19]


def build_exposure(path, *, expstart, subarray=None, swap_chips=False,
                   drop=(), detector=None, seed=0):
    """An flc on the real jbt122x8q headers with synthetic pixels.

    ``subarray`` = (ccdchip, x0, y0, nx, ny): one chip only, its pixel
    (1, 1) at chip (x0, y0); CRPIX and the lookup tables shifted so that the
    WCS is the full-frame one in the chip frame.
    """
    rng = np.random.default_rng(seed)
    real = fits.open(real_file(REAL_FLC), memmap=False)
    try:
        _build(real, path, rng, expstart, subarray, swap_chips, drop,
               detector)
    finally:
        real.close()
    return path


def _build(real, path, rng, expstart, subarray, swap_chips, drop, detector):
    ph = real[0].header.copy()
    _set_date(ph, expstart)
    if detector:
        ph['DETECTOR'] = detector
    triples = []
    for ver in (1, 2):
        hs = {name: real[name, ver].header.copy()
              for name in ('SCI', 'ERR', 'DQ')}
        triples.append(hs)
    if swap_chips:
        triples = triples[::-1]
    # every other extension of the real file, as read: D2IMARR,
    # WCSDVARR, HDRLET (non-standard: astropy cannot copy() those),
    # WCSCORR
    extra = [real[i] for i in range(7, len(real))
             if real[i].name not in drop]
    hdus = [fits.PrimaryHDU(header=ph)]
    if subarray is not None:
        chip, x0, y0, nx, ny = subarray
        triples = [t for t in triples if t['SCI']['CCDCHIP'] == chip]
        shape = (ny, nx)
        ph['SUBARRAY'] = True
    else:
        shape = (2048, 4096)
    for ver, hs in enumerate(triples, 1):
        chip = hs['SCI']['CCDCHIP']
        sci = rng.normal(40, 5, shape).astype(np.float32)
        err = np.full(shape, 5, np.float32)
        dq = np.zeros(shape, np.int16)
        # existing flags: a saturated block and cosmic rays
        dq[10:20, 30:40] |= 256
        dq[rng.integers(0, shape[0], 200), rng.integers(0, shape[1], 200)] |= 8192
        for name, data in (('SCI', sci), ('ERR', err), ('DQ', dq)):
            h = hs[name]
            h['EXTVER'] = ver
            if subarray is not None:
                h['LTV1'] = float(-(x0 - 1))
                h['LTV2'] = float(-(y0 - 1))
                for key in list(h.keys()):
                    if key.startswith('CRPIX1'):
                        h[key] = h[key] - (x0 - 1)
                    elif key.startswith('CRPIX2'):
                        h[key] = h[key] - (y0 - 1)
            hdus.append(fits.ImageHDU(data, header=h, name=name))
    for hdu in extra:
        if subarray is not None and hdu.name in ('D2IMARR', 'WCSDVARR'):
            # astropy evaluates a lookup table at (image - CRVAL) / CDELT
            hdu.header['CRVAL1'] = hdu.header.get('CRVAL1', 0.0) - (x0 - 1)
            hdu.header['CRVAL2'] = hdu.header.get('CRVAL2', 0.0) - (y0 - 1)
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path)


def full_wcs(ccdchip):
    """WCS of a chip of the real header, with all its distortion."""
    with fits.open(real_file(REAL_FLC)) as real:
        for ver in (1, 2):
            h = real['SCI', ver].header
            if h['CCDCHIP'] == ccdchip:
                return WCS(h, real)


def sky_of(ccdchip, x, y):
    w = full_wcs(ccdchip)
    ra, dec = w.all_pix2world([x], [y], 1)
    return float(ra[0]), float(dec[0])


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('impact')
    ref = write_reference(d / 'old_bpx.fits')
    new = d / 'new_bpx.fits'
    write_bpixtab(ref, fleck_pixels(), new, useafter='2017-05-05',
                  certify=False)
    files = {
        'after': build_exposure(d / 'jafter01q_flc.fits', expstart=AFTER),
        'before': build_exposure(d / 'jbefor01q_flc.fits', expstart=BEFORE,
                                 seed=1),
        'swapped': build_exposure(d / 'jswapd01q_flc.fits', expstart=AFTER,
                                  swap_chips=True, seed=2),
        'sub': build_exposure(d / 'jsubar01q_flc.fits', expstart=AFTER,
                              subarray=(2, 1401, 1701, 400, 256), seed=3),
    }
    # the sources: on a flagged pixel of each fleck, 300 px away, off
    on2 = (1522, 1771)
    on1 = (2998, 601)
    far = (on2[0] + 300, on2[1])
    rows = [('on2', *sky_of(2, *on2)), ('on1', *sky_of(1, *on1)),
            ('far', *sky_of(2, *far)),
            ('off', *(np.add(sky_of(2, *on2), (0.5, 0.5))))]
    src = Table(rows=rows, names=('id', 'ra', 'dec'))
    src['ra'].unit = u.deg
    src['dec'].unit = u.deg
    src.write(d / 'sources.ecsv', format='ascii.ecsv')
    return dict(dir=d, ref=ref, new=new, files=files,
                sources=d / 'sources.ecsv',
                pix={'on2': on2, 'on1': on1, 'far': far})


def _row(table, exposure, sid):
    sel = (np.asarray(table['exposure']) == os.path.basename(exposure)) & \
        (np.asarray(table['id']) == sid)
    assert sel.sum() == 1
    return table[sel][0]


# ---------------------------------------------------------------- impact --
class TestImpact:
    def test_real_header_has_lookup_distortion(self):
        w = full_wcs(2)
        assert w.sip is not None
        assert w.det2im1 is not None and w.cpdis1 is not None
        # the lookup tables move pixels: they matter at this precision
        plain = w.deepcopy()
        plain.det2im1 = plain.det2im2 = plain.cpdis1 = plain.cpdis2 = None
        a = w.all_pix2world([[1522, 1771]], 1)
        b = plain.all_pix2world([[1522, 1771]], 1)
        assert np.hypot(*(a - b)[0]) * 3600 > 1e-4

    def test_flagged_after_not_before(self, data):
        res = exposure_impact([data['files']['after'], data['files']['before']],
                              bpixtab=data['new'], sources=data['sources'])
        t = res.table
        for name in ('after', 'before'):
            r = _row(t, data['files'][name], 'on2')
            assert r['on_chip'] and r['ccdchip'] == 2
            assert abs(r['x'] - data['pix']['on2'][0]) < 0.6
            assert abs(r['y'] - data['pix']['on2'][1]) < 0.6
            assert r['distance'].value < 0.6
        assert _row(t, data['files']['after'], 'on2')['flagged']
        assert _row(t, data['files']['after'], 'on2')['affected']
        assert not _row(t, data['files']['before'], 'on2')['flagged']
        assert not _row(t, data['files']['before'], 'on2')['affected']
        assert not _row(t, data['files']['before'], 'on2')['applies']
        r = _row(t, data['files']['after'], 'on1')
        assert r['flagged'] and r['ccdchip'] == 1
        assert abs(r['x'] - data['pix']['on1'][0]) < 0.6
        assert abs(r['y'] - data['pix']['on1'][1]) < 0.6

    def test_positions_to_a_hundredth(self, data):
        res = exposure_impact([data['files']['after']], bpixtab=data['new'],
                              sources=data['sources'])
        for sid in ('on2', 'on1', 'far'):
            r = _row(res.table, data['files']['after'], sid)
            assert_px = data['pix'][sid]
            assert abs(r['x'] - assert_px[0]) < 0.01
            assert abs(r['y'] - assert_px[1]) < 0.01

    def test_far_source_not_flagged(self, data):
        res = exposure_impact([data['files']['after']], bpixtab=data['new'],
                              sources=data['sources'])
        r = _row(res.table, data['files']['after'], 'far')
        assert r['on_chip'] and not r['flagged'] and not r['affected']
        # to the centre of the fleck pixel nearest to it
        fp = fleck_pixels()
        fp = fp[fp['ccdchip'] == 2]
        fx, fy = data['pix']['far']
        want = np.min(np.hypot(fp['x'] - fx, fp['y'] - fy))
        assert r['distance'].value == pytest.approx(want, abs=0.01)
        assert want > 290

    def test_off_chip_listed(self, data):
        res = exposure_impact([data['files']['after']], bpixtab=data['new'],
                              sources=data['sources'])
        r = _row(res.table, data['files']['after'], 'off')
        assert not r['on_chip'] and r['ccdchip'] == 0
        assert not r['flagged'] and np.isnan(r['x'])
        s = res.summary[res.summary['id'] == 'off'][0]
        assert s['n_on_chip'] == 0 and s['n_unaffected'] == 0

    def test_swapped_chip_order(self, data):
        res = exposure_impact([data['files']['swapped']], bpixtab=data['new'],
                              sources=data['sources'])
        for sid, chip in (('on2', 2), ('on1', 1)):
            r = _row(res.table, data['files']['swapped'], sid)
            assert r['ccdchip'] == chip and r['flagged']
            assert abs(r['x'] - data['pix'][sid][0]) < 0.6

    def test_subarray(self, data):
        sub = data['files']['sub']
        res = exposure_impact([sub], bpixtab=data['new'],
                              sources=data['sources'])
        r = _row(res.table, sub, 'on2')
        assert r['on_chip'] and r['flagged'] and r['ccdchip'] == 2
        # chip frame through LTV; the file's own pixel is 1400, 1700 less
        assert abs(r['x'] - data['pix']['on2'][0]) < 0.6
        assert abs(r['y'] - data['pix']['on2'][1]) < 0.6
        assert abs(r['x_image'] - (data['pix']['on2'][0] - 1400)) < 0.6
        assert abs(r['y_image'] - (data['pix']['on2'][1] - 1700)) < 0.6
        # (1822, 1771) is outside the 400x256 subarray at (1401, 1701)
        assert not _row(res.table, sub, 'far')['on_chip']
        assert not _row(res.table, sub, 'on1')['on_chip']

    def test_summary_counts_dithers(self, data):
        files = [data['files'][k] for k in ('after', 'before', 'swapped')]
        res = exposure_impact(files, bpixtab=data['new'],
                              sources=data['sources'])
        s = {row['id']: row for row in res.summary}
        assert s['on2']['n_exposures'] == 3
        assert s['on2']['n_on_chip'] == 3
        assert s['on2']['n_flagged'] == 2
        assert s['on2']['n_unaffected'] == 1   # only the early exposure
        assert s['far']['n_unaffected'] == 3

    def test_region_file(self, data, tmp_path):
        ra, dec = sky_of(2, *data['pix']['on2'])
        ra2, dec2 = sky_of(2, *data['pix']['far'])
        reg = tmp_path / 'src.reg'
        reg.write_text('# Region file format: DS9 version 4.1\nicrs\n'
                       f'point({ra:.9f},{dec:.9f}) # point=x text={{A}}\n'
                       f'circle({ra2:.9f},{dec2:.9f},0.5") # text={{B}}\n')
        src = read_sources(reg)
        assert list(src['id']) == ['A', 'B']
        assert np.isnan(src['radius'][0].value)
        assert src['radius'][1].to_value(u.arcsec) == pytest.approx(0.5)
        res = exposure_impact([data['files']['after']], bpixtab=data['new'],
                              sources=reg)
        a = _row(res.table, data['files']['after'], 'A')
        b = _row(res.table, data['files']['after'], 'B')
        assert a['flagged'] and abs(a['x'] - data['pix']['on2'][0]) < 0.6
        assert not b['flagged']
        assert b['radius'].value == pytest.approx(10, rel=0.05)  # 0.5"/0.05"

    def test_sexagesimal_and_units(self, data, tmp_path):
        from astropy.coordinates import SkyCoord
        ra, dec = sky_of(2, *data['pix']['on2'])
        c = SkyCoord(ra * u.deg, dec * u.deg)
        t = Table({'id': ['s', 'q'],
                   'ra': [c.ra.to_string(u.hourangle, sep=':', precision=5)] * 2,
                   'dec': [c.dec.to_string(u.deg, sep=':', precision=4,
                                           alwayssign=True)] * 2})
        t.write(tmp_path / 'sx.ecsv')
        src = read_sources(tmp_path / 'sx.ecsv')
        assert src['ra'][0].to_value(u.deg) == pytest.approx(ra, abs=1e-6)
        assert src['dec'][0].to_value(u.deg) == pytest.approx(dec, abs=1e-6)
        q = Table({'id': ['r'], 'ra': [ra * 3600] * u.arcsec,
                   'dec': [dec] * u.deg})
        q.write(tmp_path / 'q.ecsv')
        assert read_sources(tmp_path / 'q.ecsv')['ra'][0].to_value(u.deg) == \
            pytest.approx(ra)

    def test_missing_radec_values(self, tmp_path):
        t = Table({'id': ['a', 'b'], 'ra': [1.0, np.nan], 'dec': [2.0, 3.0]})
        t.write(tmp_path / 'n.ecsv')
        with pytest.raises(InputFileError, match='finite ra'):
            read_sources(tmp_path / 'n.ecsv')

    def test_no_useafter(self, data, tmp_path):
        with fits.open(data['new']) as h:
            del h[0].header['USEAFTER']
            h.writeto(tmp_path / 'nu_bpx.fits')
        from acs_flecks.exceptions import ReferenceFileError
        with pytest.raises(ReferenceFileError, match='USEAFTER'):
            DeliveredTable.read(tmp_path / 'nu_bpx.fits')

    def test_pixel_regions_refused(self, tmp_path):
        reg = tmp_path / 'pix.reg'
        reg.write_text('# Region file format: DS9\nimage\ncircle(10,10,3)\n')
        with pytest.raises(InputFileError, match='pixel coordinates'):
            read_sources(reg)

    def test_fleck_rows_from_history(self, data):
        table = DeliveredTable.read(data['new'])
        assert 'added' in table.selection
        # the reference's bad column (flag 4) is not a fleck
        ref_rows = len(fits.getdata(data['ref'], 1))
        assert not table.fleck_rows[:ref_rows].any()
        assert table.fleck_rows[ref_rows:].all()

    def test_reference_bad_column_is_not_a_fleck(self, data, tmp_path):
        # a source on the reference's flag-4 bad column x=100 of WFC2
        ra, dec = sky_of(2, 100, 1000)
        t = Table(rows=[('col', ra, dec)], names=('id', 'ra', 'dec'))
        t.write(tmp_path / 's.ecsv')
        for kwargs in ({}, {'reference': data['ref']}):
            res = exposure_impact([data['files']['after']],
                                  bpixtab=data['new'],
                                  sources=tmp_path / 's.ecsv', **kwargs)
            r = res.table[0]
            assert not r['flagged']
            assert r['exposure_dq'] == 0  # the synthetic DQ has no flag there

    def test_foreign_table_warns(self, data, tmp_path):
        plain = tmp_path / 'plain_bpx.fits'
        with fits.open(data['new']) as h:
            del h[0].header['HISTORY']
            h.writeto(plain)
        with pytest.warns(FleckRowsWarning):
            table = DeliveredTable.read(plain)
        assert table.fleck_rows.sum() == np.sum(
            np.asarray(table.bpx.table['VALUE']) & 4 > 0)

    def test_flux_loss(self, data, tmp_path):
        chip, xc, yc = FLECKS[0]
        origin = (xc - 20, yc - 20)     # map pixel [0, 0] = chip (x, y)
        yy, xx = np.mgrid[0:40, 0:40]
        disk = np.hypot(xx + origin[0] - xc, yy + origin[1] - yc) <= FLECK_R
        planes = {'F435W': 0.5, 'F814W': 0.3}
        cube = np.array([np.where(disk, v, 1.0) + 0.002 * np.sin(xx + yy)
                         for v in planes.values()], np.float32)
        h = fits.Header()
        h['CCDCHIP'] = chip
        h['LTV1'] = -(origin[0] - 1)
        h['LTV2'] = -(origin[1] - 1)
        mh = h.copy()
        for i, f in enumerate(planes, 1):
            mh[f'FILTER{i}'] = f
        fits.HDUList([fits.PrimaryHDU(header=h),
                      fits.ImageHDU(cube, mh, name='TRANS')]).writeto(
            tmp_path / 'fleck1_maps.fits')
        fits.HDUList([fits.PrimaryHDU(header=h),
                      fits.ImageHDU(disk.astype(np.uint8), h, name='MASTER')]
                     ).writeto(tmp_path / 'fleck1_aperture.fits')
        maps = read_fleck_maps(tmp_path)
        assert maps[0].has_aperture and maps[0].origin == origin
        ra, dec = sky_of(chip, xc, yc)
        t = Table(rows=[('c', ra, dec)], names=('id', 'ra', 'dec'))
        t.write(tmp_path / 's.ecsv')
        res = exposure_impact(
            [data['files']['after'], data['files']['before']],
            bpixtab=data['new'], sources=tmp_path / 's.ecsv',
            flecks=tmp_path, radius=2.0)
        after = _row(res.table, data['files']['after'], 'c')
        before = _row(res.table, data['files']['before'], 'c')
        # F814W exposure: the 0.3 plane; the r=2 aperture is inside the disk
        assert after['loss_filter'] == 'F814W'
        assert after['flux_loss'] == pytest.approx(0.7, abs=0.002)
        assert before['flux_loss'] == 0.0
        # an aperture half on the fleck: r=2 at the disk edge
        ra, dec = sky_of(chip, xc + FLECK_R, yc)
        t = Table(rows=[('e', ra, dec)], names=('id', 'ra', 'dec'))
        t.write(tmp_path / 'e.ecsv')
        res = exposure_impact([data['files']['after']], bpixtab=data['new'],
                              sources=tmp_path / 'e.ecsv', flecks=maps,
                              radius=2.0)
        assert 0.2 < res.table[0]['flux_loss'] < 0.5


# ------------------------------------------------------------------ flag --
class TestFlag:
    def test_dq_equals_input_or_dodqi(self, data, tmp_path):
        names = ('after', 'before', 'swapped', 'sub')
        files = [data['files'][k] for k in names]
        sums = {f: sha256(f) for f in files}
        out = tmp_path / 'out'
        result = flag_exposures(files, bpixtab=data['new'], outdir=out)
        assert list(result['applied']) == [True, False, True, True]
        assert 'unchanged' in result['note'][1]
        for f in files:
            assert sha256(f) == sums[f], 'an input was modified'
        # the early exposure is a byte copy
        assert sha256(out / os.path.basename(data['files']['before'])) == \
            sums[data['files']['before']]
        for k in ('after', 'swapped', 'sub'):
            src = data['files'][k]
            with fits.open(src) as a, fits.open(out / os.path.basename(src)) as b:
                assert any(data['new'].name in str(v)
                           for v in b[0].header['HISTORY'])
                for ver in (1, 2):
                    if ('SCI', ver) not in a:
                        continue
                    sh = a['SCI', ver].header
                    exp = dodqi_reference(
                        data['new'], ccdchip=sh['CCDCHIP'],
                        shape=a['DQ', ver].data.shape,
                        ltv=(sh['LTV1'], sh['LTV2']),
                        ccdamp=a[0].header['CCDAMP'],
                        ccdgain=a[0].header['CCDGAIN'])
                    want = a['DQ', ver].data.view(np.uint16) | exp
                    got = b['DQ', ver].data.view(np.uint16)
                    np.testing.assert_array_equal(got, want)
                    assert b['DQ', ver].data.dtype == a['DQ', ver].data.dtype
                    np.testing.assert_array_equal(b['SCI', ver].data,
                                                  a['SCI', ver].data)
                    assert b['SCI', ver].header == a['SCI', ver].header
                names_a = [(h.name, h.ver) for h in a]
                assert [(h.name, h.ver) for h in b] == names_a
                # every other extension (SCI, ERR, lookup tables, HDRLET,
                # WCSCORR) is kept as it was
                for ha, hb in zip(a[1:], b[1:]):
                    if ha.name == 'DQ':
                        continue
                    assert ha.header == hb.header, ha.name
                    assert np.asarray(ha.data).tobytes() == \
                        np.asarray(hb.data).tobytes(), ha.name

    def test_dodqi_edge_cases(self, data, tmp_path):
        # a table CALACS accepts as it is: runs past the edges (clipped),
        # one wholly off the chip, an int32 CCDGAIN column, wildcards -1 and
        # 'ANY', no row for CCDCHIP 1 (the DQ 64 place-holder)
        rows = [('N/A', 4090, 10, 20, 1, 4, 2, -999),    # past x = 4096
                ('ANY', 50, -5, 10, 2, 4, 2, 2),         # starts below y = 1
                ('N/A', 5000, 10, 5, 1, 4, 2, -1),       # wholly off
                ('N/A', 1390, 1702, 20, 1, 8, -1, 2),    # across the subarray
                ('B', 1500, 1750, 3, 1, 16, 2, -999),    # amp B only
                ('N/A', 1410, 1690, 30, 2, 32, 2, 1)]    # gain 1 only
        cols = list(zip(*rows))
        hdu = fits.BinTableHDU.from_columns([
            fits.Column('CCDAMP', '4A', array=np.array(cols[0])),
            fits.Column('PIX1', 'J', array=np.array(cols[1], np.int32)),
            fits.Column('PIX2', 'J', array=np.array(cols[2], np.int32)),
            fits.Column('LENGTH', 'J', array=np.array(cols[3], np.int32)),
            fits.Column('AXIS', 'J', array=np.array(cols[4], np.int32)),
            fits.Column('VALUE', 'J', array=np.array(cols[5], np.int32)),
            fits.Column('CCDCHIP', 'J', array=np.array(cols[6], np.int32)),
            fits.Column('CCDGAIN', 'J', array=np.array(cols[7], np.int32)),
        ], name='BPX')
        ph = fits.Header()
        ph['INSTRUME'] = 'ACS'
        ph['DETECTOR'] = 'WFC'
        ph['USEAFTER'] = 'May 05 2017 00:00:00'
        table = tmp_path / 'edge_bpx.fits'
        fits.HDUList([fits.PrimaryHDU(header=ph), hdu]).writeto(table)
        files = [data['files']['after'], data['files']['sub']]
        with pytest.warns(FleckRowsWarning):
            flag_exposures(files, bpixtab=table, outdir=tmp_path / 'o')
        for src in files:
            with fits.open(src) as a, \
                    fits.open(tmp_path / 'o' / os.path.basename(src)) as b:
                for ver in (1, 2):
                    if ('SCI', ver) not in a:
                        continue
                    sh = a['SCI', ver].header
                    exp = dodqi_reference(
                        table, ccdchip=sh['CCDCHIP'],
                        shape=a['DQ', ver].data.shape,
                        ltv=(sh['LTV1'], sh['LTV2']), ccdamp='ABCD',
                        ccdgain=2.0)
                    got = b['DQ', ver].data.view(np.uint16)
                    np.testing.assert_array_equal(
                        got, a['DQ', ver].data.view(np.uint16) | exp)
                    if sh['CCDCHIP'] == 1:
                        # only the CCDCHIP = -1 row applies to WFC1
                        assert (got[1701, 1389:1409] & 8 == 8).all()
                        assert got[1, 1] & 64 == 0
                    if sh['LTV1'] == 0 and sh['CCDCHIP'] == 2:
                        assert got[9, 4089:].tolist() == [4] * 7
                        # PIX2 = -5 .. 4: rows 1-4 on the chip
                        assert got[0:5, 49].tolist() == [4] * 4 + [0]
                    if sh['LTV1'] != 0:   # subarray at chip (1401, 1701)
                        # chip x 1390-1409 -> image x 1-9
                        assert (got[1, 0:9] & 8 == 8).all()
                        assert got[1, 9] & 8 == 0

    def test_placeholder_when_no_row_applies(self, data, tmp_path):
        ph = fits.Header()
        ph['INSTRUME'] = 'ACS'
        ph['DETECTOR'] = 'WFC'
        ph['USEAFTER'] = 'May 05 2017 00:00:00'
        hdu = fits.BinTableHDU.from_columns([
            fits.Column(n, 'I', array=np.array([v], np.int16)) for n, v in
            (('PIX1', 10), ('PIX2', 10), ('LENGTH', 3), ('AXIS', 1),
             ('VALUE', 4), ('CCDCHIP', 2))])
        table = tmp_path / 'wfc2only_bpx.fits'
        fits.HDUList([fits.PrimaryHDU(header=ph), hdu]).writeto(table)
        with pytest.warns(FleckRowsWarning):
            flag_exposures([data['files']['after']], bpixtab=table,
                           outdir=tmp_path / 'o')
        with fits.open(data['files']['after']) as a, fits.open(
                tmp_path / 'o' / os.path.basename(data['files']['after'])) as b:
            # [DQ,2] is CCDCHIP 1: no row, DQ 64 at 0-indexed [1, 1] (dodqi.c)
            diff = b['DQ', 2].data.view(np.uint16) ^ \
                a['DQ', 2].data.view(np.uint16)
            assert np.argwhere(diff).tolist() == [[1, 1]] and diff[1, 1] == 64
            diff = b['DQ', 1].data.view(np.uint16) ^ \
                a['DQ', 1].data.view(np.uint16)
            assert np.argwhere(diff).tolist() == [[9, 9], [9, 10], [9, 11]]

    def test_selection_rows(self, data, tmp_path):
        # the rows for amplifier 'A' and gain 1 do not apply to CCDAMP=ABCD,
        # CCDGAIN=2; the fleck pixels and the ABCD / gain-2 rows do
        out = tmp_path / 'o'
        flag_exposures([data['files']['after']], bpixtab=data['new'],
                       outdir=out)
        with fits.open(out / os.path.basename(data['files']['after'])) as b:
            dq1 = b['DQ', 2].data.view(np.uint16)   # CCDCHIP=1
            dq2 = b['DQ', 1].data.view(np.uint16)   # CCDCHIP=2
        assert dq1[199, 199] & 32 == 0                  # amp A only
        assert dq1[299, 299] & 64 == 64                 # CCDAMP=ABCD
        assert dq2[399, 399] & 128 == 0                 # gain 1 only
        assert dq2[499, 499] & 256 == 256               # gain 2
        assert dq2[1799, 1699] & 16 == 16               # WFC2 row
        assert dq1[1799, 1699] & 16 == 0
        assert dq2[1772, 1520] & 4 == 4                 # fleck (1521, 1773)
        assert dq1[599, 2999] & 4 == 4                  # fleck (3000, 600)
        assert dq2[1772, 1520 + 300] & 4 == 0

    def test_subarray_ltv_shift(self, data, tmp_path):
        out = tmp_path / 'o'
        flag_exposures([data['files']['sub']], bpixtab=data['new'],
                       outdir=out)
        with fits.open(out / os.path.basename(data['files']['sub'])) as b:
            dq = b['DQ', 1].data.view(np.uint16)
        # chip (1521, 1773) is image (121, 73): numpy [72, 120]
        assert dq[72, 120] & 4 == 4
        assert dq[72, 121 + 10] & 4 == 0
        # the bad column x=100 is outside this subarray; the WFC2 hot run
        # (1700-1739, 1800) is image (300-339, 100)
        assert dq[99, 299] & 16 == 16 and dq[99, 339] & 16 == 0

    def test_checksum_kept_valid(self, data, tmp_path):
        src = tmp_path / 'jcksum01q_flc.fits'
        with fits.open(data['files']['sub']) as h:
            h.writeto(src, checksum=True)
        flag_exposures([src, src], bpixtab=data['new'], outdir=tmp_path / 'o')
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            with fits.open(tmp_path / 'o' / src.name, checksum=True) as h:
                assert 'CHECKSUM' in h['DQ', 1].header
                h['DQ', 1].data  # noqa: B018 - verifies DATASUM

    def test_output_equal_to_input_refused(self, data):
        d = os.path.dirname(data['files']['after'])
        before = sorted(os.listdir(d))
        with pytest.raises(AcsFlecksError, match='overwrite the input'):
            flag_exposures([data['files']['after']], bpixtab=data['new'],
                           outdir=d)
        assert sorted(os.listdir(d)) == before

    def test_same_names_refused(self, data, tmp_path):
        other = tmp_path / 'x'
        other.mkdir()
        dup = other / os.path.basename(data['files']['after'])
        shutil.copyfile(data['files']['after'], dup)
        with pytest.raises(AcsFlecksError, match='same file name'):
            flag_exposures([data['files']['after'], dup],
                           bpixtab=data['new'], outdir=tmp_path / 'out')
        assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------- the CLI --
class TestCLI:
    def test_impact_cli(self, data, tmp_path, capsys):
        out = tmp_path / 'impact.ecsv'
        rc = main(['impact', str(data['files']['after']),
                   str(data['files']['before']), '--bpixtab',
                   str(data['new']), '--sources', str(data['sources']),
                   '-o', str(out)])
        assert rc == 0
        t = QTable.read(out)
        assert len(t) == 8
        s = QTable.read(tmp_path / 'impact_summary.ecsv')
        assert list(s['id']) == ['on2', 'on1', 'far', 'off']
        assert 'n_unaffected' in capsys.readouterr().out

    def test_flag_cli(self, data, tmp_path, capsys):
        rc = main(['flag', str(data['files']['before']), '--bpixtab',
                   str(data['new']), '-o', str(tmp_path / 'o')])
        assert rc == 0
        assert 'copied unchanged' in capsys.readouterr().out


def _bad(tmp_path, capsys, argv, outputs):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith('acs_flecks: error:'), err
    for p in outputs:
        assert not os.path.exists(p), f'{p} was written'
    return err[0]


class TestBadInput:
    @pytest.fixture
    def variants(self, data, tmp_path_factory):
        d = tmp_path_factory.mktemp('bad')
        hrc = build_exposure(d / 'jhrc0001q_flc.fits', expstart=AFTER,
                             subarray=(2, 1, 1, 64, 64), detector='HRC')
        nowcs = build_exposure(d / 'jnowcs01q_flc.fits', expstart=AFTER,
                               subarray=(2, 1401, 1701, 64, 64))
        with fits.open(nowcs, mode='update') as h:
            for key in list(h[1].header.keys()):
                if key.startswith(('CTYPE', 'CRVAL', 'CD1_', 'CD2_', 'CRPIX')):
                    del h[1].header[key]
        nolut = build_exposure(d / 'jnolut01q_flc.fits', expstart=AFTER,
                               subarray=(2, 1401, 1701, 64, 64),
                               drop=('D2IMARR', 'WCSDVARR'))
        broken = {}
        for name, change in (('zerocd', {'CD1_1': 0.0, 'CD1_2': 0.0,
                                         'CD2_1': 0.0, 'CD2_2': 0.0}),
                             ('badctype', {'CTYPE2': 'RA---TAN-SIP'}),
                             ('badcrval', {'CRVAL2': 95.0})):
            broken[name] = build_exposure(
                d / f'j{name[:5]}01q_flc.fits', expstart=AFTER,
                subarray=(2, 1401, 1701, 64, 64))
            with fits.open(broken[name], mode='update') as h:
                for key, value in change.items():
                    h[1].header[key] = value
        noradec = d / 'noradec.ecsv'
        Table({'id': ['a'], 'x': [1.0], 'y': [2.0]}).write(noradec)
        return dict(hrc=hrc, nowcs=nowcs, nolut=nolut, noradec=noradec,
                    **broken)

    @pytest.mark.parametrize('case, match', [
        ('hrc', 'detector HRC'), ('nowcs', 'no WCS'),
        ('nolut', 'cannot be evaluated'), ('zerocd', 'pixel scale'),
        ('badctype', 'Inconsistent projection'),
        ('badcrval', 'cannot be evaluated'),
        ('hrc_table', 'detector HRC'), ('noradec', 'lacks column'),
        ('late_bad', 'no WCS')])
    def test_impact(self, data, variants, tmp_path, capsys, case, match):
        exp = [str(data['files']['after'])]
        bpx, srcs = str(data['new']), str(data['sources'])
        if case in ('hrc', 'nowcs', 'nolut', 'zerocd', 'badctype',
                    'badcrval'):
            exp = [str(variants[case])]
        elif case == 'late_bad':   # a good exposure, then a bad one
            exp = exp + [str(variants['nowcs'])]
        elif case == 'hrc_table':
            bpx = str(real_file('j4d1435jj_bpx.fits'))
        elif case == 'noradec':
            srcs = str(variants['noradec'])
        out = tmp_path / 'i.ecsv'
        line = _bad(tmp_path, capsys, ['impact', *exp, '--bpixtab', bpx,
                                       '--sources', srcs, '-o', str(out)],
                    [out, tmp_path / 'i_summary.ecsv'])
        assert match in line

    @pytest.mark.parametrize('case, match', [
        ('hrc', 'detector HRC'), ('hrc_table', 'detector HRC')])
    def test_flag(self, data, variants, tmp_path, capsys, case, match):
        exp = str(variants['hrc']) if case == 'hrc' else \
            str(data['files']['after'])
        bpx = str(real_file('j4d1435jj_bpx.fits')) if case == 'hrc_table' \
            else str(data['new'])
        out = tmp_path / 'o'
        line = _bad(tmp_path, capsys, ['flag', exp, '--bpixtab', bpx, '-o',
                                       str(out)], [out])
        assert match in line

    def test_stripped_header_only_file(self, tmp_path, capsys, data):
        # the real file itself has no pixels: refused, not "off every chip"
        real = tmp_path / 'jbt122x8q_flc.fits'
        shutil.copyfile(real_file(REAL_FLC), real)
        for argv, outputs in (
                (['impact', str(real), '--bpixtab', str(data['new']),
                  '--sources', str(data['sources']), '-o',
                  str(tmp_path / 'i.ecsv')], [tmp_path / 'i.ecsv']),
                (['flag', str(real), '--bpixtab', str(data['new']), '-o',
                  str(tmp_path / 'o')], [tmp_path / 'o'])):
            line = _bad(tmp_path, capsys, argv, outputs)
            assert 'stripped' in line

    def test_output_is_input(self, data, tmp_path, capsys):
        src = tmp_path / 'src.ecsv'
        shutil.copyfile(data['sources'], src)
        before = sha256(src)
        _bad(tmp_path, capsys, ['impact', str(data['files']['after']),
                                '--bpixtab', str(data['new']), '--sources',
                                str(src), '-o', str(src)], [])
        assert sha256(src) == before


def test_report_section(data, tmp_path):
    from acs_flecks.html import HTMLReport, add_science_section

    res = exposure_impact([data['files']['after'], data['files']['before']],
                          bpixtab=data['new'], sources=data['sources'])
    done = flag_exposures([data['files']['before']], bpixtab=data['new'],
                          outdir=tmp_path / 'o')
    rep = HTMLReport('impact')
    assert add_science_section(rep) is None
    add_science_section(rep, impact=res, flagged=done)
    html = open(rep.write(str(tmp_path / 'r.html'))).read()
    assert 'Science exposures: what the flecks touch' in html
    on2 = res.summary[res.summary['id'] == 'on2'][0]
    assert f'{on2["ra"].to_value(u.deg):.6f}' in html
    assert 'copied unchanged' in html
    assert 'jafter01q_flc.fits' in html     # the affected pair is listed
