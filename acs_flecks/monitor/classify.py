"""
Classify artifact tracks across anneal cycles (report §2, §7).

Every track (see `~acs_flecks.monitor.crossmatch.build_tracks`) gets one
``status``:

``stable``
    detected in the first epoch that observed its position and still
    detected in the latest one (the report's freckles);
``new``
    first detected at a later epoch *k*: its date of origin lies between
    ``last_seen_absent`` (observation time of the last epoch that covered its
    position without detecting it) and ``first_seen`` (the first epoch that
    detected it) -- for the report's flecks, the April-May 2017 cycle and
    2017-05-05;
``vanished``
    detected earlier but not in the last ``vanish_after`` epochs that
    covered its position (``last_seen`` and ``first_seen_absent`` bracket
    the disappearance);
``changed``
    present since the first epoch and still detected, but its position, area
    or depth in the latest epoch differs from its early epochs by more than
    ``change_nsigma`` times the uncertainty defined below;
``transient``
    found in a single epoch and absent (forced measurement included) both
    before and after it: a noise or edge detection, not an artifact.  An
    artifact found only in the *latest* epoch is ``new``, not transient.

A new artifact that also changed stays ``new`` (``changed`` is a separate
boolean column with ``change_reason``), so the date of origin is never
hidden.

**Uncertainty of a change.**  For each quantity *q* (position, ``area``,
``mean_deficit``) the baseline is the median of the artifact's first (up
to) three detections and the test value is its latest detection.  The
uncertainty is ``sigma = sqrt(s**2 + f**2)`` where *s* is the artifact's own
epoch-to-epoch scatter (1.4826 x median absolute deviation of all its
detections before the latest; 0 with fewer than three) and *f* a floor for
what one epoch cannot measure better.  With ``rel = 2 noise / peak_deficit``
(the relative isophote noise: the share of pixels whose deficit is within
the noise of the threshold; ``noise`` is the detection's background noise):
position (radial) ``max(0.5 pix, 2 rel semimajor_sigma)``; isophotal area
``max(sqrt(area), rel area)`` (boundary pixels flip with the noise; the
boundary holds ~3.5 sqrt(area) pixels); ``mean_deficit`` 5 % of the depth
plus ``max(0.5, noise)`` percentage points (LED illumination and
median-filter effects between cycles).

Only artifacts detected in at least half of the epochs that observed them
(`MIN_DETECTED_FRACTION`) can be ``changed``: a source at the detection
threshold is detected in some epochs only, and its isophotal area and depth
then follow the noise.

**Missed detections.**  An artifact close to the detection threshold
(a faint freckle) is detected in some epochs and missed in others; taken
at face value that would make it "new" the first time it is detected, or
"vanished".  So, before a track is called new (or vanished), the deficit is
measured at its position in the covering epochs before its first
detection, walking back from it (and after its last detection): a *forced
measurement* (`acs_flecks.monitor.lightpath.measure_deficit`: mean of a
circle of the artifact's area, its radius widened by 1.5 pixels for the
centroid error of faint detections, against the median of an annulus; hot
and saturated pixels left out).  An epoch where that deficit is significant
(``forced_nsigma``, default 3) had the artifact; the first epoch walking
back where it is not is ``last_seen_absent``.  ``first_seen`` is the
earliest epoch with the artifact (detected or measured), ``n_forced`` the
number of epochs found by forced measurement, ``verified`` whether every
forced measurement could be made (the epoch file was readable).

Epochs observe only the chips and sub-array windows they contain
(``coverage``); an artifact outside an epoch's coverage is *not observed*
there, which is neither present nor absent.
"""

import numpy as np
from astropy.table import MaskedColumn, QTable
from astropy.time import Time
import astropy.units as u

from .crossmatch import DEFAULT_TOLERANCE, associate_detections

__all__ = ['classify_history', 'STATUSES', 'CHANGE_FLOORS',
           'DEFAULT_CHANGE_NSIGMA', 'DEFAULT_FORCED_NSIGMA']

#: The possible values of the ``status`` column.
STATUSES = ('stable', 'new', 'vanished', 'changed', 'transient')

# Default threshold (in units of the uncertainty) for ``changed``: defined
# by the monitoring stage in acs_flecks.parameters.
from ..parameters import MONITORING  # noqa: E402

DEFAULT_CHANGE_NSIGMA = MONITORING.defaults.change_nsigma
_VANISH_AFTER = MONITORING.defaults.vanish_after

#: Default significance of a forced measurement that counts as "present".
DEFAULT_FORCED_NSIGMA = 3.0

#: Floors of the change uncertainty (see the module docstring).
CHANGE_FLOORS = {'position': 0.5, 'area_sqrt_factor': 1.0,
                 'depth_relative': 0.05, 'depth_absolute': 0.5}

_N_BASELINE = 3

#: Fraction of the epochs observing an artifact in which it must be
#: detected for a change of its area, depth or position to be judged.
MIN_DETECTED_FRACTION = 0.5


def _iso(mjd):
    if mjd is None or not np.isfinite(mjd):
        return ''
    return Time(mjd, format='mjd', scale='utc').isot[:19]


def _nanmedian(values):
    """Median of the finite values (NaN, silently, if there are none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else np.nan


def _robust_scatter(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return 0.0
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _covers(cov, ccdchip, x, y, margin=0.0):
    box = cov.get(int(ccdchip))
    if box is None:
        return False
    xmin, xmax, ymin, ymax = box
    return (xmin + margin <= x <= xmax - margin and
            ymin + margin <= y <= ymax - margin)


def _change_test(det, rows, nsigma):
    """Return (reasons, {quantity: (deviation, sigma)}) for one track."""
    out = {}
    reasons = []
    if len(rows) < 2:
        return reasons, out
    base = rows[:_N_BASELINE]
    prev = rows[:-1]
    last = rows[-1]
    # Relative isophote noise: the share of an artifact's pixels whose
    # deficit lies within the noise of the threshold scales as noise / peak,
    # so a faint freckle's area and centroid are much less certain than a
    # deep fleck's (2 x noise / peak; 0 without a noise column).
    rel = 2.0 * _nanmedian(det['noise'][rows]) / \
        _nanmedian(det['peak_deficit'][rows])
    rel = float(rel) if np.isfinite(rel) and rel > 0 else 0.0
    size = _nanmedian(det['semimajor_sigma'][rows])
    size = float(size) if np.isfinite(size) else 0.0
    # position (radial)
    bx, by = np.median(det['x'][base]), np.median(det['y'][base])
    dev = float(np.hypot(det['x'][last] - bx, det['y'][last] - by))
    s = np.hypot(_robust_scatter(det['x'][prev]),
                 _robust_scatter(det['y'][prev]))
    f = max(CHANGE_FLOORS['position'], 2.0 * size * rel)
    sig = float(np.hypot(s, f))
    out['position'] = (dev, sig)
    # area
    ba = float(np.median(det['area'][base]))
    if np.isfinite(ba):
        dev = float(det['area'][last] - ba)
        f = max(CHANGE_FLOORS['area_sqrt_factor'] * np.sqrt(max(ba, 1.0)),
                rel * ba)
        sig = float(np.hypot(_robust_scatter(det['area'][prev]), f))
        out['area'] = (dev, sig)
    # depth
    bd = float(np.median(det['mean_deficit'][base]))
    if np.isfinite(bd):
        dev = float(det['mean_deficit'][last] - bd)
        noise = _nanmedian(det['noise'][rows])
        noise = float(noise) if np.isfinite(noise) else 0.0
        f = CHANGE_FLOORS['depth_relative'] * abs(bd) + \
            max(CHANGE_FLOORS['depth_absolute'], noise)
        sig = float(np.hypot(_robust_scatter(det['mean_deficit'][prev]), f))
        out['depth'] = (dev, sig)
    for name, (dev, sig) in out.items():
        if np.isfinite(dev) and abs(dev) > nsigma * sig:
            reasons.append(name)
    return reasons, out


def _aperture_radius(areas):
    """Radius of the forced-measurement aperture: the circle of the
    artifact's median isophotal area, plus 1.5 pixels because the centroid
    of a faint, median-filtered detection can be off by a few pixels
    (3-20 pixels)."""
    area = _nanmedian(areas)
    if not np.isfinite(area) or area <= 0:
        return 3.0
    return float(np.clip(np.sqrt(area / np.pi) + 1.5, 3.0, 20.0))


def _forced_state(verify, epoch_id, chip, x, y, radius, nsigma):
    """True (deficit there), False (absent), None (cannot tell)."""
    if verify is None:
        return False
    result = verify(int(epoch_id), int(chip), float(x), float(y),
                    float(radius))
    if result is None:
        return None
    deficit, err = result
    if not (np.isfinite(deficit) and np.isfinite(err) and err > 0):
        return None
    return bool(deficit / err >= nsigma)


def _merge_siblings(track, siblings, det, det_rank, det_chip, cov_by_rank,
                    ep_ids_by_rank, verify, forced_nsigma, edge_margin):
    """Merge into its known neighbour each sibling track (a deblended piece
    first seen beside a known artifact, see
    `~acs_flecks.monitor.crossmatch`) whose position already showed a
    deficit in the last covering epoch before its first detection: it was
    part of the known artifact, below the threshold.  Without that deficit
    (or without forced measurements) it stays a separate, new artifact."""
    root = {}

    def find(t):
        while t in root:
            t = root[t]
        return t

    for t in sorted(siblings):
        idx = np.flatnonzero(track == t)
        if not len(idx):
            continue
        chip = int(det_chip[idx[0]])
        first = int(det_rank[idx].min())
        xm = float(np.median(det['x'][idx]))
        ym = float(np.median(det['y'][idx]))
        prev = [r for r in range(first)
                if _covers(cov_by_rank[r], chip, xm, ym, edge_margin)]
        if not prev:
            continue
        state = _forced_state(verify, ep_ids_by_rank[prev[-1]], chip, xm, ym,
                              _aperture_radius(det['area'][idx]),
                              forced_nsigma)
        if state:
            target = find(siblings[t])
            root[t] = target
            track[idx] = target


def _combine(det, det_rank, det_chip, track):
    """One row per (track, epoch): pieces of one artifact in one epoch are
    combined (positions weighted by their summed deficit, areas and sums
    added, the deepest peak).  Returns the combined ``det`` dict, ranks,
    chips and tracks; rows of untracked detections are dropped."""
    keep = np.flatnonzero(track >= 0)
    keys = {}
    for i in keep:
        keys.setdefault((int(track[i]), int(det_rank[i])), []).append(i)
    out = {name: [] for name in det}
    ranks, chips, tracks = [], [], []
    for (t, r), rows in sorted(keys.items()):
        rows = np.asarray(rows)
        tracks.append(t)
        ranks.append(r)
        chips.append(int(det_chip[rows[0]]))
        if len(rows) == 1:
            for name in det:
                out[name].append(float(det[name][rows[0]]))
            continue
        area = det['area'][rows]
        flux = area * det['mean_deficit'][rows]
        w = flux if np.all(np.isfinite(flux)) and np.sum(flux) > 0 else area
        if not (np.all(np.isfinite(w)) and np.sum(w) > 0):
            w = np.ones(len(rows))
        total = float(np.nansum(area))
        for name in det:
            v = det[name][rows]
            if name in ('x', 'y'):
                value = float(np.sum(w * v) / np.sum(w))
            elif name == 'area':
                value = total
            elif name == 'mean_deficit':
                value = float(np.nansum(flux) / total) if total > 0 \
                    else _nanmedian(v)
            elif name in ('peak_deficit', 'semimajor_sigma'):
                value = float(np.nanmax(v)) if np.any(np.isfinite(v)) \
                    else np.nan
            else:
                value = _nanmedian(v)
            out[name].append(value)
    det = {name: np.asarray(v, dtype=float) for name, v in out.items()}
    return (det, np.asarray(ranks, dtype=int), np.asarray(chips, dtype=int),
            np.asarray(tracks, dtype=int))


def classify_history(epochs, detections, *, tolerance=DEFAULT_TOLERANCE,
                     change_nsigma=DEFAULT_CHANGE_NSIGMA,
                     vanish_after=_VANISH_AFTER,
                     verify=None, forced_nsigma=DEFAULT_FORCED_NSIGMA,
                     edge_margin=0.0):
    """
    Cross-match and classify every artifact of a detection history.

    Parameters
    ----------
    epochs : `~astropy.table.Table`
        One row per epoch with ``epoch_id`` (int), ``obs_mjd`` (float) and
        ``coverage`` (dict ``ccdchip -> (xmin, xmax, ymin, ymax)``,
        1-indexed full-chip frame, inclusive).
    detections : `~astropy.table.Table`
        One row per detection with ``epoch_id``, ``ccdchip``, ``x``, ``y``
        (1-indexed full-chip frame), ``area`` (pixels), ``mean_deficit`` and
        ``peak_deficit`` (percent); plain numbers or quantities.
    tolerance : float, optional
        Matching radius in pixels.
    change_nsigma : float, optional
        Threshold of the ``changed`` test in units of its uncertainty.
    vanish_after : int, optional
        Number of consecutive latest covering epochs without the artifact
        after which it is ``vanished``.
    verify : callable, optional
        Forced measurement ``verify(epoch_id, ccdchip, x, y, radius) ->
        (deficit, error)`` (or `None` if the epoch cannot be read) at the
        artifact's position in an epoch where it was not detected; see
        "Missed detections" above.  Without it, not detected = absent.
    forced_nsigma : float, optional
        Significance above which a forced measurement counts as present.
    edge_margin : float, optional
        Detections closer than this (pixels) to the edge of their image
        are not monitored, and an epoch covers a position only this far
        inside its image (the history uses ``median_size // 2 + 1``: the
        median filter reflects the image at its edges).

    Returns
    -------
    artifacts : `~astropy.table.QTable`
        One row per artifact, sorted by (``first_seen``, ``ccdchip``, ``y``,
        ``x``) and numbered ``A0001``...; columns ``artifact_id``,
        ``ccdchip``, ``x``, ``y`` (median position, pix), ``first_seen``,
        ``last_seen_absent``, ``last_seen``, ``first_seen_absent`` (ISO
        strings; the second and fourth are masked when there is no such
        epoch) and their ``*_mjd`` twins, ``n_epochs``
        (detections), ``n_observed`` (epochs covering it from its first
        detection on), ``n_missed`` (covering epochs without it after its
        first detection), ``n_forced`` (epochs where a forced measurement
        found it), ``verified``, ``status`` (one of `STATUSES`),
        ``changed``, ``change_reason``, ``found_by`` (the search(es)
        whose detection first found it: ``find`` = the report's §7 search,
        ``difference`` = the new-artifact search of
        `acs_flecks.detect.difference`, ``difference,find`` = both),
        ``area``, ``mean_deficit``, ``peak_deficit`` (latest detection),
        ``shift``, ``d_area``, ``d_depth`` and their ``*_sigma``;
        ``meta['forced_present']``: artifact_id -> MJDs of the epochs where
        a forced measurement found it.
    detection_artifact : `~numpy.ndarray` of str
        The ``artifact_id`` of each input detection (same order; '' for
        detections within ``edge_margin`` of an image edge).
    """
    if int(vanish_after) < 1:
        raise ValueError(f'vanish_after must be >= 1, got {vanish_after!r}')
    ep_ids = np.asarray(epochs['epoch_id'], dtype=int)
    ep_mjd = np.asarray(epochs['obs_mjd'], dtype=float)
    ep_order = np.lexsort((ep_ids, ep_mjd))
    ep_ids_by_rank = ep_ids[ep_order]
    rank_of = {int(ep_ids[i]): r for r, i in enumerate(ep_order)}
    mjd_by_rank = ep_mjd[ep_order]
    cov_by_rank = [epochs['coverage'][i] for i in ep_order]

    def col(name):
        if name not in detections.colnames:  # optional measurements
            return np.full(len(detections), np.nan)
        c = detections[name]
        c = getattr(c, 'value', c)
        return np.asarray(c, dtype=float)

    det = {name: col(name) for name in
           ('x', 'y', 'area', 'mean_deficit', 'peak_deficit', 'noise',
            'semimajor_sigma')}
    det_chip = np.asarray(detections['ccdchip'], dtype=int)
    # which search made each detection: 'find' (the report's §7 search),
    # 'difference' (the new-artifact search, issue #15) or both
    det_search = (np.asarray(detections['search'], dtype='U32')
                  if 'search' in detections.colnames else
                  np.full(len(det_chip), 'find', dtype='U32'))
    det_rank = np.array([rank_of[int(e)] for e in detections['epoch_id']],
                        dtype=int)
    # Detections closer than edge_margin to the edge of their image are
    # left out (the median filter reflects the image there).
    usable = np.array([_covers(cov_by_rank[r], c, xx, yy, edge_margin)
                       for r, c, xx, yy in zip(det_rank, det_chip, det['x'],
                                               det['y'])], dtype=bool)
    footprints = None
    if 'footprint' in detections.colnames:
        fp = detections['footprint']
        footprints = ['' if v is None or np.ma.is_masked(v) else str(v)
                      for v in np.asarray(fp, dtype=object)[usable]]
    track = np.full(len(det_chip), -1, dtype=int)
    use = np.flatnonzero(usable)
    track[use], siblings = associate_detections(
        det_rank[use], det_chip[use], det['x'][use], det['y'][use],
        tolerance=tolerance, footprints=footprints)
    _merge_siblings(track, siblings, det, det_rank, det_chip, cov_by_rank,
                    ep_ids_by_rank, verify, forced_nsigma, edge_margin)
    # one measurement per artifact and epoch: deblended pieces of one
    # artifact are combined (area and flux add up)
    det, det_rank, det_chip, agg_track = _combine(det, det_rank, det_chip,
                                                  track)
    rows = []
    n_ep = len(ep_order)
    for t in range(track.max() + 1 if len(track) else 0):
        if not np.any(agg_track == t):
            continue
        idx = np.flatnonzero(agg_track == t)
        idx = idx[np.argsort(det_rank[idx], kind='stable')]
        chip = int(det_chip[idx[0]])
        xm, ym = float(np.median(det['x'][idx])), float(np.median(det['y'][idx]))
        present = set(det_rank[idx].tolist())
        first, last = det_rank[idx[0]], det_rank[idx[-1]]
        covered = [r for r in range(n_ep)
                   if r in present or
                   _covers(cov_by_rank[r], chip, xm, ym, edge_margin)]
        before = [r for r in covered if r < first]
        after = [r for r in covered if r > last]
        missed = [r for r in covered if first < r < last and r not in present]
        radius = _aperture_radius(det['area'][idx])
        forced = 0
        forced_epochs = []
        verified = True
        # Walk back from the first detection: an epoch whose forced
        # measurement still shows the deficit had the artifact (a detection
        # missed at the threshold), so it is not the date of origin.
        first_any = first
        last_absent = None
        for r in reversed(before):
            state = _forced_state(verify, ep_ids_by_rank[r], chip, xm, ym,
                                  radius, forced_nsigma)
            if state is None:
                verified = False
                last_absent = r
                break
            if state:
                forced += 1
                forced_epochs.append(mjd_by_rank[r])
                first_any = r
                continue
            last_absent = r
            break
        # and forward from the last detection (vanished or just missed?)
        last_any = last
        absent_after = []
        for r in after:
            state = _forced_state(verify, ep_ids_by_rank[r], chip, xm, ym,
                                  radius, forced_nsigma)
            if state is None:     # unreadable epoch file: no evidence
                verified = False
                continue
            if state:
                forced += 1
                forced_epochs.append(mjd_by_rank[r])
                last_any = r
                absent_after = []
            else:
                absent_after.append(r)
        vanished = len(absent_after) >= int(vanish_after)
        # The new-artifact search measures the *change* since the earlier
        # epochs, not the artifact: only §7 detections enter the change test.
        own = idx[np.char.find(det_search[idx], 'find') >= 0]
        reasons, tests = _change_test(det, own, change_nsigma)
        at_first = det_search[idx[det_rank[idx] == first]]
        found_by = ','.join(sorted({s for v in at_first
                                    for s in str(v).split(',') if s}))
        n_seen = len([r for r in covered if r >= first_any])
        if reasons and len(present) < MIN_DETECTED_FRACTION * n_seen:
            # Detected in fewer than half the epochs that observed it: a
            # source at the detection threshold, whose isophotal area and
            # depth follow the noise; its "change" cannot be told from
            # noise, so it is not called changed (the tests stay in the
            # table).
            reasons = []
        if vanished and len(present) + forced <= 1:
            # seen once, absent before and after: a noise or edge detection
            status = 'transient'
        elif vanished:
            status = 'vanished'
        elif last_absent is not None:
            status = 'new'
        elif reasons:
            status = 'changed'
        else:
            status = 'stable'
        li = idx[-1]

        def test(name, k):
            return tests.get(name, (np.nan, np.nan))[k]

        rows.append(dict(
            ccdchip=chip, x=xm, y=ym,
            first_seen_mjd=mjd_by_rank[first_any],
            last_seen_absent_mjd=(np.nan if last_absent is None
                                  else mjd_by_rank[last_absent]),
            last_seen_mjd=mjd_by_rank[last_any],
            first_seen_absent_mjd=(mjd_by_rank[absent_after[0]]
                                   if absent_after else np.nan),
            n_epochs=len(present),
            n_forced=forced, verified=bool(verify is not None and verified),
            n_observed=len([r for r in covered if r >= first_any]),
            n_missed=len(missed) + len(after),
            status=status, found_by=found_by, changed=bool(reasons),
            change_reason=','.join(reasons),
            area=det['area'][li], mean_deficit=det['mean_deficit'][li],
            peak_deficit=det['peak_deficit'][li],
            shift=test('position', 0), shift_sigma=test('position', 1),
            d_area=test('area', 0), d_area_sigma=test('area', 1),
            d_depth=test('depth', 0), d_depth_sigma=test('depth', 1),
            _track=t, _forced=sorted(float(m) for m in forced_epochs)))
    rows.sort(key=lambda r: (r['first_seen_mjd'], r['ccdchip'],
                             round(r['y'], 3), round(r['x'], 3)))
    track_to_id = {}
    forced_present = {}
    for k, r in enumerate(rows, start=1):
        r['artifact_id'] = f'A{k:04d}'
        track_to_id[r.pop('_track')] = r['artifact_id']
        epochs_found = r.pop('_forced')
        if epochs_found:
            forced_present[r['artifact_id']] = epochs_found
    det_ids = np.array([track_to_id.get(t, '') for t in track], dtype='U16') \
        if len(track) else np.array([], dtype='U16')
    table = _to_table(rows)
    # MJDs of the epochs where a forced measurement found each artifact
    table.meta['forced_present'] = forced_present
    return table, det_ids


_FLOAT_COLS = ('x', 'y', 'first_seen_mjd', 'last_seen_absent_mjd',
               'last_seen_mjd', 'first_seen_absent_mjd', 'area',
               'mean_deficit', 'peak_deficit', 'shift', 'shift_sigma',
               'd_area', 'd_area_sigma', 'd_depth', 'd_depth_sigma')

#: Column order of the artifacts table.
ARTIFACT_COLUMNS = (
    'artifact_id', 'ccdchip', 'x', 'y', 'status', 'found_by', 'first_seen',
    'last_seen_absent', 'last_seen', 'first_seen_absent', 'n_epochs',
    'n_observed', 'n_missed', 'n_forced', 'verified', 'changed', 'change_reason', 'area',
    'mean_deficit', 'peak_deficit', 'shift', 'shift_sigma', 'd_area',
    'd_area_sigma', 'd_depth', 'd_depth_sigma', 'first_seen_mjd',
    'last_seen_absent_mjd', 'last_seen_mjd', 'first_seen_absent_mjd')

_UNITS = {'x': u.pix, 'y': u.pix, 'area': u.pix ** 2, 'mean_deficit': u.percent,
          'peak_deficit': u.percent, 'shift': u.pix, 'shift_sigma': u.pix,
          'd_area': u.pix ** 2, 'd_area_sigma': u.pix ** 2,
          'd_depth': u.percent, 'd_depth_sigma': u.percent,
          'first_seen_mjd': u.day, 'last_seen_absent_mjd': u.day,
          'last_seen_mjd': u.day, 'first_seen_absent_mjd': u.day}


def _to_table(rows):
    """Rows (dicts of plain values) -> QTable with the fixed columns."""
    cols = {}
    for name in ARTIFACT_COLUMNS:
        if name in ('first_seen', 'last_seen_absent', 'last_seen',
                    'first_seen_absent'):
            values = np.array([_iso(r[name + '_mjd']) for r in rows],
                              dtype='U19')
            # masked where there is no such epoch (ECSV writes it empty)
            cols[name] = values if name in ('first_seen', 'last_seen') else \
                MaskedColumn(values, mask=(values == ''))
        elif name in ('artifact_id', 'status', 'change_reason', 'found_by'):
            cols[name] = np.array([r[name] for r in rows], dtype='U32')
        elif name in ('ccdchip', 'n_epochs', 'n_observed', 'n_missed',
                      'n_forced'):
            cols[name] = np.array([r[name] for r in rows], dtype=int)
        elif name in ('changed', 'verified'):
            cols[name] = np.array([r[name] for r in rows], dtype=bool)
        else:
            cols[name] = np.array([r[name] for r in rows], dtype=float)
    table = QTable()
    for name in ARTIFACT_COLUMNS:
        data = cols[name]
        table[name] = data * _UNITS[name] if name in _UNITS else data
    return table


def artifacts_from_rows(rows):
    """Rebuild the artifacts `~astropy.table.QTable` from stored rows
    (dicts with the columns of `ARTIFACT_COLUMNS` minus the ISO strings)."""
    return _to_table(rows)
