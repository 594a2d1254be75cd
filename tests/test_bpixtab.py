"""Tests of acs_flecks.bpixtab: CALACS expansion, runs, merge, delivery."""

import hashlib
import shutil
import subprocess

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from numpy.testing import assert_array_equal

from acs_flecks.bpixtab import (bad_pixel_rows, check_bpixtab_rows,
                                expand_bpixtab, format_pedigree,
                                format_useafter, mask_to_runs,
                                merge_bad_pixels, parse_useafter,
                                read_bpixtab, select_bad_pixels)
from acs_flecks.certify import crds_validate
from acs_flecks.cli import main
from acs_flecks.delivery import deliver_bpixtab, write_bpixtab
from acs_flecks.exceptions import (AcsFlecksError, BpixtabWarning,
                                   ReferenceFileError)

from conftest import real_file

HRC_BPX = 'j4d1435jj_bpx.fits'
COLS = ('PIX1', 'PIX2', 'LENGTH', 'AXIS', 'VALUE', 'CCDCHIP')


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def rows_table(rows, *, amp=None, gain=None, gain_dtype=np.int16):
    """Table from (PIX1, PIX2, LENGTH, AXIS, VALUE, CCDCHIP) tuples."""
    t = Table(rows=rows or None, names=COLS, dtype=[np.int16] * 6)
    if amp is not None:
        t['CCDAMP'] = np.array(amp, dtype='S4')
    if gain is not None:
        t['CCDGAIN'] = np.array(gain, dtype=gain_dtype)
    return t


def write_wfc_reference(path, rows=None, *, n=300, seed=3, amp=True,
                        gain=True, detector='WFC'):
    """A synthetic WFC bpixtab in the real layout (primary + BPX table
    with CCDAMP 4A, int16 columns, CCDGAIN real)."""
    rng = np.random.default_rng(seed)
    if rows is None:
        axis = rng.integers(1, 3, n)
        length = rng.integers(1, 40, n)
        pix1 = np.where(axis == 1, rng.integers(1, 4096 - 40, n),
                        rng.integers(1, 4097, n))
        pix2 = np.where(axis == 2, rng.integers(1, 2048 - 40, n),
                        rng.integers(1, 2049, n))
        value = rng.choice([4, 16, 32, 64, 512, 1024], n)
        chip = rng.choice([1, 2, -999], n)
        rows = list(zip(pix1, pix2, length, axis, value, chip))
    cols = []
    n = len(rows)
    arr = np.array(rows, dtype=np.int64).reshape(n, 6)
    if amp:
        cols.append(fits.Column('CCDAMP', '4A', array=np.full(n, 'N/A')))
    for i, name in enumerate(COLS):
        cols.append(fits.Column(name, '1I', array=arr[:, i],
                                unit='pixel' if i < 3 else None))
    if gain:
        cols.append(fits.Column('CCDGAIN', '1E', array=np.full(n, -999.0)))
    ph = fits.Header()
    ph['INSTRUME'] = 'ACS'
    ph['DETECTOR'] = detector
    ph['FILETYPE'] = 'BAD PIXELS'
    ph['USEAFTER'] = 'Mar 01 2002 00:00:00'
    ph['PEDIGREE'] = 'INFLIGHT 01/03/2002 01/03/2002'
    ph['DESCRIP'] = 'synthetic WFC bad pixels for tests'
    ph.add_history('synthetic reference')
    th = fits.BinTableHDU.from_columns(cols, name='BPX')
    th.header['EXTVER'] = 1
    fits.HDUList([fits.PrimaryHDU(header=ph), th]).writeto(path)
    return path


def dodqi_loop(table, *, ccdchip, shape, ltv=(0, 0), ccdamp=None,
               ccdgain=None):
    """Literal per-row port of hstcal dodqi.c DQINormal (the test oracle)."""
    ny, nx = shape
    dq = np.zeros(shape, np.uint16)
    for row in table:
        chip = int(row['CCDCHIP'])
        if chip not in (-999, -1) and chip != ccdchip:
            continue
        if ccdamp is not None and 'CCDAMP' in table.colnames:
            amp = row['CCDAMP']
            amp = (amp.decode() if isinstance(amp, bytes) else str(amp)).rstrip()
            if amp not in ('N/A', 'ANY') and amp != ccdamp:
                continue
        if ccdgain is not None and 'CCDGAIN' in table.colnames:
            g = float(row['CCDGAIN'])
            if g not in (-999.0, -1.0) and np.float32(g) != np.float32(ccdgain):
                continue
        xstart = int(int(row['PIX1']) - 1 + ltv[0])
        ystart = int(int(row['PIX2']) - 1 + ltv[1])
        length, flag = int(row['LENGTH']), int(row['VALUE'])
        if int(row['AXIS']) == 1:
            xlow, xhigh = xstart, xstart + length - 1
            if xhigh < 0 or xlow >= nx or ystart < 0 or ystart >= ny:
                continue
            for i in range(max(xlow, 0), min(xhigh, nx - 1) + 1):
                dq[ystart, i] |= flag
        else:
            ylow, yhigh = ystart, ystart + length - 1
            if xstart < 0 or xstart >= nx or yhigh < 0 or ylow >= ny:
                continue
            for j in range(max(ylow, 0), min(yhigh, ny - 1) + 1):
                dq[j, xstart] |= flag
    return dq


@pytest.fixture
def hrc_copy(tmp_path):
    src = real_file(HRC_BPX)
    dst = tmp_path / HRC_BPX
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def wfc_ref(tmp_path):
    return write_wfc_reference(tmp_path / 'ref_bpx.fits')


def fleck_pixels():
    """Two flecks on WFC2 and WFC1, with one pixel above 50%."""
    t = QTable()
    t['ccdchip'] = [2, 2, 2, 2, 2, 1, 1, 1]
    t['x'] = [1521, 1522, 1523, 1521, 1522, 3001, 3001, 3002]
    t['y'] = [1773, 1773, 1773, 1774, 1774, 100, 101, 101]
    t['transmissivity'] = [0.1, 0.2, 0.45, 0.3, 0.7, 0.05, 0.2, 0.49]
    t['fleck_id'] = ['fleck1'] * 5 + ['fleck2'] * 3
    return t


class TestExpand:
    def test_off_by_one_axis1(self):
        # PIX1=3, PIX2=2, LENGTH=4 along x: numpy [1, 2:6]
        t = rows_table([(3, 2, 4, 1, 4, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(5, 8))
        expect = np.zeros((5, 8), np.uint16)
        expect[1, 2:6] = 4
        assert_array_equal(m, expect)

    def test_off_by_one_axis2(self):
        # PIX1=3, PIX2=2, LENGTH=3 along y: numpy [1:4, 2]
        t = rows_table([(3, 2, 3, 2, 16, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(5, 8))
        expect = np.zeros((5, 8), np.uint16)
        expect[1:4, 2] = 16
        assert_array_equal(m, expect)

    def test_first_and_last_pixel(self):
        t = rows_table([(1, 1, 1, 1, 4, 1), (8, 5, 1, 2, 8, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(5, 8))
        assert m[0, 0] == 4 and m[4, 7] == 8
        assert m.sum() == 12

    def test_clipping(self):
        t = rows_table([(6, 1, 10, 1, 4, 1),      # runs off the right edge
                        (-2, 2, 4, 1, 8, 1),      # starts left of the chip
                        (2, 4, 10, 2, 16, 1),     # runs off the top
                        (20, 1, 3, 1, 32, 1),     # entirely off: dropped
                        (1, 9, 3, 1, 64, 1)])     # row off: dropped
        m = expand_bpixtab(t, ccdchip=1, shape=(5, 8))
        expect = np.zeros((5, 8), np.uint16)
        expect[0, 5:8] |= 4
        expect[1, 0] |= 8
        expect[3:5, 1] |= 16
        assert_array_equal(m, expect)

    def test_chip_selection_and_wildcards(self):
        t = rows_table([(1, 1, 1, 1, 4, 1), (2, 1, 1, 1, 8, 2),
                        (3, 1, 1, 1, 16, -999), (4, 1, 1, 1, 32, -1)])
        m1 = expand_bpixtab(t, ccdchip=1, shape=(2, 5))
        m2 = expand_bpixtab(t, ccdchip=2, shape=(2, 5))
        assert_array_equal(m1[0], [4, 0, 16, 32, 0])
        assert_array_equal(m2[0], [0, 8, 16, 32, 0])

    def test_amp_and_gain_selection(self):
        t = rows_table([(1, 1, 1, 1, 4, 1), (2, 1, 1, 1, 8, 1),
                        (3, 1, 1, 1, 16, 1), (4, 1, 1, 1, 32, 1)],
                       amp=['N/A', 'A', 'ANY', 'B'],
                       gain=[-999, 2, 1, -999], gain_dtype=np.float32)
        m = expand_bpixtab(t, ccdchip=1, shape=(1, 4), ccdamp='A',
                           ccdgain=2.0)
        assert_array_equal(m[0], [4, 8, 0, 0])
        # None = the union over amplifiers and gains
        assert_array_equal(expand_bpixtab(t, ccdchip=1, shape=(1, 4))[0],
                           [4, 8, 16, 32])

    def test_int32_gain_truncates(self):
        # dodqi.c compares an int (TFORM J) CCDGAIN with (int)ccdgain
        t = rows_table([(1, 1, 1, 1, 4, 1)], gain=[1], gain_dtype=np.int32)
        assert expand_bpixtab(t, ccdchip=1, shape=(1, 2), ccdgain=1.4)[0, 0] == 4
        t = rows_table([(1, 1, 1, 1, 4, 1)], gain=[1], gain_dtype=np.float32)
        assert expand_bpixtab(t, ccdchip=1, shape=(1, 2), ccdgain=1.4)[0, 0] == 0

    def test_ltv_shift(self):
        # a raw WFC chip has LTV1=24: table pixel 1 lands on image column 25
        t = rows_table([(1, 1, 2, 1, 4, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(3, 30), ltv=(24, 0))
        assert np.flatnonzero(m[0]).tolist() == [24, 25]
        # a subarray starting at chip column 11 (LTV1=-10)
        t = rows_table([(12, 2, 1, 1, 4, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(3, 5), ltv=(-10, 0))
        assert m[1, 1] == 4 and m.sum() == 4

    def test_or_of_overlaps(self):
        t = rows_table([(1, 1, 3, 1, 4, 1), (2, 1, 1, 1, 16, 1),
                        (2, 1, 1, 1, 4, 1)])
        m = expand_bpixtab(t, ccdchip=1, shape=(1, 3))
        assert_array_equal(m[0], [4, 20, 4])

    def test_placeholder(self):
        t = rows_table([(1, 1, 1, 1, 4, 2)])
        m = expand_bpixtab(t, ccdchip=1, shape=(3, 3), placeholder=True)
        assert m[1, 1] == 64 and m.sum() == 64
        assert expand_bpixtab(t, ccdchip=1, shape=(3, 3)).sum() == 0

    @pytest.mark.parametrize('bad', [(1, 1, 0, 1, 4, 1), (1, 1, 2, 3, 4, 1)])
    def test_rejected_rows(self, bad):
        with pytest.raises(ReferenceFileError, match='LENGTH|AXIS'):
            expand_bpixtab(rows_table([(1, 1, 1, 1, 4, 1), bad]), ccdchip=1,
                           shape=(3, 3))

    def test_matches_literal_port(self):
        rng = np.random.default_rng(7)
        n = 400
        shape = (40, 60)
        t = rows_table(list(zip(rng.integers(-5, 66, n), rng.integers(-5, 46, n),
                                rng.integers(1, 15, n), rng.integers(1, 3, n),
                                rng.choice([1, 4, 16, 1024], n),
                                rng.choice([1, 2, -999], n))),
                       amp=rng.choice(['N/A', 'A', 'B'], n),
                       gain=rng.choice([-999.0, 1.0, 2.0], n),
                       gain_dtype=np.float32)
        for kw in ({}, {'ccdamp': 'A', 'ccdgain': 2.0},
                   {'ltv': (24, 0)}, {'ltv': (-7, -3), 'ccdamp': 'B'}):
            for chip in (1, 2):
                assert_array_equal(
                    expand_bpixtab(t, ccdchip=chip, shape=shape, **kw),
                    dodqi_loop(t, ccdchip=chip, shape=shape, **kw))


class TestRuns:
    def test_mask_to_runs_roundtrip(self):
        rng = np.random.default_rng(1)
        mask = rng.random((30, 50)) < 0.3
        pix1, pix2, length = mask_to_runs(mask)
        t = rows_table([(a, b, c, 1, 4, 1) for a, b, c in
                        zip(pix1, pix2, length)])
        assert_array_equal(expand_bpixtab(t, ccdchip=1, shape=mask.shape) == 4,
                           mask)
        # maximal runs: no two runs touch along x
        ends = set(zip(pix1 + length, pix2))
        assert not ends & set(zip(pix1, pix2))

    def test_bad_pixel_rows(self):
        pix = select_bad_pixels(fleck_pixels(), threshold=0.5)
        rows = bad_pixel_rows(pix, value=4)
        # fleck1: y=1773 x=1521-1523 (one run), y=1774 x=1521; fleck2 ...
        got = sorted(zip(rows['CCDCHIP'], rows['PIX2'], rows['PIX1'],
                         rows['LENGTH']))
        assert got == [(1, 100, 3001, 1), (1, 101, 3001, 2),
                       (2, 1773, 1521, 3), (2, 1774, 1521, 1)]
        assert set(rows['AXIS']) == {1} and set(rows['VALUE']) == {4}
        assert set(rows['CCDAMP']) == {'N/A'} and set(rows['CCDGAIN']) == {-999}


class TestSelectBadPixels:
    def test_threshold(self):
        t = select_bad_pixels(fleck_pixels(), threshold=0.5)
        assert len(t) == 7
        assert (t['transmissivity'] < 0.5).all()

    def test_off_chip(self):
        t = fleck_pixels()
        t['x'][0] = 4097
        with pytest.raises(AcsFlecksError, match='off the 4096x2048'):
            select_bad_pixels(t)

    def test_wrong_chip(self):
        t = fleck_pixels()
        t['ccdchip'][0] = 3
        with pytest.raises(AcsFlecksError, match='not a WFC chip'):
            select_bad_pixels(t)

    def test_missing_column(self):
        t = fleck_pixels()
        del t['y']
        with pytest.raises(AcsFlecksError, match='lacks column'):
            select_bad_pixels(t)


class TestReadReference:
    def test_real_hrc(self):
        bpx = read_bpixtab(real_file(HRC_BPX))
        assert len(bpx.table) == 4008
        assert bpx.detector == 'HRC' and bpx.extname == 'BPX'
        assert bpx.table['CCDAMP'].dtype == np.dtype('S3')
        assert bpx.table['PIX1'].dtype.itemsize == 2

    def test_hrc_against_wfc(self):
        with pytest.raises(ReferenceFileError, match='detector HRC.*WFC'):
            read_bpixtab(real_file(HRC_BPX), detector='WFC')

    def test_missing_columns(self, tmp_path):
        path = tmp_path / 'x_bpx.fits'
        write_wfc_reference(path, n=5)
        with fits.open(path) as h:
            cols = [c for c in h[1].columns if c.name != 'LENGTH']
            fits.HDUList([h[0].copy(), fits.BinTableHDU.from_columns(
                cols, name='BPX')]).writeto(tmp_path / 'y_bpx.fits')
        with pytest.raises(ReferenceFileError, match='lacks required column'):
            read_bpixtab(tmp_path / 'y_bpx.fits')

    @pytest.mark.parametrize('row, match', [
        ((10, 10, 0, 1, 4, 1), 'LENGTH <= 0'),
        ((10, 10, -3, 2, 4, 1), 'LENGTH <= 0'),
        ((10, 10, 5, 3, 4, 1), 'AXIS not 1 or 2'),
        ((10, 10, 5, 0, 4, -999), 'AXIS not 1 or 2'),
        ((10, 10, 5, 1, -4, 1), 'VALUE outside 0..32767'),
        ((10, 10, 5, 1, -32768, 2), 'VALUE outside 0..32767')])
    def test_rejected_rows(self, tmp_path, row, match):
        path = write_wfc_reference(tmp_path / 'r_bpx.fits',
                                   rows=[(1, 1, 1, 1, 4, 1), row])
        with pytest.raises(ReferenceFileError, match=match):
            read_bpixtab(path)
        assert check_bpixtab_rows(read_bpixtab(path, check=False).table,
                                  detector='WFC')

    def test_not_fits(self, tmp_path):
        p = tmp_path / 'x.fits'
        p.write_text('hello')
        with pytest.raises(ReferenceFileError, match='not a readable'):
            read_bpixtab(p)


class TestMerge:
    def test_expansion_is_reference_plus_flag(self, wfc_ref):
        bpx = read_bpixtab(wfc_ref)
        bad = fleck_pixels()
        merged = merge_bad_pixels(bpx, bad, value=4)
        truth = select_bad_pixels(bad, threshold=0.5)
        for chip in (1, 2):
            old = expand_bpixtab(bpx.table, ccdchip=chip)
            new = expand_bpixtab(merged, ccdchip=chip)
            expect = old.copy()
            sub = truth[truth['ccdchip'] == chip]
            expect[sub['y'] - 1, sub['x'] - 1] |= 4
            assert_array_equal(new, expect)
        assert merged.meta['added_pixels'] == 7
        # every reference row kept, unchanged and in order
        for name in bpx.table.colnames:
            assert_array_equal(merged[name][:len(bpx.table)], bpx.table[name])
            assert (merged[name].dtype.kind, merged[name].dtype.itemsize) == \
                (bpx.table[name].dtype.kind, bpx.table[name].dtype.itemsize)

    def test_no_row_for_already_flagged(self, tmp_path):
        # (1521, 1773) and (1522, 1773) already carry 4 (with 16), and
        # (1521, 1774) carries 16 only: it must get a new row
        path = write_wfc_reference(tmp_path / 'r_bpx.fits', rows=[
            (1521, 1773, 2, 1, 20, 2), (1521, 1774, 1, 1, 16, 2),
            (3001, 100, 1, 2, 4, -999)])
        merged = merge_bad_pixels(read_bpixtab(path), fleck_pixels())
        new = merged[3:]
        got = sorted(zip(new['CCDCHIP'], new['PIX2'], new['PIX1'],
                         new['LENGTH']))
        assert got == [(1, 101, 3001, 2), (2, 1773, 1523, 1),
                       (2, 1774, 1521, 1)]

    def test_amp_specific_rows_do_not_count(self, tmp_path):
        path = tmp_path / 'r_bpx.fits'
        write_wfc_reference(path, rows=[(1521, 1773, 1, 1, 4, 2)])
        with fits.open(path, mode='update') as h:
            h[1].data['CCDAMP'][0] = 'A'
        merged = merge_bad_pixels(read_bpixtab(path), fleck_pixels())
        assert ((merged['PIX1'][1:] == 1521) & (merged['PIX2'][1:] == 1773)
                ).any()

    def test_adds_missing_amp_gain(self, tmp_path):
        path = write_wfc_reference(tmp_path / 'r_bpx.fits', n=20, amp=False,
                                   gain=False)
        with pytest.warns(BpixtabWarning, match='CCDGAIN'):
            merged = merge_bad_pixels(read_bpixtab(path), fleck_pixels())
        assert set(merged['CCDGAIN']) == {-999.0}
        assert {str(v) for v in merged['CCDAMP']} == {'N/A'}

    @pytest.mark.parametrize('value', [0, 3, 65536])
    def test_bad_value(self, wfc_ref, value):
        with pytest.raises(AcsFlecksError, match='single DQ bit'):
            merge_bad_pixels(read_bpixtab(wfc_ref), fleck_pixels(),
                             value=value)


class TestHeaders:
    @pytest.mark.parametrize('text', ['2017-05-05', 'May 05 2017 00:00:00',
                                      'may 5 2017', '2017-05-05T00:00:00'])
    def test_useafter(self, text):
        assert format_useafter(text) == 'May 05 2017 00:00:00'

    @pytest.mark.parametrize('text', ['2017-13-05', 'yesterday', 'Foo 05 2017',
                                      '1850-01-01', ''])
    def test_invalid_useafter(self, text):
        with pytest.raises(AcsFlecksError, match='USEAFTER'):
            parse_useafter(text)

    def test_pedigree(self):
        assert format_pedigree('2017-05-05') == 'INFLIGHT 05/05/2017 05/05/2017'
        assert format_pedigree('2017-05-05', '2017-06-30') == \
            'INFLIGHT 05/05/2017 30/06/2017'


class TestWrite:
    def test_real_hrc_roundtrip(self, hrc_copy, tmp_path):
        before = sha256(hrc_copy)
        bpx = read_bpixtab(hrc_copy)
        # zero new rows: an empty bad-pixel list
        empty = QTable({'ccdchip': np.zeros(0, int), 'x': np.zeros(0, int),
                        'y': np.zeros(0, int)})
        out0 = write_bpixtab(hrc_copy, empty, tmp_path / 'zero_bpx.fits',
                             useafter='2017-05-05', detector='HRC')
        # some new rows
        bad = QTable({'ccdchip': [1, 1, 1], 'x': [500, 501, 900],
                      'y': [600, 600, 20], 'transmissivity': [0.1, 0.2, 0.3],
                      'fleck_id': ['f1', 'f1', 'f2']})
        out1 = write_bpixtab(hrc_copy, bad, tmp_path / 'new_bpx.fits',
                             useafter='2017-05-05', detector='HRC')
        assert sha256(hrc_copy) == before
        for out, n_new in ((out0, 0), (out1, 2)):
            with fits.open(out) as new, fits.open(hrc_copy) as old:
                assert new[1].name == 'BPX'
                assert len(new[1].data) == 4008 + n_new
                for col in old[1].columns:
                    ncol = new[1].columns[col.name]
                    assert (ncol.format, ncol.unit, ncol.null, ncol.disp) == \
                        (col.format, col.unit, col.null, col.disp)
                    assert_array_equal(new[1].data[col.name][:4008],
                                       old[1].data[col.name])
                assert new[1].columns['CCDAMP'].format == '3A'
                assert new[1].columns['PIX1'].format == 'I'
                assert new[1].data['PIX1'].dtype.itemsize == 2
                assert new[1].header['SIZAXIS1'] == 1064
        assert crds_validate(out1) == []

    def test_header_and_history(self, wfc_ref, tmp_path):
        out = write_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'new_bpx.fits',
                            useafter='2017-05-05',
                            history=['reviewed by the ACS team'])
        h = fits.getheader(out, 0)
        assert h['USEAFTER'] == 'May 05 2017 00:00:00'
        assert h['PEDIGREE'] == 'INFLIGHT 05/05/2017 05/05/2017'
        assert h['FILETYPE'] == 'BAD PIXELS' and h['DETECTOR'] == 'WFC'
        assert 'DESCRIP' in h and 'COMMENT' in h
        hist = ' '.join(str(v) for v in h['HISTORY'])
        assert 'fleck fleck1: WFC2' in hist and 'fleck fleck2: WFC1' in hist
        assert 'y=1773:x=1521-1523;' in hist and 'y=101:x=3001-3002' in hist
        assert 'y=1774:x=1521' in hist
        assert 'reviewed by the ACS team' in hist
        assert 'synthetic reference' in hist   # the reference history kept

    def test_deterministic(self, wfc_ref, tmp_path):
        a = write_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'a_bpx.fits',
                          useafter='2017-05-05')
        b = write_bpixtab(wfc_ref, fleck_pixels()[::-1],
                          tmp_path / 'b_bpx.fits', useafter='2017-05-05')
        da, db = fits.getdata(a, 1), fits.getdata(b, 1)
        assert da.tobytes() == db.tobytes()
        ha, hb = fits.getheader(a, 0), fits.getheader(b, 0)
        del ha['FILENAME'], hb['FILENAME']
        assert ha.tostring() == hb.tostring()

    def test_fitsverify(self, wfc_ref, tmp_path):
        exe = shutil.which('fitsverify')
        if exe is None:
            pytest.skip('fitsverify (Debian package) not installed')
        out = write_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'n_bpx.fits',
                            useafter='2017-05-05')
        proc = subprocess.run([exe, '-q', str(out)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert 'OK' in proc.stdout

    def test_delivery_result(self, wfc_ref, tmp_path):
        d = deliver_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'n_bpx.fits',
                            useafter='2017-05-05')
        assert d.certification.passed
        assert d.table.meta['n_added'] == 4
        assert d.certification.path == str(tmp_path / 'n_bpx.fits')


class TestWriteBadInput:
    def _check_nothing_written(self, tmp_path, ref, before):
        assert sha256(ref) == before
        assert not list(tmp_path.glob('.tmp_acs_flecks_*'))
        assert not (tmp_path / 'out_bpx.fits').exists()

    def test_hrc_reference_wfc_flecks(self, hrc_copy, tmp_path):
        before = sha256(hrc_copy)
        with pytest.raises(ReferenceFileError, match='detector HRC'):
            write_bpixtab(hrc_copy, fleck_pixels(), tmp_path / 'out_bpx.fits',
                          useafter='2017-05-05')
        self._check_nothing_written(tmp_path, hrc_copy, before)

    def test_output_is_reference(self, wfc_ref, tmp_path):
        before = sha256(wfc_ref)
        with pytest.raises(AcsFlecksError, match='input file'):
            write_bpixtab(wfc_ref, fleck_pixels(), wfc_ref,
                          useafter='2017-05-05')
        self._check_nothing_written(tmp_path, wfc_ref, before)

    def test_invalid_useafter(self, wfc_ref, tmp_path):
        before = sha256(wfc_ref)
        with pytest.raises(AcsFlecksError, match='USEAFTER'):
            write_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'out_bpx.fits',
                          useafter='2017-02-30')
        self._check_nothing_written(tmp_path, wfc_ref, before)

    def test_reference_with_rejected_rows(self, tmp_path):
        ref = write_wfc_reference(tmp_path / 'r_bpx.fits',
                                  rows=[(1, 1, 1, 1, 4, 1), (5, 5, 0, 1, 4, 1)])
        before = sha256(ref)
        with pytest.raises(ReferenceFileError, match='LENGTH <= 0'):
            write_bpixtab(ref, fleck_pixels(), tmp_path / 'out_bpx.fits',
                          useafter='2017-05-05')
        self._check_nothing_written(tmp_path, ref, before)

    def test_certification_failure_writes_nothing(self, wfc_ref, tmp_path):
        from acs_flecks.exceptions import CertificationError
        before = sha256(wfc_ref)
        far = QTable({'ccdchip': [2], 'x': [100], 'y': [100]})
        with pytest.raises(CertificationError, match='near_flecks|farther'):
            write_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'out_bpx.fits',
                          useafter='2017-05-05', flecks=far)
        self._check_nothing_written(tmp_path, wfc_ref, before)


class TestCommand:
    def _ecsv(self, tmp_path, table=None):
        path = tmp_path / 'badpix.ecsv'
        (table if table is not None else fleck_pixels()).write(path)
        return path

    def test_writes_and_certifies(self, wfc_ref, tmp_path, capsys):
        out = tmp_path / 'new_bpx.fits'
        rc = main(['bpixtab', '--reference', str(wfc_ref), '--bad-pixels',
                   str(self._ecsv(tmp_path)), '--useafter', '2017-05-05',
                   '-o', str(out)])
        text = capsys.readouterr().out
        assert rc == 0, text
        assert 'PASSED' in text and '4 rows added for 7 pixels' in text
        assert out.exists()

    def test_jref_reference(self, wfc_ref, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv('jref', str(tmp_path) + '/')
        out = tmp_path / 'new_bpx.fits'
        rc = main(['bpixtab', '--reference', 'jref$' + wfc_ref.name,
                   '--bad-pixels', str(self._ecsv(tmp_path)),
                   '--useafter', 'May 05 2017 00:00:00', '-o', str(out)])
        assert rc == 0 and out.exists()

    @pytest.mark.parametrize('case', ['hrc', 'useafter', 'same', 'columns',
                                      'auto'])
    def test_bad_input_exit_2(self, case, hrc_copy, wfc_ref, tmp_path,
                              monkeypatch, capsys):
        out = tmp_path / 'out_bpx.fits'
        ref, useafter = wfc_ref, '2017-05-05'
        extra = []
        if case == 'hrc':
            ref = hrc_copy
        elif case == 'useafter':
            useafter = '05/05/2017'
        elif case == 'same':
            out = wfc_ref
        elif case == 'columns':
            ref = tmp_path / 'nocol_bpx.fits'
            with fits.open(wfc_ref) as h:
                cols = [c for c in h[1].columns if c.name != 'VALUE']
                fits.HDUList([h[0].copy(), fits.BinTableHDU.from_columns(
                    cols, name='BPX')]).writeto(ref)
        elif case == 'auto':
            monkeypatch.delenv('jref', raising=False)
            monkeypatch.setenv('CRDS_SERVER_URL', 'http://127.0.0.1:9')
            monkeypatch.setenv('CRDS_PATH', str(tmp_path / 'crds'))
            from conftest import write_acs
            img = write_acs(tmp_path / 'img_flt.fits', shape=(4, 4), extra_primary={
                'BPIXTAB': 'jref$' + wfc_ref.name})
            extra = ['--image', str(img)]
            ref = 'auto'
        before = {p: sha256(p) for p in (wfc_ref, hrc_copy)}
        rc = main(['bpixtab', '--reference', str(ref), '--bad-pixels',
                   str(self._ecsv(tmp_path)), '--useafter', useafter,
                   '-o', str(out)] + extra)
        err = capsys.readouterr().err
        assert rc == 2
        errors = [ln for ln in err.splitlines() if 'error' in ln]
        assert len(errors) == 1 and errors[0].startswith('acs_flecks: error:'), err
        assert 'Traceback' not in err and 'SystemExit' not in err
        assert {p: sha256(p) for p in before} == before
        if case != 'same':
            assert not out.exists()
        assert not list(tmp_path.glob('.tmp_acs_flecks_*'))

    def test_certification_failure_exit_1(self, wfc_ref, tmp_path, capsys):
        far = QTable({'ccdchip': [2], 'x': [100], 'y': [100]})
        far.write(tmp_path / 'flecks.ecsv')
        out = tmp_path / 'new_bpx.fits'
        rc = main(['bpixtab', '--reference', str(wfc_ref), '--bad-pixels',
                   str(self._ecsv(tmp_path)), '--flecks',
                   str(tmp_path / 'flecks.ecsv'), '--useafter', '2017-05-05',
                   '-o', str(out)])
        text = capsys.readouterr().out
        assert rc == 1 and 'FAIL' in text and 'near_flecks' in text
        assert not out.exists()


class TestFromFlats:
    """``--flats``: the fleck pixels measured in simulated lamp flats by
    acs_flecks.characterize, flagged in a table found via the flats'
    BPIXTAB keyword (--reference auto, jref)."""

    def test_simulated_discovery(self, tmp_path, monkeypatch, capsys):
        simulate = pytest.importorskip('acs_flecks.simulate')
        pytest.importorskip('acs_flecks.characterize')
        res = simulate.simulate_scenario('discovery', tmp_path / 'sim',
                                         window=120, kinds=['flat'])
        truth = res.truth.artifacts
        flecks = truth[(truth['kind'] == 'fleck') & truth['in_window']]
        flecks = flecks['id', 'ccdchip', 'x', 'y', 'n_below_50']
        flecks.rename_column('id', 'fleck_id')
        flecks.write(tmp_path / 'flecks.ecsv')
        flats = sorted(str(p) for p in (tmp_path / 'sim').glob(
            'sim_flat_2017*_crc.fits'))
        name = fits.getval(flats[0], 'BPIXTAB').split('$')[1]
        refdir = tmp_path / 'jref'
        refdir.mkdir()
        write_wfc_reference(refdir / name, n=50)
        monkeypatch.setenv('jref', str(refdir) + '/')
        out = tmp_path / 'new_bpx.fits'
        rc = main(['-q', 'bpixtab', '--reference', 'auto', '--flecks',
                   str(tmp_path / 'flecks.ecsv'), '--flats', *flats,
                   '--useafter', '2017-05-05', '-o', str(out)])
        text = capsys.readouterr().out
        assert rc == 0, text
        new = read_bpixtab(out).table
        old = read_bpixtab(refdir / name).table
        for row in flecks:
            chip = int(row['ccdchip'])
            gained = (expand_bpixtab(new, ccdchip=chip)
                      & ~expand_bpixtab(old, ccdchip=chip))
            rows, cols = np.nonzero(gained)
            assert set(gained[rows, cols]) == {4}
            # every new flag lies on the fleck, as many as the truth has
            # pixels under 50% (report: 67 and 21), within the measurement
            assert np.hypot(cols + 1 - row['x'].value,
                            rows + 1 - row['y'].value).max() < 10
            assert abs(rows.size - row['n_below_50'].value) <= 2


class TestNarrowAmpColumn:
    def test_too_narrow(self, tmp_path):
        path = tmp_path / 'r_bpx.fits'
        write_wfc_reference(path, rows=[(1, 1, 1, 1, 4, 1)])
        with fits.open(path) as h:
            cols = [c if c.name != 'CCDAMP' else
                    fits.Column('CCDAMP', '2A', array=np.array(['A']))
                    for c in h[1].columns]
            fits.HDUList([h[0].copy(), fits.BinTableHDU.from_columns(
                cols, name='BPX')]).writeto(tmp_path / 'n_bpx.fits')
        with pytest.raises(ReferenceFileError, match='too narrow'):
            merge_bad_pixels(read_bpixtab(tmp_path / 'n_bpx.fits'),
                             fleck_pixels())


def _reference_row_findings(rows, *, offset=0):
    """The three row checks read rule by rule, one row at a time, for WFC
    (independent of acs_flecks.bpixtab.checks): {check: [(kind, count,
    first row number), ...]} in the order the checks report them."""
    ny, nx = 2048, 4096

    def extent(r):
        pix1, pix2, length, axis = r[0], r[1], r[2], r[3]
        if axis not in (1, 2) or length <= 0:
            return False, False
        xend = pix1 + length - 1 if axis == 1 else pix1
        yend = pix2 + length - 1 if axis == 2 else pix2
        outside = xend < 1 or yend < 1 or pix1 > nx or pix2 > ny
        partial = not outside and (pix1 < 1 or pix2 < 1 or xend > nx
                                   or yend > ny)
        return partial, outside

    def found(tests, start):
        out = []
        for kind, test in tests:
            idx = [i for i, r in enumerate(rows) if test(r)]
            if idx:
                out.append((kind, len(idx), idx[0] + 1 + start))
        return out

    return {
        'check_bpixtab_rows': found([
            ('axis', lambda r: r[3] not in (1, 2)),
            ('length', lambda r: r[2] <= 0),
            ('value', lambda r: not 0 <= r[4] <= 32767)], 0),
        'bpixtab_row_warnings': found([
            ('on_chip', lambda r: extent(r)[0]),
            ('on_chip', lambda r: extent(r)[1]),
            ('ccdchip', lambda r: r[5] not in (1, 2, -1, -999)),
            ('value', lambda r: r[4] == 0)], offset),
        'check_new_rows': found([
            ('axis', lambda r: r[3] not in (1, 2)),
            ('length', lambda r: r[2] <= 0),
            ('value', lambda r: not 1 <= r[4] <= 32767),
            ('ccdchip', lambda r: r[5] not in (1, 2)),
            ('on_chip', lambda r: any(extent(r)))], offset),
    }


class TestRowChecks:
    """check_bpixtab_rows, bpixtab_row_warnings and check_new_rows share
    their tests (acs_flecks.bpixtab.checks); each must still give exactly
    what its own rules say, on rows straddling every boundary."""

    @pytest.mark.parametrize('seed', range(12))
    def test_against_rules_row_by_row(self, seed):
        import re

        from acs_flecks.bpixtab import bpixtab_row_warnings, check_new_rows
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 60))
        pos = np.array([-3, -1, 0, 1, 2, 100, 2047, 2048, 2049, 4095, 4096,
                        4097, 5000])
        rows = [(int(rng.choice(pos)), int(rng.choice(pos)),
                 int(rng.choice([-1, 0, 1, 2, 40, 3000, 5000])),
                 int(rng.choice([0, 1, 1, 2, 2, 3])),
                 int(rng.choice([-4, 0, 1, 4, 4, 1024, 32767, 32768, 65540])),
                 int(rng.choice([-999, -1, 0, 1, 1, 2, 2, 3])))
                for _ in range(n)]
        table = Table(rows=rows, names=COLS, dtype=[np.int32] * 6)
        offset = int(rng.integers(0, 500))
        want = _reference_row_findings(rows, offset=offset)
        got = {
            'check_bpixtab_rows': check_bpixtab_rows(table, detector='WFC'),
            'bpixtab_row_warnings': bpixtab_row_warnings(
                table, detector='WFC', offset=offset),
            'check_new_rows': check_new_rows(table, detector='WFC',
                                             offset=offset)}
        for name, messages in got.items():
            parsed = []
            for kind, msg in zip(messages.kinds, messages):
                m = re.match(r'(\d+) row\(s\) .* \(first: row (\d+): '
                             r'PIX1=(-?\d+) PIX2=(-?\d+) LENGTH=(-?\d+) '
                             r'AXIS=(-?\d+) VALUE=(-?\d+) CCDCHIP=(-?\d+)\)$',
                             msg)
                assert m, msg
                first = int(m.group(2))
                start = 0 if name == 'check_bpixtab_rows' else offset
                # the message shows the first offending row's own values
                assert tuple(int(g) for g in m.group(3, 4, 5, 6, 7, 8)) == \
                    rows[first - 1 - start], msg
                parsed.append((kind, int(m.group(1)), first))
            assert parsed == want[name], name

    def test_empty_table(self):
        from acs_flecks.bpixtab import bpixtab_row_warnings, check_new_rows
        empty = Table(names=COLS, dtype=[np.int16] * 6)
        for check in (check_bpixtab_rows, bpixtab_row_warnings,
                      check_new_rows):
            assert check(empty, detector='WFC') == []


class TestBuild:
    """build_bpixtab builds the table deliver_bpixtab writes, writing
    nothing itself."""

    def test_build_writes_nothing_and_equals_delivery(self, wfc_ref,
                                                      tmp_path):
        from acs_flecks.bpixtab import build_bpixtab
        out = tmp_path / 'new_bpx.fits'
        before = sorted(p.name for p in tmp_path.iterdir())
        new = build_bpixtab(wfc_ref, fleck_pixels(), out,
                            useafter='2017-05-05', method='test')
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        assert new.reference.path == str(wfc_ref)
        assert new.table.meta['n_reference'] == len(new.reference.table)
        assert new.table.meta['added_pixels'] == len(new.pixels)
        built = tmp_path / 'built.fits'
        new.hdulist.writeto(built)
        d = deliver_bpixtab(wfc_ref, fleck_pixels(), out,
                            useafter='2017-05-05', method='test')
        assert d.table.meta == new.table.meta
        # FILENAME names the output it was built for, so also byte for byte
        with fits.open(built) as a, fits.open(d.path) as b:
            assert a[0].header == b[0].header
            assert a[1].header == b[1].header
            for name in a[1].columns.names:
                assert_array_equal(a[1].data[name], b[1].data[name])
        assert open(built, 'rb').read() == open(d.path, 'rb').read()

    def test_build_checks_options(self, wfc_ref, tmp_path):
        from acs_flecks.bpixtab import build_bpixtab
        with pytest.raises(AcsFlecksError, match='threshold'):
            build_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'a_bpx.fits',
                          useafter='2017-05-05', threshold=0)
        with pytest.raises(AcsFlecksError, match='before ACS was installed'):
            build_bpixtab(wfc_ref, fleck_pixels(), tmp_path / 'a_bpx.fits',
                          useafter='2001-01-01')
        assert not (tmp_path / 'a_bpx.fits').exists()


def test_warning_and_chip_names_have_one_definition():
    """BpixtabWarning is defined in acs_flecks.exceptions and the chip
    geometry in acs_flecks.coords; acs_flecks.bpixtab re-exports them."""
    import acs_flecks.bpixtab as bpixtab
    import acs_flecks.coords as coords
    import acs_flecks.exceptions as exceptions
    assert bpixtab.BpixtabWarning is exceptions.BpixtabWarning
    assert issubclass(exceptions.BpixtabWarning, exceptions.AcsFlecksWarning)
    assert exceptions.BpixtabWarning.__module__ == 'acs_flecks.exceptions'
    assert 'BpixtabWarning' in exceptions.__all__
    assert bpixtab.CHIP_SHAPES is coords.CHIP_SHAPES
    assert bpixtab.DETECTOR_CHIPS is coords.DETECTOR_CHIPS
    assert coords.CHIP_SHAPES == {'WFC': (2048, 4096), 'HRC': (1024, 1024),
                                  'SBC': (1024, 1024)}
    assert coords.DETECTOR_CHIPS == {'WFC': (1, 2), 'HRC': (1,), 'SBC': (1,)}
    for name in bpixtab.__all__:
        assert hasattr(bpixtab, name), name
