"""
Guarantees about INPUTS and REFERENCE RULES (issue #9, sections 3-5).

Every bad input gets one line on stderr naming the file or option, exit
status 2, no traceback, no new file and the inputs unchanged; every valid
unusual input (``.fits.gz``, BZERO-scaled uint16, null ERR/DQ) gives the
same answer as its plain twin; reference bad-pixel tables are read and
expanded exactly as hstcal ``pkg/acs/lib/dodqi.c`` does.
"""

import gzip
import hashlib
import os
import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from numpy.testing import assert_array_equal

from acs_flecks.bpixtab import (bpixtab_row_warnings, check_bpixtab_rows,
                                check_new_rows, check_threshold,
                                expand_bpixtab, parse_useafter, read_bpixtab)
from acs_flecks.certify import certify_bpixtab
from acs_flecks.cli import main
from acs_flecks.delivery import deliver_bpixtab
from acs_flecks.exceptions import (AcsFlecksError, BpixtabWarning,
                                   CertificationError, InputFileError,
                                   ReferenceFileError)
from acs_flecks.io import ACSImage

from conftest import real_file, write_acs
from test_bpixtab import fleck_pixels, write_wfc_reference

REAL_HRC_RAW = 'j8bt05njq_raw.fits'
REAL_WFC_HEADER = 'wfc_flc_header_jbt122x8q.fits'


# ------------------------------------------------------------- harness --
def _sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[p] = _sha(p)
        out[d] = None
    return out


def assert_refused(argv, tmp_path, capsys, *, names, inputs=(),
                   match=None):
    """Run the command line: exit 2, one stderr line naming ``names``,
    no traceback, no new file under ``tmp_path``, inputs unchanged."""
    capsys.readouterr()
    before = _tree(tmp_path)
    extra = {os.fspath(p): _sha(p) for p in inputs}
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        rc = main([str(a) for a in argv])
    finally:
        os.chdir(old)
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if 'error' in ln]
    assert rc == 2, (rc, cap.err, cap.out)
    assert 'Traceback' not in cap.err + cap.out
    assert len(errors) == 1, cap.err
    assert errors[0].startswith('acs_flecks: error: '), cap.err
    assert str(names) in errors[0], (names, errors[0])
    if match is not None:
        assert match in errors[0], errors[0]
    assert _tree(tmp_path) == before, 'files were created or changed'
    for p, h in extra.items():
        assert _sha(p) == h
    return errors[0]


def _fleck_chip(seed, shape=(128, 160)):
    r = np.random.default_rng(seed)
    a = r.poisson(1000, shape).astype(np.float32)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    disk = (xx - 80) ** 2 + (yy - 60) ** 2 < 36
    a[disk] = np.floor(a[disk] * 0.5)
    return a


@pytest.fixture
def dkc(tmp_path):
    """A small flashed dark with one dark blob per chip (integer values,
    so the BZERO twin is exact)."""
    return write_acs(tmp_path / 'plain_dkc.fits', shape=(128, 160),
                     sci={1: _fleck_chip(1), 2: _fleck_chip(2)},
                     flashdur=4.6, flashsta='SUCCESSFUL')


def _edit(src, dst, func):
    with fits.open(src) as h:
        hdus = [hdu.copy() for hdu in h]
    hdus = func(hdus) or hdus
    fits.HDUList(hdus).writeto(dst, overwrite=True)
    return dst


def _gzip(src, dst):
    with open(src, 'rb') as f, gzip.open(dst, 'wb') as g:
        shutil.copyfileobj(f, g)
    return dst


# ------------------------------------------- 1. inconsistent files --------
def _dup_extver(hdus):
    for h in hdus[4:7]:
        h.header['EXTVER'] = 1


def _no_extver(hdus):
    for h in hdus[1:]:
        del h.header['EXTVER']


def _orphan(hdus):
    del hdus[4]            # [SCI,2] gone, [ERR,2] and [DQ,2] stay


def _set(index, key, value):
    def f(hdus):
        hdus[index].header[key] = value
    return f


def _cube(hdus):
    h = hdus[1]
    hdus[1] = fits.ImageHDU(np.zeros((2,) + h.data.shape, np.float32),
                            header=h.header, name='SCI', ver=1)


INCONSISTENT = {
    'sci_3d': (_cube, 'is a 3-D image'),
    'expstart_before_acs': (_set(0, 'EXPSTART', 40000.0),
                            'outside the life of ACS'),
    'expstart_far_future': (_set(0, 'EXPSTART', 1e10),
                            'outside the life of ACS'),
    'duplicate_extver': (_dup_extver, 'duplicate or missing EXTVER'),
    'missing_extver': (_no_extver, 'duplicate or missing EXTVER'),
    'orphan_err_dq': (_orphan, 'without a matching SCI'),
    'ccdchip_3': (_set(1, 'CCDCHIP', 3), 'CCDCHIP=3, not a WFC chip'),
    'ccdchip_0': (_set(4, 'CCDCHIP', 0), 'CCDCHIP=0, not a WFC chip'),
    'ccdchip_-999': (_set(1, 'CCDCHIP', -999), 'not a WFC chip'),
    'ccdchip_text': (_set(1, 'CCDCHIP', 'two'), "CCDCHIP='two'"),
    'ccdchip_float': (_set(1, 'CCDCHIP', 1.5), 'CCDCHIP=1.5'),
    'expstart_text': (_set(0, 'EXPSTART', 'yesterday'), "EXPSTART='yesterday'"),
    'exptime_text': (_set(0, 'EXPTIME', 'long'), "EXPTIME='long'"),
    'ltv1_text': (_set(1, 'LTV1', 'zero'), "LTV1='zero'"),
    'ltv2_text': (_set(4, 'LTV2', 'x'), "LTV2='x'"),
    'ltv1_fraction': (_set(1, 'LTV1', -0.5), 'not a whole number'),
    'ltv1_off_right': (_set(1, 'LTV1', -4100.0), 'outside the 4096x2048'),
    'ltv1_off_left': (_set(1, 'LTV1', 57.0), 'outside the 4096x2048'),
    'ltv2_off_top': (_set(4, 'LTV2', -2000.0), 'outside the 4096x2048'),
    'ltv2_off_bottom': (_set(4, 'LTV2', 3.0), 'outside the 4096x2048'),
    'ltv_raw_margin_on_calibrated': (_set(1, 'LTV1', 24.0),
                                     'outside the 4096x2048'),
}


class TestInconsistentFiles:
    @pytest.mark.parametrize('case', sorted(INCONSISTENT))
    def test_api_refuses(self, tmp_path, case):
        func, match = INCONSISTENT[case]
        p = _edit(write_acs(tmp_path / 'a.fits'), tmp_path / 'b_flt.fits',
                  func)
        with pytest.raises(InputFileError, match=match.replace('(', r'\(')
                           .replace('[', r'\[')) as info:
            ACSImage(p)
        assert info.value.path == str(p)

    @pytest.mark.parametrize('command', ['find', 'info', 'monitor'])
    @pytest.mark.parametrize('case', ['duplicate_extver', 'orphan_err_dq',
                                      'ccdchip_3', 'expstart_text',
                                      'ltv1_text', 'ltv1_off_right'])
    def test_cli_refuses(self, tmp_path, capsys, command, case):
        func, match = INCONSISTENT[case]
        src = write_acs(tmp_path / 'a.fits', flashdur=4.6,
                        flashsta='SUCCESSFUL')
        p = _edit(src, tmp_path / 'b_dkc.fits', func)
        argv = {'find': ['find', p, '-o', 'out.ecsv'],
                'info': ['info', p],
                'monitor': ['monitor', p, '--db', 'h.sqlite', '-o',
                            'out.ecsv']}[command]
        if command == 'monitor':
            # a file among others is skipped; alone it is refused
            assert_refused(argv, tmp_path, capsys, names='none of the 1',
                           inputs=[p])
        else:
            assert_refused(argv, tmp_path, capsys, names=p, match=match,
                           inputs=[p])

    def test_both_chips_read_with_explicit_extver(self, tmp_path):
        img = ACSImage(write_acs(tmp_path / 'a.fits'))
        assert img.chips == (1, 2)

    def test_single_chip_without_extver(self, tmp_path):
        # one triple without EXTVER is unambiguous (FITS default 1)
        p = _edit(write_acs(tmp_path / 'a.fits', chips=(2,)),
                  tmp_path / 'b.fits', _no_extver)
        assert ACSImage(p).chips == (2,)

    @pytest.mark.parametrize('ltv, ok', [
        ((0, 0), True), ((-4000, 0), True), ((-4001, 0), False),
        ((0, -1984), True), ((0, -1985), False), ((1, 0), False),
        ((0, 1), False)])
    def test_ltv_bounds_of_a_subarray(self, tmp_path, ltv, ok):
        # 96 x 64 image: LTV = -(first chip column - 1)
        p = write_acs(tmp_path / 's.fits', ltv=ltv)
        if ok:
            assert ACSImage(p).ltv(1) == tuple(float(v) for v in ltv)
        else:
            with pytest.raises(InputFileError, match='outside the 4096x2048'):
                ACSImage(p)

    def test_raw_layout_keeps_prescan(self, tmp_path):
        # a raw chip: 24 prescan columns each side, 20 overscan rows
        shape = (2068, 4144)
        sci = {1: np.full(shape, 2000, np.float32)}
        p = write_acs(tmp_path / 'r_raw.fits', chips=(1,), shape=shape,
                      sci=sci, ltv=(24, 20))
        with fits.open(p, mode='update') as h:
            for hdu in h[1:]:
                hdu.header['BUNIT'] = 'COUNTS'
            h[0].header['CCDGAIN'] = 2.0
            h[0].header['CCDAMP'] = 'ABCD'
        # accepted, and read (bias-subtracted, trimmed: acs_flecks.raw) in
        # the 4096x2048 frame of the chip
        img = ACSImage(p)
        assert img.ltv(1) == (0.0, 0.0)
        assert img.chip(1).sci.shape == (2048, 4096)
        with fits.open(p, mode='update') as h:
            h[1].header['LTV1'] = 25.0
        with pytest.raises(InputFileError, match='prescan'):
            ACSImage(p)

    def test_real_wfc_header_still_reads(self):
        path = real_file(REAL_WFC_HEADER)
        before = _sha(path)
        img = ACSImage(path)
        assert img.chips == (1, 2) and img.ltv(2) == (0.0, 0.0)
        assert img._entry(2)['extver'] == 1
        assert _sha(path) == before


# ------------------------------------------- 2. detector support ---------
def _hrc(tmp_path):
    return write_acs(tmp_path / 'h_flt.fits', detector='HRC', chips=(1,),
                     shape=(64, 64), flashdur=1.0, flashsta='SUCCESSFUL',
                     filter1='F435W', filter2='CLEAR2S')


def _sbc(tmp_path):
    return write_acs(tmp_path / 's_flt.fits', detector='SBC', chips=(1,),
                     shape=(64, 64), filter1='F115LP', filter2='N/A')


def _commands(f, ref, flecks):
    pos = ['--ccdchip', '1', '--x', '30', '--y', '30']
    return {
        'find': ['find', f, '-o', 'o.ecsv'],
        'monitor': ['monitor', f, '--db', 'h.sqlite', '-o', 'o.ecsv'],
        'lightpath': ['lightpath', '--flashed', f, '--unflashed', f,
                      '--ccdchip', '1', '--x', '10', '--y', '10', '-o',
                      'o.ecsv'],
        'transmissivity': ['transmissivity', f, *pos, '-o', 'od'],
        'ledlamp': ['ledlamp', f, '--flats', f, *pos, '-o', 'od'],
        'eper': ['eper', f, f, *pos, '-o', 'od'],
        'shadow': ['shadow', f, *pos, '-o', 'od'],
        'figures': ['figures', '--dkc', f, '--flats', f, '-o', 'od'],
        'bpixtab': ['bpixtab', '--reference', ref, '--flats', f, '--flecks',
                    flecks, '--useafter', '2017-05-05', '-o', 'n_bpx.fits'],
    }


COMMANDS = ('find', 'monitor', 'lightpath', 'transmissivity', 'ledlamp',
            'eper', 'shadow', 'figures', 'bpixtab')


class TestDetectorSupport:
    @pytest.fixture
    def setup(self, tmp_path):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=20)
        flecks = tmp_path / 'flecks.ecsv'
        QTable({'ccdchip': [1], 'x': [30.0], 'y': [30.0]}).write(flecks)
        return ref, flecks

    @pytest.mark.parametrize('command', COMMANDS)
    @pytest.mark.parametrize('which', ['HRC', 'SBC', 'real HRC raw'])
    def test_refused(self, tmp_path, capsys, setup, command, which):
        f = {'HRC': _hrc, 'SBC': _sbc,
             'real HRC raw': lambda t: real_file(REAL_HRC_RAW)}[which](
                 tmp_path)
        det = 'SBC' if which == 'SBC' else 'HRC'
        argv = _commands(f, *setup)[command]
        line = assert_refused(argv, tmp_path, capsys, names=f,
                              match=f'detector {det} is not supported',
                              inputs=[f, setup[0]])
        assert 'supports WFC only' in line
        if det == 'SBC':
            assert 'post-flash' in line

    def test_run_refuses(self, tmp_path, capsys, setup):
        f = _hrc(tmp_path)
        cfg = tmp_path / 'run.cfg'
        cfg.write_text(f'_task_name_ = acs_flecks\ninput = {f}\n'
                       f'reference = {setup[0]}\noutdir = {tmp_path}/out\n')
        assert_refused(['run', cfg], tmp_path, capsys, names=f,
                       match='run supports WFC only', inputs=[f, cfg])

    @pytest.mark.parametrize('which', ['HRC', 'SBC', 'real HRC raw'])
    def test_info_describes(self, tmp_path, capsys, which):
        f = {'HRC': _hrc, 'SBC': _sbc,
             'real HRC raw': lambda t: real_file(REAL_HRC_RAW)}[which](
                 tmp_path)
        assert main(['info', str(f)]) == 0
        out = capsys.readouterr().out
        assert ('SBC' if which == 'SBC' else 'HRC') in out

    def test_real_hrc_raw_pixels(self):
        # BZERO-scaled uint16 SCI and null ERR/DQ (NAXIS=0, PIXVALUE=0):
        # read, bias-subtracted, in electrons and trimmed (acs_flecks.raw)
        path = real_file(REAL_HRC_RAW)
        img = ACSImage(path)
        c = img.chip(1)
        assert c.sci.shape == c.err.shape == c.dq.shape == (1024, 1024)
        assert img.ltv(1) == (0.0, 0.0)
        dn = fits.getdata(path, 'SCI').astype(float)     # 1044 x 1062
        trimmed = dn[0:1024, 19:19 + 1024]
        gain = fits.getheader(path)['CCDGAIN']
        assert gain == 2
        # saturated raw values (65535 DN) are the brightest electrons and
        # carry DQ 2048; the rest of DQ is empty (null DQ extension)
        sat = trimmed == 65535
        assert sat.any()
        assert np.array_equal(c.dq == 2048, sat)
        assert not (c.dq & ~np.uint16(2048)).any()
        assert c.sci[sat].max() == c.sci.max()
        bias = 65535 - c.sci[sat].max() / gain
        assert 1000 < bias < 1300          # the prescan bias, in DN
        assert np.all(c.err > 0)           # Poisson + read noise


# --------------------------------------- 3. valid unusual inputs ---------
def _bzero(src, dst):
    def f(hdus):
        for h in hdus:
            if h.name == 'SCI':
                h.data = h.data.astype(np.uint16)   # int16 + BZERO=32768
    out = _edit(src, dst, f)
    assert fits.getheader(out, 1)['BZERO'] == 32768
    return out


def _null_err_dq(src, dst):
    def f(hdus):
        for i, h in enumerate(hdus):
            if h.name in ('ERR', 'DQ'):
                hdr = h.header.copy()
                for k in ('NAXIS1', 'NAXIS2'):
                    hdr.remove(k, ignore_missing=True)
                hdr['NPIX1'] = h.data.shape[1]
                hdr['NPIX2'] = h.data.shape[0]
                hdr['PIXVALUE'] = float(h.data.flat[0])
                hdus[i] = fits.ImageHDU(None, header=hdr, name=h.name,
                                        ver=h.ver)
    return _edit(src, dst, f)


def _tile_compressed(src, dst):
    """The file with every image extension tile-compressed (fpack-like,
    lossless)."""
    with fits.open(src) as h:
        hdus = [fits.PrimaryHDU(header=h[0].header)]
        for hdu in h[1:]:
            c = fits.CompImageHDU(hdu.data, header=hdu.header, name=hdu.name,
                                  compression_type='GZIP_2',
                                  quantize_level=0.0)
            c.header['EXTVER'] = hdu.ver
            hdus.append(c)
        fits.HDUList(hdus).writeto(dst)
    return dst


def _catalog(path, tmp_path, capsys):
    out = tmp_path / (os.path.basename(path) + '.ecsv')
    assert main(['-q', 'find', str(path), '-o', str(out)]) == 0
    capsys.readouterr()
    t = Table.read(out)
    t.remove_column('file')
    return t


class TestTwins:
    def test_find_plain_gz_bzero_null(self, dkc, tmp_path, capsys):
        twins = [_gzip(dkc, tmp_path / 'gz_dkc.fits.gz'),
                 _bzero(dkc, tmp_path / 'bz_dkc.fits'),
                 _gzip(_bzero(dkc, tmp_path / 'bz2_dkc.fits'),
                       tmp_path / 'bz2_dkc.fits.gz'),
                 _null_err_dq(dkc, tmp_path / 'null_dkc.fits'),
                 _tile_compressed(dkc, tmp_path / 'fz_dkc.fits')]
        plain = _catalog(dkc, tmp_path, capsys)
        assert len(plain) == 2
        for twin in twins:
            t = _catalog(twin, tmp_path, capsys)
            assert t.colnames == plain.colnames
            for name in plain.colnames:
                assert_array_equal(t[name], plain[name], err_msg=f'{twin} {name}')

    def test_pixels_identical(self, dkc, tmp_path):
        bz = _bzero(dkc, tmp_path / 'bz_dkc.fits')
        gz = _gzip(bz, tmp_path / 'bz_dkc.fits.gz')
        nul = _null_err_dq(dkc, tmp_path / 'null_dkc.fits')
        fz = _tile_compressed(dkc, tmp_path / 'fz_dkc.fits')
        ref = ACSImage(dkc)
        for p in (bz, gz, nul, fz):
            img = ACSImage(p)
            for chip in (1, 2):
                a, b = ref.chip(chip), img.chip(chip)
                assert_array_equal(a.sci, b.sci)
                assert_array_equal(a.err, b.err)
                assert_array_equal(a.dq, b.dq)
                sec = (slice(5, 20), slice(30, 50))
                assert_array_equal(img.chip(chip, section=sec).sci,
                                   a.sci[sec])

    @pytest.mark.parametrize('cut', [0.3, 0.6, 0.95])
    def test_truncated_gz_refused(self, dkc, tmp_path, capsys, cut):
        gz = _gzip(dkc, tmp_path / 'g_dkc.fits.gz')
        data = gz.read_bytes()
        bad = tmp_path / 't_dkc.fits.gz'
        bad.write_bytes(data[:int(len(data) * cut)])
        with pytest.raises(InputFileError, match='truncated'):
            ACSImage(bad)
        assert_refused(['find', bad, '-o', 'o.ecsv'], tmp_path, capsys,
                       names=bad, match='truncated', inputs=[bad])

    def test_gz_multimember_is_complete(self, dkc, tmp_path):
        # a concatenation of two gzip members is valid gzip (ISIZE is of
        # the last member only): decompressed in full to check it
        raw = dkc.read_bytes()
        p = tmp_path / 'm_dkc.fits.gz'
        p.write_bytes(gzip.compress(raw[:2880 * 3]) +
                      gzip.compress(raw[2880 * 3:]))
        assert_array_equal(ACSImage(p).chip(1).sci, ACSImage(dkc).chip(1).sci)

    def test_bpixtab_and_certify_plain_vs_gz(self, tmp_path, capsys):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=100)
        refgz = _gzip(ref, tmp_path / 'refgz_bpx.fits.gz')
        bad = tmp_path / 'bad.ecsv'
        fleck_pixels().write(bad)
        badgz = _gzip(bad, tmp_path / 'bad.ecsv.gz')
        outs = []
        for r, b, name in ((ref, bad, 'a_bpx.fits'),
                           (refgz, badgz, 'b_bpx.fits')):
            out = tmp_path / name
            assert main(['-q', 'bpixtab', '--reference', str(r),
                         '--bad-pixels', str(b), '--useafter', '2017-05-05',
                         '-o', str(out)]) == 0
            outs.append(out)
        capsys.readouterr()
        a, b = (fits.getdata(o, 1) for o in outs)
        assert a.dtype == b.dtype
        for name in a.names:
            assert_array_equal(a[name], b[name])
        plain = certify_bpixtab(outs[0], reference=ref)
        gz = certify_bpixtab(_gzip(outs[0], tmp_path / 'a_bpx.fits.gz'),
                             reference=refgz)
        assert plain.passed and gz.passed, gz.report()
        assert [(c.name, c.status) for c in plain.checks] == \
            [(c.name, c.status) for c in gz.checks]
        assert 'codec' not in gz.report()
        rc = main(['certify', str(tmp_path / 'a_bpx.fits.gz'),
                   '--reference', str(refgz)])
        assert rc == 0 and capsys.readouterr().out.rstrip().endswith('PASSED')


# ------------------------------------------- 4. reference rules ----------
def _rows(rows, *, amp=None, gain=None, gain_dtype=np.int16):
    t = Table(rows=rows, names=('PIX1', 'PIX2', 'LENGTH', 'AXIS', 'VALUE',
                                'CCDCHIP'), dtype=[np.int32] * 6)
    if amp is not None:
        t['CCDAMP'] = np.array(amp, dtype='S4')
    if gain is not None:
        t['CCDGAIN'] = np.array(gain, dtype=gain_dtype)
    return t


def _dodqi(table, *, ccdchip, shape, ltv=(0, 0), ccdamp=None, ccdgain=None,
           placeholder=False):
    """Literal port of hstcal dodqi.c (doDQI row selection with SameInt,
    SameFlt, SameString of sameint.c, the intgain switch of OpenBpixTab,
    VALUE read as a short, DQINormal clipping, the place-holder)."""
    ny, nx = shape
    dq = np.zeros(shape, np.uint16)
    gain_col = 'CCDGAIN' in table.colnames
    # c_tbcinf: TINT/TLONG/TLONGLONG -> IRAF_INT; short/real -> not int
    intgain = gain_col and table['CCDGAIN'].dtype.kind == 'i' and \
        table['CCDGAIN'].dtype.itemsize >= 4

    def same_int(row, value):
        return row == -1 or row == value or row == -999

    def same_flt(row, value):
        row, value = np.float32(row), np.float32(value)
        return row == np.float32(-1) or row == value or row == np.float32(-999)

    def same_string(row, value):
        return row == 'ANY' or row == value
    nrows = 0
    for row in table:
        if ccdamp is None or 'CCDAMP' not in table.colnames:
            sameamp = True
        else:
            amp = row['CCDAMP']
            amp = (amp.decode() if isinstance(amp, bytes) else str(amp)).rstrip()
            sameamp = same_string(amp, 'N/A') or same_string(amp, ccdamp)
        if ccdgain is None or not gain_col:
            samegain = True
        elif intgain:
            gi = int(row['CCDGAIN'])
            samegain = gi == -999 or same_int(gi, int(ccdgain))
        else:
            gf = float(row['CCDGAIN'])
            samegain = same_flt(gf, -999.0) or same_flt(gf, ccdgain)
        chip = int(row['CCDCHIP'])
        samechip = chip == -999 or same_int(chip, ccdchip)
        if not (sameamp and samegain and samechip):
            continue
        nrows += 1
        xstart = int(int(row['PIX1']) - 1 + ltv[0])
        ystart = int(int(row['PIX2']) - 1 + ltv[1])
        length = int(row['LENGTH'])
        flag = np.uint16(np.int16(np.int64(row['VALUE']).astype(np.int16))
                         .view(np.uint16))
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
    if nrows == 0 and placeholder:
        dq[1, 1] |= 64
    return dq


class TestExpansionAsDodqi:
    """expand_bpixtab against a literal port of dodqi.c."""

    SHAPE = (40, 60)

    def _both(self, t, **kw):
        got = expand_bpixtab(t, shape=self.SHAPE, **kw)
        want = _dodqi(t, shape=self.SHAPE, **kw)
        assert_array_equal(got, want)
        return got

    def test_random_tables(self):
        rng = np.random.default_rng(12)
        n = 300
        t = _rows(list(zip(rng.integers(-10, 70, n), rng.integers(-10, 50, n),
                           rng.integers(1, 30, n), rng.integers(1, 3, n),
                           rng.choice([4, 16, 64, 1024, -4, 0], n),
                           rng.choice([1, 2, -1, -999, 3], n))),
                  amp=rng.choice(['N/A', 'ANY', 'A', 'B', 'C'], n),
                  gain=rng.choice([-999, -1, 1, 2], n), gain_dtype=np.int32)
        for chip in (1, 2):
            for amp in (None, 'A', 'C'):
                for gain in (None, 1.0, 2.0, 1.5):
                    self._both(t, ccdchip=chip, ccdamp=amp, ccdgain=gain,
                               ltv=(3, 0))
        self._both(t[:0], ccdchip=1, placeholder=True)

    def test_runs_past_the_edge_clipped(self):
        t = _rows([(55, 3, 10, 1, 4, 1),     # x 55..64 -> 55..60
                   (-4, 5, 8, 1, 16, 1),     # x -4..3 -> 1..3
                   (7, 35, 20, 2, 32, 1),    # y 35..54 -> 35..40
                   (9, -10, 12, 2, 64, 1)])  # y -10..1 -> 1
        m = self._both(t, ccdchip=1)
        assert_array_equal(np.flatnonzero(m[2] == 4), np.arange(54, 60))
        assert_array_equal(np.flatnonzero(m[4] == 16), [0, 1, 2])
        assert_array_equal(np.flatnonzero(m[:, 6] == 32), np.arange(34, 40))
        assert_array_equal(np.flatnonzero(m[:, 8] == 64), [0])

    def test_wholly_outside_skipped(self):
        t = _rows([(61, 3, 5, 1, 4, 1), (-10, 3, 5, 1, 4, 1),
                   (3, 41, 5, 2, 4, 1), (3, -5, 5, 2, 4, 1),
                   (3, 41, 5, 1, 4, 1), (0, 3, 5, 2, 4, 1)])
        m = self._both(t, ccdchip=1)
        assert not m.any()
        # the rows applied (they match the chip): no place-holder
        assert not self._both(t, ccdchip=1, placeholder=True).any()

    @pytest.mark.parametrize('chip, applies', [
        (-999, {1, 2}), (-1, {1, 2}), (1, {1}), (2, {2}), (3, set()),
        (0, set())])
    def test_ccdchip_wildcards(self, chip, applies):
        t = _rows([(5, 5, 3, 1, 4, chip)])
        for c in (1, 2):
            m = self._both(t, ccdchip=c)
            assert m.any() == (c in applies)

    @pytest.mark.parametrize('amp, applies', [
        ('N/A', {'A', 'B', 'C', 'D', 'CD'}), ('ANY', {'A', 'B', 'C', 'D', 'CD'}),
        ('A', {'A'}), ('CD', {'CD'}), ('n/a', set())])
    def test_ccdamp(self, amp, applies):
        t = _rows([(5, 5, 3, 1, 4, 1)], amp=[amp])
        for a in ('A', 'B', 'C', 'D', 'CD'):
            assert self._both(t, ccdchip=1, ccdamp=a).any() == (a in applies)

    @pytest.mark.parametrize('dtype', [np.int32, np.int64, np.int16,
                                       np.float32])
    @pytest.mark.parametrize('row_gain', [-999, -1, 1, 2, 4])
    def test_ccdgain_int_vs_float(self, dtype, row_gain):
        # int (TFORM J/K) column: compared with (int)CCDGAIN, so 1.4 -> 1;
        # short or real column: compared as float
        t = _rows([(5, 5, 3, 1, 4, 1)], gain=[row_gain], gain_dtype=dtype)
        for g in (1.0, 1.4, 2.0, 4.0):
            m = self._both(t, ccdchip=1, ccdgain=g)
            if row_gain in (-999, -1):
                assert m.any()
            elif np.dtype(dtype).kind == 'i' and np.dtype(dtype).itemsize >= 4:
                assert m.any() == (row_gain == int(g))
            else:
                assert m.any() == (row_gain == g)

    def test_ltv_shift_and_value_short(self):
        t = _rows([(1, 1, 4, 1, 4, 1), (10, 1, 2, 1, -4, 1)])
        m = self._both(t, ccdchip=1, ltv=(24, 20))
        assert (m[20, 24:28] == 4).all() and m[20, 23] == 0
        # CALACS ORs VALUE as a C short: -4 is 0xFFFC
        assert (m[20, 33:35] == 0xFFFC).all()


class TestReferenceRules:
    def test_edge_rows_valid_and_kept(self, tmp_path):
        rows = [(1, 1, 1, 1, 4, 1), (4090, 10, 20, 1, 16, 1),
                (10, 2040, 30, 2, 32, 2), (5000, 10, 3, 1, 4, 2),
                (10, 10, 3, 1, 4, 3), (20, 20, 3, 1, 4, -1),
                (30, 30, 3, 1, 0, 1)]
        ref = write_wfc_reference(tmp_path / 'e_bpx.fits', rows=rows)
        bpx = read_bpixtab(ref)             # valid for CALACS: not refused
        assert check_bpixtab_rows(bpx.table, detector='WFC') == []
        warn = bpixtab_row_warnings(bpx.table, detector='WFC')
        assert warn.kinds == ['on_chip', 'on_chip', 'ccdchip', 'value']
        assert 'past the edge' in warn[0] and 'first: row 2' in warn[0]
        assert 'wholly outside' in warn[1] and 'first: row 4' in warn[1]
        before = _sha(ref)
        out = tmp_path / 'n_bpx.fits'
        d = deliver_bpixtab(ref, fleck_pixels(), out, useafter='2017-05-05',
                            certify=False)
        assert d.table.meta['n_reference'] == len(rows)
        got = fits.getdata(out, 1)
        for i, r in enumerate(rows):
            assert tuple(int(got[c][i]) for c in ('PIX1', 'PIX2', 'LENGTH',
                                                  'AXIS', 'VALUE',
                                                  'CCDCHIP')) == r
        assert _sha(ref) == before
        r = certify_bpixtab(out, reference=ref)
        st = {c.name: c.status for c in r.checks}
        assert st['on_chip'] == 'warn' and st['ccdchip'] == 'warn'
        assert st['value'] == 'warn' and st['reference_rows'] == 'pass'

    def test_new_rows_must_be_on_the_chip(self):
        t = _rows([(4095, 10, 5, 1, 4, 1), (10, 10, 3, 1, 4, -999),
                   (10, 10, 3, 1, 4, -1), (10, 10, 3, 1, 0, 1)])
        msgs = check_new_rows(t, detector='WFC', offset=100)
        assert msgs.kinds == ['value', 'ccdchip', 'on_chip']
        assert 'row 101' in msgs[-1]

    @pytest.mark.parametrize('value', [-4, -1, -32768, 32768, 65540])
    def test_value_not_a_short_refused(self, tmp_path, capsys, value):
        rows = [(1, 1, 1, 1, 4, 1), (100, 100, 3, 1, value, 2)]
        ref = tmp_path / 'v_bpx.fits'
        t = _rows(rows)
        ph = fits.Header({'INSTRUME': 'ACS', 'DETECTOR': 'WFC',
                          'FILETYPE': 'BAD PIXELS',
                          'USEAFTER': 'Mar 01 2002 00:00:00'})
        cols = [fits.Column(n, 'J', array=np.asarray(t[n]))
                for n in t.colnames]
        cols += [fits.Column('CCDAMP', '4A', array=['N/A'] * 2),
                 fits.Column('CCDGAIN', 'E', array=[-999.0] * 2)]
        fits.HDUList([fits.PrimaryHDU(header=ph),
                      fits.BinTableHDU.from_columns(cols, name='BPX')]
                     ).writeto(ref)
        with pytest.raises(ReferenceFileError, match='VALUE outside'):
            read_bpixtab(ref)
        bad = tmp_path / 'bad.ecsv'
        fleck_pixels().write(bad)
        assert_refused(['bpixtab', '--reference', ref, '--bad-pixels', bad,
                        '--useafter', '2017-05-05', '-o', 'n_bpx.fits'],
                       tmp_path, capsys, names=ref, match='VALUE outside',
                       inputs=[ref, bad])
        # certify does not say PASSED
        r = certify_bpixtab(ref)
        assert not r.passed
        assert {c.name: c.status for c in r.checks}['value'] == 'FAIL'


class TestUnreadableTables:
    @pytest.fixture
    def tables(self, tmp_path):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=300)
        gz = _gzip(ref, tmp_path / 'refgz_bpx.fits.gz')
        data, gzdata = ref.read_bytes(), gz.read_bytes()
        cut = tmp_path / 'cut_bpx.fits'
        cut.write_bytes(data[:len(data) - 2880])
        cutgz = tmp_path / 'cutgz_bpx.fits.gz'
        cutgz.write_bytes(gzdata[:len(gzdata) // 2])
        text = tmp_path / 'text_bpx.fits'
        text.write_text('not FITS\n' * 400)
        return ref, [cut, cutgz, text]

    def test_certify_refuses(self, tmp_path, capsys, tables):
        ref, bad = tables
        for p in bad:
            assert_refused(['certify', p], tmp_path, capsys, names=p,
                           inputs=[p])
            assert_refused(['certify', ref, '--reference', p], tmp_path,
                           capsys, names=p, inputs=[p, ref])

    def test_bpixtab_refuses_reference(self, tmp_path, capsys, tables):
        ref, bad = tables
        pixels = tmp_path / 'bad.ecsv'
        fleck_pixels().write(pixels)
        for p in bad:
            assert_refused(['bpixtab', '--reference', p, '--bad-pixels',
                            pixels, '--useafter', '2017-05-05', '-o',
                            'n_bpx.fits'], tmp_path, capsys, names=p,
                           inputs=[p, pixels])


class TestColumnTypes:
    @pytest.mark.parametrize('col, fmt, values, match', [
        ('CCDGAIN', '4A', ['-999'] * 2, 'CCDGAIN must be numeric'),
        ('CCDAMP', 'J', [0, 0], 'CCDAMP must be a string'),
        ('PIX1', 'E', [1.0, 2.0], 'PIX1 must be integer')])
    def test_refused(self, tmp_path, col, fmt, values, match):
        base = {'PIX1': ('J', [1, 2]), 'PIX2': ('J', [1, 1]),
                'LENGTH': ('J', [1, 1]), 'AXIS': ('J', [1, 1]),
                'VALUE': ('J', [4, 4]), 'CCDCHIP': ('J', [1, 2]),
                'CCDAMP': ('4A', ['N/A'] * 2), 'CCDGAIN': ('E', [-999.0] * 2)}
        base[col] = (fmt, values)
        cols = [fits.Column(n, f, array=v) for n, (f, v) in base.items()]
        ph = fits.Header({'INSTRUME': 'ACS', 'DETECTOR': 'WFC'})
        p = tmp_path / 't_bpx.fits'
        fits.HDUList([fits.PrimaryHDU(header=ph),
                      fits.BinTableHDU.from_columns(cols)]).writeto(p)
        with pytest.raises(ReferenceFileError, match=match):
            read_bpixtab(p)


class TestOptions:
    @pytest.fixture
    def args(self, tmp_path):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=50)
        bad = tmp_path / 'bad.ecsv'
        fleck_pixels().write(bad)
        return ['bpixtab', '--reference', ref, '--bad-pixels', bad,
                '-o', 'n_bpx.fits'], [ref, bad]

    @pytest.mark.parametrize('value', ['nan', '-1', '2', '0', '1.0001',
                                       'inf', '-inf'])
    def test_threshold_refused(self, tmp_path, capsys, args, value):
        argv, inputs = args
        line = assert_refused(argv + ['--useafter', '2017-05-05',
                                      f'--threshold={value}'],
                              tmp_path, capsys, names='--threshold',
                              inputs=inputs)
        assert '(0, 1]' in line

    @pytest.mark.parametrize('option, value', [
        ('--max-distance', 'nan'), ('--max-distance', '-1'),
        ('--max-distance', '0'), ('--max-distance', 'inf'),
        ('--max-new-pixels', '-1'), ('--value', '0'), ('--value', '-4'),
        ('--value', '65536'), ('--detector', 'NIRCAM')])
    def test_certify_limits_refused(self, tmp_path, capsys, args, option,
                                    value):
        _, (ref, _) = args
        assert_refused(['certify', ref, f'{option}={value}'], tmp_path,
                       capsys, names=option, inputs=[ref])

    @pytest.mark.parametrize('value', ['nan', '-1', '0'])
    def test_bpixtab_max_distance_refused(self, tmp_path, capsys, args,
                                          value):
        argv, inputs = args
        assert_refused(argv + ['--useafter', '2017-05-05',
                               f'--max-distance={value}'], tmp_path, capsys,
                       names='--max-distance', inputs=inputs)

    @pytest.mark.parametrize('value', [0.5, 1, 1e-3])
    def test_threshold_accepted(self, value):
        assert check_threshold(value) == value

    @pytest.mark.parametrize('date, match', [
        ('1990-01-01', 'before ACS was installed'),
        ('2002-02-28', 'before ACS was installed'),
        ('Feb 28 2002 23:59:59', 'before ACS was installed'),
        ('2099-01-01', 'in the future'),
        ('3000-06-01', 'in the future'),
        ('2017-02-30', 'invalid'), ('garbage', 'invalid'),
        ('2017-13-01', 'invalid'), ('Foo 05 2017', 'invalid')])
    def test_useafter_refused(self, tmp_path, capsys, args, date, match):
        argv, inputs = args
        line = assert_refused(argv + ['--useafter', date], tmp_path, capsys,
                              names='--useafter', match=match, inputs=inputs)
        assert 'dubious' not in line

    def test_no_erfa_warnings(self, recwarn):
        for date in ('2099-01-01', '1990-01-01'):
            with pytest.raises(AcsFlecksError):
                parse_useafter(date)
        assert parse_useafter('2002-03-01').isot.startswith('2002-03-01')
        assert not [w for w in recwarn if 'dubious' in str(w.message)]

    def test_useafter_before_reference_warns(self, tmp_path, capsys):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=50)
        with fits.open(ref, mode='update') as h:
            h[0].header['USEAFTER'] = 'Jun 01 2017 00:00:00'
        with pytest.warns(BpixtabWarning, match='before the USEAFTER'):
            deliver_bpixtab(ref, fleck_pixels(), tmp_path / 'a_bpx.fits',
                            useafter='2017-05-05')
        with warnings.catch_warnings():
            warnings.simplefilter('error', BpixtabWarning)
            deliver_bpixtab(ref, fleck_pixels(), tmp_path / 'b_bpx.fits',
                            useafter='2017-06-01')
        bad = tmp_path / 'bad.ecsv'
        fleck_pixels().write(bad)
        assert main(['bpixtab', '--reference', str(ref), '--bad-pixels',
                     str(bad), '--useafter', '2017-05-05', '-o',
                     str(tmp_path / 'c_bpx.fits')]) == 0
        err = capsys.readouterr().err
        assert 'warning' in err and 'BpixtabWarning' in err

    @pytest.mark.parametrize('detector', ['HRC', 'SBC', 'NIRCAM'])
    def test_bpixtab_detector_option(self, tmp_path, capsys, args,
                                     detector):
        argv, inputs = args
        assert_refused(argv + ['--useafter', '2017-05-05', '--detector',
                               detector], tmp_path, capsys,
                       names='--detector', inputs=inputs)


class TestNearFlecks:
    """The distance check cannot pass by construction any more."""

    @pytest.fixture
    def scattered(self):
        rng = np.random.default_rng(9)
        n = 200
        return QTable({'ccdchip': rng.choice([1, 2], n),
                       'x': rng.integers(1, 4097, n),
                       'y': rng.integers(1, 2049, n),
                       'transmissivity': np.full(n, 0.2)})

    def test_fails_with_fleck_positions(self, tmp_path, scattered):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=50)
        flecks = QTable({'ccdchip': [2, 1], 'x': [1521.0, 3000.0],
                         'y': [1773.0, 500.0]})
        out = tmp_path / 'n_bpx.fits'
        with pytest.raises(CertificationError, match='farther than 30'):
            deliver_bpixtab(ref, scattered, out, useafter='2017-05-05',
                            flecks=flecks)
        assert not out.exists()

    def test_not_run_without_positions(self, tmp_path, scattered):
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=50)
        d = deliver_bpixtab(ref, scattered, tmp_path / 'n_bpx.fits',
                            useafter='2017-05-05')
        near = {c.name: c for c in d.certification.checks}['near_flecks']
        assert near.status == 'not run' and near.passed
        assert 'not run' in d.certification.report()

    # acs_flecks run: tests/test_pipeline.py asserts that the certification
    # of the chain's table has near_flecks 'pass' (positions given)


# --------------------------------------------- 5. up-front refusals ------
class TestUpFront:
    def _cfg(self, tmp_path, **kw):
        dkc = write_acs(tmp_path / 'w_dkc.fits', flashdur=4.6,
                        flashsta='SUCCESSFUL')
        flat = write_acs(tmp_path / 'w_crc.fits', imagetyp='FLAT',
                         filter1='F435W', filter2='CLEAR2L')
        ref = write_wfc_reference(tmp_path / 'ref_bpx.fits', n=20)
        lines = {'input': dkc, 'flats': flat, 'reference': ref,
                 'outdir': tmp_path / 'out', **kw}
        cfg = tmp_path / 'run.cfg'
        cfg.write_text('_task_name_ = acs_flecks\n' + ''.join(
            f'{k} = {v}\n' for k, v in lines.items()))
        return cfg, [dkc, flat, ref]

    @pytest.mark.parametrize('combine, match', [
        ('F999W', "got 'F999W'"), ('nonsense', "got 'nonsense'"),
        ('F814W', 'no flat is in that filter'),
        ('F606W', 'no flat is in that filter')])
    def test_teal_combine_refused(self, tmp_path, capsys, combine, match):
        cfg, inputs = self._cfg(tmp_path, combine=combine)
        assert_refused(['run', cfg], tmp_path, capsys, names='combine',
                       match=match, inputs=inputs + [cfg])

    def test_transmissivity_combine_refused(self, tmp_path, capsys):
        flat = write_acs(tmp_path / 'w_crc.fits', imagetyp='FLAT',
                         filter1='F435W', filter2='CLEAR2L')
        assert_refused(['transmissivity', flat, '--ccdchip', '1', '--x', '30',
                        '--y', '30', '-o', 'od', '--combine', 'F999W'],
                       tmp_path, capsys, names='--combine', inputs=[flat])

    @pytest.mark.parametrize('kind, match', [
        (dict(imagetyp='FLAT', filter1='F435W', filter2='CLEAR2L'),
         "IMAGETYP='FLAT'"),
        (dict(imagetyp='FLAT', filter1='F435W', filter2='CLEAR2L',
              flashdur=4.6, flashsta='SUCCESSFUL'), "IMAGETYP='FLAT'"),
        (dict(imagetyp='DARK'), 'not post-flashed'),
        (dict(imagetyp='DARK', flashdur=4.6, flashsta='ABORTED'),
         'not post-flashed')])
    def test_shadow_needs_flashed_darks(self, tmp_path, capsys, kind, match):
        f = write_acs(tmp_path / 'x_crc.fits', **kind)
        good = write_acs(tmp_path / 'g_dkc.fits', flashdur=4.6,
                         flashsta='SUCCESSFUL', expstart=57900.0)
        for files in ([f], [good, f]):
            assert_refused(['shadow', *files, '--ccdchip', '1', '--x', '30',
                            '--y', '30', '--shadow-box', '20,30,40,42',
                            '--empty-box', '40,50,40,42', '-o', 'od'],
                           tmp_path, capsys, names=f, match=match,
                           inputs=files)
