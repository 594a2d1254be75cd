"""
The whole chain, from ACSREJ outputs to a certified bad-pixel table.

``find -> monitor (history database) -> flashed vs un-flashed test ->
characterize each new fleck -> bad pixels -> bpixtab -> certify -> report``,
as the report did by hand (§2-§8).  This is what the TEAL task
``acs_flecks`` and ``acs_flecks run`` call, and what ``acs_flecks demo``
runs on simulated data.

Inputs are the combined short flashed darks of the anneal cycles (DKC, one
per epoch), optionally lamp flats (per filter, for the transmissivity;
flats taken before the date of origin give the "before" thumbnails), the
un-flashed darks of the anneal program (§3) and EPER lamp images of two
epochs (§4).

>>> from acs_flecks.pipeline import run_pipeline          # doctest: +SKIP
>>> result = run_pipeline(sorted(glob('*_dkc.fits')), flats=glob('*_crc.fits'),
...                       reference='jref$25g1256nj_bpx.fits',
...                       outdir='flecks_2017')             # doctest: +SKIP
>>> result.report                                         # doctest: +SKIP
'flecks_2017/report.html'
"""

import glob
import logging
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np
from astropy.table import QTable, vstack
from astropy.time import Time

from .exceptions import AcsFlecksError, InputFileError
from .filters import is_broadband
from .io import ACSImage
from .parameters import CHARACTERIZATION, DELIVERY, DETECTION, MONITORING
from .utils import OutputGuard, write_ecsv

__all__ = ['run_pipeline', 'ChainResult', 'ChainPlan', 'expand_inputs',
           'plan_chain', 'monitor_stage', 'date_of_origin',
           'characterize_stage', 'lightpath_stage', 'merge_bad_pixels',
           'deliver_stage', 'science_stage', 'report_stage']

# The defaults of every stage's parameters (acs_flecks.parameters).
_D = DETECTION.defaults
_M = MONITORING.defaults
_C = CHARACTERIZATION.defaults
_L = DELIVERY.defaults

log = logging.getLogger(__name__)


def expand_inputs(spec, *, what='input'):
    """
    Expand file names, glob patterns, ``@list`` files and comma lists.

    Parameters
    ----------
    spec : str, path-like, or list of them, or None

    Returns
    -------
    list of str
        Sorted, without duplicates; empty for `None` or ``''``.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return []
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    out = []
    for item in items:
        item = os.fspath(item).strip()
        if not item:
            continue
        if ',' in item and not os.path.exists(item):
            out.extend(expand_inputs(item.split(','), what=what))
            continue
        if item.startswith('@'):
            listfile = item[1:]
            if not os.path.exists(listfile):
                raise AcsFlecksError(f'{what} list file not found',
                                     path=listfile)
            with open(listfile) as fh:
                lines = [ln.split('#')[0].strip() for ln in fh]
            out.extend(expand_inputs([ln for ln in lines if ln], what=what))
            continue
        if any(c in item for c in '*?['):
            matches = sorted(glob.glob(item))
            if not matches:
                raise AcsFlecksError(f'no {what} file matches the pattern',
                                     path=item)
            out.extend(matches)
            continue
        if not os.path.exists(item):
            raise InputFileError('no such file', path=item)
        out.append(item)
    return sorted(dict.fromkeys(out))


@dataclass
class ChainResult:
    """
    What one run of the chain produced.

    Attributes
    ----------
    artifacts : `~astropy.table.QTable`
        Every artifact of the history with its status
        (`acs_flecks.monitor.monitor_epochs`).
    new_flecks : `~astropy.table.QTable`
        The artifacts classified ``new`` (their date-of-origin bracket).
    lightpath : `~astropy.table.QTable` or None
        Flashed vs un-flashed verdicts of the new flecks (§3).
    characterizations : dict
        artifact id -> `~acs_flecks.characterize.FleckCharacterization`.
    bad_pixels : `~astropy.table.QTable`
        Pixels below the threshold, every fleck.
    delivery : `~acs_flecks.delivery.Delivery` or None
        The new bad-pixel table and its certification (None if nothing
        new was found or no flats were given).
    useafter : str or None
        USEAFTER used (the date of origin).
    report : str
        The HTML report.
    outputs : dict
        name -> path of every file written.
    notes : list of str
        What was skipped and why.
    impact : `~acs_flecks.impact.ImpactResult` or None
        The science exposures and sources the flecks touch (when
        ``science`` and ``sources`` were given and a table was written).
    flagged : `~astropy.table.QTable` or None
        The re-flagged copies of the science exposures
        (`acs_flecks.flag.flag_exposures`).
    """

    artifacts: QTable
    new_flecks: QTable
    lightpath: object = None
    characterizations: dict = field(default_factory=dict)
    bad_pixels: QTable = None
    delivery: object = None
    useafter: str = None
    report: str = None
    outputs: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    impact: object = None
    flagged: object = None


def _value(q):
    return float(getattr(q, 'value', q))


def _fleck_name(row):
    return f'WFC{int(row["ccdchip"])}-{_value(row["x"]):.0f}-{_value(row["y"]):.0f}'


def _split_flats(flats, origin):
    """Flats at/after the date of origin (the measurement) and before it
    (the "before" thumbnails), broadband only for the latter."""
    after, before = [], []
    for path in flats:
        img = ACSImage(path, detector='WFC', operation='run')
        (after if origin is None or img.obs_time >= origin else before
         ).append(img)
    before = [im for im in before if is_broadband(im.filter)]
    return after, before


def _plain(col):
    return np.asarray(getattr(col, 'value', col))


def _box(box):
    if isinstance(box, (int, np.integer)):
        return (int(box), int(box))
    if isinstance(box, float) and box.is_integer():
        return (int(box), int(box))
    return box


def _box_shape(box):
    """(nx, ny) of a cutout box given as a number, a pair or 'NXxNY'."""
    box = _box(box)
    if isinstance(box, str):
        parts = box.lower().split('x')
        return tuple(float(p) for p in (parts * 2)[:2])
    if isinstance(box, (tuple, list)):
        return (float(box[0]), float(box[-1]))
    return (float(box), float(box))


def _check_parameters(*, median_size, nsigma, min_area, tolerance,
                      badpix_threshold, aperture_threshold, box, combine,
                      value, workers, scheduler, overwrite, useafter,
                      reference):
    """Every parameter of the chain, before any file is read or written
    (names are the TEAL configuration keys; bounds from
    `acs_flecks.parameters`)."""
    from .bpixtab import parse_useafter
    from .detect import FindParameters
    from .validate import (check_dq_value, check_integer, check_number,
                           check_parameter)
    for name, val in (('median_size', median_size), ('nsigma', nsigma),
                      ('min_area', min_area)):
        try:
            FindParameters(**{name: val})
        except AcsFlecksError as exc:
            raise AcsFlecksError(f'{name}: {exc}') from None
    check_parameter(tolerance, MONITORING['tolerance'])
    threshold = CHARACTERIZATION['badpix_threshold']
    check_number(badpix_threshold, 'badpix_threshold',
                 minimum=threshold.minimum, maximum=threshold.maximum)
    if badpix_threshold == threshold.minimum:  # the open end of (0, 1]
        raise AcsFlecksError('badpix_threshold must be a number > 0 and <= 1 '
                             '(0 flags nothing), got 0')
    check_parameter(aperture_threshold, CHARACTERIZATION['aperture_threshold'])
    side = CHARACTERIZATION['box'].minimum
    if isinstance(box, (tuple, list)):
        if len(box) != 2:
            raise AcsFlecksError(f'box must be an integer or (ny, nx), got '
                                 f'{box!r}')
        for part in box:
            check_integer(part, 'box', minimum=side)
    else:
        check_integer(box, 'box', minimum=side)
    if not isinstance(combine, str) or not combine.strip():
        raise AcsFlecksError(f'combine must be bluest, mean, min or a filter '
                             f'name, got {combine!r}')
    check_dq_value(value, 'value')
    check_parameter(workers, MONITORING['workers'])
    if scheduler is not None and not isinstance(scheduler, str):
        raise AcsFlecksError(f'scheduler must be an address, \'serial\' or '
                             f'empty, got {scheduler!r}')
    if not isinstance(overwrite, (bool, np.bool_)):
        raise AcsFlecksError(f'overwrite must be True or False, got '
                             f'{overwrite!r}')
    if useafter not in (None, ''):
        parse_useafter(useafter, what='useafter')
    if not isinstance(reference, (str, os.PathLike)) or \
            not os.fspath(reference).strip():
        raise AcsFlecksError(f'reference must be a path, jref$name or auto, '
                             f'got {reference!r}')


def _check_history(history, *, find_kwargs):
    """An existing history database is checked (read-only) before
    anything is written: corrupt, foreign or built with other detection
    parameters fails here."""
    from .monitor import HistoryDatabase
    from .monitor.core import _find_parameters
    if not os.path.exists(history) or (os.path.isfile(history) and
                                       os.path.getsize(history) == 0):
        return
    with HistoryDatabase(history, readonly=True) as db:
        db.check_find_parameters(_find_parameters(find_kwargs))


@dataclass
class ChainPlan:
    """
    The checked inputs and outputs of one run of the chain
    (`plan_chain`): nothing has been computed yet.

    Attributes
    ----------
    files, flats, unflashed, eper, science : list of str
        The expanded input files.
    sources : `~astropy.table.Table` or None
        The sources of the science exposures.
    reference : str or None
        The reference bpixtab resolved from the latest input (None without
        flats: no table can be measured).
    outdir, history, report, figdir : str
        Where the outputs go.
    output : str or None
        The new bpixtab.
    """

    files: list
    flats: list
    unflashed: list
    eper: list
    science: list
    sources: object
    reference: str
    outdir: str
    history: str
    report: str
    figdir: str
    output: str = None


def plan_chain(input, *, flats=None, unflashed=None, eper=None,
               reference=_L.reference, useafter=_L.useafter,
               output=_L.output, history=None, report=None, outdir=None,
               median_size=_D.median_size, nsigma=_D.nsigma,
               min_area=_D.min_area, tolerance=_M.tolerance,
               badpix_threshold=_C.badpix_threshold,
               aperture_threshold=_C.aperture_threshold, box=_C.box,
               combine=_C.combine, value=_L.value, workers=_M.workers,
               scheduler=_M.scheduler, overwrite=_L.overwrite, science=None,
               sources=None):
    """
    Check every parameter, input and output of the chain, before anything
    is written, and create the output directories.

    Parameters are those of `run_pipeline`.

    Returns
    -------
    ChainPlan
    """
    from .reference import resolve_reference

    _check_parameters(
        median_size=median_size, nsigma=nsigma, min_area=min_area,
        tolerance=tolerance, badpix_threshold=badpix_threshold,
        aperture_threshold=aperture_threshold, box=box, combine=combine,
        value=value, workers=workers, scheduler=scheduler,
        overwrite=overwrite, useafter=useafter, reference=reference)
    files = expand_inputs(input, what='input')
    if not files:
        raise AcsFlecksError('no input files (combined short flashed darks)')
    flat_files = expand_inputs(flats, what='flat')
    unflashed_files = expand_inputs(unflashed, what='un-flashed dark')
    eper_files = expand_inputs(eper, what='EPER')
    for path in files:
        ACSImage(path, detector='WFC', operation='run')  # fail early
    from .io import check_detectors
    check_detectors(flat_files + unflashed_files + eper_files,
                    operation='run')
    from .characterize.badpix import check_combine
    check_combine(combine, filters=[ACSImage(p, detector='WFC',
                                             operation='run').filter
                                    for p in flat_files] or None)
    science_files, source_table = _check_science(science, sources, outdir)

    # Resolve the reference first: a missing reference must fail before
    # an hour of detection, and before anything is written.
    ref_path = None
    if flat_files:
        from .reference import image_in_force
        ref_image, _ = image_in_force(files)     # the latest, until the
        ref_path = resolve_reference(reference, image=ref_image,  # origin
                                     option='reference')          # is known

    # Every output, checked together before anything is written: none may
    # be an input, the history, the reference or another output.
    all_inputs = [*files, *flat_files, *unflashed_files, *eper_files]
    outdir = os.fspath(outdir or 'acs_flecks_output')
    history = os.fspath(history or os.path.join(outdir, 'fleck_history.sqlite'))
    report = os.fspath(report or os.path.join(outdir, 'report.html'))
    guard = OutputGuard(inputs=all_inputs,
                        protected=[(ref_path, 'the reference bad-pixel table')],
                        overwrite=True)
    guard.directory(outdir, option='outdir')
    figdir = guard.directory(os.path.join(outdir, 'figures'),
                             option='outdir')
    guard.file(history, option='history')
    _check_history(history, find_kwargs=dict(
        median_size=median_size, nsigma=nsigma, min_area=min_area))
    guard.protected.append((history, 'the history database'))
    guard.protected += [(history + s, f'the history database ({s[1:]} file)')
                        for s in ('-wal', '-shm', '-journal')]
    guard.files = [f for f in guard.files if f[0] != history]
    guard.file(report, option='report')
    for name in ('artifacts.ecsv', 'new_flecks.ecsv', 'lightpath.ecsv',
                 'bad_pixels.ecsv'):
        guard.file(os.path.join(outdir, name), option='outdir')
    if ref_path is not None:
        if output is None:
            root = pathlib.Path(ref_path).name.split('_bpx')[0].split('.')[0]
            output = os.path.join(outdir, f'{root}_flecks_bpx.fits')
        output = os.fspath(output)
        guard.file(output, option='output', extensions=('.fits',),
                   overwrite=overwrite,
                   create_parent=os.path.dirname(os.path.abspath(output))
                   == os.path.abspath(outdir))
        # a reference for another detector, or with rows CALACS would
        # reject, fails here, not after the run
        from .bpixtab import read_bpixtab
        read_bpixtab(ref_path, detector='WFC')
    guard.create()
    return ChainPlan(files=files, flats=flat_files, unflashed=unflashed_files,
                     eper=eper_files, science=science_files,
                     sources=source_table, reference=ref_path, outdir=outdir,
                     history=history, report=report, figdir=figdir,
                     output=output)


def monitor_stage(files, *, history, outdir, find_kwargs=None,
                  tolerance=_M.tolerance, workers=_M.workers,
                  scheduler=_M.scheduler, progress=None, outputs=None,
                  notes=None):
    """
    Search every epoch, update the history and classify (report §2, §7);
    write ``artifacts.ecsv`` and ``new_flecks.ecsv`` into ``outdir``.

    Parameters
    ----------
    files : list of str
        The combined short flashed darks, one per epoch.
    history : str
        The history database (created or extended).
    outdir : str
        Directory of the tables.
    find_kwargs : dict, optional
        Detection parameters (`acs_flecks.parameters.DETECTION`).
    tolerance, workers, scheduler : optional
        See `run_pipeline`.
    progress : bool, optional
        Progress bar for the detection.
    outputs : dict, optional
        Filled with name -> path of the files written.
    notes : list, optional
        Appended with what was skipped.

    Returns
    -------
    artifacts, new : `~astropy.table.QTable`
        Every artifact of the history, and those classified ``new``.
    """
    from .monitor import monitor_epochs

    outputs = {} if outputs is None else outputs
    notes = [] if notes is None else notes
    artifacts_path = os.path.join(outdir, 'artifacts.ecsv')
    artifacts = monitor_epochs(
        files, db=history, tolerance=tolerance,
        scheduler=None if scheduler in ('', None) else scheduler,
        workers=workers, find_kwargs=find_kwargs, output=artifacts_path,
        progress=progress)
    outputs['artifacts'] = artifacts_path
    outputs['history'] = history
    summary = artifacts.meta.get('summary', {})
    for line in summary.get('skipped', []):
        notes.append(f'skipped {line}')

    new = artifacts[np.asarray(artifacts['status']) == 'new']
    log.info('%d artifact(s), %d new', len(artifacts), len(new))
    new_path = os.path.join(outdir, 'new_flecks.ecsv')
    write_ecsv(QTable(new), new_path)
    outputs['new_flecks'] = new_path
    return artifacts, new


def date_of_origin(new):
    """The earliest ``first_seen`` of the new artifacts (None if none)."""
    if not len(new):
        return None
    return Time(min(str(t) for t in new['first_seen']))


def characterize_stage(new, *, flats, epochs, outdir, origin=None, eper=None,
                       box=_C.box, aperture_threshold=_C.aperture_threshold,
                       badpix_threshold=_C.badpix_threshold,
                       combine=_C.combine, notes=None):
    """
    Characterize each new fleck (report §4-§6), largest first; a fleck
    within a quarter of the box of one already done is the same fleck.

    Parameters
    ----------
    new : `~astropy.table.QTable`
        The new artifacts (`monitor_stage`).
    flats : list of str
        Lamp flats: those at/after ``origin`` are measured, earlier
        broadband ones are the "before" thumbnails.
    epochs : list of `~acs_flecks.io.ACSImage`
        The flashed darks, in time order.
    outdir : str
        Each fleck's results go to ``OUTDIR/<fleck name>``.
    origin : `~astropy.time.Time`, optional
        The date of origin (`date_of_origin`).
    eper : list of str, optional
        EPER lamp images.
    box, aperture_threshold, badpix_threshold, combine : optional
        See `run_pipeline`.
    notes : list, optional
        Appended with what was skipped and why.

    Returns
    -------
    characterizations : dict
        name -> `~acs_flecks.characterize.FleckCharacterization`.
    bad_tables : list of `~astropy.table.QTable`
        The bad pixels of each fleck that has any.
    """
    from .characterize import characterize_fleck, covers, parse_box
    from .plotting.characterize import write_fleck_figures

    notes = [] if notes is None else notes
    chars = {}
    bad_tables = []
    if not len(new):
        return chars, bad_tables
    if not flats:
        notes.append('no lamp flats given: transmissivity, bad pixels and the '
                     'new bpixtab need flats (report §6.1, §8)')
        return chars, bad_tables
    flats_after, flats_before = _split_flats(flats, origin)
    if not flats_after:
        notes.append('no flats taken after the date of origin: '
                     'transmissivity not measured')
    done = []  # (ccdchip, x, y) of the flecks already characterized
    order = np.argsort(-np.asarray(getattr(new['area'], 'value',
                                           new['area']), dtype=float)) \
        if 'area' in new.colnames else np.arange(len(new))
    for row in new[order]:
        label = _fleck_name(row)
        chip, fx, fy = int(row['ccdchip']), _value(row['x']), _value(row['y'])
        twin = [d for d in done if d[0] == chip and
                np.hypot(d[1] - fx, d[2] - fy) < min(_box(box)) / 4]
        if twin:
            notes.append(f'{label}: within {min(_box(box)) / 4:g} px of '
                         f'{_fleck_name(dict(ccdchip=chip, x=twin[0][1], y=twin[0][2]))}'
                         ' (one fleck detected as several tracks): '
                         'characterized once')
            continue
        name = (f'{row["artifact_id"]} ({label})'
                if 'artifact_id' in row.colnames else label)
        if not flats_after:
            break
        first = Time(str(row['first_seen']))
        with_fleck = [im for im in epochs if im.obs_time >= first]
        ny, nx = parse_box(_box(box))
        broadband = [f for f in flats_after if is_broadband(f.filter)]
        if broadband and not any(covers(f, ccdchip=chip, x=fx, y=fy,
                                        box=(ny, nx)) for f in broadband):
            why = (f'not characterized (no lamp flat covers its {nx}x{ny} '
                   f'pixel box: the flats hold other parts of '
                   f'{"WFC1" if chip == 1 else "WFC2"}); transmissivity, '
                   'bad pixels, LED vs lamp, EPER and shadow need them '
                   '(report §6.1)')
            notes.append(f'{label}: {why}')
            log.warning('%s: %s', label, why)
            continue
        try:
            ch = characterize_fleck(
                flats=flats_after, ccdchip=chip, x=fx, y=fy,
                box=_box(box), dkc=with_fleck[-1] if with_fleck else None,
                eper_images=eper or None,
                short_darks=[im.path for im in epochs],
                outdir=os.path.join(outdir, label), fleck_id=label,
                aperture_threshold=aperture_threshold,
                badpix_threshold=badpix_threshold, combine=combine,
                appeared=first.iso[:10])
            # figures are the report step's (one-way data flow)
            write_fleck_figures(ch, os.path.join(outdir, label),
                                before_flats=flats_before or None,
                                appeared=first.iso[:10])
        except AcsFlecksError as exc:
            notes.append(f'{label}: not characterized ({exc})')
            log.warning('%s: not characterized (%s)', label, exc)
            continue
        for n in ch.notes:
            # a skipped input file is the same for every fleck: once
            if n.startswith('skipped '):
                if n not in notes:
                    notes.append(n)
            else:
                notes.append(f'{label}: {n}')
        chars[name] = ch
        done.append((chip, fx, fy))
        if len(ch.bad_pixels):
            bad_tables.append(ch.bad_pixels)
    return chars, bad_tables


def lightpath_stage(new, *, epochs, unflashed, outdir, characterizations=None,
                    outputs=None, notes=None):
    """
    The flashed vs un-flashed test of each new artifact (report §3); write
    ``lightpath.ecsv`` into ``outdir``.

    Each new artifact is tested in the first epoch that has it and the first
    un-flashed dark taken after that, in a circle of the fleck's
    master-aperture area when it was measured (the LED penumbra makes the
    detected area larger than the fleck).

    Parameters
    ----------
    new : `~astropy.table.QTable`
        The new artifacts.
    epochs : list of `~acs_flecks.io.ACSImage`
        The flashed darks, in time order.
    unflashed : list of str
        Un-flashed darks.
    outdir : str
        Directory of the table.
    characterizations : dict, optional
        `characterize_stage`'s: the aperture radii.
    outputs : dict, optional
        Filled with name -> path of the file written.
    notes : list, optional
        Appended with what was not run.

    Returns
    -------
    `~astropy.table.QTable` or None
    """
    from .monitor import lightpath_test

    outputs = {} if outputs is None else outputs
    notes = [] if notes is None else notes
    if not len(new):
        return None
    if not unflashed:
        notes.append('no un-flashed darks given: flashed vs un-flashed test '
                     '(§3) not run')
        return None
    unfl = sorted((ACSImage(p, detector='WFC', operation='run')
                   for p in unflashed), key=lambda im: im.obs_time)
    radii = {}
    for ch in (characterizations or {}).values():
        res = ch.transmissivity
        radii[res.fleck_id] = float(np.sqrt(res.master_npix / np.pi))
    parts = []
    for i in range(len(new)):
        row = new[i:i + 1]
        t_first = Time(str(row['first_seen'][0]))
        flashed = [im for im in epochs if im.obs_time >= t_first]
        dark = [im for im in unfl if im.obs_time >= t_first] or unfl[-1:]
        parts.append(lightpath_test(
            (flashed or epochs)[0], dark[0], row,
            radius=radii.get(_fleck_name(row[0]))))
    light = vstack(parts) if len(parts) > 1 else parts[0]
    path = os.path.join(outdir, 'lightpath.ecsv')
    write_ecsv(light, path)
    outputs['lightpath'] = path
    return light


def merge_bad_pixels(bad_tables, *, outdir=None, outputs=None):
    """
    The bad pixels of every fleck in one table: a pixel in the apertures of
    two flecks is flagged once, with its lowest transmissivity.

    Parameters
    ----------
    bad_tables : list of `~astropy.table.QTable`
    outdir : str, optional
        Write ``bad_pixels.ecsv`` there (when there are any).
    outputs : dict, optional
        Filled with name -> path of the file written.

    Returns
    -------
    `~astropy.table.QTable`
    """
    bad = vstack([QTable(t) for t in bad_tables]) if bad_tables else QTable()
    if len(bad):
        key = np.stack([np.asarray(bad['ccdchip'], int),
                        np.asarray(_plain(bad['y']), int),
                        np.asarray(_plain(bad['x']), int)], axis=1)
        order = np.lexsort((np.asarray(_plain(bad['transmissivity'])),
                            key[:, 2], key[:, 1], key[:, 0]))
        bad = bad[order]
        _, first_index = np.unique(key[order], axis=0, return_index=True)
        bad = bad[np.sort(first_index)]
    if len(bad) and outdir is not None:
        path = os.path.join(outdir, 'bad_pixels.ecsv')
        write_ecsv(bad, path)
        if outputs is not None:
            outputs['bad_pixels'] = path
    return bad


def deliver_stage(bad, new, *, reference, output, origin=None,
                  characterizations=None, useafter=_L.useafter,
                  value=_L.value, badpix_threshold=_C.badpix_threshold,
                  box=_C.box, combine=_C.combine, n_epochs=None,
                  find_kwargs=None, outputs=None, notes=None):
    """
    The new bad-pixel table and its certification (report §8).

    Parameters
    ----------
    bad : `~astropy.table.QTable`
        The bad pixels (`merge_bad_pixels`).
    new : `~astropy.table.QTable`
        The new flecks: their positions bound where new flags may appear.
    reference : str
        The reference bpixtab.
    output : str
        The new table.
    origin : `~astropy.time.Time`, optional
        Date of origin, the USEAFTER when no flagged fleck has its own.
    characterizations : dict, optional
        The names of the flecks, for the HISTORY.
    useafter, value, badpix_threshold, box, combine : optional
        See `run_pipeline`.
    n_epochs : int, optional
        Epochs searched (for the table's description of the method).
    find_kwargs : dict, optional
        Detection parameters (for the description of the method).
    outputs : dict, optional
        Filled with name -> path of the table written.
    notes : list, optional
        Appended with why no table was written.

    Returns
    -------
    delivery : `~acs_flecks.delivery.Delivery` or None
    useafter : str or None
        The USEAFTER written.
    """
    from .delivery import deliver_bpixtab

    outputs = {} if outputs is None else outputs
    notes = [] if notes is None else notes
    if not len(bad):
        if len(new):
            notes.append('no bad pixels measured: no bpixtab written')
        return None, None
    find = dict(DETECTION.defaults, **(find_kwargs or {}))
    # the date of origin of the flecks whose pixels are flagged
    flagged = [Time(str(r['first_seen'])) for r in new
               if _fleck_name(r) in set(np.asarray(bad['fleck_id']).astype(str))]
    ua = useafter or min(flagged or [origin]).iso[:10]
    names = ', '.join(characterizations or {})
    # certification checks every new flag against the positions of
    # the new flecks (within the cutout box around each)
    half_box = float(np.hypot(*_box_shape(box))) / 2
    delivery = deliver_bpixtab(
        reference, bad, output, useafter=ua, value=value,
        threshold=badpix_threshold, overwrite=True,
        flecks=QTable({'ccdchip': np.asarray(new['ccdchip'], int),
                       'x': np.asarray(_plain(new['x']), float),
                       'y': np.asarray(_plain(new['y']), float)}),
        max_distance=max(DELIVERY.defaults.max_distance,
                         np.ceil(half_box) + 1),
        method=(f'acs_flecks: search of {n_epochs} combined short '
                f'flashed darks (median {find["median_size"]}, '
                f'{find["nsigma"]} sigma, '
                f'{find["min_area"]} px), transmissivity in lamp flats '
                f'({combine} filter) < {badpix_threshold}'),
        history=[f'Flecks {names} appeared between '
                 f'{str(r["last_seen_absent"])[:10]} and '
                 f'{str(r["first_seen"])[:10]}' for r in new][:20])
    outputs['bpixtab'] = os.fspath(delivery.path)
    return delivery, ua


def report_stage(result, *, history, figdir, inputs):
    """
    The chain's HTML report (``result.report``).

    Parameters
    ----------
    result : `ChainResult`
    history : str
        The history database (the timeline).
    figdir : str
        Directory of the report's figures.
    inputs : dict
        name -> the input files (listed in the report).
    """
    from .html import write_chain_report
    write_chain_report(result, history=history, figdir=figdir, inputs=inputs)
    result.outputs['report'] = result.report


def run_pipeline(input, *, flats=None, unflashed=None, eper=None,
                 reference=_L.reference, useafter=_L.useafter,
                 output=_L.output, history=None, report=None, outdir=None,
                 median_size=_D.median_size, nsigma=_D.nsigma,
                 min_area=_D.min_area, tolerance=_M.tolerance,
                 badpix_threshold=_C.badpix_threshold,
                 aperture_threshold=_C.aperture_threshold, box=_C.box,
                 combine=_C.combine, value=_L.value, workers=_M.workers,
                 scheduler=_M.scheduler, overwrite=_L.overwrite,
                 progress=None, science=None, sources=None):
    """
    Run the whole chain (see the module docstring): `plan_chain`,
    `monitor_stage`, `characterize_stage`, `lightpath_stage`,
    `merge_bad_pixels`, `deliver_stage`, `science_stage`, `report_stage`.

    The parameters are declared, with their defaults and bounds, in
    `acs_flecks.parameters` (`~acs_flecks.parameters.CHAIN`).

    Parameters
    ----------
    input : str or list of str
        Combined short flashed darks (DKC, one per anneal cycle): paths,
        glob patterns or ``@list`` files.
    flats : str or list of str, optional
        Lamp flats (CRC/CRJ) per filter.  Those taken on or after the
        date of origin are measured (§6.1); earlier ones are shown as
        "before" thumbnails.  Without flats, no bad pixels can be measured
        and no table is written.
    unflashed : str or list of str, optional
        Un-flashed darks (ACSREJ of the anneal program's 1040 s darks) for
        the flashed vs un-flashed test (§3); the first one after the date
        of origin is used.
    eper : str or list of str, optional
        EPER lamp images of two epochs (§4).
    reference : str, optional
        The current bpixtab: a path, ``jref$name``, or ``'auto'`` (the
        ``BPIXTAB`` of the first input, via jref or CRDS).
    useafter : str, optional
        USEAFTER of the new table (default: the date of origin, i.e. the
        earliest ``first_seen`` of the new flecks, at 00:00:00).
    output : str, optional
        The new bpixtab (default ``OUTDIR/<reference root>_flecks_bpx.fits``).
    history : str, optional
        History database (default ``OUTDIR/fleck_history.sqlite``); an
        existing one is extended (epochs already in it are not redone).
    report : str, optional
        HTML report (default ``OUTDIR/report.html``).
    outdir : str, optional
        Directory of every output (default ``acs_flecks_output``).
    median_size, nsigma, min_area : optional
        Detection parameters (report §7: 15, 5.0, 25).
    tolerance : float, optional
        Cross-match radius between epochs, pixels.
    badpix_threshold : float, optional
        Transmissivity below which a pixel is flagged (§8: 0.5).
    aperture_threshold : float, optional
        Blocking fraction defining a filter's aperture (§6.1: 0.05).
    box : int or tuple, optional
        Cutout around each fleck, pixels (§6.1: 40).
    combine : str, optional
        How filters combine into the bad-pixel decision
        (`acs_flecks.characterize.bad_pixels`; default the bluest filter,
        F435W, as the report did).
    value : int, optional
        DQ flag written (4).
    workers : int, optional
        Local Dask workers (default: all cores).
    scheduler : str, optional
        Address of a Dask scheduler; ``''`` for a local cluster,
        ``'serial'`` for no Dask.
    overwrite : bool, optional
        Replace an existing output table.
    progress : bool, optional
        Progress bar for the detection.
    science : str or list of str, optional
        Calibrated science exposures (flt/flc): once the new table is
        written, copies with its flags in DQ go to ``OUTDIR/reflagged``
        (`acs_flecks.flag`) and, with ``sources``, the exposures and sources
        the flecks touch to ``OUTDIR/impact.ecsv`` (`acs_flecks.impact`);
        both appear in the report.
    sources : str, optional
        Source list for ``science`` (ECSV id, ra, dec or DS9 regions).

    Returns
    -------
    ChainResult
    """
    plan = plan_chain(
        input, flats=flats, unflashed=unflashed, eper=eper,
        reference=reference, useafter=useafter, output=output,
        history=history, report=report, outdir=outdir,
        median_size=median_size, nsigma=nsigma, min_area=min_area,
        tolerance=tolerance, badpix_threshold=badpix_threshold,
        aperture_threshold=aperture_threshold, box=box, combine=combine,
        value=value, workers=workers, scheduler=scheduler,
        overwrite=overwrite, science=science, sources=sources)
    notes, outputs = [], {}
    find_kwargs = dict(median_size=median_size, nsigma=nsigma,
                       min_area=min_area)
    artifacts, new = monitor_stage(
        plan.files, history=plan.history, outdir=plan.outdir,
        find_kwargs=find_kwargs, tolerance=tolerance, workers=workers,
        scheduler=scheduler, progress=progress, outputs=outputs, notes=notes)
    origin = date_of_origin(new)
    epochs = sorted((ACSImage(p, detector='WFC', operation='run')
                     for p in plan.files), key=lambda im: im.obs_time)
    ref_path = _reference_at_origin(plan, reference, origin, notes)
    chars, bad_tables = characterize_stage(
        new, flats=plan.flats, epochs=epochs, outdir=plan.outdir,
        origin=origin, eper=plan.eper, box=box,
        aperture_threshold=aperture_threshold,
        badpix_threshold=badpix_threshold, combine=combine, notes=notes)
    light = lightpath_stage(new, epochs=epochs, unflashed=plan.unflashed,
                            outdir=plan.outdir, characterizations=chars,
                            outputs=outputs, notes=notes)
    bad = merge_bad_pixels(bad_tables, outdir=plan.outdir, outputs=outputs)
    delivery, ua = deliver_stage(
        bad, new, reference=ref_path, output=plan.output, origin=origin,
        characterizations=chars, useafter=useafter, value=value,
        badpix_threshold=badpix_threshold, box=box, combine=combine,
        n_epochs=len(plan.files), find_kwargs=find_kwargs, outputs=outputs,
        notes=notes)
    impact, flagged = science_stage(plan.science, plan.sources, delivery,
                                    chars, plan.outdir, outputs, notes)
    result = ChainResult(artifacts=artifacts, new_flecks=QTable(new),
                         lightpath=light, characterizations=chars,
                         bad_pixels=bad, delivery=delivery, useafter=ua,
                         report=plan.report, outputs=outputs, notes=notes,
                         impact=impact, flagged=flagged)
    report_stage(result, history=plan.history, figdir=plan.figdir,
                 inputs=dict(input=plan.files, flats=plan.flats,
                             unflashed=plan.unflashed, eper=plan.eper,
                             science=plan.science, reference=ref_path))
    return result


def _reference_at_origin(plan, reference, origin, notes):
    """With ``reference='auto'``: the reference in force at the date of
    origin, by observation time (else the one `plan_chain` resolved)."""
    from .reference import image_in_force, resolve_reference
    ref_path = plan.reference
    if ref_path is not None and origin is not None and \
            str(reference).lower() == 'auto':
        ref_image, why = image_in_force(plan.files, date_of_origin=origin)
        ref_path = resolve_reference(reference, image=ref_image)
        notes.append(f'reference BPIXTAB from {why}: {ref_path}')
    return ref_path


def _check_science(science, sources, outdir):
    """Open the science exposures and the sources before any work."""
    from .science import open_science
    from .sources import read_sources

    paths = expand_inputs(science, what='science exposure')
    if sources and not paths:
        raise AcsFlecksError('sources given without science exposures')
    for path in paths:
        open_science(path, operation='run')
    out = os.path.realpath(os.path.join(outdir or 'acs_flecks_output',
                                        'reflagged'))
    for path in paths:
        if os.path.realpath(os.path.dirname(os.path.abspath(path))) == out:
            raise AcsFlecksError('a science exposure is in the output folder '
                                 'of its re-flagged copy', path=path)
    return paths, (read_sources(sources) if sources else None)


def science_stage(paths, sources, delivery, chars, outdir, outputs, notes):
    """
    Impact and re-flagged copies of the science exposures (#14).

    Parameters
    ----------
    paths : list of str
        Calibrated science exposures (`_check_science`).
    sources : `~astropy.table.Table` or None
        Their sources.
    delivery : `~acs_flecks.delivery.Delivery` or None
        The new table (`deliver_stage`); without it nothing is assessed.
    chars : dict
        The characterizations (their transmissivity maps: the flux loss).
    outdir : str
        ``impact.ecsv`` and ``reflagged/`` go there.
    outputs : dict
        Filled with name -> path of the files written.
    notes : list
        Appended with what was not assessed and the impact's notes.

    Returns
    -------
    impact : `~acs_flecks.impact.ImpactResult` or None
    flagged : `~astropy.table.QTable` or None
    """
    if not paths:
        return None, None
    if delivery is None:
        notes.append('no new bad-pixel table: the science exposures were '
                     'not assessed')
        return None, None
    from .flag import flag_exposures
    from .impact import exposure_impact

    impact = None
    if sources is not None:
        maps = [ch.files['maps'] for ch in chars.values()
                if 'maps' in getattr(ch, 'files', {})]
        impact = exposure_impact(paths, bpixtab=delivery.path,
                                 sources=sources, flecks=maps or None)
        written = impact.write(os.path.join(outdir, 'impact.ecsv'))
        outputs['impact'] = written['impact']
        outputs['impact_summary'] = written['summary']
        notes.extend(impact.notes)
    flagged = flag_exposures(paths, bpixtab=delivery.path,
                             outdir=os.path.join(outdir, 'reflagged'),
                             overwrite=True)
    outputs['reflagged'] = os.path.join(outdir, 'reflagged')
    return impact, flagged
