"""
Evaluation against a simulation's truth: what acs_flecks found compared
with what `acs_flecks.simulate` injected.  Only simulated data have a truth,
so none of this is part of the analysis chain; the demo
(`acs_flecks.demo`), the tests and the benchmarks use it.

* Completeness of the search (`match_truth`, `completeness`).  A true
  particle is *found* when the catalog has an artifact on the same chip
  within ``radius`` pixels of its position (the LED-shadow position
  ``x + led_dx``, ``y + led_dy`` when the truth gives those offsets: the
  search looks at the post-flash light path).  Completeness is reported in
  bins of area (pixels blocking > 5%) and of depth (peak blocking).
* The chain's flecks against the true flecks (`compare_with_truth`).
* The whole monitoring catalogue against every simulated artifact
  (`compare_catalogue`, `catalogue_summary`, `format_catalogue_summary`).
* Measured transmissivity against the truth in the same aperture
  (`compare_transmissivity`).

>>> from acs_flecks.simulate.evaluation import completeness  # doctest: +SKIP
>>> completeness(catalog, sim.truth.artifacts)              # doctest: +SKIP
"""

import astropy.units as u
import numpy as np
from astropy.table import QTable

__all__ = ['match_truth', 'completeness', 'compare_with_truth',
           'compare_catalogue', 'catalogue_summary',
           'format_catalogue_summary', 'compare_transmissivity',
           'CATALOGUE_MATCH_RADIUS']

#: Largest distance (pixels) between a catalogue entry and the LED-frame
#: position of a simulated artifact for the two to be the same.
CATALOGUE_MATCH_RADIUS = 6.0


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


def compare_with_truth(result, truth, *, match_radius=5.0):
    """
    Compare the chain's findings with the simulation truth.

    Parameters
    ----------
    result : `~acs_flecks.pipeline.ChainResult`
    truth : `~acs_flecks.simulate.SimulationTruth`
    match_radius : float
        Largest distance (pixels) between a found and a true position.

    Returns
    -------
    `~astropy.table.QTable`
        One row per true fleck: truth and found position, status, date of
        origin bracket, pixels below 50% (truth and found).
    """
    def num(col):
        return np.asarray(getattr(col, 'value', col), dtype=float)

    arts = truth.artifacts
    flecks = arts[np.asarray(arts['kind']) == 'fleck']
    found = result.artifacts
    rows = []
    for t in flecks:
        fx = fy = np.nan
        status = 'not found'
        first = absent = ''
        nbad = 0
        if len(found):
            sel = np.asarray(found['ccdchip']) == int(t['ccdchip'])
            xs, ys = num(found['x']), num(found['y'])
            tx, ty = float(num(t['x'])), float(num(t['y']))
            d = np.hypot(xs - tx, ys - ty)
            d[~sel] = np.inf
            i = int(np.argmin(d))
            if d[i] <= match_radius:
                fx, fy = xs[i], ys[i]
                status = str(found['status'][i])
                first = str(found['first_seen'][i])[:10]
                absent = str(found['last_seen_absent'][i])[:10]
                if result.bad_pixels is not None and len(result.bad_pixels):
                    bp = result.bad_pixels
                    near = (np.asarray(bp['ccdchip']) == int(t['ccdchip'])) & \
                        (np.hypot(num(bp['x']) - fx, num(bp['y']) - fy) < 25)
                    nbad = int(near.sum())
        rows.append((str(t['id']), int(t['ccdchip']), float(num(t['x'])),
                     float(num(t['y'])), fx, fy, status, absent, first,
                     str(t['appear']), int(num(t['n_below_50'])), nbad))
    return QTable(rows=rows, names=(
        'fleck', 'ccdchip', 'x_true', 'y_true', 'x_found', 'y_found',
        'status', 'last_seen_absent', 'first_seen', 'appeared_true',
        'n_below_50_true', 'n_below_50_found'))


def compare_catalogue(artifacts, truth_artifacts, *,
                      radius=CATALOGUE_MATCH_RADIUS):
    """
    Compare the whole monitoring catalogue with the simulation's truth.

    Every catalogue entry is matched to the nearest simulated artifact of
    its chip at its **LED-frame** position (``x + led_dx``, ``y +
    led_dy``: the post-flash sees a particle's shadow shifted from the lamp
    position) within ``radius`` pixels.

    Parameters
    ----------
    artifacts : `~astropy.table.Table`
        The monitor's artifacts (``artifact_id``, ``ccdchip``, ``x``,
        ``y``, ``status``).
    truth_artifacts : `~astropy.table.Table`
        ``SimulationTruth.artifacts`` (``id``, ``kind``, ``ccdchip``, ``x``,
        ``y``, ``area``, ``peak_blocking``, ``led_dx``, ``led_dy``).
    radius : float, optional
        Match radius in pixels.

    Returns
    -------
    per_truth : `~astropy.table.QTable`
        One row per simulated artifact: ``truth_id``, ``kind``,
        ``ccdchip``, ``x``, ``y`` (LED frame), ``area`` (pixels blocking
        > 5%), ``depth`` (peak blocking, percent), ``n_entries`` (0: missed,
        1: recovered, > 1: split), ``artifact_id`` (the nearest entry, or
        ''), ``status`` (its status, or 'missed').
    per_entry : `~astropy.table.QTable`
        One row per catalogue entry: ``artifact_id``, ``truth_id`` (''
        for a false entry), ``distance`` (pix), ``role`` ('match',
        'duplicate' -- a further entry of an artifact that already has a
        nearer one -- or 'false').
    """
    tx = _plain(truth_artifacts['x']) + _plain(truth_artifacts['led_dx'])
    ty = _plain(truth_artifacts['y']) + _plain(truth_artifacts['led_dy'])
    tchip = np.asarray(truth_artifacts['ccdchip'], dtype=int)
    tid = [str(v) for v in truth_artifacts['id']]
    n_art = len(artifacts)
    ax = _plain(artifacts['x']) if n_art else np.zeros(0)
    ay = _plain(artifacts['y']) if n_art else np.zeros(0)
    achip = np.asarray(artifacts['ccdchip'], dtype=int) if n_art else \
        np.zeros(0, int)
    best = np.full(n_art, -1)
    dist = np.full(n_art, np.nan)
    for i in range(n_art):
        d = np.hypot(tx - ax[i], ty - ay[i])
        d[tchip != achip[i]] = np.inf
        if len(d) and np.min(d) <= radius:
            best[i] = int(np.argmin(d))
            dist[i] = float(np.min(d))
    role = np.array(['false'] * n_art, dtype='U9')
    entries = {}
    for i in np.flatnonzero(best >= 0):
        entries.setdefault(int(best[i]), []).append(i)
    nearest = {}
    for j, idx in entries.items():
        idx = sorted(idx, key=lambda i: dist[i])
        nearest[j] = idx[0]
        role[idx[0]] = 'match'
        for i in idx[1:]:
            role[i] = 'duplicate'
    rows = []
    for j in range(len(tid)):
        n = len(entries.get(j, []))
        k = nearest.get(j)
        rows.append((tid[j], str(truth_artifacts['kind'][j]), int(tchip[j]),
                     float(tx[j]), float(ty[j]),
                     float(_plain(truth_artifacts['area'])[j]),
                     100.0 * float(_plain(truth_artifacts['peak_blocking'])[j]),
                     n, '' if k is None else str(artifacts['artifact_id'][k]),
                     'missed' if k is None else str(artifacts['status'][k])))
    per_truth = QTable(rows=rows, names=(
        'truth_id', 'kind', 'ccdchip', 'x', 'y', 'area', 'depth',
        'n_entries', 'artifact_id', 'status'),
        dtype=('U16', 'U8', int, float, float, float, float, int, 'U16',
               'U16')) if rows else QTable(names=(
                   'truth_id', 'kind', 'ccdchip', 'x', 'y', 'area', 'depth',
                   'n_entries', 'artifact_id', 'status'),
                   dtype=('U16', 'U8', int, float, float, float, float, int,
                          'U16', 'U16'))
    for name in ('x', 'y'):
        per_truth[name].unit = u.pix
    per_truth['area'].unit = u.pix ** 2
    per_truth['depth'].unit = u.percent
    per_entry = QTable({
        'artifact_id': np.array([str(v) for v in artifacts['artifact_id']],
                                dtype='U16') if n_art else
        np.zeros(0, 'U16'),
        'truth_id': np.array([tid[j] if j >= 0 else '' for j in best],
                             dtype='U16'),
        'distance': dist * u.pix,
        'role': role})
    return per_truth, per_entry


def catalogue_summary(per_truth, per_entry):
    """
    The numbers of a `compare_catalogue` result.

    Returns
    -------
    dict
        ``n_truth``, ``n_entries``, ``recovered`` (artifacts with at least
        one entry), ``completeness`` (fraction), ``split`` (artifacts with
        more than one entry), ``duplicates`` (the extra entries),
        ``duplicate_fraction`` (of the catalogue), ``false`` (entries
        matching no artifact), ``status`` (status -> count over the
        simulated artifacts, 'missed' included), ``by_kind`` (kind ->
        (recovered, total)).
    """
    n_truth = len(per_truth)
    n_entries = len(per_entry)
    n = np.asarray(per_truth['n_entries'], dtype=int)
    role = np.asarray(per_entry['role'])
    dup = int(np.sum(role == 'duplicate'))
    names, counts = np.unique(np.asarray(per_truth['status']),
                              return_counts=True)
    by_kind = {}
    for kind in sorted(set(np.asarray(per_truth['kind']).tolist())):
        sel = np.asarray(per_truth['kind']) == kind
        by_kind[kind] = (int(np.sum(n[sel] > 0)), int(np.sum(sel)))
    return {'n_truth': n_truth, 'n_entries': n_entries,
            'recovered': int(np.sum(n > 0)),
            'completeness': float(np.mean(n > 0)) if n_truth else np.nan,
            'split': int(np.sum(n > 1)), 'duplicates': dup,
            'duplicate_fraction': dup / n_entries if n_entries else 0.0,
            'false': int(np.sum(role == 'false')),
            'status': {str(k): int(c) for k, c in zip(names, counts)},
            'by_kind': by_kind}


def format_catalogue_summary(summary):
    """One paragraph of text for a `catalogue_summary`."""
    s = summary
    kinds = ', '.join(f'{k}s {r}/{t}' for k, (r, t) in s['by_kind'].items())
    status = ', '.join(f'{c} {k}' for k, c in sorted(s['status'].items()))
    return (f"{s['n_entries']} catalogue entries for {s['n_truth']} "
            f"simulated artifacts: {s['recovered']} recovered "
            f"({100 * s['completeness']:.0f}%; {kinds}), {s['split']} split "
            f"into several entries ({s['duplicates']} duplicate entries, "
            f"{100 * s['duplicate_fraction']:.1f}% of the catalogue), "
            f"{s['false']} entries matching no artifact; status of the "
            f"simulated artifacts: {status}.")


def _truth_id(truth, ccdchip, x, y, radius=5.0):
    arts = truth.artifacts
    xs = np.asarray(getattr(arts['x'], 'value', arts['x']), dtype=float)
    ys = np.asarray(getattr(arts['y'], 'value', arts['y']), dtype=float)
    d = np.hypot(xs - x, ys - y)
    d[np.asarray(arts['ccdchip']) != ccdchip] = np.inf
    i = int(np.argmin(d))
    return str(arts['id'][i]) if d[i] <= radius else None


def compare_transmissivity(result, truth):
    """
    Measured transmissivity per filter against the simulation truth.

    The truth is the mean of the true transmissivity map over the **same**
    master aperture the measurement used (mapped through its chip-frame
    origin; aperture pixels outside the truth map have transmissivity 1).

    Parameters
    ----------
    result : `~acs_flecks.pipeline.ChainResult`
    truth : `~acs_flecks.simulate.SimulationTruth`

    Returns
    -------
    `~astropy.table.QTable`
        ``fleck``, ``filter``, ``measured``, ``error``, ``truth``, ``pull``
        ((measured - truth) / error).
    """
    rows = []
    for ch in result.characterizations.values():
        res = ch.transmissivity
        ap = np.asarray(res.master_aperture, dtype=bool)
        ox, oy = (int(round(v)) for v in res.origin)
        centre_y, centre_x = np.argwhere(ap).mean(axis=0)
        tid = _truth_id(truth, int(res.ccdchip), ox + centre_x, oy + centre_y)
        if tid is None:
            continue
        table = res.to_table()
        for row in table:
            tmap, (x0, y0) = truth.transmissivity_map(tid, str(row['filter']))
            vals = []
            for i, j in np.argwhere(ap):
                ti, tj = oy + i - int(y0), ox + j - int(x0)
                inside = 0 <= ti < tmap.shape[0] and 0 <= tj < tmap.shape[1]
                vals.append(tmap[ti, tj] if inside else 1.0)
            t_true = float(np.mean(vals))
            meas = float(row['transmissivity'])
            err = float(row['transmissivity_err'])
            rows.append((tid, str(row['filter']), meas, err, t_true,
                         (meas - t_true) / err if err > 0 else np.nan))
    return QTable(rows=rows, names=('fleck', 'filter', 'measured', 'error',
                                    'truth', 'pull'))
