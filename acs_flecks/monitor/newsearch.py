"""
The new-artifact search in the monitor: every epoch of the history against
the median of its preceding epochs (issue #15).

`update_difference_search` brings the history's difference detections up to
date: for each epoch (in observation-time order) and chip, the references
are the preceding epochs that observed the same pixels (same chip and
sub-array), at most ``max_reference`` of them, and the search
(`acs_flecks.detect.difference.find_new_in_chip`) runs when an epoch has at
least ``min_reference``.  What it ran with (the checksums of the epoch's
references and every parameter) is stored per epoch
(``difference_runs``); an epoch is searched again only when that changes --
an epoch inserted out of order changes the references of the epochs after
it, and they are searched again -- so one-at-a-time additions give the
all-at-once history.

A candidate that coincides with one of the epoch's §7 detections (within
the cross-match tolerance, or inside its bounding box) is that detection:
it is not stored twice, the §7 row is marked ``search='find,difference'``
and keeps its own measurements (the §7 results are never changed).  The
others are stored as detections with ``search='difference'``; the
classification (`acs_flecks.monitor.classify`) then treats them like any
detection: cross-match, ``first_seen`` / ``last_seen_absent`` (forced
measurement walking back), forced measurement in every later epoch (so a
faint artifact the §7 search never sees does not flicker), ``found_by``.

**Light path (§3).**  With un-flashed darks (``unflashed``), each
candidate is measured in the un-flashed dark closest in time to its epoch
(`acs_flecks.monitor.lightpath.lightpath_test`); a ``CCD defect`` (the
deficit persists without illumination) is not a particle and is not stored.
"""

import json
import logging
import warnings
from collections import OrderedDict

import numpy as np
from astropy.table import QTable, vstack

from ..detect.difference import (DifferenceParameters, normalize_chip,
                                 ratio_image, search_ratio)
from ..exceptions import AcsFlecksError, SkippedFileWarning
from ..io import ACSImage
from ..parameters import MONITORING
from .crossmatch import DEFAULT_TOLERANCE

__all__ = ['update_difference_search', 'difference_parameters']

log = logging.getLogger(__name__)


def difference_parameters(difference):
    """`DifferenceParameters` from `True`, a dict or an instance (validated;
    `None` for `False` / `None`: the search is off)."""
    if difference is None or difference is False:
        return None
    if difference is True:
        return DifferenceParameters()
    if isinstance(difference, DifferenceParameters):
        return difference
    if isinstance(difference, dict):
        try:
            return DifferenceParameters(**difference)
        except TypeError as exc:
            raise AcsFlecksError(f'bad difference-search parameter ({exc})') \
                from None
    raise AcsFlecksError('difference must be True, False, a dict or '
                         f'DifferenceParameters, got {difference!r}')


def _plan(epochs, coverage, params):
    """Per epoch: {chip: [reference epoch rows]} (same coverage box)."""
    plan = []
    for i, row in enumerate(epochs):
        eid = int(row['epoch_id'])
        chips = {}
        for chip, box in sorted(coverage.get(eid, {}).items()):
            refs = [epochs[j] for j in range(i)
                    if coverage.get(int(epochs[j]['epoch_id']), {}).get(chip)
                    == box]
            chips[int(chip)] = refs[-params.max_reference:]
        plan.append((row, chips))
    return plan


def _run_key(chips, params):
    return json.dumps({'parameters': params.as_meta(),
                       'references': {str(c): [str(r['sha256']) for r in refs]
                                      for c, refs in chips.items()}},
                      sort_keys=True)


class _ChipCache:
    """Normalized chips of recent epochs (bounded memory)."""

    def __init__(self, params, size):
        self.params = params
        self.size = size
        self.data = OrderedDict()

    def get(self, row, chip):
        key = (int(row['epoch_id']), int(chip))
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        c = ACSImage(row['source_file']).chip(chip, arrays=('SCI', 'DQ'))
        norm = normalize_chip(c.sci, c.dq, box=self.params.box,
                              mask_flags=self.params.mask_flags)
        self.data[key] = (norm, c.ltv)
        while len(self.data) > self.size:
            self.data.popitem(last=False)
        return self.data[key]


def _merge_with_find(cands, finds, tolerance):
    """Split candidates into (new rows, detection_ids of §7 detections they
    coincide with)."""
    keep = np.ones(len(cands), dtype=bool)
    merged = set()
    if len(cands) and len(finds):
        for i, r in enumerate(cands):
            x, y = float(r['x'].value), float(r['y'].value)
            same = finds[finds['ccdchip'] == int(r['ccdchip'])]
            for f in same:
                inside = (f['bbox_xmin'] - 1 <= x <= f['bbox_xmax'] + 1 and
                          f['bbox_ymin'] - 1 <= y <= f['bbox_ymax'] + 1)
                if inside or np.hypot(f['x'] - x, f['y'] - y) <= tolerance:
                    keep[i] = False
                    merged.add(int(f['detection_id']))
                    break
    return cands[keep], sorted(merged)


def _nearest_dark(darks, mjd, chip):
    best = None
    for img in darks:
        if chip not in img.chips:
            continue
        dt = abs(float(img.obs_time.mjd) - mjd)
        if best is None or dt < best[0]:
            best = (dt, img)
    return None if best is None else best[1]


def _lightpath_filter(cands, epoch_path, mjd, darks, nsigma, summary):
    """Drop candidates that the un-flashed dark shows as CCD defects."""
    if not darks or not len(cands):
        return cands
    from .lightpath import lightpath_test
    keep = np.ones(len(cands), dtype=bool)
    for chip in np.unique(np.asarray(cands['ccdchip'])):
        dark = _nearest_dark(darks, mjd, int(chip))
        if dark is None:
            continue
        sel = np.flatnonzero(np.asarray(cands['ccdchip']) == chip)
        res = lightpath_test(epoch_path, dark, cands[sel], nsigma=nsigma)
        for k, verdict in zip(sel, res['verdict']):
            entry = (f'{epoch_path}: CCDCHIP={int(chip)} '
                     f'({cands["x"][k].value:.1f}, {cands["y"][k].value:.1f})'
                     f' {verdict} ({dark.path})')
            summary.setdefault('lightpath', []).append(entry)
            if verdict == 'CCD defect':
                keep[k] = False
                log.info('new-artifact candidate is a CCD defect, not a '
                         'particle: %s', entry)
    return cands[keep]


def update_difference_search(
        database, params, *, tolerance=DEFAULT_TOLERANCE, unflashed=None,
        lightpath_nsigma=MONITORING.defaults.lightpath_nsigma, summary=None):
    """
    Run the new-artifact search on every epoch of a history that needs it.

    Parameters
    ----------
    database : `~acs_flecks.monitor.HistoryDatabase`
        Opened for writing.
    params : `~acs_flecks.detect.difference.DifferenceParameters`
    tolerance : float, optional
        Radius (pixels) within which a candidate is the same as a §7
        detection of the epoch.
    unflashed : list of str or `~acs_flecks.io.ACSImage`, optional
        Un-flashed darks for the light-path test of the candidates.
    lightpath_nsigma : float, optional
        Threshold of the light-path verdicts.
    summary : dict, optional
        Run summary: ``difference_searched`` (epoch files searched),
        ``difference_skipped`` (epochs whose files could not be read: their
        stored results are kept) and ``lightpath`` (verdicts) are appended
        to it.

    Returns
    -------
    int
        Epochs searched (0 when everything was up to date).
    """
    summary = summary if summary is not None else {}
    darks = [d if isinstance(d, ACSImage) else ACSImage(d)
             for d in (unflashed or [])]
    epochs = database.epochs()
    coverage = database.coverage()
    plan = _plan(epochs, coverage, params)
    todo = [(row, chips) for row, chips in plan
            if database.difference_run_key(row['epoch_id'])
            != _run_key(chips, params)]
    if not todo:
        return 0
    dets = database.detections()
    finds = dets[np.char.find(np.asarray(dets['search'], dtype='U32'),
                              'find') >= 0]
    cache = _ChipCache(params, params.max_reference + 1)
    results = {int(row['epoch_id']): [] for row, _ in todo}
    failed = set()
    all_chips = sorted({c for _, chips in todo for c in chips})
    for chip in all_chips:          # chip by chip: the cache holds one chip
        for row, chips in todo:
            eid = int(row['epoch_id'])
            refs = chips.get(chip)
            if refs is None or eid in failed or \
                    len(refs) < params.min_reference:
                continue
            try:
                cur, ltv = cache.get(row, chip)
                ref_norm = [cache.get(r, chip)[0] for r in refs]
            except (AcsFlecksError, OSError) as exc:
                failed.add(eid)
                msg = (f'new-artifact search of {row["source_file"]} not run '
                       f'({exc})')
                summary.setdefault('difference_skipped', []).append(msg)
                warnings.warn(msg, SkippedFileWarning)
                continue
            cat = search_ratio(ratio_image(cur, ref_norm), params=params,
                               ccdchip=chip, ltv=ltv)
            results[eid].append(cat)
    n = 0
    for row, chips in todo:
        eid = int(row['epoch_id'])
        if eid in failed:
            continue
        cats = [c for c in results[eid] if len(c)]
        cands = vstack([QTable(c) for c in cats]) if cats else QTable()
        cands = _lightpath_filter(cands, row['source_file'],
                                  float(row['obs_mjd']), darks,
                                  lightpath_nsigma, summary)
        mine = finds[finds['epoch_id'] == eid]
        new, merged = _merge_with_find(cands, mine, tolerance)
        database.store_difference(eid, new, _run_key(chips, params),
                                  merged=merged)
        summary.setdefault('difference_searched', []).append(
            row['source_file'])
        log.info('%s: new-artifact search against %s reference epoch(s): '
                 '%d candidate(s), %d of them also found by the §7 search',
                 row['source_file'],
                 '/'.join(str(len(r)) for r in chips.values()) or '0',
                 len(cands), len(cands) - len(new))
        n += 1
    return n

