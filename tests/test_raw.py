"""Raw WFC frames: the layout written by the simulator, the calibration read
by `acs_flecks.raw` through `acs_flecks.io.ACSImage`, and EPER from raw."""

import glob
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from acs_flecks.characterize import eper_ratio, pair_eper
from acs_flecks.cli import main
from acs_flecks.exceptions import InputFileError
from acs_flecks.io import ACSImage
from acs_flecks.raw import BIAS_COLUMNS, is_raw_layout
from acs_flecks.simulate import simulate_scenario
from acs_flecks.simulate.detector import Region
from acs_flecks.simulate.files import write_raw_file
from acs_flecks.simulate.rawframes import raw_frame, raw_region

from conftest import real_file

META = dict(date='2017-05-10T08:00:00', exptime=10.0, filter='F606W',
            filename='x_raw.fits', rootname='x', imagetyp='FLAT',
            targname='TUNGSTEN', proposid=14508, ncombine=1, ccdgain=2.0)


def _raw_file(path, electrons, *, seed=0, gains=None, header=None):
    """Write a raw file from ccdchip -> (Region, electrons)."""
    chips, biases = {}, {}
    for c, (reg, e) in electrons.items():
        rng = np.random.default_rng([seed, c])
        dn, ltv, bias = raw_frame(e, reg, rng, gains=gains)
        chips[c] = dict(dn=dn, ltv=ltv)
        biases[c] = bias
    write_raw_file(str(path), chips, META)
    if header:
        with fits.open(path, mode='update') as hdul:
            hdul[0].header.update(header)
    return biases


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    """A full-frame raw: 2068 x 4144 per chip, trimmed to 2048 x 4096."""
    path = tmp_path_factory.mktemp('raw') / 'full_raw.fits'
    rng = np.random.default_rng(1)
    elec = {}
    for c in (1, 2):
        e = rng.normal(500.0, 1.0, (2048, 4096)).astype(np.float32)
        e[1772, 1520] = 30000.0 + c          # pixel (x, y) = (1521, 1773)
        e[0, 4095] = 20000.0                 # (4096, 1), amp B/D
        elec[c] = (Region(c), e)
    biases = _raw_file(path, elec)
    return path, biases


class TestFullFrameGeometry:
    """Layout on disk and the trimmed, calibrated chips."""

    def test_layout_on_disk(self, raw):
        path, _ = raw
        with fits.open(path, do_not_scale_image_data=True) as hdul:
            for ext in (1, 4):
                h = hdul[ext].header
                chip = h['CCDCHIP']
                assert (h['NAXIS2'], h['NAXIS1']) == (2068, 4144)
                assert h['BITPIX'] == 16 and h['BZERO'] == 32768
                assert h['BUNIT'] == 'COUNTS'
                assert h['LTV1'] == 24
                # virtual overscan at low y on CCDCHIP 1, high y on CCDCHIP 2
                assert h['LTV2'] == (20 if chip == 1 else 0)
                for k in (1, 2):
                    n = hdul[ext + k].header
                    assert n['NAXIS'] == 0 and n['PIXVALUE'] == 0
                    assert (n['NPIX2'], n['NPIX1']) == (2068, 4144)
            p = hdul[0].header
            assert p['CCDAMP'] == 'ABCD' and p['CCDGAIN'] == 2.0
            for a in 'ABCD':
                assert p[f'ATODGN{a}'] == 0 and p[f'READNSE{a}'] == 0
            assert hdul[1].header['CCDCHIP'] == 2    # WFC2 first

    def test_trimmed_and_calibrated(self, raw):
        path, biases = raw
        img = ACSImage(path)
        assert img.raw is not None
        assert img.shape == (2048, 4096) and img.bunit == 'ELECTRONS'
        for c in (1, 2):
            assert img.ltv(c) == (0.0, 0.0)
            d = img.chip(c)
            assert d.sci.shape == (2048, 4096) and d.err.shape == d.sci.shape
            # the marked pixels land on their chip coordinates (both chips)
            assert np.argmax(d.sci[:, :2048]) == np.ravel_multi_index(
                (1772, 1520), (2048, 2048))
            assert_allclose(d.sci[1772, 1520], 30000.0 + c, atol=2.0)
            assert_allclose(d.sci[0, 4095], 20000.0, atol=2.0)
            # bias removed per amplifier: levels equal on both halves
            # (means: the DN are integers, a median is quantized to 1 e-)
            assert_allclose(np.mean(d.sci[:2000, :2048]), 500.0, atol=0.5)
            assert_allclose(np.mean(d.sci[:2000, 2048:]), 500.0, atol=0.5)
            cal = {a.amp: a for a in img.raw.amplifiers(c)}
            for amp, b in biases[c].items():
                assert_allclose(cal[amp].bias_dn, b, atol=0.3)
                assert cal[amp].gain_source == 'CCDGAIN'
                assert cal[amp].columns[1] - cal[amp].columns[0] + 1 == \
                    BIAS_COLUMNS
            # ERR = sqrt(signal + read noise**2)
            assert_allclose(np.median(d.err), np.sqrt(500.0 + 16.0), rtol=0.02)
            assert np.all(d.dq == 0)

    def test_section(self, raw):
        path, _ = raw
        img = ACSImage(path)
        part = img.chip(2, section=(slice(1770, 1775), slice(1518, 1523)))
        assert part.sci.shape == (5, 5)
        assert_allclose(part.sci[2, 2], 30002.0, atol=2.0)


def test_bias_robust_to_prescan_decay_and_cosmic_rays(tmp_path):
    """The first prescan columns decay and cosmic rays hit the prescan:
    the level from the six columns next to the image, clipped, is right."""
    reg = Region(2, 0, 0, 200, 300)
    e = np.full((200, 300), 100.0, np.float32)
    path = tmp_path / 'w_raw.fits'
    biases = _raw_file(path, {2: (reg, e)})
    with fits.open(path, mode='update') as hdul:
        hdul[1].data[5:15, 19:24] = 60000    # a big cosmic ray in the section
    img = ACSImage(path)
    (cal,) = img.raw.amplifiers(2)
    assert cal.amp == 'C' and cal.columns == (19, 24)
    assert_allclose(cal.bias_dn, biases[2]['C'], atol=0.3)
    assert_allclose(np.median(img.chip(2).sci), 100.0, atol=1.0)


def test_atodgain_used_when_nonzero(tmp_path):
    reg = Region(1, 100, 4096 - 200, 50, 200)     # amp B corner
    e = np.full((50, 200), 1000.0, np.float32)
    path = tmp_path / 'g_raw.fits'
    _raw_file(path, {1: (reg, e)}, gains={'B': 1.5},
              header={'ATODGNB': 1.5, 'READNSEB': 3.0})
    img = ACSImage(path)
    (cal,) = img.raw.amplifiers(1)
    assert (cal.amp, cal.gain, cal.gain_source) == ('B', 1.5, 'ATODGNB')
    assert cal.read_noise_source == 'READNSEB'
    chip = img.chip(1)
    assert_allclose(np.median(chip.sci), 1000.0, atol=1.0)
    assert img.ltv(1) == (-(4096.0 - 200), -100.0)


def test_amplifier_without_prescan_is_one_clear_error(tmp_path):
    # a window reaching the left edge (amp C prescan) but with columns of
    # amp D beyond the chip middle whose prescan is not in the file
    reg = Region(2, 0, 0, 20, 2100)
    path = tmp_path / 'bad_raw.fits'
    _raw_file(path, {2: (reg, np.full((20, 2100), 10.0, np.float32))})
    with pytest.raises(InputFileError, match='amplifier D .* no bias level'):
        ACSImage(path)


def test_no_gain_is_an_error(tmp_path):
    reg = Region(2, 0, 0, 20, 100)
    path = tmp_path / 'ng_raw.fits'
    _raw_file(path, {2: (reg, np.full((20, 100), 10.0, np.float32))},
              header={'CCDGAIN': 0.0})
    with pytest.raises(InputFileError, match='no gain for amplifier C'):
        ACSImage(path).chip(2)


def test_calibrated_files_are_not_raw(tmp_path):
    res = simulate_scenario('blank', tmp_path, window=32, kinds=['eper'])
    img = ACSImage(res.files['path'][0])
    assert img.raw is None


class TestRealRaw:
    """The real HRC raw (same conventions as WFC raw)."""

    def test_real_layout_and_simulated_layout_agree(self, tmp_path):
        path = real_file('j8bt05njq_raw.fits')
        reg = Region(2, 0, 0, 20, 100)
        sim = tmp_path / 's_raw.fits'
        _raw_file(sim, {2: (reg, np.full((20, 100), 10.0, np.float32))})
        with fits.open(path, do_not_scale_image_data=True) as real, \
                fits.open(sim, do_not_scale_image_data=True) as mine:
            for hd in (real, mine):
                sci, err, dq = hd[1].header, hd[2].header, hd[3].header
                assert sci['BITPIX'] == 16 and sci['BZERO'] == 32768
                assert sci['BUNIT'] == 'COUNTS' and sci['LTV1'] > 0
                for n in (err, dq):
                    assert n['NAXIS'] == 0 and n['PIXVALUE'] == 0
                    assert (n['NPIX1'], n['NPIX2']) == (sci['NAXIS1'],
                                                        sci['NAXIS2'])
                for a in ('A', 'C'):
                    assert hd[0].header[f'ATODGN{a}'] == 0
                assert is_raw_layout(hd[0].header, sci)

    def test_real_raw_reads_trimmed(self):
        path = real_file('j8bt05njq_raw.fits')
        img = ACSImage(path)
        assert img.raw is not None
        assert img.shape == (1024, 1024) and img.ltv(1) == (0.0, 0.0)
        chip = img.chip(1)
        (cal,) = img.raw.amplifiers(1)
        assert cal.amp == 'C' and cal.gain == 2.0
        assert 1000 < cal.bias_dn < 5000
        assert np.isfinite(chip.sci).all() and (chip.err > 0).all()
        assert abs(np.median(chip.sci)) < 1e4     # the bias is removed


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    """Raw EPER frames and their calibrated twins."""
    out = tmp_path_factory.mktemp('eperraw')
    simulate_scenario('discovery', out, seed=3, window=120,
                      kinds=['eper'], eper_raw=True)
    return out


class TestEperFromRaw:
    """EPER from raw frames == from their calibrated twins within noise."""

    def test_manifest_and_files(self, sim):
        raws = sorted(glob.glob(os.path.join(sim, '*_raw.fits')))
        flts = sorted(glob.glob(os.path.join(sim, '*_flt.fits')))
        assert len(raws) == len(flts) == 12
        for r in raws:
            assert os.path.exists(r.replace('_raw', '_flt'))

    @pytest.mark.parametrize('ccdchip,x,y,true_dy', [(2, 1521.0, 1773.0, 0.0),
                                                     (1, 3510.0, 355.0, -0.3)])
    def test_motion_and_levels(self, sim, ccdchip, x, y, true_dy):
        out = {}
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for kind in ('flt', 'raw'):
                files = sorted(glob.glob(os.path.join(sim, f'*_{kind}.fits')))
                pairs = pair_eper(files, ccdchip=ccdchip)
                out[kind] = (pairs, eper_ratio(pairs, ccdchip=ccdchip, x=x,
                                               y=y))
        (pf, rf), (pr, rr) = out['flt'], out['raw']
        assert [p.pair.early.name.replace('_raw', '_flt')
                for p in rr.measurements] == [p.pair.early.name
                                              for p in rf.measurements]
        levels_f = np.array([p.level_early for p in pf])
        levels_r = np.array([p.level_early for p in pr])
        assert_allclose(levels_r, levels_f, rtol=0.02)
        dxf, dxef, dyf, dyef = rf.shift
        dxr, dxer, dyr, dyer = rr.shift
        assert abs(dyr - dyf) < 0.02 and abs(dxr - dxf) < 0.02
        assert abs(dyr - true_dy) < 4 * dyer + 0.01
        assert_allclose(rr.to_table()['mean_ratio'][1:],
                        rf.to_table()['mean_ratio'][1:], atol=0.02)

    def test_cli_eper_accepts_raw(self, sim, tmp_path, capsys):
        files = sorted(glob.glob(os.path.join(sim, '*_raw.fits')))
        rc = main(['eper', *files, '--ccdchip', '1', '--x', '3510', '--y',
                   '355', '-o', str(tmp_path / 'out'), '--no-figures'])
        assert rc == 0
        assert 'motion late - early' in capsys.readouterr().out


def test_simulate_cli_eper_raw_option(tmp_path, capsys):
    rc = main(['simulate', 'blank', str(tmp_path / 's'), '--window', '32',
               '--kinds', 'eper', '--eper-raw'])
    assert rc == 0
    assert 'eper_raw' in capsys.readouterr().out
    raws = glob.glob(str(tmp_path / 's' / '*_raw.fits'))
    assert len(raws) == 12
    img = ACSImage(raws[0])
    assert img.raw is not None and img.shape[0] == 32 and img.shape[1] >= 32
