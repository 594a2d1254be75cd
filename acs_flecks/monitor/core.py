"""
Monitor artifacts across anneal cycles: the ``acs_flecks monitor`` engine
(report §2 and §7).

`monitor_epochs` searches each epoch (one combined short flashed dark, DKC,
per anneal cycle) for artifacts, stores the detections in the history
database, cross-matches them between epochs and classifies every artifact
(stable, new with its date-of-origin bracket, vanished, changed).

>>> from acs_flecks.monitor import monitor_epochs       # doctest: +SKIP
>>> art = monitor_epochs(sorted(glob('dkc/*_dkc.fits')), db='history.sqlite',
...                      output='artifacts.ecsv')        # doctest: +SKIP
>>> art[art['status'] == 'new']['ccdchip', 'x', 'y', 'last_seen_absent',
...                             'first_seen']            # doctest: +SKIP
"""

import contextlib
import json
import logging
import os
import warnings

import numpy as np
from astropy.table import QTable, vstack

from ..exceptions import InputFileError, SkippedFileWarning
from ..io import FLECK_DETECTORS, ACSImage, check_detector, check_detectors
from ..parameters import MONITORING
from .classify import DEFAULT_CHANGE_NSIGMA
from .crossmatch import DEFAULT_TOLERANCE
from .history import DuplicateEpoch, HistoryDatabase, file_checksum
from .parallel import ChipTask, detect_chips

__all__ = ['monitor_epochs', 'export_history', 'chip_coverage']

log = logging.getLogger(__name__)



def chip_coverage(image):
    """
    The part of each chip a file observes, in the full-chip frame.

    Parameters
    ----------
    image : `~acs_flecks.io.ACSImage`

    Returns
    -------
    dict
        ``ccdchip -> (xmin, xmax, ymin, ymax)``, 1-indexed, inclusive
        (full-frame WFC: (1, 4096, 1, 2048); a sub-array is shifted by its
        ``LTV1``/``LTV2``).
    """
    from ..coords import image_to_chip
    ny, nx = image.shape
    out = {}
    for chip in image.chips:
        ltv = image.ltv(chip)
        x0, y0 = image_to_chip(1.0, 1.0, ltv)
        x1, y1 = image_to_chip(float(nx), float(ny), ltv)
        out[int(chip)] = (float(x0), float(x1), float(y0), float(y1))
    return out


class _Epoch:
    def __init__(self, path, image, sha):
        self.path = path
        self.image = image
        self.sha = sha
        self.mjd = float(image.obs_time.mjd)
        self.iso = image.obs_time.isot[:23]
        self.results = {}


def _skip(summary, path, reason):
    summary['skipped'].append(f'{path}: {reason}')
    warnings.warn(f'skipped {path}: {reason}', SkippedFileWarning)


def _scan(files, db, summary, include=()):
    """Open headers, drop unusable/duplicate files, check detectors."""
    include = {os.path.basename(os.fspath(f)) for f in (include or ())}
    epochs = []
    seen_sha = {}
    for path in files:
        path = os.fspath(path)
        try:
            image = ACSImage(path)
            sha = file_checksum(path)
        except InputFileError as exc:
            _skip(summary, path, exc.problem)
            continue
        except (OSError, ValueError) as exc:
            _skip(summary, path, f'cannot read ({exc})')
            continue
        # another detector is not a bad epoch to skip but a wrong input:
        # HRC/SBC files would be searched and labelled WFC1/WFC2
        check_detector(image.detector, FLECK_DETECTORS, operation='monitor',
                       path=path)
        if not image.flashed and os.path.basename(path) in include:
            log.warning('%s: not post-flashed (FLASHDUR=%g s, FLASHSTA=%r) '
                        'but included as asked', path, image.flashdur.value,
                        image.flashsta)
        elif not image.flashed:
            # an un-flashed epoch would show no particle at all and make
            # every artifact "vanish"
            _skip(summary, path, f'not post-flashed (FLASHDUR='
                  f'{image.flashdur.value:g} s, FLASHSTA={image.flashsta!r}):'
                  ' particles are invisible without the LED post-flash')
            continue
        if sha in seen_sha:
            log.info('%s: same file content as %s listed before; ignored',
                     path, seen_sha[sha])
            continue
        seen_sha[sha] = path
        epochs.append(_Epoch(path, image, sha))
    detectors = {}
    for ep in epochs:
        detectors.setdefault(ep.image.detector, []).append(ep.path)
    stored = db.detector
    if len(detectors) > 1 or (stored and detectors and
                              set(detectors) != {stored}):
        parts = [f'{det}: {len(p)} file(s), e.g. {os.path.basename(p[0])}'
                 for det, p in sorted(detectors.items())]
        if stored:
            parts.insert(0, f'history {db.path}: {stored}')
        raise InputFileError(
            'files of different detectors cannot be monitored together ('
            + '; '.join(parts) + '); nothing was processed')
    # duplicates: already in the history, or the same epoch twice
    keep = []
    latest = db.epochs()
    latest_mjd = float(np.max(latest['obs_mjd'])) if len(latest) else None
    for ep in sorted(epochs, key=lambda e: (e.mjd, e.path)):
        row = db.find_epoch(sha256=ep.sha)
        if row is not None:
            summary['already_present'].append(ep.path)
            log.info('%s: already in the history (epoch %s); nothing to do',
                     ep.path, row['obs_time'])
            continue
        row = db.find_epoch(obs_mjd=ep.mjd)
        if row is not None:
            _skip(summary, ep.path,
                  f'duplicate epoch: observation time {ep.iso} is already in '
                  f'the history from {os.path.basename(row["source_file"])}')
            continue
        twin = [k for k in keep if abs(k.mjd - ep.mjd) * 86400.0 < 1.0]
        if twin:
            _skip(summary, ep.path,
                  f'duplicate epoch: same observation time {ep.iso} as '
                  f'{twin[0].path}')
            continue
        if latest_mjd is not None and ep.mjd < latest_mjd:
            summary['out_of_order'].append(ep.path)
            log.info('%s (%s) is older than the latest epoch in the history; '
                     'it is inserted in time order and every artifact is '
                     're-classified', ep.path, ep.iso)
        keep.append(ep)
    return keep


def _find_parameters(find_kwargs):
    """Every detection parameter (defaults filled in), as stored in the
    history: they decide what is found, so they may not change."""
    from ..detect import FindParameters
    return FindParameters(**(find_kwargs or {})).as_meta()


def monitor_epochs(files, *, db, tolerance=DEFAULT_TOLERANCE, scheduler=None,
                   workers=None, find_kwargs=None,
                   change_nsigma=DEFAULT_CHANGE_NSIGMA,
                   vanish_after=MONITORING.defaults.vanish_after, output=None, progress=None, finder=None, timeout=30.0,
                   difference=True, unflashed=None, include=None):
    """
    Search epochs for artifacts, update the history and classify.

    Parameters
    ----------
    files : iterable of str or path-like
        One file per epoch (combined short flashed darks, DKC), in any
        order; they are processed and stored in observation-time order.
        Epochs already in the history are skipped (nothing changes);
        unreadable files are skipped with a
        `~acs_flecks.exceptions.SkippedFileWarning` and listed in the
        summary.
    db : str, path-like or `~acs_flecks.monitor.HistoryDatabase`
        The history database (created if missing).
    tolerance : float, optional
        Cross-match radius in pixels (per chip).
    scheduler : None, 'serial', str or `distributed.Client`, optional
        Where the detection runs (see `acs_flecks.monitor.parallel`);
        default a local Dask cluster, or in-process for a single file.
    workers : int, optional
        Local worker processes (default: all cores).
    find_kwargs : dict, optional
        Parameters of `acs_flecks.detect.find_artifacts` (``median_size``,
        ``nsigma``, ``min_area``...); they must equal those the history was
        built with.
    change_nsigma : float, optional
        Threshold of the ``changed`` test (see
        `acs_flecks.monitor.classify`).
    vanish_after : int, optional
        Consecutive latest epochs without an artifact before it is
        ``vanished``.
    output : str or path-like, optional
        Write the artifacts table to this ECSV file (atomically).
    progress : bool, optional
        Progress bar (default: on a terminal for long runs).
    finder : callable, optional
        Replacement detection function (see
        `~acs_flecks.monitor.parallel.detect_chips`).
    timeout : float, optional
        Seconds to wait for a database locked by another writer.
    difference : bool, dict or `~acs_flecks.detect.difference.DifferenceParameters`, optional
        The new-artifact search (each epoch against the median of the
        preceding ones, `acs_flecks.monitor.newsearch`): on by default with
        the default `~acs_flecks.detect.difference.DifferenceParameters`; a
        dict sets parameters; `False` turns it off (the §7 search alone).
    unflashed : list of str or path-like, optional
        Un-flashed darks: new-artifact candidates that persist in the
        closest of them are CCD defects and are not stored (§3).
    include : iterable of str, optional
        Files (paths or base names) to use even though their header does
        not say they were post-flashed (``FLASHSTA`` other than
        'SUCCESSFUL', or no ``FLASHSTA`` and ``FLASHDUR = 0``); by default
        such epochs are skipped, since particles are invisible without the
        post-flash.

    Returns
    -------
    artifacts : `~astropy.table.QTable`
        Every artifact of the whole history (see
        `~acs_flecks.monitor.classify.classify_history` for the columns);
        ``meta['summary']`` lists the epochs added, already present,
        out of order and skipped (with reasons).

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Files of different detectors (nothing is processed), or not one
        usable file among those given.
    acs_flecks.exceptions.HistoryDatabaseError
        Unusable, newer-schema, read-only or locked database, or detection
        parameters that differ from the history's.
    """
    # every parameter and output before the database is opened (or made)
    from ..utils import check_output_path
    from ..validate import check_integer, check_number
    files = [os.fspath(f) for f in files]
    tolerance = check_number(tolerance, 'tolerance', minimum=0,
                             inclusive=False)
    change_nsigma = check_number(change_nsigma, 'change_nsigma', minimum=0,
                                 inclusive=False)
    vanish_after = check_integer(vanish_after, 'vanish_after', minimum=1)
    check_integer(workers, 'workers', minimum=1, allow_none=True)
    timeout = check_number(timeout, 'timeout', minimum=0)
    _find_parameters(find_kwargs)
    db_path = db.path if isinstance(db, HistoryDatabase) else os.fspath(db)
    if output is not None:
        check_output_path(output, inputs=files,
                          protected=[(db_path + s, 'the history database')
                                     for s in ('', '-wal', '-shm',
                                               '-journal')])
    # another detector is refused before the history is opened or created
    check_detectors(files, operation='monitor')
    files = list(files)
    if include:
        names = {os.path.basename(os.fspath(f)) for f in files}
        unknown = [f for f in include
                   if os.path.basename(os.fspath(f)) not in names]
        if unknown:
            raise InputFileError(f'--include {unknown[0]}: not among the '
                                 'input files')
    from .newsearch import difference_parameters, update_difference_search
    diff_params = difference_parameters(difference)   # validated first
    unflashed = [os.fspath(p) for p in (unflashed or [])]
    for path in unflashed:
        img = ACSImage(path)
        if img.flashed:
            raise InputFileError(
                f'given as un-flashed dark but post-flashed (FLASHDUR='
                f'{img.flashdur.value:g} s)', path=path)
    own = not isinstance(db, HistoryDatabase)
    created = own and not os.path.exists(os.fspath(db))
    database = HistoryDatabase(db, timeout=timeout) if own else db
    summary = {'added': [], 'already_present': [], 'out_of_order': [],
               'skipped': []}
    try:
        params = database.check_find_parameters(_find_parameters(find_kwargs))
        # the warnings of unusable files are shown only if the run goes
        # on: when none is usable, the one error line says it all
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', SkippedFileWarning)
            epochs = _scan(files, database, summary, include)
        if epochs or summary['already_present']:
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename,
                                       w.lineno)
        if epochs:
            _process(epochs, database, params, find_kwargs, scheduler,
                     workers, progress, finder, summary)
        if diff_params is not None and (summary['added'] or
                                        summary['already_present']):
            update_difference_search(database, diff_params,
                                     tolerance=tolerance, unflashed=unflashed,
                                     summary=summary)
        if summary['skipped'] and not summary['added'] and \
                not summary['already_present']:
            if created and _empty(database):
                # leave nothing behind: no new, empty history
                database.close()
                own = False
                for suffix in ('', '-wal', '-shm', '-journal'):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.fspath(db) + suffix)
            raise InputFileError(
                f'none of the {len(summary["skipped"])} file(s) could be '
                'used; the history was not changed (first problem: '
                f'{summary["skipped"][0]})')
        settings = {'tolerance_pix': float(tolerance),
                    'change_nsigma': float(change_nsigma),
                    'vanish_after': int(vanish_after)}
        current = json.loads(database.get_meta('classification', '{}') or '{}')
        if summary['added'] or database.stale or current != settings:
            artifacts = database.reclassify(
                tolerance=tolerance, change_nsigma=change_nsigma,
                vanish_after=vanish_after)
        else:
            artifacts = database.artifacts()
        if output is not None:
            # the file holds the history's state only (no account of this
            # run): a rerun on a complete history writes the same bytes
            from ..utils import write_ecsv
            write_ecsv(artifacts, output)
        artifacts.meta['summary'] = summary
        log.info('%d epoch(s) added, %d already present, %d skipped; '
                 '%d artifact(s): %s', len(summary['added']),
                 len(summary['already_present']), len(summary['skipped']),
                 len(artifacts), _status_counts(artifacts))
        return artifacts
    except BaseException:
        if created and own and not summary['added'] and _empty(database):
            # a history this call created and stored nothing in: remove it
            database.close()
            own = False
            for suffix in ('', '-wal', '-shm', '-journal'):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.fspath(db) + suffix)
        raise
    finally:
        if own:
            database.close()


def _empty(database):
    """No epoch in the history (not even one another run stored)."""
    try:
        return len(database) == 0
    except Exception:  # an unusable file is not ours to remove
        return False


def _status_counts(artifacts):
    names, counts = np.unique(np.asarray(artifacts['status']),
                              return_counts=True)
    return ', '.join(f'{c} {n}' for n, c in zip(names, counts)) or 'none'


def _process(epochs, database, params, find_kwargs, scheduler, workers,
             progress, finder, summary):
    """Detect (in any order) and store the epochs in observation-time
    order: an epoch is written as soon as it and every earlier one are
    done, so ``epoch_id`` follows time and only catalogs wait in memory."""
    tasks = [ChipTask(ep.path, chip) for ep in epochs
             for chip in ep.image.chips]
    by_path = {ep.path: ep for ep in epochs}
    if scheduler is None and len(epochs) == 1:
        scheduler = 'serial'
    pending = list(epochs)          # time-ordered by _scan
    for res in detect_chips(tasks, find_kwargs=find_kwargs,
                            scheduler=scheduler, workers=workers,
                            progress=progress, finder=finder):
        by_path[res.path].results[res.ccdchip] = res
        while pending and len(pending[0].results) == \
                len(pending[0].image.chips):
            _store(pending.pop(0), database, params, summary)


def _store(ep, database, params, summary):
    errors = [r.error for r in ep.results.values() if r.error]
    if errors:
        _skip(summary, ep.path, errors[0].replace(f'{ep.path}: ', ''))
        ep.results = {}
        return
    catalogs = [ep.results[c].catalog for c in sorted(ep.results)]
    catalogs = [c for c in catalogs if len(c)]
    table = vstack([QTable(c) for c in catalogs]) if catalogs else QTable()
    ep.results = {}
    try:
        database.add_epoch(
            obs_mjd=ep.mjd, obs_time=ep.iso,
            source_file=os.path.abspath(ep.path),
            rootname=ep.image.rootname, sha256=ep.sha,
            detector=ep.image.detector, coverage=chip_coverage(ep.image),
            detections=table, find_parameters=params)
    except DuplicateEpoch as exc:
        # stored by another run on the same history since the scan
        if exc.row['sha256'] == ep.sha:
            summary['already_present'].append(ep.path)
            log.info('%s: stored meanwhile by another run; nothing to do',
                     ep.path)
        else:
            _skip(summary, ep.path, f'duplicate epoch: {exc.problem}')
        return
    summary['added'].append(ep.path)


def export_history(db, output, *, detections=None):
    """
    Export a history database to ECSV without modifying it.

    Parameters
    ----------
    db : str or path-like
        The history database (opened read-only; works while a run writes
        and on read-only files).
    output : str or path-like
        ECSV file for the artifacts table.
    detections : str or path-like, optional
        ECSV file for every detection (with its ``artifact_id``).

    Returns
    -------
    `~astropy.table.QTable`
        The artifacts.
    """
    from ..utils import check_output_path
    with HistoryDatabase(db, readonly=True) as database:
        # both outputs checked before either is written
        database._check_output(output)
        if detections is not None:
            database._check_output(detections)
            check_output_path(detections, protected=[(output, 'the '
                                                      'artifacts output')])
        table = database.export(output)
        if detections is not None:
            database.export_detections(detections)
    return table
