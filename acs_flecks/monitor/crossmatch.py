"""
Cross-match artifacts between epochs (report §2, §7).

Each epoch's detections are associated, per chip, with the artifacts
already known from the earlier epochs by their **footprints**: a detection
belongs to the artifact whose pixels (the union of the segments of all its
earlier detections, `acs_flecks.detect.footprint`) it overlaps most.
Detections without a footprint (histories written before footprints were
stored), or overlapping no known artifact, fall back to their centroid: a
one-to-one match within ``tolerance`` pixels that minimizes the total
distance (Hungarian assignment, `scipy.optimize.linear_sum_assignment`).

**Deblending.**  Deblending splits a faint freckle differently from epoch
to epoch (one segment, then two, then three), with centroids a few pixels
apart.  By footprint, every piece that overlaps the freckle's known pixels
joins its artifact, so a change of deblending does not create an artifact.
Pieces of one segment before deblending (detections of one epoch whose
footprints touch) are kept together when they first appear: they start one
artifact, not several.  A piece that overlaps nothing known while another
piece of the same segment belongs to a known artifact is started as a
separate artifact and reported as its *sibling*: it may be a genuinely new
particle next to a known one (the report's tiny fleck sits 17 px from a
freckle) or a part of the known one that was below the threshold before.
`~acs_flecks.monitor.classify.classify_history` tells them apart by a forced
measurement at the piece in the epoch before it was first detected: a
deficit there means it was part of the known artifact (merged), none means
it is new.

Tracks are built epoch by epoch in observation-time order from the stored
detections only; the result depends on nothing but the set of epochs, which
is why adding the epochs one at a time gives the same artifacts as adding
them all at once (and an epoch added out of order is handled correctly).

>>> import numpy as np
>>> from acs_flecks.monitor.crossmatch import match_positions
>>> match_positions([(10., 10.), (50., 50.)], [(50.5, 49.8), (200., 3.)],
...                 tolerance=2.0)
(array([1]), array([0]))
"""

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from ..detect.footprint import footprint_keys, footprints_touch

__all__ = ['match_positions', 'build_tracks', 'associate_detections',
           'DEFAULT_TOLERANCE']

# Default matching radius in pixels (why 3: see the monitoring stage in
# acs_flecks.parameters, its one definition).
from ..parameters import MONITORING  # noqa: E402

DEFAULT_TOLERANCE = MONITORING.defaults.tolerance


def match_positions(reference, candidates, *, tolerance=DEFAULT_TOLERANCE):
    """
    One-to-one match of two sets of (x, y) positions within a tolerance.

    Parameters
    ----------
    reference, candidates : array-like, shape (N, 2) and (M, 2)
        Positions (x, y) in pixels, in the same frame (one chip).
    tolerance : float
        Largest accepted distance in pixels (must be > 0).

    Returns
    -------
    i_ref, i_cand : `~numpy.ndarray` of int
        Indices of matched pairs, sorted by ``i_ref``; every pair is closer
        than ``tolerance`` and the sum of the pair distances is minimal.
    """
    tolerance = float(tolerance)
    if not np.isfinite(tolerance) or tolerance <= 0:
        raise ValueError(f'tolerance must be a positive number of pixels, '
                         f'got {tolerance!r}')
    ref = np.asarray(reference, dtype=float).reshape(-1, 2)
    cand = np.asarray(candidates, dtype=float).reshape(-1, 2)
    empty = np.array([], dtype=int)
    if len(ref) == 0 or len(cand) == 0:
        return empty, empty.copy()
    # Sparse neighbour search first (a lifetime has ~100 artifacts per chip;
    # a dense N x M matrix is fine, but the tree keeps it O(N log N) when a
    # noisy epoch yields thousands of detections).
    tree = cKDTree(cand)
    pairs = tree.query_ball_point(ref, r=tolerance)
    rows = [i for i, p in enumerate(pairs) if p]
    if not rows:
        return empty, empty.copy()
    cols = sorted({j for i in rows for j in pairs[i]})
    col_index = {j: k for k, j in enumerate(cols)}
    big = 1e6 * tolerance
    cost = np.full((len(rows), len(cols)), big)
    for r, i in enumerate(rows):
        for j in pairs[i]:
            cost[r, col_index[j]] = np.hypot(*(ref[i] - cand[j]))
    rr, cc = linear_sum_assignment(cost)
    keep = cost[rr, cc] <= tolerance
    i_ref = np.asarray(rows)[rr[keep]]
    i_cand = np.asarray(cols)[cc[keep]]
    order = np.argsort(i_ref, kind='stable')
    return i_ref[order], i_cand[order]


def build_tracks(epoch_index, ccdchip, x, y, *, tolerance=DEFAULT_TOLERANCE,
                 footprints=None):
    """
    Link detections of successive epochs into artifact tracks.

    Parameters
    ----------
    epoch_index : array-like of int
        Rank of each detection's epoch in observation-time order (0 = the
        earliest epoch).
    ccdchip : array-like of int
        CCDCHIP of each detection; detections only match on the same chip.
    x, y : array-like of float
        1-indexed full-chip positions.
    tolerance : float
        Matching radius in pixels (detections without a footprint overlap).
    footprints : sequence of str, optional
        Footprint text of each detection (`acs_flecks.detect.footprint`;
        '' where unknown).  Without them, positions only.

    Returns
    -------
    track : `~numpy.ndarray` of int
        Track number of each detection, numbered 0, 1, ... in order of
        creation (epoch, chip, y, x), hence independent of the input order.
        Several detections of one epoch may share a track (pieces of one
        artifact).
    """
    return associate_detections(epoch_index, ccdchip, x, y,
                                tolerance=tolerance,
                                footprints=footprints)[0]


def _groups(keys):
    """Indices of detections grouped by touching footprints (the pieces of
    one segment before deblending); detections without pixels are alone."""
    n = len(keys)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = []
    for k in keys:
        if k:
            xs = [p[0] for p in k]
            ys = [p[1] for p in k]
            boxes.append((min(xs), max(xs), min(ys), max(ys)))
        else:
            boxes.append(None)
    for i in range(n):
        if boxes[i] is None:
            continue
        for j in range(i + 1, n):
            if boxes[j] is None:
                continue
            a, b = boxes[i], boxes[j]
            if a[0] > b[1] + 1 or b[0] > a[1] + 1 or a[2] > b[3] + 1 or \
                    b[2] > a[3] + 1:
                continue
            if footprints_touch(keys[i], keys[j]):
                parent[find(i)] = find(j)
    out = {}
    for i in range(n):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def associate_detections(epoch_index, ccdchip, x, y, *,
                         tolerance=DEFAULT_TOLERANCE, footprints=None):
    """
    Link detections into tracks by footprint overlap, then position.

    Parameters
    ----------
    epoch_index, ccdchip, x, y, tolerance, footprints
        As `build_tracks`.

    Returns
    -------
    track : `~numpy.ndarray` of int
        As `build_tracks`.
    siblings : dict
        ``track -> known track``: tracks started by a deblended piece that
        overlapped nothing known while another piece of the same segment
        belonged to the known track (see the module docstring).
    """
    epoch_index = np.asarray(epoch_index, dtype=int)
    ccdchip = np.asarray(ccdchip, dtype=int)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    track = np.full(n, -1, dtype=int)
    siblings = {}
    if n == 0:
        return track, siblings
    if footprints is None:
        footprints = [''] * n
    keys = [footprint_keys(f) if f else set() for f in footprints]
    # Deterministic processing order whatever the row order of the input.
    order = np.lexsort((x, y, ccdchip, epoch_index))
    members = {}      # track -> list of detection indices
    chip_tracks = {}  # ccdchip -> list of track numbers
    owner = {}        # ccdchip -> {(x, y): track}: known pixels
    root = {}         # merged track -> the track it joined
    n_owned = {}      # track -> number of known pixels
    next_track = 0

    def find(t):
        while t in root:
            t = root[t]
        return t

    def new_track(chip, dets):
        nonlocal next_track
        t = next_track
        next_track += 1
        members[t] = []
        chip_tracks.setdefault(chip, []).append(t)
        for d in dets:
            assign(chip, t, d)
        return t

    def assign(chip, t, d):
        track[d] = t
        members[t].append(d)
        pix = owner.setdefault(chip, {})
        for p in keys[d]:
            if p not in pix:
                pix[p] = t
                n_owned[t] = n_owned.get(t, 0) + 1

    def separate(a, b):
        """Tracks a and b were both detected, apart (not touching), in one
        epoch: two artifacts, never merged."""
        ea, eb = {}, {}
        for d in members[a]:
            ea.setdefault(int(epoch_index[d]), []).append(d)
        for d in members[b]:
            eb.setdefault(int(epoch_index[d]), []).append(d)
        for e in set(ea) & set(eb):
            if not any(footprints_touch(keys[i], keys[j])
                       for i in ea[e] for j in eb[e]):
                return True
        return False

    def merge(chip, a, b):
        a, b = sorted((find(a), find(b)))
        if a == b or separate(a, b):
            return
        root[b] = a
        members[a].extend(members.pop(b))
        n_owned[a] = n_owned.get(a, 0) + n_owned.pop(b, 0)
        chip_tracks[chip].remove(b)
        for k, v in siblings.items():
            if find(v) == b:
                siblings[k] = a
        siblings.pop(b, None)

    bounds = np.flatnonzero(np.diff(epoch_index[order])) + 1
    for group in np.split(order, bounds):
        for chip in np.unique(ccdchip[group]):
            chip = int(chip)
            idx = list(group[ccdchip[group] == chip])   # (y, x) order
            pix = owner.get(chip, {})
            known = list(chip_tracks.get(chip, []))
            # 1. footprint overlap with the known pixels
            best = {}
            joint = []   # detections overlapping several artifacts
            for d in idx:
                counts = {}
                for p in keys[d]:
                    t = pix.get(p)
                    if t is not None:
                        t = find(t)
                        counts[t] = counts.get(t, 0) + 1
                # an overlap counts if most of the detection is known
                # pixels of the artifact, or if its centroid lies on (or
                # within ``tolerance`` of) them: a segment that merges a
                # known freckle with a new neighbour overlaps the freckle
                # but is centred elsewhere, on what is new
                counts = {t: c for t, c in counts.items()
                          if 2 * c >= len(keys[d]) or
                          _near(pix, t, x[d], y[d], tolerance, find)}
                if counts:
                    ref = {t: _ref(members[t], x, y) for t in counts}
                    best[d] = min(counts, key=lambda t: (
                        -counts[t], np.hypot(x[d] - ref[t][0],
                                             y[d] - ref[t][1]), t))
                    # one segment over a good part of two artifacts' known
                    # pixels: one artifact deblended differently before
                    both = [t for t, c in counts.items()
                            if 4 * c >= len(keys[d]) or
                            2 * c >= n_owned.get(t, 0)]
                    if len(both) > 1:
                        joint.append(both)
            # 2. position, one-to-one, for the others (and every detection
            # of a history without footprints): the centroid within
            # ``tolerance`` of the artifact's position or of its pixels
            rest = [d for d in idx if d not in best]
            taken = set(best.values())
            free = [t for t in known if t not in taken]
            if rest and free:
                big = 1e6
                ref = np.array([_ref(members[t], x, y) for t in free])
                cost = np.full((len(free), len(rest)), big)
                for r, t in enumerate(free):
                    dist = np.hypot(x[rest] - ref[r, 0], y[rest] - ref[r, 1])
                    for c, d in enumerate(rest):
                        if dist[c] <= tolerance or (
                                dist[c] <= 4 * tolerance + 20 and
                                _near(pix, t, x[d], y[d], tolerance, find)):
                            cost[r, c] = dist[c]
                if np.any(cost < big):
                    rr, cc = linear_sum_assignment(cost)
                    for r, c in zip(rr, cc):
                        if cost[r, c] < big:
                            best[rest[c]] = free[r]
            for d in idx:
                if d in best:
                    assign(chip, best[d], d)
            for both in joint:
                for t in both[1:]:
                    merge(chip, both[0], t)
            # 3. what is left starts artifacts: one per segment before
            # deblending; a piece of a segment whose other pieces joined a
            # known artifact is reported as that artifact's sibling
            left = [d for d in idx if d not in best]
            if not left:
                continue
            groups = _groups([keys[d] for d in idx])
            for g in groups:
                dets = [idx[k] for k in g]
                new = [d for d in dets if d not in best]
                if not new:
                    continue
                joined = sorted({find(best[d]) for d in dets if d in best})
                if not joined:
                    new_track(chip, new)
                    continue
                # touching new pieces stay together
                for sub in _groups([keys[d] for d in new]):
                    part = [new[k] for k in sub]
                    # the known artifact of the nearest joined piece
                    near = min((d2 for d2 in dets if d2 in best),
                               key=lambda d2: (min(np.hypot(x[d] - x[d2],
                                                            y[d] - y[d2])
                                                   for d in part), d2))
                    t = new_track(chip, part)
                    siblings[t] = find(best[near])
    # merged tracks take their root's number; renumber in creation order
    final = np.array([find(t) if t >= 0 else -1 for t in track], dtype=int)
    numbers = {t: k for k, t in enumerate(sorted(set(final[final >= 0])))}
    track = np.array([numbers.get(t, -1) for t in final], dtype=int)
    siblings = {numbers[find(t)]: numbers[find(v)]
                for t, v in siblings.items()
                if find(t) in numbers and find(v) in numbers and
                find(t) != find(v)}
    return track, siblings


def _near(pix, t, x, y, tolerance, find=lambda t: t):
    """True if a pixel of track ``t`` lies within ``tolerance`` of (x, y)."""
    r = int(np.ceil(tolerance))
    cx, cy = int(round(x)), int(round(y))
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            if dx * dx + dy * dy <= tolerance * tolerance and \
                    pix.get((cx + dx, cy + dy)) is not None and \
                    find(pix[(cx + dx, cy + dy)]) == t:
                return True
    return False


def _ref(rows, x, y):
    """Reference position of a track: the median of its detections."""
    return float(np.median(x[rows])), float(np.median(y[rows]))
