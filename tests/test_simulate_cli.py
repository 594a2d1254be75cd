"""Tests of the ``acs_flecks simulate`` command and a full-frame run."""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from acs_flecks.cli import main
from acs_flecks.io import ACSImage
from acs_flecks.simulate import simulate_scenario


class TestCommand:
    def test_writes_files(self, tmp_path, capsys):
        out = tmp_path / 'sim'
        status = main(['simulate', 'discovery', str(out), '--seed', '2',
                       '--window', '32', '--kinds', 'dkc,flat'])
        assert status == 0
        printed = capsys.readouterr().out
        assert str(out) in printed
        assert 'truth_artifacts.ecsv' in printed
        man = QTable.read(out / 'manifest.ecsv')
        assert set(man['kind']) == {'dkc', 'flat'}
        assert all(os.path.exists(p) for p in man['path'])
        with fits.open(man['path'][0]) as hdul:
            assert hdul[0].header['SIMSEED'] == 2
            assert hdul['SCI', 1].data.shape == (32, 32)
        assert (out / 'truth_maps.fits').exists()

    @pytest.mark.parametrize('args, match', [
        (['nonsense'], "unknown scenario 'nonsense'"),
        (['discovery', '--kinds', 'dkc,bias'], 'unknown file kind'),
        (['discovery', '--window', '4'], 'window must be'),
    ])
    def test_bad_input_exit_2(self, tmp_path, capsys, args, match):
        out = tmp_path / 'sim'
        status = main(['simulate', args[0], str(out)] + args[1:])
        assert status == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert err.startswith('acs_flecks: error:') and match in err
        assert not out.exists()


@pytest.mark.fullframe
class TestFullFrame:
    def test_two_full_frame_dkcs(self, tmp_path):
        # (no timing here: performance goes in benchmarks/)
        res = simulate_scenario('discovery', tmp_path, seed=0, kinds=['dkc'],
                                epochs=['2017-04-04', '2017-05-05'])
        assert len(res.files) == 2
        for path in res.files['path']:
            assert os.path.getsize(path) == pytest.approx(168e6, rel=0.01)
        before, after = (ACSImage(p) for p in res.files['path'])
        assert after.shape == (2048, 4096) and after.ltv(1) == (0.0, 0.0)
        # every fleck at its report position, on its chip, only after
        for fid, chip, x, y, depth in (('fleck1', 2, 1521, 1773, 0.1),
                                       ('fleck2', 1, 3510, 355, 0.5),
                                       ('fleck3', 1, 1850, 1755, 0.9)):
            ca, cb = after.chip(chip), before.chip(chip)
            sl = np.s_[y - 2:y + 1, x - 2:x + 1]   # 3x3 around [y-1, x-1]
            bg = np.median(ca.sci[y - 30:y + 30, x - 30:x + 30])
            assert np.min(ca.sci[sl]) < depth * bg, fid
            assert np.median(cb.sci[sl]) > 0.85 * bg, fid
        # the other chip at the same pixel is clear
        other = after.chip(1)
        assert np.median(other.sci[1771:1774, 1519:1522]) > \
            0.85 * np.median(other.sci[1740:1800, 1490:1550])
