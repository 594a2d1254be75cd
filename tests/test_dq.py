"""
The DQ policy (acs_flecks.dq): flag names and values as in hstcal acsdq.h,
each analysis's mask, one definition, and the sink-pixel decision (DQ 1024
is left out of the transmissivity apertures and of the shadow boxes) shown
on synthetic files with an injected sink pixel and its trail.
"""

import ast
import pathlib
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

import acs_flecks
from acs_flecks import dq
from acs_flecks.characterize import (bad_pixels, box_signal,
                                     measure_transmissivity,
                                     shadow_time_series)

PACKAGE = pathlib.Path(acs_flecks.__file__).parent

# ------------------------------------------------------------ the module --

#: hstcal pkg/acs/include/acsdq.h (spacetelescope/hstcal 5c1c177)
ACSDQ_H = {'GOODPIXEL': 0, 'SOFTERR': 1, 'DATALOST': 2, 'DETECTORPROB': 4,
           'DATAMASKED': 8, 'HOTPIX': 16, 'LARGEBLEM': 32, 'OVERSCAN': 128,
           'SATPIXEL': 256, 'CALIBDEFECT': 512, 'SMALLBLEM': 1024,
           'ATODSAT': 2048, 'DATAREJECT': 8192}


class TestFlags:
    def test_acsdq_h_names(self):
        for name, value in ACSDQ_H.items():
            assert getattr(dq, name) == value, name

    def test_bits_acsdq_h_leaves_unnamed(self):
        # 64 (warm, wf3dq.h WARMPIX), 4096 (drizzle CR), 1024 is the sink
        # flag of acsccd/dosink.c (SINKPIXEL)
        assert (dq.WARMPIX, dq.DRIZZLECR, dq.SINKPIXEL) == (64, 4096, 1024)
        assert dq.FLECK_FLAG == 4

    def test_all_flags(self):
        assert dq.ACS_FLAGS == tuple(1 << b for b in range(14))
        assert dq.ALL_FLAGS == 16383

    def test_flag_values_and_names(self):
        assert dq.flag_values(0) == []
        assert dq.flag_values(1024 | 4 | 1) == [1, 4, 1024]
        assert dq.flag_names(1024 | 4) == ['DETECTORPROB', 'SMALLBLEM']
        assert dq.flag_names(16384) == ['16384']


class TestMasks:
    def test_values(self):
        # detection and difference search: every ACS flag but 4 (unchanged)
        assert dq.DEFAULT_MASK_FLAGS == 16379
        assert dq.DIFFERENCE_DQ_MASK == 16379
        # apertures: 1, 2, 256, 512, 2048, 8192 and now 1024 (sink pixels)
        assert dq.flag_values(dq.DEFAULT_DQ_MASK) == [1, 2, 256, 512, 1024,
                                                      2048, 8192]
        assert dq.DARK_DQ_MASK == dq.DEFAULT_DQ_MASK | 16 | 64
        # light path: sink pixels deliberately kept (a CCD defect)
        assert dq.flag_values(dq.LIGHTPATH_DQ_MASK) == [16, 32, 64, 256, 512,
                                                        2048, 8192]

    def test_fleck_flag_never_masked(self):
        for name in ('DEFAULT_MASK_FLAGS', 'DIFFERENCE_DQ_MASK',
                     'DEFAULT_DQ_MASK', 'DARK_DQ_MASK', 'LIGHTPATH_DQ_MASK'):
            assert getattr(dq, name) & dq.FLECK_FLAG == 0, name

    def test_sink_policy(self):
        assert dq.DEFAULT_DQ_MASK & dq.SINKPIXEL
        assert dq.DARK_DQ_MASK & dq.SINKPIXEL
        assert dq.DEFAULT_MASK_FLAGS & dq.SINKPIXEL
        assert dq.DIFFERENCE_DQ_MASK & dq.SINKPIXEL
        assert not dq.LIGHTPATH_DQ_MASK & dq.SINKPIXEL

    def test_users_share_the_objects(self):
        from acs_flecks.characterize import DARK_DQ_MASK, DEFAULT_DQ_MASK
        from acs_flecks.characterize.shadow import box_signal
        from acs_flecks.characterize.transmissivity import measure_transmissivity
        from acs_flecks.commands import find
        from acs_flecks.detect import (DEFAULT_MASK_FLAGS, DIFFERENCE_DQ_MASK,
                                       DifferenceParameters, FindParameters)
        from acs_flecks.monitor.lightpath import LIGHTPATH_DQ_MASK, measure_deficit
        from acs_flecks.raw import DQ_ATODSAT
        assert DEFAULT_DQ_MASK is dq.DEFAULT_DQ_MASK
        assert DARK_DQ_MASK is dq.DARK_DQ_MASK
        assert DEFAULT_MASK_FLAGS is dq.DEFAULT_MASK_FLAGS
        assert DIFFERENCE_DQ_MASK is dq.DIFFERENCE_DQ_MASK
        assert LIGHTPATH_DQ_MASK is dq.LIGHTPATH_DQ_MASK
        assert DQ_ATODSAT == dq.ATODSAT
        assert FindParameters().mask_flags == dq.DEFAULT_MASK_FLAGS
        assert DifferenceParameters().mask_flags == dq.DIFFERENCE_DQ_MASK
        assert box_signal.__kwdefaults__['dq_mask'] == dq.DARK_DQ_MASK
        assert measure_transmissivity.__kwdefaults__['dq_mask'] == dq.DEFAULT_DQ_MASK
        assert measure_deficit.__kwdefaults__['dq_mask'] == dq.LIGHTPATH_DQ_MASK
        assert find.DEFAULT_MASK_FLAGS is dq.DEFAULT_MASK_FLAGS

    def test_stdlib_only(self):
        tree = ast.parse((PACKAGE / 'dq.py').read_text())
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.Import, ast.ImportFrom)), \
                'acs_flecks.dq must import nothing (the CLI --help reads it)'


def _mask_definitions():
    """(module, name) of every module-level DQ mask/flag constant defined
    by a literal or bit arithmetic outside acs_flecks/dq.py."""
    found = []
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == 'dq.py':
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if not isinstance(node, ast.Assign):
                continue
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            dqish = [n for n in names if 'DQ' in n or 'MASK_FLAGS' in n]
            if not dqish:
                continue
            # a definition computes a value; a re-export names another one
            computes = any(isinstance(n, (ast.Constant, ast.BinOp))
                           for n in ast.walk(node.value))
            if computes:
                found.append((rel, dqish))
    return found


def test_one_definition():
    """No module but acs_flecks.dq writes a DQ flag or mask value down
    (module-level constants named *DQ* or *MASK_FLAGS*)."""
    assert _mask_definitions() == []


# ---------------------------------------------------- synthetic ACS files --

FX, FY = 1521, 1773          # fleck position, chip frame (WFC2)
WIN = 100
COL0, ROW0 = FX - WIN // 2, FY - WIN // 2
LTV = (-float(COL0), -float(ROW0))
READ_NOISE = 4.0


def _write(path, sci2, *, filt, date='2017-12-01', dq2=None, err2=None,
           flashdur=0.0, imagetyp='FLAT', ncombine=1):
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
    if ncombine > 1:            # an average of ncombine 10 s exposures
        ph['TEXPTIME'] = 10.0 * ncombine
    hdus = [fits.PrimaryHDU(header=ph)]
    sci1 = np.full_like(sci2, float(np.median(sci2)))
    if err2 is None:
        err2 = np.sqrt(np.clip(sci2, 0, None) + READ_NOISE ** 2)
    if dq2 is None:
        dq2 = np.zeros(sci2.shape, np.int16)
    for ver, (chip, sci, err, dqa) in enumerate(
            ((2, sci2, err2, dq2),
             (1, sci1, np.sqrt(sci1 + 16), np.zeros(sci1.shape, np.int16))), 1):
        h = fits.Header()
        h['CCDCHIP'] = chip
        h['LTV1'], h['LTV2'] = LTV
        h['BUNIT'] = 'ELECTRONS'
        h['NCOMBINE'] = ncombine
        hdus.append(fits.ImageHDU(sci.astype(np.float32), h, name='SCI', ver=ver))
        hdus.append(fits.ImageHDU(err.astype(np.float32), h, name='ERR', ver=ver))
        hdus.append(fits.ImageHDU(dqa.astype(np.int16), h, name='DQ', ver=ver))
    fits.HDUList(hdus).writeto(path)
    return str(path)


def _index(x, y):
    """numpy [row, col] of 1-indexed chip pixel (x, y) in the window."""
    return y - ROW0 - 1, x - COL0 - 1


def _blocking(a=5.5, b=4.0):
    yy, xx = np.mgrid[0:WIN, 0:WIN]
    rho = np.hypot((xx + COL0 + 1 - FX) / a, (yy + ROW0 + 1 - FY) / b)
    return 2.0 ** (-rho ** 2.5)


#: The sink: 12 columns right of the fleck centre (2 pixels beyond the
#: fleck's 5 % edge, within the aperture's 2-pixel join distance), its
#: trail upstream of the readout (+y on WFC2, whose amplifiers C and D are
#: at y = 1; hstcal dosink.c walks extver 1 from row 0 upwards).  Depths in
#: electrons, as a sink traps a fixed charge.
SINK = (FX + 12, FY)
TRAIL = (0.6, 0.35, 0.25, 0.15, 0.1)      # of the level, sink pixel first


def _sink_pixels():
    return [(SINK[0], SINK[1] + k) for k in range(len(TRAIL))]


def _inject_sink(sci, dqa, level, *, flag=True):
    for (x, y), depth in zip(_sink_pixels(), TRAIL):
        r, c = _index(x, y)
        sci[r, c] -= depth * level
        if flag:
            dqa[r, c] |= dq.SINKPIXEL


LEVELS = {'F435W': 4000.0, 'F606W': 4500.0, 'F814W': 5000.0}


@pytest.fixture(scope='module')
def flats(tmp_path_factory):
    """Low-level lamp flats (EPER-like levels, where a sink's fixed charge
    is a deficit of tens of percent) with and without a flagged sink."""
    d = tmp_path_factory.mktemp('sinkflats')
    rng = np.random.default_rng(5)
    block = _blocking()
    out = {'clean': [], 'sink': []}
    for filt, level in LEVELS.items():
        expect = level * (1 - 0.9 * block)
        sci = rng.poisson(expect) + rng.normal(0, READ_NOISE, expect.shape)
        dq0 = np.zeros(sci.shape, np.int16)
        out['clean'].append(_write(d / f'clean_{filt}.fits', sci, filt=filt,
                                   dq2=dq0))
        sci_s, dq_s = sci.copy(), dq0.copy()
        _inject_sink(sci_s, dq_s, level)
        out['sink'].append(_write(d / f'sink_{filt}.fits', sci_s, filt=filt,
                                  dq2=dq_s))
    return out


def _measure(paths, **kw):
    with warnings.catch_warnings():
        # pixels left out of the aperture are warned about; not the point here
        warnings.simplefilter('ignore')
        res = measure_transmissivity(paths, ccdchip=2, x=FX, y=FY, **kw)
        return res, res.to_table(), bad_pixels(res)


def _cutout_index(res, x, y):
    ox, oy = res.origin
    return y - oy, x - ox


class TestSinkInAperture:
    def test_default_leaves_the_sink_out(self, flats):
        clean, tc, bc = _measure(flats['clean'])
        sink, ts, bs = _measure(flats['sink'])
        # the sink is in no filter's aperture, never a bad (DQ 4) pixel
        for x, y in _sink_pixels():
            r, c = _cutout_index(sink, x, y)
            assert not sink.master_aperture[r, c]
            assert np.all(np.isnan(sink.transmissivity_maps[:, r, c]))
        assert not set(zip(bs['x'].tolist(), bs['y'].tolist())) & set(_sink_pixels())
        # the same fleck as without the sink
        assert np.array_equal(sink.master_aperture, clean.master_aperture)
        assert sorted(zip(bs['x'].tolist(), bs['y'].tolist())) == \
            sorted(zip(bc['x'].tolist(), bc['y'].tolist()))
        np.testing.assert_allclose(ts['transmissivity'], tc['transmissivity'],
                                   atol=0.2 * float(np.min(tc['transmissivity_err'])))
        assert ts.meta['dq_mask'] == dq.DEFAULT_DQ_MASK

    def test_unmasked_sink_mimics_the_fleck(self, flats):
        """What the decision prevents: with 1024 not masked (the previous
        policy) the sink joins the fleck, lowers its transmissivity and
        becomes a pixel of the new bad-pixel table."""
        clean, tc, _ = _measure(flats['clean'])
        old = dq.DEFAULT_DQ_MASK & ~dq.SINKPIXEL
        sink, ts, bs = _measure(flats['sink'], dq_mask=old)
        r, c = _cutout_index(sink, *SINK)
        assert sink.master_aperture[r, c]
        assert sink.master_npix > clean.master_npix
        assert SINK in set(zip(bs['x'].tolist(), bs['y'].tolist()))
        assert len(bs) == len(bad_pixels(clean)) + 1


# ------------------------------------------------------------ shadow box --

DARK_LEVEL = 40.0            # e- of post-flash per pixel (a short dark)
NFRAMES = 30                 # frames averaged (Poisson noise sqrt(40/30))
#: 11x3 shadow box above the fleck and the empty box right of it
SHADOW_BOX = (FX - 5, FX + 5, FY + 8, FY + 10)
EMPTY_BOX = (FX + 15, FX + 25, FY + 8, FY + 10)
#: a sink in the shadow box with its trail along +y (the readout direction,
#: the direction of the fleck's own trail)
DARK_SINK = (FX, FY + 8)
DARK_TRAIL = (30.0, 12.0, 6.0)           # e-


def _dark(rng, *, sink, flag=True):
    yy, xx = np.mgrid[0:WIN, 0:WIN]
    expect = np.full((WIN, WIN), DARK_LEVEL)
    sci = rng.poisson(expect * NFRAMES) / NFRAMES
    err = np.sqrt(expect / NFRAMES)
    dqa = np.zeros(sci.shape, np.int16)
    if sink:
        for k, depth in enumerate(DARK_TRAIL):
            r, c = _index(DARK_SINK[0], DARK_SINK[1] + k)
            sci[r, c] -= depth
            if flag:
                dqa[r, c] |= dq.SINKPIXEL
    return sci, err, dqa


class TestSinkInShadowBox:
    @pytest.fixture(scope='class')
    @classmethod
    def darks(cls, tmp_path_factory):
        d = tmp_path_factory.mktemp('sinkdarks')
        rng = np.random.default_rng(8)
        paths = []
        # no fleck at all; a sink appears (and is flagged) from June on
        for i, date in enumerate(['2017-01-10', '2017-03-10', '2017-06-10',
                                  '2017-08-10', '2017-10-10']):
            sci, err, dqa = _dark(rng, sink=date > '2017-05-05')
            paths.append(_write(d / f'dkc{i}.fits', sci, err2=err, dq2=dqa,
                                filt='CLEAR1L', date=date, flashdur=4.6,
                                imagetyp='DARK', ncombine=NFRAMES))
        return paths

    def test_box_signal_leaves_the_sink_out(self, darks):
        late = darks[-1]
        total, perr, _, nbad = box_signal(late, SHADOW_BOX, ccdchip=2)
        assert nbad == len(DARK_TRAIL)
        # the 30 good pixels scaled to the 33-pixel box: the post-flash level
        assert abs(total - 33 * DARK_LEVEL) < 3 * perr
        old = dq.DARK_DQ_MASK & ~dq.SINKPIXEL
        total_old, perr_old, _, nbad_old = box_signal(late, SHADOW_BOX,
                                                      ccdchip=2, dq_mask=old)
        assert nbad_old == 0
        # unmasked, the sink and its trail (48 e-, a quarter of the report's
        # ~200 e- shadow) read as a shadow
        assert total_old - total < -5 * perr_old

    def test_no_spurious_shadow(self, darks):
        series = shadow_time_series(darks, ccdchip=2, x=FX, y=FY,
                                    shadow_box=SHADOW_BOX, empty_box=EMPTY_BOX)
        t = series.table
        after = t['time'].isot > '2017-05-05'
        assert list(t['shadow_npix_excluded'][after]) == [3, 3, 3]
        assert list(t['shadow_npix_excluded'][~after]) == [0, 0]
        # no fleck: shadow minus empty is consistent with zero throughout
        assert np.all(np.abs(t['significance']) < 4)
