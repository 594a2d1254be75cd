"""
The built-in demonstration: the report's discovery timeline, end to end.

`run_demo` simulates the 2017 discovery scenario (`acs_flecks.simulate`):
one combined short flashed dark (DKC) per anneal cycle of 2017 as full
two-chip frames, lamp flats in the report's filters (December 2016 and
December 2017), un-flashed darks around the May 2017 anneal and EPER images
of May and November 2017 (windows around every fleck, to keep the demo's
disk use reasonable), one flashed long daily dark of the 2017-06-26 cycle
(a window around the large fleck: Figures 1 and 2), plus a WFC reference bad-pixel table reached through
``jref$`` as CALACS would.  It then runs the whole chain
(`acs_flecks.pipeline.run_pipeline`) and compares what was found with the
simulation's truth.
"""

import logging
import os
import time

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from .utils import atomic_output

__all__ = ['run_demo', 'write_reference_bpixtab', 'compare_with_truth',
           'compare_catalogue', 'catalogue_summary', 'compare_transmissivity']

#: Largest distance (pixels) between a catalogue entry and the LED-frame
#: position of a simulated artifact for the two to be the same.
CATALOGUE_MATCH_RADIUS = 6.0

log = logging.getLogger(__name__)


def write_reference_bpixtab(path, *, seed=0, n_rows=400):
    """
    Write a WFC bad-pixel table in the real CRDS format (a stand-in for the
    current reference, which cannot be downloaded here).

    Columns and types follow the delivered ACS tables: ``CCDAMP`` (3A),
    ``PIX1``, ``PIX2``, ``LENGTH``, ``AXIS``, ``VALUE``, ``CCDCHIP``,
    ``CCDGAIN`` (int16), extension ``BPX``.  Rows: bad columns (AXIS=2) and
    short runs of bad pixels (AXIS=1) on both chips, flag 4, away from the
    report's fleck positions.

    Parameters
    ----------
    path : str
        Output file (written atomically).
    seed : int, optional
        Random seed.
    n_rows : int, optional
        Number of rows.

    Returns
    -------
    str
    """
    rng = np.random.default_rng(seed + 7919)
    rows = []
    flecks = [(2, 1521, 1773), (1, 3510, 355), (1, 1850, 1755)]
    while len(rows) < n_rows:
        chip = int(rng.integers(1, 3))
        axis = 2 if rng.random() < 0.25 else 1
        x = int(rng.integers(1, 4097))
        y = int(rng.integers(1, 2049))
        length = int(rng.integers(20, 400)) if axis == 2 else \
            int(rng.integers(1, 6))
        # keep every run on the chip: CALACS would clip it silently, and
        # acs_flecks refuses such a reference
        length = min(length, (2048 - y + 1) if axis == 2 else (4096 - x + 1))
        near = any(c == chip and abs(x - fx) < 60 and
                   (abs(y - fy) < 60 or axis == 2)
                   for c, fx, fy in flecks)
        if near:
            continue
        rows.append(('N/A', x, y, length, axis, 4, chip, -999))
    rows.sort(key=lambda r: (r[6], r[2], r[1]))
    cols = [fits.Column(name='CCDAMP', format='3A',
                        array=[r[0] for r in rows])]
    for i, name in enumerate(('PIX1', 'PIX2', 'LENGTH', 'AXIS', 'VALUE',
                              'CCDCHIP', 'CCDGAIN'), start=1):
        cols.append(fits.Column(name=name, format='I',
                                array=np.array([r[i] for r in rows],
                                               dtype=np.int16)))
    ph = fits.Header()
    ph['INSTRUME'] = 'ACS'
    ph['DETECTOR'] = 'WFC'
    ph['FILETYPE'] = 'BAD PIXELS'
    ph['USEAFTER'] = 'Mar 01 2002 00:00:00'
    ph['PEDIGREE'] = 'INFLIGHT 01/03/2002 01/03/2002'
    ph['DESCRIP'] = 'Simulated WFC bad pixel table (acs_flecks demo)'
    ph['COMMENT'] = 'Synthetic stand-in for the current WFC bpixtab.'
    hdul = fits.HDUList([fits.PrimaryHDU(header=ph),
                         fits.BinTableHDU.from_columns(cols, name='BPX')])
    with atomic_output(path) as tmp:
        hdul.writeto(tmp)
    return path


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


def _num(col):
    return np.asarray(getattr(col, 'value', col), dtype=float)


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
    import astropy.units as u
    tx = _num(truth_artifacts['x']) + _num(truth_artifacts['led_dx'])
    ty = _num(truth_artifacts['y']) + _num(truth_artifacts['led_dy'])
    tchip = np.asarray(truth_artifacts['ccdchip'], dtype=int)
    tid = [str(v) for v in truth_artifacts['id']]
    n_art = len(artifacts)
    ax = _num(artifacts['x']) if n_art else np.zeros(0)
    ay = _num(artifacts['y']) if n_art else np.zeros(0)
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
                     float(_num(truth_artifacts['area'])[j]),
                     100.0 * float(_num(truth_artifacts['peak_blocking'])[j]),
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


def run_demo(outdir='acs_flecks_demo', *, seed=0, window=None, workers=None,
             scheduler='', lamp_window=200):
    """
    Simulate the discovery scenario and run the whole chain on it.

    Parameters
    ----------
    outdir : str
        Everything goes here: ``data/`` (simulated inputs and truth),
        ``jref/`` (the reference bpixtab), ``results/`` (the chain's
        outputs and ``report.html``).
    seed : int, optional
        Simulation seed.
    window : int, optional
        Simulate the DKCs as windows of this size instead of full frames
        (faster, less disk; fleck3 is then outside the windows).
    workers : int, optional
        Dask workers of the detection.
    scheduler : str, optional
        Dask scheduler address ('' local, 'serial' none).
    lamp_window : int, optional
        Window size of the flats, EPER images, un-flashed darks and the
        daily dark (EPER windows around every fleck).

    Returns
    -------
    result : `~acs_flecks.pipeline.ChainResult`
    comparison : `~astropy.table.QTable`
        See `compare_with_truth`.
    timings : dict
        Seconds per stage.
    truth : `~acs_flecks.simulate.SimulationTruth`
        The simulation's truth.
    """
    from .pipeline import run_pipeline
    from .simulate import simulate_scenario

    from .simulate.core import _check_window
    from .utils import check_output_directory
    from .validate import check_integer
    # every parameter and the directory before anything is written
    _check_window(window)
    _check_window(lamp_window)
    check_integer(seed, 'seed', minimum=0)
    check_integer(workers, 'workers', minimum=1, allow_none=True)
    check_output_directory(outdir, option='outdir')

    timings = {}
    data = os.path.join(outdir, 'data')
    t0 = time.perf_counter()
    dkc = simulate_scenario('discovery', os.path.join(data, 'dkc'), seed=seed,
                            window=window, kinds=['dkc'])
    timings['simulate DKCs'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lamp = simulate_scenario('discovery', os.path.join(data, 'lamp'),
                             seed=seed, window=lamp_window,
                             kinds=['flat', 'eper', 'dark', 'daily'],
                             eper_fleck_windows=True)
    timings['simulate lamp images and darks'] = time.perf_counter() - t0

    jref = os.path.join(outdir, 'jref')
    os.makedirs(jref, exist_ok=True)
    write_reference_bpixtab(os.path.join(jref, '25g1256nj_bpx.fits'),
                            seed=seed)
    os.environ['jref'] = jref + os.sep

    def paths(res, kind):
        files = res.files
        return [str(p) for p, k in zip(files['path'], files['kind'])
                if k == kind]

    t0 = time.perf_counter()
    result = run_pipeline(
        paths(dkc, 'dkc'), flats=paths(lamp, 'flat'),
        unflashed=paths(lamp, 'dark'), eper=paths(lamp, 'eper'),
        reference='auto', outdir=os.path.join(outdir, 'results'),
        workers=workers, scheduler=scheduler, overwrite=True)
    timings['chain (find, monitor, characterize, bpixtab, report)'] = \
        time.perf_counter() - t0
    comparison = compare_with_truth(result, dkc.truth)

    # The report's Figures 1-18 from the same data (the flecks at the
    # report's positions, where the simulator put them).
    from .plotting.report_figures import regenerate_figures
    t0 = time.perf_counter()
    figures = regenerate_figures(
        outdir=os.path.join(outdir, 'results', 'report_figures'),
        dkc=paths(dkc, 'dkc'), unflashed=paths(lamp, 'dark'),
        daily_darks=paths(lamp, 'daily'),
        flats=[p for p in paths(lamp, 'flat')],
        eper=paths(lamp, 'eper'), history=result.outputs['history'],
        report=result.report)
    timings["report's Figures 1-18"] = time.perf_counter() - t0
    result.outputs['figures'] = figures['index']

    # the whole catalogue against the truth, printed and in the report
    from .chain_report import write_chain_report
    from .utils import write_ecsv
    observed = dkc.truth.artifacts
    if window and 'in_window' in observed.colnames:
        # only the artifacts the windows observe can be found
        observed = observed[np.asarray(observed['in_window'], dtype=bool)]
    per_truth, per_entry = compare_catalogue(result.artifacts, observed)
    summary = catalogue_summary(per_truth, per_entry)
    truth_path = os.path.join(outdir, 'results', 'truth_comparison.ecsv')
    write_ecsv(per_truth, truth_path)
    result.outputs['truth_comparison'] = truth_path
    result.catalogue = {'summary': format_catalogue_summary(summary),
                        'numbers': summary, 'per_truth': per_truth,
                        'per_entry': per_entry, 'ecsv': truth_path}
    write_chain_report(result, history=result.outputs['history'],
                       figdir=os.path.join(outdir, 'results', 'figures'),
                       inputs=dict(input=paths(dkc, 'dkc'),
                                   flats=paths(lamp, 'flat'),
                                   unflashed=paths(lamp, 'dark'),
                                   eper=paths(lamp, 'eper'),
                                   reference=os.path.join(
                                       jref, '25g1256nj_bpx.fits')),
                       figures_index=figures['index'],
                       truth=result.catalogue)
    return result, comparison, timings, lamp.truth
