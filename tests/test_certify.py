"""Tests of acs_flecks.certify: CRDS validators, own checks, pixel diff."""

import shutil
import subprocess

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from acs_flecks.bpixtab import read_bpixtab
from acs_flecks.certify import certify_bpixtab, crds_validate, pixel_difference
from acs_flecks.cli import main
from acs_flecks.delivery import write_bpixtab
from acs_flecks.exceptions import AcsFlecksError, CertificationError

from conftest import real_file
from test_bpixtab import fleck_pixels, write_wfc_reference


@pytest.fixture
def ref(tmp_path):
    return write_wfc_reference(tmp_path / 'ref_bpx.fits', n=200)


@pytest.fixture
def new(ref, tmp_path):
    return write_bpixtab(ref, fleck_pixels(), tmp_path / 'new_bpx.fits',
                         useafter='2017-05-05')


def edit(src, dst, *, rows=None, header=None, drop=None, append=None):
    """Copy a bpixtab, editing rows {i: {col: val}}, primary header cards,
    dropping a column or appending rows (tuples in column order)."""
    with fits.open(src) as h:
        ph = h[0].header.copy()
        data = h[1].data.copy()
        cols = [c.copy() for c in h[1].columns if c.name != drop]
    for i, vals in (rows or {}).items():
        for k, v in vals.items():
            data[k][i] = v
    n = len(data) + len(append or [])
    arrays = {c.name: np.asarray(data[c.name]) for c in cols}
    if append:
        names = [c.name for c in cols]
        extra = list(zip(*append))
        for name, vals in zip(names, extra):
            arrays[name] = np.concatenate([arrays[name],
                                           np.asarray(vals, arrays[name].dtype)])
    newcols = [fits.Column(c.name, c.format, unit=c.unit, array=arrays[c.name])
               for c in cols]
    for k, v in (header or {}).items():
        if v is None:
            del ph[k]
        else:
            ph[k] = v
    fits.HDUList([fits.PrimaryHDU(header=ph), fits.BinTableHDU.from_columns(
        newcols, name='BPX', nrows=n)]).writeto(dst)
    return dst


def status(result, name):
    return {c.name: c.status for c in result.checks}[name]


class TestCertifyPasses:
    def test_new_table_passes(self, new, ref):
        r = certify_bpixtab(new, reference=ref, flecks=fleck_pixels(),
                            detector='WFC')
        assert r.passed, r.report()
        d = r.difference
        assert list(zip(d['ccdchip'], d['flag'], d['n_gained'], d['n_lost'])) \
            == [(1, 4, 3, 0), (2, 4, 4, 0)]
        assert len(r.gained_pixels) == 7
        assert (r.gained_pixels['distance'].value <= 1.0).all()
        text = r.report()
        assert 'CCDCHIP=   2 flag     4: +4 gained, -0 lost' in text
        assert text.endswith('PASSED')
        assert set(r.to_table()['status']) == {'pass'}

    def test_crds_validators_and_fitsverify(self, new):
        assert crds_validate(new) == []
        exe = shutil.which('fitsverify')
        if exe is None:
            pytest.skip('fitsverify (Debian package) not installed')
        proc = subprocess.run([exe, '-q', str(new)], capture_output=True,
                              text=True)
        assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stdout

    def test_without_reference(self, new):
        r = certify_bpixtab(new)
        assert r.passed and status(r, 'reference_rows') == 'not run'
        assert r.difference is None

    def test_real_hrc(self):
        path = real_file('j4d1435jj_bpx.fits')
        r = certify_bpixtab(path, reference=path)
        assert r.passed, r.report()
        assert 'inherited' in {c.name: c.message for c in r.checks}['duplicates']
        assert len(r.difference) == 0


class TestCertifyFails:
    def test_value_1024_instead_of_4(self, ref, tmp_path):
        # the 2017 delivery error (hstcal #373): fleck rows with VALUE 1024
        bad = write_bpixtab(ref, fleck_pixels(), tmp_path / 'a_bpx.fits',
                            useafter='2017-05-05', value=1024,
                            certify=False)
        r = certify_bpixtab(bad, reference=ref, flecks=fleck_pixels(),
                            value=4)
        assert not r.passed
        assert status(r, 'only_requested_value') == 'FAIL'
        with pytest.raises(CertificationError, match='only_requested_value'):
            r.raise_if_failed()

    def test_lost_flags(self, new, ref, tmp_path):
        n_ref = len(read_bpixtab(ref).table)
        bad = edit(new, tmp_path / 'b_bpx.fits', rows={5: {'VALUE': 0}})
        r = certify_bpixtab(bad, reference=ref, flecks=fleck_pixels())
        assert status(r, 'no_lost_flags') == 'FAIL'
        assert status(r, 'reference_rows') == 'FAIL'
        assert n_ref == 200

    def test_far_from_flecks(self, new, ref):
        far = QTable({'ccdchip': [2], 'x': [100.0], 'y': [100.0]})
        r = certify_bpixtab(new, reference=ref, flecks=far)
        assert status(r, 'near_flecks') == 'FAIL'
        assert 'farther than 30 pix' in r.report()

    def test_massive_change(self, new, ref):
        r = certify_bpixtab(new, reference=ref, max_new_pixels=5)
        assert status(r, 'massive_change') == 'FAIL'

    @pytest.mark.parametrize('row, check', [
        ((10, 10, 0, 1, 4, 1), 'length'),
        ((10, 10, 3, 3, 4, 1), 'axis'),
        ((10, 10, 3, 1, -4, 1), 'value')])
    def test_rows_calacs_would_reject(self, new, tmp_path, row, check):
        bad = edit(new, tmp_path / 'c_bpx.fits',
                   append=[('N/A',) + row + (-999.0,)])
        r = certify_bpixtab(bad)
        assert status(r, check) == 'FAIL'

    @pytest.mark.parametrize('row, check', [
        ((4095, 10, 5, 1, 4, 1), 'on_chip'),
        ((10, 2046, 5, 2, 4, 2), 'on_chip'),
        ((0, 10, 5, 1, 4, 2), 'on_chip'),
        ((5000, 10, 5, 1, 4, 2), 'on_chip'),
        ((10, 10, 3, 1, 4, 5), 'ccdchip'),
        ((10, 10, 3, 1, 4, -1), None)])
    def test_rows_calacs_clips_or_ignores(self, new, ref, tmp_path, row,
                                          check):
        # without a reference such a row is valid (CALACS clips or ignores
        # it): a warning; added to a reference, it must be on the chip
        bad = edit(new, tmp_path / 'c_bpx.fits',
                   append=[('N/A',) + row + (-999.0,)])
        r = certify_bpixtab(bad)
        own = {c.name: c.status for c in r.checks
               if c.name not in ('crds_validators',)}
        if check is None:   # CCDCHIP = -1 is a wildcard in dodqi.c
            assert set(own.values()) <= {'pass', 'not run'}, r.report()
        else:
            assert own.pop(check) == 'warn', r.report()
            assert set(own.values()) <= {'pass', 'not run'}, r.report()
        if row[-1] in (5, -1):
            # CRDS's own tpn allows CCDCHIP -999, 1, 2 only: reported as is
            assert 'CCDCHIP' in {c.name: c.message for c in r.checks}[
                'crds_validators']
        else:
            assert r.passed, r.report()
        if check is None:
            return
        r = certify_bpixtab(bad, reference=ref)
        assert status(r, check) == 'FAIL' and not r.passed

    def test_duplicate_rows(self, new, tmp_path):
        with fits.open(new) as h:
            first = tuple(h[1].data[0])
        bad = edit(new, tmp_path / 'd_bpx.fits', append=[first])
        r = certify_bpixtab(bad)
        assert status(r, 'duplicates') == 'FAIL'

    def test_missing_ccdgain(self, new, tmp_path):
        bad = edit(new, tmp_path / 'e_bpx.fits', drop='CCDGAIN')
        r = certify_bpixtab(bad)
        assert status(r, 'columns') == 'FAIL'
        assert 'CCDGAIN' in r.report()

    def test_wrong_detector(self, new):
        r = certify_bpixtab(new, detector='HRC')
        assert status(r, 'detector') == 'FAIL'

    @pytest.mark.parametrize('card, value', [('USEAFTER', 'Foo 55 2017'),
                                             ('PEDIGREE', 'SOMETIME'),
                                             ('INSTRUME', 'WFC3')])
    def test_crds_header_checks(self, new, tmp_path, card, value):
        bad = edit(new, tmp_path / 'f_bpx.fits', header={card: value})
        r = certify_bpixtab(bad)
        assert status(r, 'crds_validators') == 'FAIL'
        assert card in {c.name: c.message for c in r.checks}['crds_validators']

    def test_missing_file(self, tmp_path):
        with pytest.raises(AcsFlecksError, match='no such file'):
            certify_bpixtab(tmp_path / 'nope_bpx.fits')


class TestPixelDifference:
    def test_gain_and_loss_per_flag(self, tmp_path):
        a = write_wfc_reference(tmp_path / 'a_bpx.fits',
                                rows=[(1, 1, 3, 1, 20, 1), (5, 5, 2, 2, 8, 2)])
        b = write_wfc_reference(tmp_path / 'b_bpx.fits',
                                rows=[(1, 1, 2, 1, 4, 1), (5, 5, 3, 2, 8, 2),
                                      (9, 9, 1, 1, 1024, -999)])
        d, g = pixel_difference(read_bpixtab(b).table, read_bpixtab(a).table)
        got = {(r['ccdchip'], r['flag']): (r['n_gained'], r['n_lost'])
               for r in d}
        assert got == {(1, 4): (0, 1), (1, 16): (0, 3), (2, 8): (1, 0),
                       (1, 1024): (1, 0), (2, 1024): (1, 0)}
        # the gained pixel of (5, 5, 3, 2): x=5, y=7 (1-indexed)
        sel = (g['ccdchip'] == 2) & (g['flag'] == 8)
        assert (g['x'][sel][0], g['y'][sel][0]) == (5, 7)


class TestCommand:
    def test_pass_exit_0(self, new, ref, tmp_path, capsys):
        fleck_pixels().write(tmp_path / 'flecks.ecsv')
        rc = main(['certify', str(new), '--reference', str(ref), '--flecks',
                   str(tmp_path / 'flecks.ecsv'), '--list-pixels'])
        out = capsys.readouterr().out
        assert rc == 0 and 'PASSED' in out and 'crds_validators' in out
        assert '1521' in out   # --list-pixels

    def test_fail_exit_1(self, new, ref, capsys):
        rc = main(['certify', str(new), '--reference', str(ref),
                   '--value', '1024'])
        assert rc == 1 and 'FAILED' in capsys.readouterr().out

    def test_bad_input_exit_2(self, tmp_path, capsys):
        rc = main(['certify', str(tmp_path / 'missing_bpx.fits')])
        assert rc == 2
        assert 'acs_flecks: error:' in capsys.readouterr().err
