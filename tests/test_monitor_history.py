"""Tests of the monitoring history: cross-match, classification, database,
bad input (hand-made catalogs through a replaceable detection function)."""

import os
import sqlite3
import warnings
import stat
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.time import Time
from numpy.testing import assert_allclose

from acs_flecks.exceptions import (HistoryDatabaseError, InputFileError,
                                   SkippedFileWarning)
from acs_flecks.monitor import (HistoryDatabase, SCHEMA_VERSION,
                                build_tracks, classify_history,
                                export_history, match_positions,
                                monitor_epochs)

# --------------------------------------------------------------------------
# helpers: tiny ACS files + a sidecar catalog read by a fake finder

COLS = ('ccdchip', 'x', 'y', 'area', 'peak_deficit', 'mean_deficit')

# truth of a small "discovery" history: freckles always there, two flecks
# appearing at 2017-05-05 (cycle start), one on each chip.
FRECKLES = [(1, 30.0, 40.0, 30.0, 8.0), (1, 70.0, 20.0, 40.0, 6.0),
            (2, 50.0, 50.0, 28.0, 9.0), (2, 15.0, 80.0, 35.0, 7.0)]
FLECKS = [(2, 60.0, 30.0, 144.0, 60.0), (1, 45.0, 75.0, 52.0, 45.0)]
DATES = ['2017-02-06T10:00:00', '2017-03-07T10:00:00', '2017-04-04T10:00:00',
         '2017-05-05T10:00:00', '2017-05-30T10:00:00', '2017-06-26T10:00:00']
ORIGIN = 3


def write_epoch(path, date, rows, *, detector='WFC', shape=(100, 100),
                ltv=(0.0, 0.0), chips=(2, 1)):
    """A minimal ACS/WFC file (+ catalog sidecar ``path + '.cat'``)."""
    prim = fits.PrimaryHDU()
    prim.header.update(INSTRUME='ACS', DETECTOR=detector, FILTER1='CLEAR1L',
                       FILTER2='CLEAR2L', EXPTIME=0.5,
                       EXPSTART=Time(date).mjd, FLASHDUR=4.6,
                       FLASHSTA='SUCCESSFUL', IMAGETYP='DARK',
                       ROOTNAME=os.path.basename(path)[:9])
    hdus = [prim]
    rng = np.random.default_rng(abs(hash(date)) % 2**32)
    for ver, chip in enumerate(chips, start=1):
        for name in ('SCI', 'ERR', 'DQ'):
            dtype = np.int16 if name == 'DQ' else np.float32
            data = (rng.normal(30, 1, shape) if name == 'SCI' else
                    np.zeros(shape)).astype(dtype)
            h = fits.ImageHDU(data, name=name, ver=ver)
            h.header.update(CCDCHIP=chip, LTV1=ltv[0], LTV2=ltv[1],
                            BUNIT='ELECTRONS')
            hdus.append(h)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    QTable(rows=rows or None, names=COLS,
           dtype=(int, float, float, float, float, float)).write(
        str(path) + '.cat', format='ascii.ecsv', overwrite=True)
    return str(path)


def fake_finder(path, *, chips=None, **kwargs):
    """Stands in for find_artifacts: the sidecar catalog of the file."""
    from acs_flecks.io import ACSImage
    ACSImage(path).check_data()     # a corrupt file fails like the real one
    t = QTable.read(str(path) + '.cat', format='ascii.ecsv')
    if chips is not None:
        t = t[np.isin(t['ccdchip'], chips)]
    return t


def epoch_rows(k, rng, *, jitter=0.2):
    rows = []
    for chip, x, y, area, depth in FRECKLES:
        rows.append((chip, x + rng.normal(0, jitter), y + rng.normal(0, jitter),
                     area + rng.normal(0, 1), depth * 1.5,
                     depth + rng.normal(0, 0.2)))
    if k >= ORIGIN:
        for chip, x, y, area, depth in FLECKS:
            rows.append((chip, x + rng.normal(0, jitter),
                         y + rng.normal(0, jitter), area + rng.normal(0, 2),
                         depth * 1.5, depth + rng.normal(0, 0.5)))
    return rows


@pytest.fixture
def timeline(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / 'dkc'
    d.mkdir()
    return [write_epoch(d / f'ep{k}_dkc.fits', date, epoch_rows(k, rng))
            for k, date in enumerate(DATES)]


def run(files, db, **kw):
    kw.setdefault('scheduler', 'serial')
    return monitor_epochs(files, db=db, finder=fake_finder, **kw)


def key(table):
    cols = ('artifact_id', 'ccdchip', 'status', 'first_seen',
            'last_seen_absent', 'n_epochs')
    return [tuple(str(r[c]) for c in cols) for r in table]


# --------------------------------------------------------------------------
class TestCrossmatch:
    def test_one_to_one_nearest(self):
        ref = [(10.0, 10.0), (12.0, 10.0)]
        cand = [(11.9, 10.0), (10.1, 10.0), (50.0, 50.0)]
        i, j = match_positions(ref, cand, tolerance=3.0)
        assert list(i) == [0, 1]
        assert list(j) == [1, 0]

    def test_tolerance(self):
        i, j = match_positions([(0.0, 0.0)], [(2.9, 0.0)], tolerance=3.0)
        assert len(i) == 1
        i, j = match_positions([(0.0, 0.0)], [(3.1, 0.0)], tolerance=3.0)
        assert len(i) == 0
        with pytest.raises(ValueError, match='tolerance'):
            match_positions([(0, 0)], [(0, 0)], tolerance=0)

    def test_tracks_per_chip_and_order_independent(self):
        ep = [0, 0, 1, 1, 2]
        chip = [1, 2, 2, 1, 1]
        x = [10.0, 10.0, 10.2, 10.1, 40.0]
        y = [10.0, 10.0, 9.9, 10.2, 40.0]
        t = build_tracks(ep, chip, x, y, tolerance=2)
        assert t[0] == t[3] and t[1] == t[2] and t[0] != t[1]
        assert t[4] not in (t[0], t[1])
        perm = [4, 2, 0, 3, 1]
        t2 = build_tracks(np.take(ep, perm), np.take(chip, perm),
                          np.take(x, perm), np.take(y, perm), tolerance=2)
        assert_allclose(t2, np.take(t, perm))


class TestClassify:
    def make(self, present, *, coverage=None, depths=None):
        """present: list of lists of (chip, x, y) per epoch."""
        n = len(present)
        ep = Table({'epoch_id': np.arange(n) + 10,
                    'obs_mjd': 57800.0 + 30 * np.arange(n)})
        full = {1: (1, 4096, 1, 2048), 2: (1, 4096, 1, 2048)}
        ep['coverage'] = [dict(coverage[k]) if coverage else full
                          for k in range(n)]
        rows = []
        for k, dets in enumerate(present):
            for j, (c, x, y) in enumerate(dets):
                depth = depths[k] if depths else 10.0
                rows.append((k + 10, c, x, y, 30.0, depth, depth * 2))
        det = Table(rows=rows, names=('epoch_id', 'ccdchip', 'x', 'y', 'area',
                                      'mean_deficit', 'peak_deficit'))
        return classify_history(ep, det)

    def test_statuses_and_bracket(self):
        a = (1, 100.0, 100.0)
        b = (2, 500.0, 300.0)
        art, ids = self.make([[a], [a], [a, b], [a, b]])
        assert list(art['status']) == ['stable', 'new']
        new = art[art['status'] == 'new'][0]
        assert new['first_seen'] == Time(57860.0, format='mjd').isot[:19]
        assert new['last_seen_absent'] == Time(57830.0, format='mjd').isot[:19]
        assert art['last_seen_absent'].mask[0]
        assert list(art['n_epochs']) == [4, 2]
        assert list(ids) == ['A0001', 'A0001', 'A0001', 'A0002', 'A0001',
                             'A0002']

    def test_vanished(self):
        a = (1, 100.0, 100.0)
        b = (1, 900.0, 100.0)
        art, _ = self.make([[a, b], [a, b], [a]])
        assert list(art['status']) == ['stable', 'vanished']
        assert art['first_seen_absent'][1] == Time(57860.0, format='mjd').isot[:19]

    def test_changed_depth(self):
        a = (1, 100.0, 100.0)
        art, _ = self.make([[a]] * 5, depths=[10, 10, 10, 10, 10.3])
        assert art['status'][0] == 'stable'
        art, _ = self.make([[a]] * 5, depths=[10, 10, 10, 10, 20])
        assert art['status'][0] == 'changed'
        assert art['change_reason'][0] == 'depth'
        assert art['d_depth'][0].value == pytest.approx(10.0)

    def test_flickering_source_not_changed(self):
        """A source detected in 2 of 6 epochs (at the threshold) is not
        'changed' whatever its isophotal depth does."""
        a = (1, 100.0, 100.0)
        b = (2, 700.0, 300.0)
        art, _ = self.make([[a, b], [a], [a], [a], [a], [a, b]],
                           depths=[10, 10, 10, 10, 10, 30])
        row = art[art['ccdchip'] == 2][0]
        assert row['status'] == 'stable'
        assert not row['changed']

    def test_edge_detections_ignored(self):
        """A detection 2 pixels from a window edge (median-filter
        reflection) makes no artifact, however late it appears."""
        n = 3
        ep = Table({'epoch_id': np.arange(n), 'obs_mjd': 57800.0 + np.arange(n)})
        ep['coverage'] = [{1: (1001.0, 1200.0, 1.0, 200.0)}] * n
        det = Table(rows=[(0, 1, 1100.0, 100.0, 30.0, 5.0, 9.0),
                          (1, 1, 1100.0, 100.0, 30.0, 5.0, 9.0),
                          (2, 1, 1100.0, 100.0, 30.0, 5.0, 9.0),
                          (2, 1, 1198.0, 150.0, 30.0, 5.0, 9.0)],
                    names=('epoch_id', 'ccdchip', 'x', 'y', 'area',
                           'mean_deficit', 'peak_deficit'))
        art, ids = classify_history(ep, det, edge_margin=8)
        assert list(art['status']) == ['stable']
        assert list(ids) == ['A0001'] * 3 + ['']
        art, ids = classify_history(ep, det, edge_margin=0)
        assert list(art['status']) == ['stable', 'new']

    def test_unobserved_is_not_absent(self):
        """An epoch whose window does not cover an artifact does not make
        it new (mixed chips / sub-arrays)."""
        a = (2, 100.0, 100.0)
        only1 = {1: (1, 4096, 1, 2048)}
        both = {1: (1, 4096, 1, 2048), 2: (1, 4096, 1, 2048)}
        art, _ = self.make([[], [a], [a]], coverage=[only1, both, both])
        assert list(art['status']) == ['stable']
        assert art['n_observed'][0] == 2


class TestMonitor:
    def test_discovery(self, timeline, tmp_path):
        out = tmp_path / 'artifacts.ecsv'
        art = run(timeline, tmp_path / 'h.sqlite', output=out)
        assert len(art) == len(FRECKLES) + len(FLECKS)
        new = art[art['status'] == 'new']
        assert len(new) == len(FLECKS)
        assert set(new['first_seen']) == {DATES[ORIGIN]}
        assert set(new['last_seen_absent']) == {DATES[ORIGIN - 1]}
        assert np.all(art['status'][art['last_seen_absent'].mask] == 'stable')
        for chip, x, y, *_ in FLECKS:
            m = new[new['ccdchip'] == chip]
            assert_allclose([m['x'][0].value, m['y'][0].value], [x, y],
                            atol=0.5)
        back = QTable.read(out)
        for c in ('ccdchip', 'x', 'y', 'first_seen', 'last_seen_absent',
                  'n_epochs', 'status'):
            assert c in back.colnames
        assert key(back) == key(art)

    def test_stored_in_time_order(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        art = run(timeline[::-1], db)
        assert art.meta['summary']['added'] == timeline
        with HistoryDatabase(db, readonly=True) as h:
            ep = h.epochs()
        assert list(ep['epoch_id']) == sorted(ep['epoch_id'])
        assert [t[:19] for t in ep['obs_time']] == DATES

    def test_one_at_a_time_equals_all_at_once(self, timeline, tmp_path):
        all_at_once = run(timeline, tmp_path / 'a.sqlite')
        db = tmp_path / 'b.sqlite'
        for f in timeline:
            one = run([f], db)
        assert key(one) == key(all_at_once)
        assert_allclose(one['x'].value, all_at_once['x'].value)

    def test_out_of_order_add(self, timeline, tmp_path):
        ref = run(timeline, tmp_path / 'a.sqlite')
        db = tmp_path / 'b.sqlite'
        run(timeline[ORIGIN:], db)            # no "before" epoch yet
        first = run(timeline[:1], db)          # much older epoch added later
        assert 'new' in set(first['status'])
        art = run(timeline[1:ORIGIN], db)
        assert key(art) == key(ref)

    def test_same_epoch_twice_changes_nothing(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        run(timeline, db)
        with HistoryDatabase(db, readonly=True) as h:
            n = len(h)
            det = len(h.detections())
        art = run([timeline[2]], db)
        assert art.meta['summary']['already_present'] == [timeline[2]]
        with HistoryDatabase(db, readonly=True) as h:
            assert len(h) == n and len(h.detections()) == det

    def test_duplicate_epoch_other_file(self, timeline, tmp_path):
        rng = np.random.default_rng(5)
        dup = write_epoch(tmp_path / 'dup_dkc.fits', DATES[1],
                          epoch_rows(1, rng))
        with pytest.warns(SkippedFileWarning, match='duplicate epoch'):
            art = run(timeline + [dup], tmp_path / 'h.sqlite')
        assert len(art.meta['summary']['skipped']) == 1
        assert len(art.meta['summary']['added']) == len(DATES)

    def test_corrupt_file_skipped(self, timeline, tmp_path):
        bad = tmp_path / 'bad_dkc.fits'
        bad.write_bytes(open(timeline[1], 'rb').read()[:5000])
        bad2 = tmp_path / 'notfits.fits'
        bad2.write_text('hello')
        files = timeline[:3] + [str(bad), str(bad2)] + timeline[3:]
        with pytest.warns(SkippedFileWarning) as record:
            art = run(files, tmp_path / 'h.sqlite')
        messages = [str(w.message) for w in record]
        assert any('bad_dkc.fits' in m for m in messages)
        assert any('notfits.fits' in m for m in messages)
        skipped = art.meta['summary']['skipped']
        assert len(skipped) == 2
        assert all('not a readable FITS file' in s for s in skipped)
        assert len(art[art['status'] == 'new']) == len(FLECKS)

    def test_unusable_pixels_found_by_the_worker(self, timeline, tmp_path):
        """A file whose headers are fine but whose pixels are all NaN fails
        in the detection task: skipped with a message, the run goes on."""
        nan = write_epoch(tmp_path / 'nan_dkc.fits', '2017-05-20T00:00:00',
                          [])
        with fits.open(nan, mode='update') as hdul:
            for h in hdul:
                if h.name == 'SCI':
                    h.data[:] = np.nan
        with pytest.warns(SkippedFileWarning, match='nan_dkc.fits.*NaN'):
            art = run(timeline + [nan], tmp_path / 'h.sqlite')
        assert len(art.meta['summary']['added']) == len(DATES)
        assert len(art[art['status'] == 'new']) == len(FLECKS)

    def test_no_usable_file(self, tmp_path):
        bad = tmp_path / 'bad.fits'
        bad.write_text('junk')
        # one error, no warning per file: the error names the first problem
        with warnings.catch_warnings():
            warnings.simplefilter('error', SkippedFileWarning)
            with pytest.raises(InputFileError, match='none of the 2 file'):
                run([str(bad), str(tmp_path / 'missing.fits')],
                    tmp_path / 'h.sqlite')
        assert not (tmp_path / 'h.sqlite').exists()

    def test_unflashed_epoch_skipped(self, timeline, tmp_path):
        dark = write_epoch(tmp_path / 'dark.fits', '2017-05-20T00:00:00', [])
        fits.setval(dark, 'FLASHDUR', value=0.0)
        fits.setval(dark, 'FLASHSTA', value='NOT PERFORMED')
        with pytest.warns(SkippedFileWarning, match='not post-flashed'):
            art = run(timeline + [dark], tmp_path / 'h.sqlite')
        assert not np.any(art['status'] == 'vanished')

    def test_mixed_detectors(self, timeline, tmp_path):
        hrc = write_epoch(tmp_path / 'hrc.fits', '2017-07-01T00:00:00', [],
                          detector='HRC', chips=(1,))
        db = tmp_path / 'h.sqlite'
        # the monitor supports WFC only: an HRC file is refused before the
        # history is created (it used to be searched as WFC1) [#9]
        with pytest.raises(InputFileError, match='monitor supports WFC only'):
            run(timeline + [hrc], db)
        assert not db.exists()
        run(timeline, db)
        with HistoryDatabase(db, readonly=True) as h:
            n = len(h)
        with pytest.raises(InputFileError, match='monitor supports WFC only'):
            run([hrc], db)
        with HistoryDatabase(db, readonly=True) as h:
            assert len(h) == n

    def test_detection_parameters_must_match(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        run(timeline[:2], db)
        with pytest.raises(HistoryDatabaseError, match='detection parameters'):
            run(timeline[2:], db, find_kwargs={'nsigma': 3.0})


class TestDatabase:
    def test_schema_and_wal(self, tmp_path):
        db = tmp_path / 'h.sqlite'
        with HistoryDatabase(db) as h:   # WAL while open
            assert h._execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        # closed: back to a rollback journal, no -wal/-shm left behind
        assert sorted(p.name for p in tmp_path.iterdir()) == ['h.sqlite']
        con = sqlite3.connect(db)
        assert con.execute('PRAGMA user_version').fetchone()[0] == \
            SCHEMA_VERSION
        assert con.execute('PRAGMA journal_mode').fetchone()[0] == 'delete'
        tables = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        assert {'epochs', 'detections', 'artifacts', 'meta'} <= tables
        con.close()

    def test_newer_schema_refused(self, tmp_path):
        db = tmp_path / 'h.sqlite'
        HistoryDatabase(db).close()
        con = sqlite3.connect(db)
        con.execute(f'PRAGMA user_version = {SCHEMA_VERSION + 1}')
        con.close()
        before = open(db, 'rb').read()
        with pytest.raises(HistoryDatabaseError, match='newer acs_flecks'):
            HistoryDatabase(db)
        assert open(db, 'rb').read() == before

    def test_foreign_sqlite_and_garbage(self, tmp_path):
        other = tmp_path / 'other.sqlite'
        con = sqlite3.connect(other)
        con.execute('CREATE TABLE t (a)')
        con.commit()
        con.close()
        with pytest.raises(HistoryDatabaseError, match='not an acs_flecks'):
            HistoryDatabase(other)
        junk = tmp_path / 'junk.sqlite'
        junk.write_bytes(b'not a database at all' * 100)
        with pytest.raises(HistoryDatabaseError, match='junk.sqlite'):
            HistoryDatabase(junk)

    @pytest.mark.skipif(os.geteuid() == 0, reason='root ignores permissions')
    def test_readonly_file(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        run(timeline[:3], db)
        os.chmod(db, stat.S_IRUSR)
        try:
            with pytest.raises(HistoryDatabaseError, match='read-only'):
                run(timeline[3:], db)
            t = export_history(db, tmp_path / 'x.ecsv')
            assert len(t) == len(FRECKLES)
        finally:
            os.chmod(db, stat.S_IRUSR | stat.S_IWUSR)

    def test_readonly_open_cannot_write(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        run(timeline[:3], db)
        with HistoryDatabase(db, readonly=True) as h:
            with pytest.raises(HistoryDatabaseError, match='read-only'):
                h.reclassify()

    def test_locked(self, timeline, tmp_path):
        db = tmp_path / 'h.sqlite'
        run(timeline[:2], db)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute('BEGIN IMMEDIATE')
        try:
            with pytest.raises(HistoryDatabaseError, match='locked'):
                monitor_epochs(timeline[2:], db=db, finder=fake_finder,
                               scheduler='serial', timeout=0.2)
        finally:
            holder.execute('ROLLBACK')
            holder.close()
        with HistoryDatabase(db, readonly=True) as h:
            assert len(h) == 2

    def test_read_while_writing(self, timeline, tmp_path):
        """WAL: a reader sees the last committed state while a writer holds
        an open transaction."""
        db = tmp_path / 'h.sqlite'
        run(timeline[:2], db)
        writer = HistoryDatabase(db)
        with writer.transaction():
            writer._execute("INSERT INTO meta VALUES ('x', 'y')")
            t = export_history(db, tmp_path / 'during.ecsv')
            assert len(t) == len(FRECKLES)
        writer.close()

    def test_crash_mid_epoch_rolls_back(self, timeline, tmp_path,
                                        monkeypatch):
        db = tmp_path / 'h.sqlite'
        run(timeline[:2], db)
        import acs_flecks.monitor.history as hist
        real = hist._now
        calls = {'n': 0}

        def boom():
            calls['n'] += 1
            raise KeyboardInterrupt('simulated crash inside a transaction')
        monkeypatch.setattr(hist, '_now', boom)
        with pytest.raises(KeyboardInterrupt):
            run(timeline[2:], db)
        monkeypatch.setattr(hist, '_now', real)
        with HistoryDatabase(db, readonly=True) as h:
            assert len(h) == 2
            assert len(h.detections()) == 2 * len(FRECKLES)
        # resuming adds the rest and gives the full answer
        art = run(timeline, db)
        assert key(art) == key(run(timeline, tmp_path / 'ref.sqlite'))

    def test_killed_process_leaves_consistent_db(self, timeline, tmp_path):
        """A process killed (os._exit) between two epochs and inside the
        third epoch's transaction leaves exactly the committed epochs."""
        db = tmp_path / 'h.sqlite'
        code = f"""
import os, sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
import acs_flecks.monitor.history as hist
from test_monitor_history import fake_finder
from acs_flecks.monitor import monitor_epochs
n = {{'k': 0}}
real = hist._detection_rows
def rows(t):
    n['k'] += 1
    if n['k'] == 3:
        os._exit(9)      # hard kill inside the 3rd epoch's transaction
    return real(t)
hist._detection_rows = rows
monitor_epochs({timeline!r}, db={str(db)!r}, finder=fake_finder,
               scheduler='serial')
"""
        proc = subprocess.run([sys.executable, '-c', code],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 9, proc.stderr
        with HistoryDatabase(db) as h:
            assert len(h) == 2
            assert h.stale
            art = h.artifacts()
        assert set(art['status']) == {'stable'}
        assert len(art) == len(FRECKLES)


def test_readonly_file_message(timeline, tmp_path, monkeypatch):
    """(Also as root, who ignores file modes): a database the user cannot
    write is refused before anything happens, and it can still be read."""
    db = tmp_path / 'h.sqlite'
    run(timeline[:3], db)
    real = os.access
    monkeypatch.setattr(os, 'access', lambda p, m: False if (
        os.fspath(p) == str(db) and m == os.W_OK) else real(p, m))
    with pytest.raises(HistoryDatabaseError, match='read-only.*nothing was'):
        run(timeline[3:], db)
    assert len(export_history(db, tmp_path / 'x.ecsv')) == len(FRECKLES)
