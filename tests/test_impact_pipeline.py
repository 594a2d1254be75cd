"""The whole chain with science exposures (issue 14): the new table's impact
on them and their re-flagged copies appear in the run's outputs and report.
"""

import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from acs_flecks.demo import write_reference_bpixtab
from acs_flecks.exceptions import AcsFlecksError, SkippedFileWarning
from acs_flecks.pipeline import run_pipeline
from acs_flecks.simulate import simulate_scenario

from test_impact import AFTER, BEFORE, build_exposure, sha256, sky_of


def _paths(sim, kind):
    return [str(p) for p, k in zip(sim.files['path'], sim.files['kind'])
            if k == kind]


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp('chain_science')
    sim = simulate_scenario('discovery', base / 'data', seed=3, window=160)
    ref = write_reference_bpixtab(str(base / 'ref_bpx.fits'), seed=3)
    fleck = sim.truth.artifact('fleck1')
    x0, y0 = int(fleck.x) - 99, int(fleck.y) - 99      # a 200x200 subarray
    sci = base / 'sci'
    sci.mkdir()
    science = [build_exposure(sci / 'jscia01q_flc.fits', expstart=AFTER,
                              subarray=(fleck.ccdchip, x0, y0, 200, 200)),
               build_exposure(sci / 'jscib01q_flc.fits', expstart=BEFORE,
                              subarray=(fleck.ccdchip, x0, y0, 200, 200))]
    rows = [('on', *sky_of(fleck.ccdchip, fleck.x, fleck.y)),
            ('beside', *sky_of(fleck.ccdchip, fleck.x + 60, fleck.y))]
    Table(rows=rows, names=('id', 'ra', 'dec')).write(base / 'src.ecsv')
    sums = {p: sha256(p) for p in science}
    with pytest.warns(SkippedFileWarning):
        result = run_pipeline(_paths(sim, 'dkc'), flats=_paths(sim, 'flat'),
                              reference=ref, outdir=str(base / 'out'),
                              scheduler='serial', science=[str(p) for p in
                                                           science],
                              sources=str(base / 'src.ecsv'))
    for p in science:
        assert sha256(p) == sums[p], 'a science exposure was modified'
    return dict(result=result, science=science, fleck=fleck, base=base)


def test_impact_in_the_run(run):
    res = run['result']
    assert res.delivery is not None and res.impact is not None
    t = res.impact.table
    bad = res.bad_pixels
    fl = run['fleck']
    for row in t:
        assert row['on_chip'] and row['ccdchip'] == fl.ccdchip
        under = np.any((np.asarray(bad['ccdchip']) == row['ccdchip'])
                       & (np.asarray(bad['x']) == int(round(row['x'])))
                       & (np.asarray(bad['y']) == int(round(row['y']))))
        after = row['exposure'] == 'jscia01q_flc.fits'
        assert row['flagged'] == (under and after)
    on_after = t[(t['id'] == 'on') & (t['exposure'] == 'jscia01q_flc.fits')][0]
    assert on_after['flagged']
    # the characterization's maps give the loss in F814W
    assert on_after['loss_filter'] == 'F814W'
    assert 0.3 < on_after['flux_loss'] < 1
    beside = t[(t['id'] == 'beside') & (t['exposure'] == 'jscia01q_flc.fits')]
    assert not beside['affected'][0]
    assert os.path.isfile(res.outputs['impact'])
    assert os.path.isfile(res.outputs['impact_summary'])


def test_reflagged_copies(run):
    res = run['result']
    assert list(res.flagged['applied']) == [True, False]
    out = res.outputs['reflagged']
    fl = run['fleck']
    with fits.open(os.path.join(out, 'jscia01q_flc.fits')) as h:
        dq = h['DQ', 1].data.view(np.uint16)
        ltv1, ltv2 = h['SCI', 1].header['LTV1'], h['SCI', 1].header['LTV2']
    bad = res.bad_pixels
    for x, y in zip(bad['x'], bad['y']):
        xi, yi = int(x + ltv1), int(y + ltv2)
        if 1 <= xi <= 200 and 1 <= yi <= 200:
            assert dq[yi - 1, xi - 1] & 4
    assert dq[int(fl.y + ltv2) - 1, int(fl.x + ltv1) - 1] & 4
    assert sha256(os.path.join(out, 'jscib01q_flc.fits')) == \
        sha256(run['science'][1])


def test_report_section(run):
    html = open(run['result'].report).read()
    assert 'Science exposures: what the flecks touch' in html
    assert 'jscia01q_flc.fits' in html


def test_bad_science_fails_before_work(run, tmp_path):
    sim_dkc = sorted(str(p) for p in (run['base'] / 'data').rglob('*_dkc.fits'))
    bad = tmp_path / 'jhrc_flc.fits'
    build_exposure(bad, expstart=AFTER, subarray=(2, 1, 1, 32, 32),
                   detector='HRC')
    out = tmp_path / 'out'
    with pytest.raises(AcsFlecksError, match='HRC'):
        run_pipeline(sim_dkc[:2], outdir=str(out), scheduler='serial',
                     science=[str(bad)])
    assert not out.exists()
    with pytest.raises(AcsFlecksError, match='without science'):
        run_pipeline(sim_dkc[:2], outdir=str(out), scheduler='serial',
                     sources=str(run['base'] / 'src.ecsv'))
    assert not out.exists()
