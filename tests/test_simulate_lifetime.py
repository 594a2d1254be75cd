"""The 'lifetime' scenario: monthly epochs 2002-2026 and its events."""

import numpy as np
import pytest

from acs_flecks.detect import find_artifacts
from acs_flecks.simulate import simulate_scenario
from acs_flecks.simulate.scenarios import (LIFETIME_CYCLE_STARTS,
                                           LIFETIME_EVENTS, REPORT_FLECKS,
                                           get_scenario)


class TestTimeline:
    def test_monthly_epochs(self):
        sc = get_scenario('lifetime', kinds=['dkc'])
        starts = list(sc.cycles['start'])
        assert starts == list(LIFETIME_CYCLE_STARTS)
        assert 280 <= len(starts) <= 300
        assert starts[0].startswith('2002-') and starts[-1].startswith('2026-')
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        # the report's cycles: 2017-05-05 starts the first with the flecks
        assert '2017-04-04' in starts and '2017-05-05' in starts
        assert len([p for p in sc.plans if p.kind == 'dkc']) == len(starts)

    def test_events_present_when_expected(self):
        sc = get_scenario('lifetime', kinds=['dkc'])
        art = {a.id: a for a in sc.artifacts}
        assert not art['fleck1'].present('2017-05-03')
        assert art['fleck1'].present('2017-05-05')
        assert not art['fader'].present('2009-05-04')
        assert art['fader'].present('2021-01-04')
        assert 0 < art['fader'].strength_at('2021-01-04') < 1
        assert not art['fader'].present('2022-01-04')
        assert art['mover'].offset_at('2011-06-04') == (-8.0, -5.0)
        assert art['mover'].offset_at('2015-01-04') == (0.0, 0.0)


def nearest(cat, ccdchip, x, y):
    sel = cat[cat['ccdchip'] == ccdchip]
    if not len(sel):
        return np.inf, None
    d = np.hypot(sel['x'].value - x, sel['y'].value - y)
    i = int(np.argmin(d))
    return d[i], (sel['x'][i].value, sel['y'][i].value)


@pytest.fixture(scope='module')
def lifetime_files(tmp_path_factory):
    epochs = ['2009-05-04', '2012-01-04', '2014-01-04', '2017-04-04',
              '2017-05-05', '2022-01-04']
    res = simulate_scenario('lifetime', tmp_path_factory.mktemp('life'),
                            window=128, kinds=['dkc'], epochs=epochs)
    files = dict(zip(res.files['epoch'], res.files['path']))
    assert sorted(files) == epochs
    return {e: find_artifacts(p) for e, p in files.items()}


class TestEventsFound:
    """The §7 search sees each event in the simulated files."""

    def test_fader_appears_and_fades_away(self, lifetime_files):
        chip, x, y = LIFETIME_EVENTS['fader']
        assert nearest(lifetime_files['2009-05-04'], chip, x, y)[0] > 10
        assert nearest(lifetime_files['2017-04-04'], chip, x, y)[0] < 2
        assert nearest(lifetime_files['2022-01-04'], chip, x, y)[0] > 10

    def test_mover_moves(self, lifetime_files):
        chip, x, y = LIFETIME_EVENTS['mover']
        d0, p0 = nearest(lifetime_files['2012-01-04'], chip, x - 8, y - 5)
        d1, p1 = nearest(lifetime_files['2014-01-04'], chip, x, y)
        assert d0 < 2 and d1 < 2
        assert np.hypot(p1[0] - p0[0], p1[1] - p0[1]) > 7

    def test_flecks_appear_2017_05_05(self, lifetime_files):
        for fid in ('fleck1', 'fleck2'):
            chip, x, y = REPORT_FLECKS[fid]
            assert nearest(lifetime_files['2017-04-04'], chip, x, y)[0] > 10
            assert nearest(lifetime_files['2017-05-05'], chip, x, y)[0] < 3
