"""
Completeness of the search against injected truth (simulated particles).

A true particle is *found* when the catalog has an artifact on the same
chip within ``radius`` pixels of its position (the LED-shadow position
``x + led_dx``, ``y + led_dy`` when the truth gives those offsets: the
search looks at the post-flash light path).  Completeness is reported in
bins of area (pixels blocking > 5%) and of depth (peak blocking).

>>> from acs_flecks.detect import completeness      # doctest: +SKIP
>>> completeness(catalog, sim.truth.artifacts)      # doctest: +SKIP
"""

import astropy.units as u
import numpy as np
from astropy.table import QTable

__all__ = ['match_truth', 'completeness']


def _plain(col):
    return np.asarray(getattr(col, 'value', col), dtype=float)


def match_truth(catalog, truth, *, radius=3.0, led_frame=True):
    """
    For each true particle, the row index of its catalog match or -1.

    Parameters
    ----------
    catalog : `~astropy.table.QTable`
        ``ccdchip``, ``x``, ``y`` (1-indexed chip frame).
    truth : `~astropy.table.QTable`
        ``ccdchip``, ``x``, ``y`` and optionally ``led_dx``, ``led_dy``.
    radius : float
        Match radius in pixels.
    led_frame : bool
        Compare with the LED-shadow position (truth + ``led_dx/dy``).

    Returns
    -------
    `~numpy.ndarray` of int
    """
    tx, ty = _plain(truth['x']), _plain(truth['y'])
    if led_frame and 'led_dx' in truth.colnames:
        tx = tx + _plain(truth['led_dx'])
        ty = ty + _plain(truth['led_dy'])
    out = np.full(len(truth), -1, dtype=int)
    if len(catalog) == 0:
        return out
    cx, cy = _plain(catalog['x']), _plain(catalog['y'])
    cchip = np.asarray(catalog['ccdchip'], dtype=int)
    for i, chip in enumerate(np.asarray(truth['ccdchip'], dtype=int)):
        d2 = np.where(cchip == chip, (cx - tx[i]) ** 2 + (cy - ty[i]) ** 2,
                      np.inf)
        j = int(np.argmin(d2))
        if d2[j] <= radius ** 2:
            out[i] = j
    return out


def completeness(catalog, truth, *, radius=3.0, area_bins=(0, 10, 25, 50,
                 100, 200, 400, 10000), depth_bins=(0, 0.1, 0.2, 0.3, 0.5,
                 0.7, 1.0), depth_column='peak_blocking', led_frame=True):
    """
    Fraction of true particles found, by area and by depth.

    Parameters
    ----------
    catalog : `~astropy.table.QTable`
        Output of `~acs_flecks.detect.find_artifacts` (one file, or several
        stacked: duplicates at one position count once).
    truth : `~astropy.table.QTable`
        True particles (``ccdchip``, ``x``, ``y``, ``area``, and
        ``depth_column``), e.g. ``SimulationTruth.artifacts`` restricted to
        those present in the searched epoch.
    radius : float
        Match radius (pixels).
    area_bins : sequence of float
        Edges of the area bins (pixels blocking > 5%).
    depth_bins : sequence of float
        Edges of the depth bins (``depth_column``, 0-1).
    depth_column : str
        Truth column giving the depth.
    led_frame : bool
        See `match_truth`.

    Returns
    -------
    `~astropy.table.QTable`
        One row per bin: ``quantity`` ('area' or 'depth'), ``lo``, ``hi``,
        ``n_true``, ``n_found``, ``completeness`` (NaN for empty bins);
        ``meta['overall']`` is the total fraction and ``meta['found']``
        the per-particle result.
    """
    found = match_truth(catalog, truth, radius=radius,
                        led_frame=led_frame) >= 0
    rows = []
    for name, column, edges in (('area', 'area', area_bins),
                                ('depth', depth_column, depth_bins)):
        if column not in truth.colnames:
            continue
        values = _plain(truth[column])
        edges = np.asarray(edges, dtype=float)
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (values >= lo) & (values < hi) if hi != edges[-1] else \
                (values >= lo) & (values <= hi)
            n = int(sel.sum())
            k = int(found[sel].sum())
            rows.append((name, lo, hi, n, k, k / n if n else np.nan))
    table = QTable(rows=rows, names=('quantity', 'lo', 'hi', 'n_true',
                                     'n_found', 'completeness'),
                   dtype=('U8', float, float, int, int, float))
    table['completeness'].unit = u.dimensionless_unscaled
    table.meta['overall'] = float(found.mean()) if len(found) else np.nan
    table.meta['found'] = [bool(f) for f in found]
    table.meta['radius'] = float(radius)
    return table
