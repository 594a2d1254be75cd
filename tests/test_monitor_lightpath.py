"""Flashed vs un-flashed darks (report §3) on the simulator's files, with a
synthetic CCD defect for the other verdict."""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from numpy.testing import assert_allclose

from acs_flecks.cli import main
from acs_flecks.exceptions import InputFileError
from acs_flecks.io import ChipData
from acs_flecks.monitor import lightpath_test, measure_deficit
from acs_flecks.simulate import simulate_scenario


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp('lp')
    res = simulate_scenario('discovery', out, seed=0, window=200,
                            kinds=['dkc', 'dark'],
                            epochs=['2017-04-04', '2017-05-05'])
    f = res.files
    path = {(k, d[:10]): p for k, d, p in zip(f['kind'], f['date'], f['path'])}
    truth = res.truth
    flecks = truth.artifacts[np.isin(truth.artifacts['id'],
                                     ['fleck1', 'fleck2'])]
    return path, truth, flecks


def _positions(flecks):
    return QTable({'id': flecks['id'], 'ccdchip': flecks['ccdchip'],
                   'x': flecks['x'] + 0.9 * flecks['x'].unit,
                   'y': flecks['y'] + 0.6 * flecks['y'].unit,
                   'area': flecks['area']})


class TestMeasureDeficit:
    def test_known_deficit(self):
        rng = np.random.default_rng(0)
        sci = rng.normal(100.0, 1.0, (101, 121)).astype(np.float32)
        yy, xx = np.mgrid[:101, :121]
        disk = (xx - 60) ** 2 + (yy - 50) ** 2 <= 4.5 ** 2
        sci[disk] *= 0.5
        sci[10, 10] = 1e5      # a hot pixel in the annulus does not matter
        chip = ChipData(1, sci, None, np.zeros(sci.shape, np.uint16), None,
                        (-1000.0, -500.0))
        # pixel (x, y) = (61, 51) of the image = (1061, 551) on the chip
        m = measure_deficit(chip, 1061.0, 551.0, 4.5)
        assert_allclose(m['fraction'], 0.5, atol=0.01)
        assert m['n_pixels'] == disk.sum()
        assert_allclose(m['deficit_err'], 1 / np.sqrt(disk.sum()), rtol=0.2)
        off = measure_deficit(chip, 1030.0, 530.0, 4.5)
        assert abs(off['deficit'] / off['deficit_err']) < 4


class TestLightpath:
    def test_flecks_are_particles(self, sim):
        path, truth, flecks = sim
        t = lightpath_test(path[('dkc', '2017-05-05')],
                           path[('dark', '2017-05-05')], _positions(flecks))
        assert list(t['verdict']) == ['light path', 'light path']
        assert np.all(t['snr_flashed'] > 20)
        assert np.all(np.abs(t['snr_unflashed']) < 5)
        assert np.all(t['disappearance_significance'] > 5)
        assert list(t['artifact_id']) == ['fleck1', 'fleck2']

    def test_ccd_defect_persists(self, sim, tmp_path):
        """Make the un-flashed dark carry the same shadow (a defect in the
        CCD would): the verdict flips to 'CCD defect'."""
        path, truth, flecks = sim
        dark = tmp_path / 'defect_crj.fits'
        shutil.copy(path[('dark', '2017-05-05')], dark)
        with fits.open(dark, mode='update') as hdul:
            for ext in hdul:
                if ext.name != 'SCI' or ext.header['CCDCHIP'] != 2:
                    continue
                tmap, (x0, y0) = truth.transmissivity_map('fleck1', 'LED')
                ltv1, ltv2 = ext.header['LTV1'], ext.header['LTV2']
                r0 = int(y0 + ltv2) - 1
                c0 = int(x0 + ltv1) - 1
                ny, nx = tmap.shape
                ext.data[r0:r0 + ny, c0:c0 + nx] *= tmap
        t = lightpath_test(path[('dkc', '2017-05-05')], dark,
                           _positions(flecks))
        assert t['verdict'][0] == 'CCD defect'
        assert t['snr_unflashed'][0] > 5
        assert t['verdict'][1] == 'light path'

    def test_before_origin_not_detected(self, sim):
        path, truth, flecks = sim
        t = lightpath_test(path[('dkc', '2017-04-04')],
                           path[('dark', '2017-05-03')], _positions(flecks))
        assert list(t['verdict']) == ['not detected'] * 2

    def test_outside_window(self, sim):
        path, _, _ = sim
        t = lightpath_test(path[('dkc', '2017-05-05')],
                           path[('dark', '2017-05-05')], [(2, 100.0, 100.0)])
        assert t['verdict'][0] == 'not covered'

    def test_swapped_inputs(self, sim):
        path, _, flecks = sim
        with pytest.raises(InputFileError, match='not post-flashed'):
            lightpath_test(path[('dark', '2017-05-05')],
                           path[('dark', '2017-05-05')], _positions(flecks))
        with pytest.raises(InputFileError, match='is post-flashed'):
            lightpath_test(path[('dkc', '2017-05-05')],
                           path[('dkc', '2017-05-05')], _positions(flecks))

    def test_cli(self, sim, tmp_path, capsys):
        path, _, _ = sim
        out = str(tmp_path / 'lp.ecsv')
        assert main(['lightpath', '--flashed', path[('dkc', '2017-05-05')],
                     '--unflashed', path[('dark', '2017-05-05')],
                     '--ccdchip', '2', '--x', '1522', '--y', '1774',
                     '-o', out]) == 0
        assert 'light path' in capsys.readouterr().out
        assert QTable.read(out)['verdict'][0] == 'light path'
        assert main(['lightpath', '--flashed', path[('dkc', '2017-05-05')],
                     '--unflashed', path[('dark', '2017-05-05')],
                     '--x', '1522']) == 2
        assert '--x and --y' in capsys.readouterr().err
