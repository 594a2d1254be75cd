"""One catalogue entry per artifact: association of detections across epochs
by footprint overlap (acs_flecks.monitor.crossmatch, issue #11)."""

import sqlite3

import numpy as np
import pytest
from astropy.table import Table

from acs_flecks.detect.footprint import (decode_footprint, encode_runs,
                                         footprint_keys, footprints_touch)
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.monitor import HistoryDatabase, classify_history
from acs_flecks.monitor.crossmatch import associate_detections

SHAPE = (120, 120)
FRECKLE = (50.0, 50.0)      # 1-indexed (x, y)
FLECK = (67.0, 50.0)        # 17 px away, as the report's tiny fleck


def disk(cx, cy, r):
    yy, xx = np.mgrid[1:SHAPE[0] + 1, 1:SHAPE[1] + 1]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def det_row(epoch, mask, depth=5.0):
    yy, xx = np.nonzero(mask)
    return dict(epoch_id=epoch, ccdchip=1, x=float(xx.mean() + 1),
                y=float(yy.mean() + 1), area=float(mask.sum()),
                mean_deficit=depth, peak_deficit=2 * depth, noise=0.3,
                semimajor_sigma=2.0, footprint=encode_runs(mask, x0=1, y0=1))


def epochs_table(n):
    t = Table({'epoch_id': np.arange(1, n + 1),
               'obs_mjd': 57800.0 + 30.0 * np.arange(n)})
    t['coverage'] = [{1: (1.0, SHAPE[1], 1.0, SHAPE[0])} for _ in range(n)]
    return t


def verifier(present):
    """Forced measurement: a deficit (10 sigma) where ``present(epoch, x,
    y)`` is true, nothing (0 sigma) elsewhere."""
    def verify(epoch_id, ccdchip, x, y, radius):
        return (10.0, 1.0) if present(epoch_id, x, y) else (0.0, 1.0)
    return verify


def freckle_only_before(first_fleck_epoch):
    def present(epoch, x, y):
        if np.hypot(x - FRECKLE[0], y - FRECKLE[1]) < 8:
            return True
        return epoch >= first_fleck_epoch and \
            np.hypot(x - FLECK[0], y - FLECK[1]) < 8
    return present


def run(rows, n_epochs, present=None):
    det = Table(rows=[tuple(r.values()) for r in rows],
                names=list(rows[0].keys()))
    verify = verifier(present) if present else None
    return classify_history(epochs_table(n_epochs), det, verify=verify,
                            edge_margin=8.0)


class TestFootprintText:
    def test_round_trip(self):
        mask = disk(20.3, 30.7, 4.2)
        text = encode_runs(mask, x0=1, y0=1)
        x, y = decode_footprint(text)
        yy, xx = np.nonzero(mask)
        assert sorted(zip(x, y)) == sorted(zip(xx + 1, yy + 1))

    def test_offset_and_one_indexed(self):
        mask = np.zeros((3, 3), bool)
        mask[0, 0] = True          # numpy [0, 0] of a cutout at (11, 21)
        assert encode_runs(mask, x0=11, y0=21) == '21,11,1'
        assert footprint_keys('21,11,1') == {(11, 21)}

    def test_touch(self):
        a = footprint_keys('5,5,3')
        assert footprints_touch(a, footprint_keys('6,8,2'))      # diagonal
        assert not footprints_touch(a, footprint_keys('7,5,3'))  # gap row

    def test_bad_text(self):
        with pytest.raises(AcsFlecksError, match='not a footprint'):
            decode_footprint('5,5')
        assert len(decode_footprint('')[0]) == 0

    def test_catalog_carries_footprints(self):
        from acs_flecks.detect import find_artifacts_in_chip
        rng = np.random.default_rng(1)
        sci = rng.normal(1000.0, 10.0, (200, 200)).astype(np.float32)
        yy, xx = np.mgrid[:200, :200]
        sci[(xx - 100) ** 2 + (yy - 80) ** 2 <= 36] *= 0.6
        cat = find_artifacts_in_chip(sci, ccdchip=1, ltv=(-100.0, -200.0))
        assert len(cat) == 1
        x, y = decode_footprint(cat['footprint'][0])
        assert len(x) == int(cat['area'][0].value)
        # full-chip frame: the image starts at chip (101, 201)
        assert abs(x.mean() - cat['x'][0].value) < 0.5
        assert abs(y.mean() - cat['y'][0].value) < 0.5
        assert x.min() > 100 and y.min() > 200


class TestDeblendingChanges:
    """A change of deblending never creates an artifact nor makes one new."""

    def pieces(self, cx, cy, r, n):
        m = disk(cx, cy, r)
        if n == 1:
            return [m]
        yy, xx = np.mgrid[1:SHAPE[0] + 1, 1:SHAPE[1] + 1]
        ang = np.arctan2(yy - cy, xx - cx)
        k = np.floor((ang + np.pi) / (2 * np.pi) * n).astype(int) % n
        return [m & (k == i) for i in range(n)]

    def test_split_then_whole(self):
        rows = []
        for e, n in enumerate((1, 2, 3, 1, 2), start=1):
            for piece in self.pieces(*FRECKLE, 5.0, n):
                rows.append(det_row(e, piece))
        art, ids = run(rows, 5)
        assert len(art) == 1
        assert art['status'][0] == 'stable'
        assert art['n_epochs'][0] == 5
        assert set(ids) == {'A0001'}
        # the pieces of an epoch are combined: the area of the whole
        assert art['area'][0].value == disk(*FRECKLE, 5.0).sum()

    def test_pieces_at_first_sight_kept_together(self):
        rows = [det_row(1, p) for p in self.pieces(*FRECKLE, 5.0, 3)]
        rows += [det_row(2, disk(*FRECKLE, 5.0)), det_row(3, disk(*FRECKLE,
                                                                   5.0))]
        art, _ = run(rows, 3)
        assert len(art) == 1 and art['status'][0] == 'stable'

    def test_separate_pieces_of_two_epochs_merge(self):
        # faint freckle: a different part is above the threshold each time
        # (no common pixel), then one segment over both
        rows = [det_row(1, disk(47.0, 50.0, 2.6)),
                det_row(2, disk(53.0, 50.0, 2.6)),
                det_row(3, disk(*FRECKLE, 5.0))]
        art, _ = run(rows, 3, present=lambda e, x, y: True)
        assert len(art) == 1

    def test_piece_below_threshold_before_joins(self):
        # epoch 1: the core; epoch 2: core + a piece outside the known
        # pixels that the forced measurement shows was there before
        rows = [det_row(1, disk(*FRECKLE, 3.0))]
        rows += [det_row(2, p) for p in
                 (disk(*FRECKLE, 3.0), disk(54.0, 50.0, 5.0) &
                  ~disk(*FRECKLE, 3.0))]
        art, _ = run(rows, 2, present=lambda e, x, y: True)
        assert len(art) == 1 and art['status'][0] == 'stable'


class TestNewNeighbour:
    """A genuinely new artifact 17 px from a known freckle stays new."""

    def rows(self, how):
        rows = []
        for e in range(1, 6):
            fr = disk(*FRECKLE, 4.0)
            if e < 3:
                rows.append(det_row(e, fr))
                continue
            fl = disk(*FLECK, 6.0)
            if how == 'separate':
                rows += [det_row(e, fr), det_row(e, fl, 20.0)]
            elif how == 'pieces':      # one segment, deblended in two
                bridge = np.zeros(SHAPE, bool)
                bridge[49:51, 53:61] = True      # rows y=50,51; x=54..61
                rows += [det_row(e, fr | (bridge & (np.arange(SHAPE[1]) <
                                                    56)[None, :])),
                         det_row(e, fl | (bridge & (np.arange(SHAPE[1]) >=
                                                    56)[None, :]), 20.0)]
            else:                       # one segment, not deblended
                bridge = np.zeros(SHAPE, bool)
                bridge[47:53, 52:62] = True
                rows.append(det_row(e, fr | fl | bridge, 15.0))
        return rows

    @pytest.mark.parametrize('how', ['separate', 'pieces', 'blended'])
    def test_new_next_to_freckle(self, how):
        art, _ = run(self.rows(how), 5, present=freckle_only_before(3))
        art = art[np.argsort(art['x'].value)]
        assert len(art) == 2
        fr, fl = art
        assert fr['status'] == 'stable'
        assert abs(fr['x'].value - FRECKLE[0]) < 1.5
        assert fl['status'] == 'new'
        assert fl['x'].value > 60
        assert fl['first_seen_mjd'].value == 57800.0 + 60.0
        assert fl['last_seen_absent_mjd'].value == 57800.0 + 30.0

    def test_without_forced_measurements_still_new(self):
        art, _ = run(self.rows('pieces'), 5)
        assert sorted(art['status']) == ['new', 'stable']


def test_positions_only_without_footprints():
    rows = [det_row(e, disk(50.0 + 0.5 * e, 50.0, 4.0)) for e in (1, 2, 3)]
    for r in rows:
        r['footprint'] = ''
    track, siblings = associate_detections(
        [0, 1, 2], [1, 1, 1], [r['x'] for r in rows], [r['y'] for r in rows],
        footprints=[r['footprint'] for r in rows])
    assert list(track) == [0, 0, 0] and siblings == {}


def test_two_freckles_apart_never_merged():
    # two artifacts 9 px apart, seen separately in epoch 1, as one segment
    # in epoch 2, separately again in epoch 3: still two
    a, b = disk(45.0, 50.0, 3.5), disk(54.0, 50.0, 3.5)
    bridge = np.zeros(SHAPE, bool)
    bridge[48:51, 47:53] = True
    rows = [det_row(1, a), det_row(1, b), det_row(2, a | b | bridge),
            det_row(3, a), det_row(3, b)]
    art, _ = run(rows, 3, present=lambda e, x, y: True)
    assert len(art) == 2
    assert set(art['status']) == {'stable'}


class TestHistoryFootprints:
    def test_stored_and_read(self, tmp_path):
        path = tmp_path / 'h.sqlite'
        det = Table(rows=[(1, 50.0, 50.0, 3.0, '50,49,3')],
                    names=('ccdchip', 'x', 'y', 'area', 'footprint'))
        with HistoryDatabase(path) as db:
            db.add_epoch(obs_mjd=57800.0, obs_time='2017-02-06T00:00:00',
                         source_file='a.fits', rootname='a', sha256='x',
                         detector='WFC', coverage={1: (1, 100, 1, 100)},
                         detections=det)
            assert list(db.detections()['footprint']) == ['50,49,3']

    def test_history_without_footprints_table(self, tmp_path):
        path = tmp_path / 'old.sqlite'
        det = Table(rows=[(1, 50.0, 50.0, 3.0)],
                    names=('ccdchip', 'x', 'y', 'area'))
        with HistoryDatabase(path) as db:
            db.add_epoch(obs_mjd=57800.0, obs_time='2017-02-06T00:00:00',
                         source_file='a.fits', rootname='a', sha256='x',
                         detector='WFC', coverage={1: (1, 100, 1, 100)},
                         detections=det)
        con = sqlite3.connect(path)
        con.execute('DROP TABLE footprints')     # as written before #11
        con.commit()
        con.close()
        with HistoryDatabase(path, readonly=True) as db:
            assert list(db.detections()['footprint']) == ['']
        with HistoryDatabase(path) as db:          # the table is added
            assert list(db.detections()['footprint']) == ['']
            art = db.artifacts()
            assert len(art) == 1
