"""Tests of the ACS file model (acs_flecks.io) and pixel conventions."""

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from numpy.testing import assert_array_equal

from acs_flecks.coords import (chip_to_image, cutout_slices, image_to_chip,
                               index_to_pixel, pixel_to_index)
from acs_flecks.exceptions import AcsFlecksError, InputFileError
from acs_flecks.filters import resolve_filter
from acs_flecks.io import ACSCollection, ACSImage

from conftest import real_file, write_acs


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


class TestPixelConventions:
    def test_pixel_to_index(self):
        assert pixel_to_index(1521, 1773) == (1772, 1520)
        assert pixel_to_index(1, 1) == (0, 0)

    def test_index_to_pixel(self):
        assert index_to_pixel(1772, 1520) == (1521, 1773)
        assert index_to_pixel(0, 0) == (1, 1)

    def test_roundtrip_arrays(self):
        x = np.array([1, 4096, 17.5])
        y = np.array([1, 2048, 3.25])
        r, c = pixel_to_index(x, y)
        assert_array_equal(r, y - 1)
        assert_array_equal(c, x - 1)
        xx, yy = index_to_pixel(r, c)
        assert_array_equal(xx, x)
        assert_array_equal(yy, y)

    def test_marked_pixel_found_both_ways(self):
        """A single marked pixel at numpy [10, 20] is (x, y) = (21, 11)."""
        arr = np.zeros((30, 40))
        arr[10, 20] = 1
        row, col = np.unravel_index(arr.argmax(), arr.shape)
        assert index_to_pixel(row, col) == (21, 11)
        assert arr[pixel_to_index(21, 11)] == 1
        assert arr[pixel_to_index(20, 11)] == 0  # off by one in x
        assert arr[pixel_to_index(21, 10)] == 0  # off by one in y

    def test_ltv(self):
        assert image_to_chip(1, 1, (-1000.0, -200.0)) == (1001.0, 201.0)
        assert chip_to_image(1001, 201, (-1000.0, -200.0)) == (1.0, 1.0)
        assert image_to_chip(5, 7, (0, 0)) == (5, 7)

    def test_cutout_slices(self):
        rs, cs = cutout_slices(1521, 1773, (40, 40))
        # 40x40 around (1521, 1773): x 1501..1540, y 1753..1792 (1-indexed)
        assert (rs.start, rs.stop) == (1752, 1792)
        assert (cs.start, cs.stop) == (1500, 1540)
        rs, cs = cutout_slices(3510, 355, (30, 20))
        assert (rs.stop - rs.start, cs.stop - cs.start) == (30, 20)

    def test_cutout_off_chip(self):
        with pytest.raises(AcsFlecksError, match='does not fit'):
            cutout_slices(5, 1000, (40, 40))
        with pytest.raises(AcsFlecksError, match='does not fit'):
            cutout_slices(4090, 2040, (40, 40))


class TestFilters:
    @pytest.mark.parametrize('f1,f2,expected', [
        ('CLEAR1L', 'F814W', 'F814W'), ('F435W', 'CLEAR2L', 'F435W'),
        ('CLEAR1S', 'CLEAR2S', 'CLEAR'), ('F606W', 'POL0V', 'F606W;POL0V'),
        (' f850lp ', 'CLEAR2L', 'F850LP')])
    def test_resolve(self, f1, f2, expected):
        assert resolve_filter(f1, f2) == expected


class TestACSImage:
    def test_chips_keyed_by_ccdchip(self, tmp_path):
        sci2 = np.full((16, 24), 2.0, np.float32)
        sci1 = np.full((16, 24), 1.0, np.float32)
        path = write_acs(tmp_path / 'a_flt.fits', shape=(16, 24),
                         sci={1: sci1, 2: sci2})
        img = ACSImage(path)
        assert img.chips == (1, 2)
        assert img.chip(2).sci[0, 0] == 2.0   # first triple
        assert img.chip(1).sci[0, 0] == 1.0
        # order reversed in the file: still keyed correctly
        path = write_acs(tmp_path / 'b_flt.fits', shape=(16, 24), chips=(1, 2),
                         sci={1: sci1, 2: sci2})
        img = ACSImage(path)
        assert img.chip(2).sci[0, 0] == 2.0
        assert img.chip(1).sci[0, 0] == 1.0

    def test_metadata(self, tmp_path):
        path = write_acs(tmp_path / 'c_dkc.fits', flashdur=4.6,
                         flashsta='SUCCESSFUL', exptime=0.5,
                         filter1='F435W', filter2='CLEAR2L',
                         ltv=(-100, -50))
        img = ACSImage(path)
        assert img.detector == 'WFC'
        assert img.filter == 'F435W'
        assert img.exptime.to_value('s') == 0.5
        assert img.flashdur.to_value('s') == 4.6
        assert img.flashed
        assert img.obs_time.mjd == 57878.5
        assert img.ltv(1) == (-100.0, -50.0)
        assert img.ncombine(1) == 3
        assert img.bunit == 'ELECTRONS'
        assert img.shape == (64, 96)
        chip = img.chip(1)
        assert chip.sci.dtype == np.float32
        assert chip.dq.dtype == np.uint16
        assert chip.ltv == (-100.0, -50.0)

    def test_obs_time_from_date_obs(self, tmp_path):
        path = write_acs(tmp_path / 'd.fits')
        with fits.open(path, mode='update') as hdul:
            del hdul[0].header['EXPSTART']
        img = ACSImage(path)
        assert img.obs_time == Time('2017-05-05T12:00:00')

    def test_real_header_file(self):
        path = real_file('wfc_flc_header_jbt122x8q.fits')
        before = sha256(path)
        img = ACSImage(path)
        assert img.detector == 'WFC'
        assert img.filter == 'F814W'
        assert img.exptime.to_value('s') == 450.0
        assert img.obs_time.isot.startswith('2012-07-04T19:42')
        assert not img.flashed
        assert img.flashsta == 'NOT PERFORMED'
        assert img.imagetyp == 'EXT'
        assert img.bpixtab == 'jref$25g1256nj_bpx.fits'
        assert img.chips == (1, 2)
        # [SCI,1] is WFC2, [SCI,2] is WFC1
        assert img._entry(2)['extver'] == 1
        assert img._entry(1)['extver'] == 2
        assert img.ltv(1) == (0.0, 0.0)
        assert img.bunit == 'ELECTRONS'
        # the pixel data are stripped: a clear error naming the file
        with pytest.raises(InputFileError, match='no pixel data'):
            img.chip(1)
        assert sha256(path) == before

    def test_real_bpixtab_is_not_an_image(self):
        path = real_file('j4d1435jj_bpx.fits')
        with pytest.raises(InputFileError, match='no SCI extension'):
            ACSImage(path)


class TestBadInput:
    def test_missing(self, tmp_path):
        with pytest.raises(InputFileError, match='no such file'):
            ACSImage(tmp_path / 'nope.fits')

    def test_not_fits(self, tmp_path):
        p = tmp_path / 'x.fits'
        p.write_text('hello, this is not FITS\n' * 200)
        with pytest.raises(InputFileError, match='not a readable FITS'):
            ACSImage(p)

    def test_truncated(self, tmp_path):
        p = write_acs(tmp_path / 't.fits')
        data = p.read_bytes()
        p.write_bytes(data[:len(data) - 20000])
        with pytest.raises(InputFileError, match='truncated|not a readable'):
            ACSImage(p).check_data()

    def test_not_acs(self, tmp_path):
        p = write_acs(tmp_path / 'w.fits', instrume='WFC3')
        with pytest.raises(InputFileError, match="not an ACS file.*WFC3"):
            ACSImage(p)

    def test_wrong_detector(self, tmp_path):
        p = write_acs(tmp_path / 'h.fits', detector='HRC', chips=(1,))
        with pytest.raises(InputFileError, match='detector HRC is not supported'):
            ACSImage(p, detector='WFC')

    @pytest.mark.parametrize('omit', [('ERR', 1), ('DQ', 2)])
    def test_missing_extension(self, tmp_path, omit):
        p = write_acs(tmp_path / 'm.fits', omit=[omit])
        with pytest.raises(InputFileError, match=f'no \\[{omit[0]},{omit[1]}\\]'):
            ACSImage(p)

    def test_inconsistent_shapes(self, tmp_path):
        p = write_acs(tmp_path / 's.fits')
        with fits.open(p) as hdul:
            hdul[2].data = np.ones((10, 10), np.float32)
            hdul.writeto(tmp_path / 's2.fits')
        with pytest.raises(InputFileError, match='shape'):
            ACSImage(tmp_path / 's2.fits')

    def test_all_nan(self, tmp_path):
        nan = np.full((64, 96), np.nan, np.float32)
        p = write_acs(tmp_path / 'n.fits', sci={1: nan})
        img = ACSImage(p)
        img.chip(2)
        with pytest.raises(InputFileError, match='all NaN'):
            img.chip(1)

    def test_no_ccdchip(self, tmp_path):
        p = write_acs(tmp_path / 'k.fits')
        with fits.open(p) as hdul:
            del hdul[1].header['CCDCHIP']
            hdul.writeto(tmp_path / 'k2.fits')
        with pytest.raises(InputFileError, match='no CCDCHIP'):
            ACSImage(tmp_path / 'k2.fits')

    def test_unknown_chip(self, tmp_path):
        img = ACSImage(write_acs(tmp_path / 'u.fits'))
        with pytest.raises(InputFileError, match='no chip CCDCHIP=3'):
            img.chip(3)

    def test_error_names_file(self, tmp_path):
        p = write_acs(tmp_path / 'named.fits', instrume='STIS')
        with pytest.raises(InputFileError) as info:
            ACSImage(p)
        assert str(p) in str(info.value)
        assert info.value.path == str(p)


class TestSection:
    def test_section_equals_full_read(self, tmp_path):
        rng = np.random.default_rng(5)
        sci = rng.normal(size=(64, 96)).astype(np.float32)
        img = ACSImage(write_acs(tmp_path / 'sec.fits', sci={1: sci}))
        sec = (slice(10, 30), slice(40, 80))
        part = img.chip(1, section=sec)
        assert_array_equal(part.sci, sci[sec])
        assert part.dq.shape == (20, 40)
        assert_array_equal(part.sci, img.chip(1).sci[sec])


class TestUnknownFilter:
    def test_unknown_wfc_filter(self, tmp_path):
        p = write_acs(tmp_path / 'f.fits', filter2='F999W')
        with pytest.raises(InputFileError, match="unknown WFC filter FILTER2='F999W'"):
            ACSImage(p)

    def test_known_filters(self, tmp_path):
        for f in ('F435W', 'F850LP', 'F658N', 'FR656N', 'POL0V', 'CLEAR2L'):
            ACSImage(write_acs(tmp_path / f'{f}.fits', filter2=f))


class TestCollection:
    def test_sort_and_group(self, tmp_path):
        paths = [
            write_acs(tmp_path / 'c_flt.fits', expstart=57900.0, filter2='F814W'),
            write_acs(tmp_path / 'a_flt.fits', expstart=57850.0, filter2='F435W'),
            write_acs(tmp_path / 'b_flt.fits', expstart=57880.0, filter2='F814W'),
        ]
        coll = ACSCollection(paths)
        assert [im.name for im in coll] == ['a_flt.fits', 'b_flt.fits',
                                            'c_flt.fits']
        groups = coll.group_by_filter()
        assert [im.name for im in groups['F814W']] == ['b_flt.fits',
                                                       'c_flt.fits']
        epochs = coll.group_by_epoch(['2017-04-04', '2017-05-05'])
        assert [im.name for im in epochs['2017-04-04']] == ['a_flt.fits']
        assert [im.name for im in epochs['2017-05-05']] == ['b_flt.fits',
                                                            'c_flt.fits']
