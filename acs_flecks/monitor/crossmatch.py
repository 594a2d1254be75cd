"""
Cross-match artifacts between epochs (report §2, §7).

Each epoch's detections are matched, per chip, to the artifacts already
known from the earlier epochs: a detection and an artifact match when their
1-indexed full-chip positions are within ``tolerance`` pixels.  The match is
one-to-one and minimizes the total distance (Hungarian assignment,
`scipy.optimize.linear_sum_assignment`), so two neighbouring freckles never
swap identities and a fleck that splits into two segments keeps one track
and starts another.

A track's reference position is the median of the positions of all its
detections so far, so slow centroid jitter does not make it drift away.

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

__all__ = ['match_positions', 'build_tracks', 'DEFAULT_TOLERANCE']

# Default matching radius in pixels (why 3: see acs_flecks.defaults, its
# one definition, light for the command line's --help).
from ..defaults import DEFAULT_TOLERANCE  # noqa: E402


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


def build_tracks(epoch_index, ccdchip, x, y, *, tolerance=DEFAULT_TOLERANCE):
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
        Matching radius in pixels.

    Returns
    -------
    track : `~numpy.ndarray` of int
        Track number of each detection, numbered 0, 1, ... in order of
        creation (epoch, chip, y, x), hence independent of the input order.
    """
    epoch_index = np.asarray(epoch_index, dtype=int)
    ccdchip = np.asarray(ccdchip, dtype=int)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    track = np.full(n, -1, dtype=int)
    if n == 0:
        return track
    # Deterministic processing order whatever the row order of the input.
    order = np.lexsort((x, y, ccdchip, epoch_index))
    members = {}     # track -> list of detection indices
    chip_tracks = {}  # ccdchip -> list of track numbers
    next_track = 0
    bounds = np.flatnonzero(np.diff(epoch_index[order])) + 1
    for group in np.split(order, bounds):
        for chip in np.unique(ccdchip[group]):
            idx = group[ccdchip[group] == chip]
            tracks = chip_tracks.setdefault(int(chip), [])
            if tracks:
                ref = np.array([(np.median(x[members[t]]),
                                 np.median(y[members[t]])) for t in tracks])
            else:
                ref = np.empty((0, 2))
            i_ref, i_new = match_positions(
                ref, np.column_stack([x[idx], y[idx]]), tolerance=tolerance)
            matched = np.zeros(len(idx), dtype=bool)
            for r, c in zip(i_ref, i_new):
                t = tracks[r]
                track[idx[c]] = t
                members[t].append(idx[c])
                matched[c] = True
            for c in np.flatnonzero(~matched):  # already in (y, x) order
                track[idx[c]] = next_track
                members[next_track] = [idx[c]]
                tracks.append(next_track)
                next_track += 1
    return track
