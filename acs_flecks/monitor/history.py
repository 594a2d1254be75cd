"""
The monitoring history database (SQLite, Python's `sqlite3`).

One file holds the instrument's whole fleck history: the **epochs**
processed (one combined short flashed dark per anneal cycle), every
**detection** of every epoch, and the derived **artifacts** (cross-matched
tracks with their status and date of origin).  No server is needed.

Design
------
* **Schema version** in ``PRAGMA user_version`` (`SCHEMA_VERSION`) and an
  ``application_id`` identifying the file as an acs_flecks history.  A file
  written by a newer acs_flecks (higher version) is refused, never modified.
* **Write-ahead log** (``PRAGMA journal_mode=WAL``): readers (``export``,
  plots, another shell) read the last committed state while a run writes.
* **One transaction per epoch**: the epoch row, its chip coverage and its
  detections are committed together (``BEGIN IMMEDIATE ... COMMIT``), so a
  crash (or Ctrl-C, or a killed job) at any moment leaves every epoch either
  completely in the history or not at all.  The artifacts table is re-derived
  from the detections in its own transaction; if a run dies in between, the
  flag ``artifacts_stale`` in the ``meta`` table says so and the next writer
  (or `HistoryDatabase.artifacts`) re-derives it.
* Detection (the expensive part) is never redone: cross-match and
  classification are recomputed from the stored detections (milliseconds
  for a lifetime), which is what makes an out-of-order epoch and
  one-at-a-time additions give exactly the all-at-once answer.

>>> from acs_flecks.monitor import HistoryDatabase      # doctest: +SKIP
>>> with HistoryDatabase('history.sqlite') as db:      # doctest: +SKIP
...     db.artifacts().pprint()
"""

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
import urllib.parse
from datetime import datetime, timezone

import numpy as np
from astropy.table import Table

from ..exceptions import AcsFlecksError, HistoryDatabaseError
from ..parameters import MONITORING
from ..utils import atomic_output, write_ecsv
from .classify import (ARTIFACT_COLUMNS, DEFAULT_CHANGE_NSIGMA,
                       artifacts_from_rows, classify_history)
from .crossmatch import DEFAULT_TOLERANCE

__all__ = ['HistoryDatabase', 'SCHEMA_VERSION', 'DETECTION_COLUMNS',
           'file_checksum', 'DuplicateEpoch']

log = logging.getLogger(__name__)

#: Version of the database layout written by this acs_flecks.
SCHEMA_VERSION = 1

#: ``PRAGMA application_id`` of acs_flecks history files ('ACSF').
APPLICATION_ID = 0x41435346

#: Detection measurements stored per row (names of `find_artifacts` columns).
DETECTION_COLUMNS = ('x', 'y', 'area', 'bbox_xmin', 'bbox_xmax', 'bbox_ymin',
                     'bbox_ymax', 'semimajor_sigma', 'semiminor_sigma',
                     'ellipticity', 'orientation', 'peak_deficit',
                     'mean_deficit', 'isophotal_sum', 'noise')

_TEXT_ARTIFACT = {'artifact_id', 'status', 'change_reason', 'first_seen',
                  'last_seen_absent', 'last_seen', 'first_seen_absent',
                  'found_by'}
_INT_ARTIFACT = {'ccdchip', 'n_epochs', 'n_observed', 'n_missed', 'n_forced',
                 'changed', 'verified'}


def _artifact_sql_type(name):
    if name in _TEXT_ARTIFACT:
        return 'TEXT'
    if name in _INT_ARTIFACT:
        return 'INTEGER'
    return 'REAL'


#: The pixels of each detection (`acs_flecks.detect.footprint` text): a
#: table of its own, added to older files by the first epoch written to them
#: (a run that writes nothing leaves a file as it was), so that a history written before footprints existed stays
#: readable (its detections then match by position only) and an older
#: acs_flecks still reads a newer file (it ignores the table).
_FOOTPRINTS = """CREATE TABLE IF NOT EXISTS footprints (
    detection_id INTEGER PRIMARY KEY
        REFERENCES detections (detection_id) ON DELETE CASCADE,
    runs TEXT NOT NULL)"""

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE epochs (
    epoch_id INTEGER PRIMARY KEY,
    obs_mjd REAL NOT NULL,
    obs_time TEXT NOT NULL,
    source_file TEXT NOT NULL,
    rootname TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    detector TEXT NOT NULL,
    n_detections INTEGER NOT NULL,
    added TEXT NOT NULL);
CREATE INDEX epochs_time ON epochs (obs_mjd);
CREATE TABLE coverage (
    epoch_id INTEGER NOT NULL REFERENCES epochs (epoch_id) ON DELETE CASCADE,
    ccdchip INTEGER NOT NULL,
    xmin REAL NOT NULL, xmax REAL NOT NULL,
    ymin REAL NOT NULL, ymax REAL NOT NULL,
    PRIMARY KEY (epoch_id, ccdchip));
CREATE TABLE detections (
    detection_id INTEGER PRIMARY KEY,
    epoch_id INTEGER NOT NULL REFERENCES epochs (epoch_id) ON DELETE CASCADE,
    ccdchip INTEGER NOT NULL,
    {', '.join(f'{c} REAL' for c in DETECTION_COLUMNS)},
    artifact_id TEXT,
    search TEXT NOT NULL DEFAULT 'find');
CREATE INDEX detections_epoch ON detections (epoch_id);
CREATE TABLE difference_runs (
    epoch_id INTEGER PRIMARY KEY REFERENCES epochs (epoch_id)
        ON DELETE CASCADE,
    run_key TEXT NOT NULL);
CREATE TABLE forced (
    epoch_id INTEGER NOT NULL REFERENCES epochs (epoch_id) ON DELETE CASCADE,
    ccdchip INTEGER NOT NULL, x REAL NOT NULL, y REAL NOT NULL,
    radius REAL NOT NULL, deficit REAL, deficit_err REAL,
    PRIMARY KEY (epoch_id, ccdchip, x, y, radius));
CREATE TABLE artifacts (
    {', '.join(f'{c} {_artifact_sql_type(c)}' for c in ARTIFACT_COLUMNS)},
    PRIMARY KEY (artifact_id));
{_FOOTPRINTS}
"""


#: Tables of the schema and the columns this version reads from them (an
#: existing file lacking one is refused before anything is written).
_TABLES = {
    'meta': ('key', 'value'),
    'epochs': ('epoch_id', 'obs_mjd', 'obs_time', 'source_file', 'rootname',
               'sha256', 'detector', 'n_detections', 'added'),
    'coverage': ('epoch_id', 'ccdchip', 'xmin', 'xmax', 'ymin', 'ymax'),
    'detections': ('detection_id', 'epoch_id', 'ccdchip') + DETECTION_COLUMNS
    + ('artifact_id',),
    'forced': ('epoch_id', 'ccdchip', 'x', 'y', 'radius', 'deficit',
               'deficit_err'),
    # derived data, re-derived from the detections: a column added by a
    # later version (``found_by``) may be missing in an older file
    'artifacts': tuple(c for c in ARTIFACT_COLUMNS if c != 'found_by'),
}


def file_checksum(path):
    """
    Identity of an epoch file: SHA-256 of its size and every header.

    Reading the headers only (tens of kB) instead of 170 MB of pixels keeps
    a lifetime rescan cheap; a calibrated product that is regenerated gets
    new header values (``DATE``, ``IRAF-TLM``, history), so it counts as a
    different file, while a copy of the same file is recognised wherever it
    lives.
    """
    from astropy.io import fits
    h = hashlib.sha256()
    h.update(str(os.path.getsize(path)).encode())
    with fits.open(path, memmap=True, lazy_load_hdus=False) as hdul:
        for hdu in hdul:
            h.update(hdu.header.tostring().encode('ascii', 'replace'))
    return h.hexdigest()


def _now():
    return datetime.now(timezone.utc).isoformat(timespec='seconds')


class HistoryDatabase:
    """
    The SQLite history of a monitoring campaign.

    Parameters
    ----------
    path : str or path-like
        The database file; created (with the current schema) if missing,
        unless ``readonly``.
    readonly : bool, optional
        Open for reading only (export, plots); works on read-only files and
        while another process writes.
    timeout : float, optional
        Seconds to wait for a lock held by another writer before giving up
        with `~acs_flecks.exceptions.HistoryDatabaseError`.

    Raises
    ------
    acs_flecks.exceptions.HistoryDatabaseError
        Not an SQLite file or not an acs_flecks history, a newer schema, a
        read-only file or directory opened for writing, a database locked
        longer than ``timeout``.
    """

    def __init__(self, path, *, readonly=False, timeout=30.0):
        self.path = os.fspath(path)
        self.readonly = bool(readonly)
        self.timeout = float(timeout)
        self._con = None
        if not self.path.strip():
            raise HistoryDatabaseError('empty history database name')
        exists = os.path.exists(self.path)
        if os.path.isdir(self.path) or self.path.endswith(('/', os.sep)):
            raise HistoryDatabaseError('is a directory, not a history '
                                       'database', path=self.path)
        if len(os.fsencode(os.path.basename(self.path))) > 255:
            raise HistoryDatabaseError('file name longer than 255 bytes',
                                       path=self.path[:80] + '...')
        if self.readonly and not exists:
            raise HistoryDatabaseError('no such history database',
                                       path=self.path)
        if not self.readonly:
            self._check_writable(exists)
        if exists:
            # Check the file through a read-only connection first: a file
            # that fails the check is never opened for writing (opening
            # for writing switches the journal mode, i.e. writes its
            # header, before a corruption could be seen).
            before = {s: os.path.exists(self.path + s)
                      for s in ('-wal', '-shm')}
            self._con = self._connect(readonly=True)
            try:
                try:
                    self._check_existing()
                except sqlite3.DatabaseError as exc:
                    raise HistoryDatabaseError(
                        f'the history database is corrupt or not SQLite '
                        f'({exc}); it was not modified', path=self.path
                    ) from None
            except BaseException:
                self._con.close()
                self._con = None
                self._remove_own_sidecars(before)
                raise
            if not self.readonly:
                self._con.close()
                self._con = None
        try:
            if not self.readonly:
                self._con = self._connect(readonly=False)
            self._setup(exists)
        except BaseException:
            self.close()
            raise

    def _remove_own_sidecars(self, before):
        """After a failed check: remove an empty ``-wal`` and its ``-shm``
        that the read-only connection itself created (a file in WAL mode
        gets them on any open), so a refused file leaves nothing new."""
        wal = self.path + '-wal'
        if before['-wal'] or not os.path.exists(wal) or \
                os.path.getsize(wal) != 0:
            return
        for suffix in ('-wal', '-shm'):
            if not before[suffix]:
                with contextlib.suppress(OSError):
                    os.unlink(self.path + suffix)

    def _connect(self, *, readonly):
        try:
            if readonly:
                uri = 'file:' + urllib.parse.quote(
                    os.path.abspath(self.path)) + '?mode=ro'
                con = sqlite3.connect(uri, uri=True, timeout=self.timeout,
                                      isolation_level=None)
            else:
                con = sqlite3.connect(self.path, timeout=self.timeout,
                                      isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryDatabaseError(f'cannot open the database ({exc})',
                                       path=self.path) from None
        con.row_factory = sqlite3.Row
        return con

    def _check_existing(self):
        """Integrity, identity, schema and stored parameters of an
        existing file (read-only connection); raises if unusable."""
        self._execute(f'PRAGMA busy_timeout = {int(self.timeout * 1000)}')
        version = self._execute('PRAGMA user_version').fetchone()[0]
        app = self._execute('PRAGMA application_id').fetchone()[0]
        tables = {r[0] for r in self._execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if version > SCHEMA_VERSION:
            raise HistoryDatabaseError(
                f'written by a newer acs_flecks (schema version {version}, '
                f'this version reads up to {SCHEMA_VERSION}); upgrade '
                'acs_flecks -- the file was not modified', path=self.path)
        if tables and (app != APPLICATION_ID or version == 0):
            raise HistoryDatabaseError(
                'not an acs_flecks history database (an SQLite file with '
                f'other tables: {", ".join(sorted(tables))}); refusing to '
                'modify it', path=self.path)
        if not tables:
            if app not in (0, APPLICATION_ID) or version != 0:
                raise HistoryDatabaseError(
                    'not an acs_flecks history database; refusing to modify '
                    'it', path=self.path)
            if os.path.getsize(self.path) and self.readonly:
                raise HistoryDatabaseError('empty database (no history)',
                                           path=self.path)
            return
        rows = self._execute('PRAGMA quick_check').fetchall()
        problems = [r[0] for r in rows if r[0] != 'ok']
        if problems:
            raise HistoryDatabaseError(
                f'the history database is corrupt ({problems[0]}); it was '
                'not modified -- restore it from a backup', path=self.path)
        missing = sorted(set(_TABLES) - tables)
        if missing:
            raise HistoryDatabaseError(
                'incomplete acs_flecks history database (missing table(s) '
                f'{", ".join(missing)}); it was not modified', path=self.path)
        for table, columns in _TABLES.items():
            have = {r[1] for r in self._execute(
                f'PRAGMA table_info({table})')}
            lack = [c for c in columns if c not in have]
            if lack:
                raise HistoryDatabaseError(
                    f'table {table} lacks column(s) {", ".join(lack)}: not '
                    'a usable acs_flecks history; it was not modified',
                    path=self.path)
        for key, kind in (('find_parameters', dict),
                          ('classification', dict)):
            row = self._execute('SELECT value FROM meta WHERE key = ?',
                                (key,)).fetchone()
            if row is None:
                continue
            try:
                value = json.loads(row[0])
            except (TypeError, ValueError) as exc:
                raise HistoryDatabaseError(
                    f'malformed JSON in meta key {key!r} ({exc}); the '
                    'database was not modified', path=self.path) from None
            if not isinstance(value, kind):
                raise HistoryDatabaseError(
                    f'meta key {key!r} is not a JSON object ({row[0]!r}); '
                    'the database was not modified', path=self.path)
        row = self._execute("SELECT value FROM meta WHERE key = "
                            "'forced_present'").fetchone()
        if row is not None:
            try:
                value = json.loads(row[0])
                if not isinstance(value, dict):
                    raise ValueError('not an object')
            except (TypeError, ValueError) as exc:
                raise HistoryDatabaseError(
                    "malformed JSON in meta key 'forced_present' "
                    f'({exc}); the database was not modified',
                    path=self.path) from None

    # -- opening ----------------------------------------------------------
    def _check_writable(self, exists):
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise HistoryDatabaseError(f'directory {parent} does not exist',
                                       path=self.path)
        if exists and not os.access(self.path, os.W_OK):
            raise HistoryDatabaseError(
                'the history database is read-only; nothing was changed '
                '(to read it, run "acs_flecks monitor --db DB -o OUT.ecsv" '
                'without FILE arguments, or HistoryDatabase(path, '
                'readonly=True); or make it writable)', path=self.path)
        if not os.access(parent, os.W_OK):
            raise HistoryDatabaseError(
                f'directory {parent} is not writable (SQLite needs to create '
                'its journal next to the database); nothing was changed',
                path=self.path)

    def _execute(self, sql, params=()):
        try:
            return self._con.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise self._wrap(exc) from None
        except sqlite3.DatabaseError as exc:
            raise HistoryDatabaseError(
                f'not a usable SQLite history database ({exc})',
                path=self.path) from None

    def _wrap(self, exc):
        text = str(exc)
        if 'locked' in text or 'busy' in text:
            return HistoryDatabaseError(
                f'the database is locked by another process (waited '
                f'{self.timeout:g} s); nothing was changed -- retry when the '
                'other run has finished', path=self.path)
        if 'readonly' in text or 'read-only' in text:
            return HistoryDatabaseError(
                'the database is read-only; nothing was changed',
                path=self.path)
        return HistoryDatabaseError(f'database error ({text})', path=self.path)

    def _setup(self, exists):
        self._wal = False
        if self.readonly:
            return
        # connection settings only: opening writes nothing to the file
        self._execute(f'PRAGMA busy_timeout = {int(self.timeout * 1000)}')
        # FULL: a committed epoch survives a power cut, not only a crash.
        self._execute('PRAGMA synchronous = FULL')
        self._execute('PRAGMA foreign_keys = ON')
        tables = {r[0] for r in self._execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if tables:
            self._add_search_tables()
            return
        with self.transaction():
            # inside BEGIN IMMEDIATE: another process creating the same
            # history at the same moment has either finished or waits
            tables = {r[0] for r in self._execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if tables:
                # created by another process meanwhile
                app = self._execute('PRAGMA application_id').fetchone()[0]
                if app != APPLICATION_ID:
                    raise HistoryDatabaseError(
                        'not an acs_flecks history database; refusing to '
                        'modify it', path=self.path)
                return
            for stmt in _SCHEMA.split(';'):
                if stmt.strip():
                    self._execute(stmt)
            self._execute(f'PRAGMA application_id = {APPLICATION_ID}')
            self._execute(f'PRAGMA user_version = {SCHEMA_VERSION}')
            self._set_meta('created', _now())
            self._set_meta('artifacts_stale', '0')
        log.info('%s: created a new history database (schema %d)',
                 self.path, SCHEMA_VERSION)

    def _start_wal(self):
        """Write-ahead log from the first write on (readers keep reading
        while this run writes); a run that writes nothing leaves the file
        byte for byte as it was."""
        if self._wal:
            return
        mode = self._journal_mode('WAL')
        self._wal = str(mode).lower() == 'wal'
        if not self._wal:
            log.warning('%s: journal mode is %s, not WAL (readers may block)',
                        self.path, mode)

    def _journal_mode(self, mode):
        """Set the journal mode, waiting (up to ``timeout``) while another
        connection holds a lock; returns the mode in effect."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._con.execute(
                    f'PRAGMA journal_mode = {mode}').fetchone()[0]
            except sqlite3.OperationalError as exc:
                if ('locked' not in str(exc) and 'busy' not in str(exc)) \
                        or time.monotonic() > deadline:
                    raise self._wrap(exc) from None
                time.sleep(0.05)

    def _columns(self, table):
        return [r[1] for r in self._execute(f'PRAGMA table_info({table})')]

    def _add_search_tables(self):
        """Additions of the new-artifact search (issue #15) to a history
        written before it: a ``search`` column of the detections (every
        old detection is the §7 search's, 'find'), the ``difference_runs``
        table, and a ``found_by`` column of the derived artifacts table
        (re-derived from the detections).  Only additions: nothing
        stored is changed."""
        if 'search' in self._columns('detections') and \
                'difference_runs' in self._tables():
            return
        with self.transaction():
            if 'search' not in self._columns('detections'):
                self._execute("ALTER TABLE detections ADD COLUMN search TEXT "
                              "NOT NULL DEFAULT 'find'")
            self._execute(
                'CREATE TABLE IF NOT EXISTS difference_runs (epoch_id INTEGER '
                'PRIMARY KEY REFERENCES epochs (epoch_id) ON DELETE CASCADE, '
                'run_key TEXT NOT NULL)')
            self._set_meta('artifacts_stale', '1')

    def _tables(self):
        return {r[0] for r in self._execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}

    # -- context / transactions --------------------------------------------
    def close(self):
        """Close the connection (committed data are safe).

        A writer checkpoints the write-ahead log and, when no other
        connection is open, switches the file back to a rollback journal,
        so no ``-wal``/``-shm`` file is left beside the database."""
        con, self._con = self._con, None
        if con is None:
            return
        if not self.readonly and getattr(self, '_wal', False):
            with contextlib.suppress(sqlite3.Error):
                con.execute('PRAGMA busy_timeout = 0')
                con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
                con.execute('PRAGMA journal_mode = DELETE')
        con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception
        (including KeyboardInterrupt)."""
        if self.readonly:
            raise HistoryDatabaseError('opened read-only; cannot write',
                                       path=self.path)
        self._start_wal()
        self._execute('BEGIN IMMEDIATE')
        try:
            yield self
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._con.execute('ROLLBACK')
            raise
        else:
            try:
                self._con.execute('COMMIT')
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._con.execute('ROLLBACK')
                raise self._wrap(exc) from None

    # -- meta ---------------------------------------------------------------
    def _set_meta(self, key, value):
        self._execute('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
                      (key, str(value)))

    def get_meta(self, key, default=None):
        """Value (str) of a ``meta`` key."""
        row = self._execute('SELECT value FROM meta WHERE key = ?',
                            (key,)).fetchone()
        return default if row is None else row[0]

    @property
    def schema_version(self):
        """``PRAGMA user_version`` of the file."""
        return self._execute('PRAGMA user_version').fetchone()[0]

    @property
    def detector(self):
        """The detector of the history (set by its first epoch), or `None`."""
        return self.get_meta('detector')

    @property
    def find_parameters(self):
        """Detection parameters the history was made with (dict) or `None`."""
        value = self.get_meta('find_parameters')
        return None if value is None else json.loads(value)

    def check_find_parameters(self, params):
        """Refuse to mix detections made with other `find_artifacts`
        parameters (thresholds change what is "new")."""
        stored = self.find_parameters
        params = json.loads(json.dumps(params, sort_keys=True))
        if stored is not None and stored != params:
            raise HistoryDatabaseError(
                f'was built with detection parameters {stored}, not '
                f'{params}; mixing them would make artifacts appear or '
                'vanish spuriously -- use the same parameters or a new '
                'database', path=self.path)
        return params

    # -- epochs -----------------------------------------------------------------
    def epochs(self):
        """The epochs, time-ordered, as a `~astropy.table.Table`."""
        rows = self._execute(
            'SELECT epoch_id, obs_mjd, obs_time, source_file, rootname, '
            'sha256, detector, n_detections, added FROM epochs '
            'ORDER BY obs_mjd, epoch_id').fetchall()
        names = ('epoch_id', 'obs_mjd', 'obs_time', 'source_file', 'rootname',
                 'sha256', 'detector', 'n_detections', 'added')
        dtypes = (int, float, str, str, str, str, str, int, str)
        if not rows:
            return Table(names=names, dtype=dtypes)
        return Table(rows=[tuple(r) for r in rows], names=names)

    def __len__(self):
        return self._execute('SELECT COUNT(*) FROM epochs').fetchone()[0]

    def find_epoch(self, *, sha256=None, obs_mjd=None, time_tolerance=1.0):
        """The epoch row (`sqlite3.Row`) with this checksum, or within
        ``time_tolerance`` seconds of ``obs_mjd``; `None` if absent."""
        if sha256 is not None:
            row = self._execute('SELECT * FROM epochs WHERE sha256 = ?',
                                (sha256,)).fetchone()
            if row is not None:
                return row
        if obs_mjd is not None:
            tol = time_tolerance / 86400.0
            return self._execute(
                'SELECT * FROM epochs WHERE obs_mjd BETWEEN ? AND ? '
                'ORDER BY epoch_id LIMIT 1',
                (obs_mjd - tol, obs_mjd + tol)).fetchone()
        return None

    def add_epoch(self, *, obs_mjd, obs_time, source_file, rootname, sha256,
                  detector, coverage, detections, find_parameters=None):
        """
        Store one epoch and its detections in one transaction.

        Parameters
        ----------
        obs_mjd : float
            Observation time (MJD, UTC).
        obs_time : str
            The same as ISO string.
        source_file, rootname, sha256, detector : str
            Provenance of the epoch.
        coverage : dict
            ``ccdchip -> (xmin, xmax, ymin, ymax)`` observed by the file
            (1-indexed full-chip frame, inclusive).
        detections : `~astropy.table.Table`
            ``ccdchip`` plus `DETECTION_COLUMNS` (missing ones are stored
            as NULL; quantities are stored as their values).
        find_parameters : dict, optional
            Detection parameters; stored with the first epoch, checked
            against the stored ones afterwards.

        Returns
        -------
        int
            The new ``epoch_id``.

        Raises
        ------
        DuplicateEpoch
            The same file, or an epoch at the same time, is already in the
            history (stored by another process meanwhile); nothing is
            written.
        """
        det_rows = _detection_rows(detections)
        with self.transaction():
            # another process may have stored this epoch since it was
            # scanned (two runs on one history): checked under the lock
            twin = self.find_epoch(sha256=str(sha256), obs_mjd=float(obs_mjd))
            if twin is not None:
                raise DuplicateEpoch(twin)
            if find_parameters is not None:
                params = self.check_find_parameters(find_parameters)
                if self.find_parameters is None:
                    self._set_meta('find_parameters',
                                   json.dumps(params, sort_keys=True))
            stored = self.detector
            if stored is None:
                self._set_meta('detector', detector)
            elif stored != detector:
                raise HistoryDatabaseError(
                    f'holds {stored} epochs; refusing to add a {detector} '
                    f'epoch ({source_file})', path=self.path)
            cur = self._execute(
                'INSERT INTO epochs (obs_mjd, obs_time, source_file, rootname, '
                'sha256, detector, n_detections, added) '
                'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                (float(obs_mjd), str(obs_time), str(source_file),
                 str(rootname), str(sha256), str(detector), len(det_rows),
                 _now()))
            epoch_id = cur.lastrowid
            for chip, box in sorted(coverage.items()):
                self._execute('INSERT INTO coverage VALUES (?, ?, ?, ?, ?, ?)',
                              (epoch_id, int(chip), *map(float, box)))
            cols = ('epoch_id', 'ccdchip') + DETECTION_COLUMNS
            sql = (f'INSERT INTO detections ({", ".join(cols)}) VALUES '
                   f'({", ".join("?" * len(cols))})')
            self._execute(_FOOTPRINTS)  # a history written before footprints
            try:
                for r, runs in zip(det_rows, _footprint_texts(detections)):
                    cur = self._con.execute(sql, (epoch_id,) + r)
                    if runs:
                        self._con.execute(
                            'INSERT INTO footprints VALUES (?, ?)',
                            (cur.lastrowid, runs))
            except sqlite3.Error as exc:
                raise self._wrap(exc) from None
            self._set_meta('artifacts_stale', '1')
        log.info('%s: added epoch %s (%s, %d detections)', self.path,
                 obs_time, os.path.basename(source_file), len(det_rows))
        return epoch_id

    # -- detections / classification --------------------------------------
    def detections(self):
        """All detections with their epoch time, as a `~astropy.table.Table`."""
        cols = ('detection_id', 'epoch_id', 'ccdchip') + DETECTION_COLUMNS + \
            ('artifact_id',)
        has_fp = 'footprints' in self._tables()
        fp_sql = ('f.runs' if has_fp else "''")
        fp_join = ('LEFT JOIN footprints f USING (detection_id) '
                   if has_fp else '')
        # 'search': which search made the detection (a history written
        # before the new-artifact search has only the §7 search's, 'find')
        search = "d.search" if 'search' in self._columns('detections') \
            else "'find'"
        rows = self._execute(
            f'SELECT {", ".join("d." + c for c in cols)}, e.obs_mjd, '
            f'{fp_sql}, {search} FROM detections d JOIN epochs e '
            f'USING (epoch_id) {fp_join}'
            'ORDER BY e.obs_mjd, d.epoch_id, d.detection_id').fetchall()
        names = cols + ('obs_mjd', 'footprint', 'search')
        if not rows:
            return Table(names=names, dtype=[int, int, int] +
                         [float] * len(DETECTION_COLUMNS) + [str, float, str,
                                                             str])
        t = Table(rows=[tuple(r) for r in rows], names=names)
        t['footprint'] = np.array(['' if v is None else v
                                   for v in t['footprint']], dtype=str)
        for c in DETECTION_COLUMNS:
            t[c] = np.array([np.nan if v is None else v for v in t[c]],
                            dtype=float)
        t['artifact_id'] = np.array(['' if v is None else v
                                     for v in t['artifact_id']], dtype='U16')
        t['search'] = np.asarray(t['search'], dtype='U32')
        return t

    # -- new-artifact search (issue #15) -----------------------------------
    def difference_run_key(self, epoch_id):
        """What the new-artifact search of an epoch was run with (its
        references and parameters, JSON), or `None` if it never ran."""
        if 'difference_runs' not in self._tables():
            return None
        row = self._execute('SELECT run_key FROM difference_runs WHERE '
                            'epoch_id = ?', (int(epoch_id),)).fetchone()
        return None if row is None else row[0]

    def store_difference(self, epoch_id, detections, run_key, *,
                         merged=()):
        """
        Replace the new-artifact search's detections of one epoch (one
        transaction).

        Parameters
        ----------
        epoch_id : int
        detections : `~astropy.table.Table`
            The search's candidates that are not §7 detections
            (``ccdchip`` plus `DETECTION_COLUMNS`).
        run_key : str
            Its references and parameters (`difference_run_key`).
        merged : iterable of int
            ``detection_id`` of this epoch's §7 detections that the search
            found too (their ``search`` becomes ``'find,difference'``; their
            measurements are not touched).
        """
        det_rows = _detection_rows(detections)
        with self.transaction():
            self._execute("DELETE FROM detections WHERE epoch_id = ? AND "
                          "search = 'difference'", (int(epoch_id),))
            self._execute("UPDATE detections SET search = 'find' WHERE "
                          "epoch_id = ? AND search = 'find,difference'",
                          (int(epoch_id),))
            for d in merged:
                self._execute("UPDATE detections SET search = "
                              "'find,difference' WHERE detection_id = ? AND "
                              "epoch_id = ?", (int(d), int(epoch_id)))
            cols = ('epoch_id', 'ccdchip') + DETECTION_COLUMNS + ('search',)
            sql = (f'INSERT INTO detections ({", ".join(cols)}) VALUES '
                   f'({", ".join("?" * len(cols))})')
            try:
                self._con.executemany(
                    sql, [(int(epoch_id),) + r + ('difference',)
                          for r in det_rows])
            except sqlite3.Error as exc:
                raise self._wrap(exc) from None
            self._execute('INSERT OR REPLACE INTO difference_runs '
                          '(epoch_id, run_key) VALUES (?, ?)',
                          (int(epoch_id), str(run_key)))
            self._set_meta('artifacts_stale', '1')

    def coverage(self):
        """dict ``epoch_id -> {ccdchip: (xmin, xmax, ymin, ymax)}``."""
        out = {}
        for r in self._execute('SELECT * FROM coverage'):
            out.setdefault(r['epoch_id'], {})[r['ccdchip']] = (
                r['xmin'], r['xmax'], r['ymin'], r['ymax'])
        return out

    def _verifier(self, store):
        """Forced measurement at a position in a stored epoch (cached in
        the ``forced`` table when ``store``)."""
        from collections import OrderedDict

        from ..io import ACSImage
        from .lightpath import measure_deficit
        files = {int(r['epoch_id']): r['source_file'] for r in
                 self._execute('SELECT epoch_id, source_file FROM epochs')}
        chips = OrderedDict()
        new_rows = []

        def verify(epoch_id, ccdchip, x, y, radius):
            k = (epoch_id, ccdchip, round(x, 2), round(y, 2), round(radius, 2))
            row = self._execute(
                'SELECT deficit, deficit_err FROM forced WHERE epoch_id = ? '
                'AND ccdchip = ? AND x = ? AND y = ? AND radius = ?',
                k).fetchone()
            if row is not None:
                return (np.nan if row[0] is None else row[0],
                        np.nan if row[1] is None else row[1])
            key = (epoch_id, ccdchip)
            if key not in chips:
                path = files.get(epoch_id)
                try:
                    chips[key] = ACSImage(path).chip(
                        ccdchip, arrays=('SCI', 'DQ'))
                except (AcsFlecksError, OSError, TypeError) as exc:
                    log.warning('%s: cannot verify a missed detection in %s '
                                '(%s)', self.path, path, exc)
                    chips[key] = None
                while len(chips) > 4:  # bounded memory: a few chips
                    chips.popitem(last=False)
            chip = chips[key]
            if chip is None:
                return None
            m = measure_deficit(chip, k[2], k[3], k[4])
            result = (m['deficit'], m['deficit_err'])
            if store:
                new_rows.append(k + tuple(_plain(np.float64(v))
                                          for v in result))
            return result

        return verify, new_rows

    def classify(self, *, tolerance=DEFAULT_TOLERANCE,
                 change_nsigma=DEFAULT_CHANGE_NSIGMA,
                 vanish_after=MONITORING.defaults.vanish_after,
                 verify=True, _store=False):
        """Cross-match and classify the stored detections.

        ``verify`` makes forced measurements in the epoch files where an
        artifact was not detected (see `~acs_flecks.monitor.classify`).
        Returns the artifacts `~astropy.table.QTable`, the detections and
        the artifact id of each detection."""
        ep = self.epochs()
        cov = self.coverage()
        epochs = Table({'epoch_id': np.asarray(ep['epoch_id'], dtype=int),
                        'obs_mjd': np.asarray(ep['obs_mjd'], dtype=float)})
        epochs['coverage'] = [cov.get(int(e), {}) for e in ep['epoch_id']] \
            if len(ep) else np.array([], dtype=object)
        det = self.detections()
        verifier, new_rows = self._verifier(_store) if verify else (None, [])
        params = self.find_parameters or {}
        margin = int(params.get('median_size', 15)) // 2 + 1
        artifacts, ids = classify_history(
            epochs, det, tolerance=tolerance, change_nsigma=change_nsigma,
            vanish_after=vanish_after, verify=verifier, edge_margin=margin)
        if new_rows:
            self._con.executemany(
                'INSERT OR REPLACE INTO forced VALUES (?, ?, ?, ?, ?, ?, ?)',
                new_rows)
        artifacts.meta.update(self._summary_meta(tolerance, change_nsigma,
                                                 vanish_after, ep))
        return artifacts, det, ids

    def _summary_meta(self, tolerance, change_nsigma, vanish_after, ep):
        return {'history_database': os.path.abspath(self.path),
                'schema_version': SCHEMA_VERSION,
                'tolerance_pix': float(tolerance),
                'change_nsigma': float(change_nsigma),
                'vanish_after': int(vanish_after),
                'n_epochs_total': len(ep),
                'epochs': [f'{r["obs_time"]} {os.path.basename(r["source_file"])}'
                           for r in ep],
                'find_parameters': self.find_parameters or {}}

    def reclassify(self, *, tolerance=DEFAULT_TOLERANCE,
                   change_nsigma=DEFAULT_CHANGE_NSIGMA,
                   vanish_after=MONITORING.defaults.vanish_after):
        """Re-derive and store the artifacts table (one transaction).

        Returns the artifacts `~astropy.table.QTable`."""
        with self.transaction():
            artifacts, det, ids = self.classify(
                tolerance=tolerance, change_nsigma=change_nsigma,
                vanish_after=vanish_after, _store=True)
            if self._columns('artifacts') != list(ARTIFACT_COLUMNS):
                # derived data of an older layout (before ``found_by``):
                # rebuilt from the detections, like every reclassification
                self._execute('DROP TABLE artifacts')
                self._execute(
                    'CREATE TABLE artifacts ('
                    + ', '.join(f'{c} {_artifact_sql_type(c)}'
                                for c in ARTIFACT_COLUMNS)
                    + ', PRIMARY KEY (artifact_id))')
            self._execute('DELETE FROM artifacts')
            sql = (f'INSERT INTO artifacts ({", ".join(ARTIFACT_COLUMNS)}) '
                   f'VALUES ({", ".join("?" * len(ARTIFACT_COLUMNS))})')
            rows = [tuple(_plain(artifacts[c][i]) for c in ARTIFACT_COLUMNS)
                    for i in range(len(artifacts))]
            try:
                self._con.executemany(sql, rows)
                self._con.executemany(
                    'UPDATE detections SET artifact_id = ? '
                    'WHERE detection_id = ?',
                    [(str(a) or None, int(d)) for a, d in
                     zip(ids, det['detection_id'])])
            except sqlite3.Error as exc:
                raise self._wrap(exc) from None
            self._set_meta('artifacts_stale', '0')
            self._set_meta('forced_present', json.dumps(
                _plain_json(artifacts.meta.get('forced_present', {})),
                sort_keys=True))
            self._set_meta('classification', json.dumps(
                {'tolerance_pix': float(tolerance),
                 'change_nsigma': float(change_nsigma),
                 'vanish_after': int(vanish_after)}, sort_keys=True))
        return artifacts

    @property
    def stale(self):
        """True if epochs were added after the artifacts were derived."""
        return self.get_meta('artifacts_stale', '0') == '1'

    def artifacts(self):
        """The artifacts table as stored (re-derived in memory if stale).

        Returns
        -------
        `~astropy.table.QTable`
        """
        settings = json.loads(self.get_meta('classification', '{}') or '{}')
        tol = settings.get('tolerance_pix', DEFAULT_TOLERANCE)
        nsig = settings.get('change_nsigma', DEFAULT_CHANGE_NSIGMA)
        van = settings.get('vanish_after', 1)
        if self.stale or self._columns('artifacts') != list(ARTIFACT_COLUMNS):
            log.info('%s: artifacts table is older than the last epoch; '
                     're-deriving it from the detections', self.path)
            return self.classify(tolerance=tol, change_nsigma=nsig,
                                 vanish_after=van)[0]
        rows = self._execute(
            f'SELECT {", ".join(ARTIFACT_COLUMNS)} FROM artifacts '
            'ORDER BY artifact_id').fetchall()
        rows = [{c: (np.nan if r[c] is None else r[c])
                 for c in ARTIFACT_COLUMNS} for r in rows]
        table = artifacts_from_rows(rows)
        table.meta['forced_present'] = json.loads(
            self.get_meta('forced_present', '{}') or '{}')
        table.meta.update(self._summary_meta(tol, nsig, van, self.epochs()))
        return table

    def export(self, path, *, overwrite=True):
        """Write the artifacts table to an ECSV file (atomically).

        Returns the `~astropy.table.QTable` written."""
        self._check_output(path, overwrite=overwrite)
        table = self.artifacts()
        with atomic_output(path) as tmp:
            table.write(tmp, format='ascii.ecsv', overwrite=overwrite)
        return table

    def _check_output(self, path, *, overwrite=True):
        """An export never replaces the database (or its journal files)."""
        from ..utils import check_output_path
        check_output_path(path, overwrite=overwrite, protected=[
            (self.path + s, 'the history database')
            for s in ('', '-wal', '-shm', '-journal')])

    def export_detections(self, path):
        """Write every stored detection (with its artifact id) to ECSV."""
        self._check_output(path)
        table = self.detections()
        write_ecsv(table, path)
        return table


class DuplicateEpoch(HistoryDatabaseError):
    """The epoch is already in the history (``row`` is its epoch row)."""

    def __init__(self, row):
        self.row = row
        super().__init__(f'epoch {row["obs_time"]} is already in the history '
                         f'({os.path.basename(row["source_file"])})')


def _plain_json(value):
    """Plain Python (lists, floats, str) of nested numpy values."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain_json(v) for v in value]
    return _plain(value)


def _plain(value):
    value = getattr(value, 'value', value)
    if isinstance(value, (np.bool_, bool)):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.str_):
        return str(value)
    return value


def _footprint_texts(table):
    """The ``footprint`` text of each detection ('' where there is none)."""
    if 'footprint' not in getattr(table, 'colnames', ()):
        return [''] * len(table)
    return ['' if v is None or isinstance(v, np.ma.core.MaskedConstant)
            else str(v) for v in table['footprint']]


def _detection_rows(table):
    """Rows (ccdchip, *DETECTION_COLUMNS) of plain floats (NULL if absent)."""
    n = len(table)
    if n == 0:
        return []
    if 'ccdchip' not in table.colnames or 'x' not in table.colnames \
            or 'y' not in table.colnames:
        raise HistoryDatabaseError(
            'detections need ccdchip, x and y columns, got '
            f'{table.colnames}')
    cols = [np.asarray(table['ccdchip'], dtype=int)]
    for c in DETECTION_COLUMNS:
        if c in table.colnames:
            v = table[c]
            v = np.asarray(getattr(v, 'value', v), dtype=float)
        else:
            v = np.full(n, np.nan)
        cols.append(v)
    return [tuple(_plain(col[i]) for col in cols) for i in range(n)]

