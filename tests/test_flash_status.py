"""Flash status (issue 10 item 6): FLASHSTA missing -> FLASHDUR decides with
a warning; an epoch can be included explicitly."""

import numpy as np
import pytest
from astropy.io import fits

from acs_flecks.exceptions import (FlashStatusWarning, InputFileError,
                                   SkippedFileWarning)
from acs_flecks.io import ACSImage

from test_monitor_history import DATES, epoch_rows, run, write_epoch


@pytest.fixture
def timeline(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / 'dkc'
    d.mkdir()
    return [write_epoch(d / f'ep{k}_dkc.fits', date, epoch_rows(k, rng))
            for k, date in enumerate(DATES)]


def _strip(path, flashdur):
    with fits.open(path, mode='update') as h:
        del h[0].header['FLASHSTA']
        h[0].header['FLASHDUR'] = flashdur


@pytest.mark.parametrize('flashdur,flashed', [(4.6, True), (0.0, False)])
def test_missing_flashsta_decided_from_flashdur(tmp_path, flashdur, flashed):
    p = write_epoch(tmp_path / 'x.fits', '2017-05-20T00:00:00', [])
    _strip(p, flashdur)
    with pytest.warns(FlashStatusWarning, match='no FLASHSTA'):
        assert ACSImage(p).flashed is flashed


def test_flashsta_present_rules(tmp_path):
    p = write_epoch(tmp_path / 'x.fits', '2017-05-20T00:00:00', [])
    fits.setval(p, 'FLASHSTA', value='ABORTED')
    assert ACSImage(p).flashed is False


class TestMonitorInclude:
    def test_missing_flashsta_with_flashdur_is_used(self, timeline, tmp_path):
        dark = write_epoch(tmp_path / 'scripted.fits', '2017-05-20T00:00:00',
                           [])
        _strip(dark, 4.6)
        with pytest.warns(FlashStatusWarning):
            art = run(timeline + [dark], tmp_path / 'h.sqlite')
        assert str(dark) in art.meta['summary']['added']

    def test_include_explicitly(self, timeline, tmp_path):
        dark = write_epoch(tmp_path / 'noflash.fits', '2017-05-20T00:00:00',
                           [])
        fits.setval(dark, 'FLASHSTA', value='ABORTED')
        with pytest.warns(SkippedFileWarning, match='not post-flashed'):
            art = run(timeline + [dark], tmp_path / 'a.sqlite')
        assert str(dark) not in art.meta['summary']['added']
        art = run(timeline + [dark], tmp_path / 'b.sqlite',
                  include=['noflash.fits'])
        assert str(dark) in art.meta['summary']['added']

    def test_include_unknown_file(self, timeline, tmp_path):
        with pytest.raises(InputFileError, match='--include other.fits'):
            run(timeline, tmp_path / 'c.sqlite', include=['other.fits'])
