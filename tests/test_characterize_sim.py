"""
Characterization checked against the package simulator's injected truth
(windowed 200x200 files of the 'discovery' scenario) and through the
command line.
"""

import os
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from acs_flecks.characterize import (bad_pixels, characterize_fleck,
                                     compare_led_lamp, eper_ratio,
                                     measure_transmissivity, pair_eper,
                                     shadow_time_series)
from acs_flecks.cli import main
from acs_flecks.plotting.characterize import write_fleck_figures

simulate = pytest.importorskip('acs_flecks.simulate')

BOXES = {'fleck1': (40, 40), 'fleck2': (30, 20)}   # (ny, nx), as the report


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp('sim')
    return simulate.simulate_scenario('discovery', out, seed=0, window=200,
                                      kinds=['flat', 'dkc', 'eper'])


def _paths(sim, kind, prefix=''):
    f = sim.files
    return [str(p) for p, k, d in zip(f['path'], f['kind'], f['date'])
            if k == kind and str(d).startswith(prefix)]


def _art(sim, fid):
    a = sim.truth.artifacts
    return a[a['id'] == fid][0]


@pytest.fixture(scope='module')
def results(sim):
    out = {}
    for fid, box in BOXES.items():
        a = _art(sim, fid)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            out[fid] = measure_transmissivity(
                _paths(sim, 'flat', '2017'), ccdchip=int(a['ccdchip']),
                x=float(a['x'].value), y=float(a['y'].value), box=box, fleck_id=fid)
    return out


def _on_truth_grid(sim, res, fid):
    """The master aperture on the grid of the truth map."""
    tmap, (x0, y0) = sim.truth.transmissivity_map(fid, 'F435W')
    ap = np.zeros(tmap.shape, bool)
    rows, cols = np.nonzero(res.master_aperture)
    r = rows + res.origin[1] - y0
    c = cols + res.origin[0] - x0
    assert r.min() >= 0 and c.min() >= 0
    assert r.max() < tmap.shape[0] and c.max() < tmap.shape[1]
    ap[r, c] = True
    return ap


class TestTransmissivityTruth:
    @pytest.mark.parametrize('fid', list(BOXES))
    def test_within_error(self, sim, results, fid):
        res = results[fid]
        ap = _on_truth_grid(sim, res, fid)
        t = res.to_table()
        assert len(t) == 8
        for row in t:
            truth = sim.truth.mean_transmissivity(fid, row['filter'], aperture=ap)
            pull = (row['transmissivity'] - truth) / row['transmissivity_err']
            assert abs(pull) < 3, (row['filter'], row['transmissivity'], truth)

    @pytest.mark.parametrize('fid', list(BOXES))
    def test_red_upturn(self, results, fid):
        t = results[fid].to_table()
        tr = dict(zip(t['filter'], t['transmissivity']))
        err = dict(zip(t['filter'], t['transmissivity_err']))
        rise = tr['F850LP'] - tr['F775W']
        assert rise > 0.05 and rise > 10 * np.hypot(err['F850LP'], err['F775W'])

    @pytest.mark.parametrize('fid', list(BOXES))
    def test_aperture_vs_truth(self, sim, results, fid):
        ap = _on_truth_grid(sim, results[fid], fid)
        tap = sim.truth.master_aperture(fid)
        assert np.all(ap[tap])                   # nothing of the fleck missed
        assert (ap & ~tap).sum() <= 0.05 * tap.sum() + 2

    @pytest.mark.parametrize('fid', list(BOXES))
    def test_badpix_count(self, sim, results, fid):
        bad = bad_pixels(results[fid], fleck_id=fid)
        truth = int(_art(sim, fid)['n_below_50'].value)
        assert abs(len(bad) - truth) <= 3
        # each flagged pixel really is under ~50 % in the F435W truth map
        tmap, (x0, y0) = sim.truth.transmissivity_map(fid, 'F435W')
        assert np.all(tmap[bad['y'] - y0, bad['x'] - x0] < 0.55)


class TestLedLampTruth:
    @pytest.mark.parametrize('fid', list(BOXES))
    def test_offset(self, sim, results, fid):
        a = _art(sim, fid)
        dkc = _paths(sim, 'dkc')[-1]       # Nov 2017: EPER drift done
        comp = compare_led_lamp(dkc, results[fid])
        s = comp.shift
        assert abs(s.dx - a['led_dx'].value) < 0.1
        assert abs(s.dy - a['led_dy'].value) < 0.1
        assert s.dx_err < 0.05 and s.dy_err < 0.05
        assert comp.to_table()['only_led_npix'][0] > 0


class TestEperTruth:
    def test_motion(self, sim):
        pairs = pair_eper(_paths(sim, 'eper'), ccdchip=1)
        assert len(pairs) == 6
        for fid in BOXES:
            a = _art(sim, fid)
            res = eper_ratio(pairs, ccdchip=int(a['ccdchip']), x=float(a['x'].value),
                             y=float(a['y'].value), box=BOXES[fid])
            dx, dxe, dy, dye = res.shift
            assert abs(dx - a['eper_dx'].value) < 0.1
            assert abs(dy - a['eper_dy'].value) < 0.1
            assert dxe < 0.05 and dye < 0.05
            t = res.to_table()
            # little change in transmissivity (report: 0.97-1.04)
            hi = t['level_early'].value > 4000
            assert np.all(np.abs(t['flux_ratio'][hi] - 1) < 0.04)


class TestShadowTruth:
    def test_trail(self, sim, results):
        trail = sim.truth.trail
        series = shadow_time_series(_paths(sim, 'dkc'), ccdchip=2, x=1521, y=1773,
                                    lamp=results['fleck1'])
        assert series.shadow_box == (trail['x_min'], trail['x_max'],
                                     trail['y_min'], trail['y_max'])
        t = series.table
        after = t['time'].isot >= trail['appear']
        base = t['difference'][~after].value.mean()
        drop = t['difference'][after].value - base
        err = t['difference_err'][after].value
        assert abs(drop.mean() + trail['deficit']) < 3 * err.mean() / np.sqrt(after.sum()) + 10
        assert np.all(drop < -2 * err)


class TestEntryPoint:
    def test_characterize_fleck(self, sim, tmp_path):
        a = _art(sim, 'fleck2')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ch = characterize_fleck(
                flats=_paths(sim, 'flat', '2017'), ccdchip=1, x=float(a['x'].value),
                y=float(a['y'].value), box=(30, 20), dkc=_paths(sim, 'dkc')[-1],
                outdir=tmp_path, fleck_id='fleck2')
            write_fleck_figures(ch, tmp_path,
                                before_flats=_paths(sim, 'flat', '2016'))
        assert ch.eper is None and ch.shadow is None
        assert any('EPER' in n for n in ch.notes)
        assert len(ch.bad_pixels) == ch.bad_pixels.meta['counts']['fleck2']
        for kind in ('table', 'aperture', 'maps', 'badpix', 'ledlamp_table'):
            assert os.path.exists(ch.files[kind])
        for kind in ('thumbnails', 'aperture_analysis', 'master_aperture', 'sed',
                     'ledlamp'):
            assert os.path.getsize(ch.figures[kind]) > 10000


class TestCommandLine:
    def test_transmissivity(self, sim, tmp_path, capsys):
        out = tmp_path / 'out'
        rc = main(['transmissivity', *_paths(sim, 'flat', '2017'), '--ccdchip', '2',
                   '--x', '1521', '--y', '1773', '--box', '40x40', '-o', str(out),
                   '--fleck-id', 'fleck1', '--no-figures'])
        assert rc == 0
        text = capsys.readouterr().out
        assert 'F850LP' in text and 'skipped sim_flat_20171201_f658n' in text
        t = QTable.read(out / 'fleck1_transmissivity.ecsv')
        assert list(t['filter'])[0] == 'F435W'
        bad = QTable.read(out / 'fleck1_badpix.ecsv')
        assert abs(len(bad) - int(_art(sim, 'fleck1')['n_below_50'].value)) <= 3
        with fits.open(out / 'fleck1_aperture.fits') as h:
            assert h['MASTER'].header['CCDCHIP'] == 2

    def test_bad_position(self, sim, tmp_path, capsys):
        rc = main(['transmissivity', *_paths(sim, 'flat', '2017'), '--ccdchip', '2',
                   '--x', '1521', '--y', '2100', '-o', str(tmp_path)])
        assert rc == 2
        assert 'off the WFC chip' in capsys.readouterr().err

    def test_narrowband_only(self, sim, tmp_path, capsys):
        nb = [p for p in _paths(sim, 'flat') if 'f658n' in p]
        rc = main(['transmissivity', *nb, '--ccdchip', '2', '--x', '1521',
                   '--y', '1773', '-o', str(tmp_path)])
        assert rc == 2
        assert 'no broadband flat' in capsys.readouterr().err

    def test_mixed_dates(self, sim, tmp_path, capsys):
        f = _paths(sim, 'flat', '2017')[:2] + _paths(sim, 'flat', '2016')[2:3]
        # grouped by date (issue 10): the set on/after the origin is used
        rc = main(['transmissivity', *f, '--ccdchip', '2', '--x', '1521',
                   '--y', '1773', '-o', str(tmp_path), '--no-figures',
                   '--appeared', '2017-05-05'])
        assert rc == 0
        out = capsys.readouterr().out
        assert 'flats of 2017-12-01 used (2 filter(s))' in out
        assert "earlier sets ['2016-12-01']" in out
        rc = main(['transmissivity', *_paths(sim, 'flat', '2016')[:2],
                   '--ccdchip', '2', '--x', '1521', '--y', '1773',
                   '-o', str(tmp_path / 'b'), '--appeared', '2017-05-05'])
        assert rc == 2
        assert 'before the date of origin' in capsys.readouterr().err

    def test_ledlamp_eper_shadow(self, sim, tmp_path, capsys):
        rc = main(['ledlamp', _paths(sim, 'dkc')[-1], '--flats',
                   *_paths(sim, 'flat', '2017'), '--ccdchip', '1', '--x', '3510',
                   '--y', '355', '--box', '20x30', '-o', str(tmp_path),
                   '--fleck-id', 'f2'])
        assert rc == 0
        assert os.path.exists(tmp_path / 'f2_ledlamp.png')
        rc = main(['eper', *_paths(sim, 'eper'), '--ccdchip', '1', '--x', '3510',
                   '--y', '355', '--box', '20x30', '-o', str(tmp_path),
                   '--fleck-id', 'f2'])
        assert rc == 0
        assert 'motion late - early' in capsys.readouterr().out
        assert os.path.exists(tmp_path / 'f2_eper_ratio.png')
        tr = sim.truth.trail
        rc = main(['shadow', *_paths(sim, 'dkc'), '--ccdchip', '2', '--x', '1521',
                   '--y', '1773', '--shadow-box',
                   f"{tr['x_min']},{tr['x_max']},{tr['y_min']},{tr['y_max']}",
                   '--empty-box',
                   f"{tr['empty_x_min']},{tr['empty_x_max']},{tr['y_min']},{tr['y_max']}",
                   '--appeared', '2017-05-05', '-o', str(tmp_path), '--fleck-id', 'f1'])
        assert rc == 0
        t = QTable.read(tmp_path / 'f1_shadow.ecsv')
        assert len(t) == len(_paths(sim, 'dkc'))
        rc = main(['shadow', *_paths(sim, 'dkc'), '--ccdchip', '2', '--x', '1521',
                   '--y', '1773', '--shadow-box', '1,2,3', '--empty-box', '1,2,3,4',
                   '-o', str(tmp_path)])
        assert rc == 2


class TestTinyFleck:
    def test_next_to_freckle(self, tmp_path):
        """The tiny fleck (report: left out, close to another artifact): the
        aperture keeps to the fleck and the transmissivity matches."""
        sim = simulate.simulate_scenario('discovery', tmp_path, seed=1, window=200,
                                         kinds=['flat'],
                                         window_centers={1: (1850, 1755)})
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            res = measure_transmissivity(_paths(sim, 'flat', '2017'), ccdchip=1,
                                         x=1850, y=1755, box=(40, 40))
        ap = _on_truth_grid(sim, res, 'fleck3')
        assert abs(int(ap.sum()) - int(sim.truth.master_aperture('fleck3').sum())) <= 3
        for row in res.to_table():
            truth = sim.truth.mean_transmissivity('fleck3', row['filter'], aperture=ap)
            assert abs(row['transmissivity'] - truth) < 3 * row['transmissivity_err']
