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
simulation's truth (`acs_flecks.simulate.evaluation`).
"""

import logging
import os
import time

import numpy as np
from astropy.io import fits

from .utils import atomic_output

__all__ = ['run_demo', 'write_reference_bpixtab']

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
        See `acs_flecks.simulate.evaluation.compare_with_truth`.
    timings : dict
        Seconds per stage.
    truth : `~acs_flecks.simulate.SimulationTruth`
        The simulation's truth.
    """
    from .pipeline import run_pipeline
    from .simulate import simulate_scenario
    from .simulate.evaluation import (catalogue_summary, compare_catalogue,
                                      compare_with_truth,
                                      format_catalogue_summary)

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
    from .html import regenerate_figures
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
    from .html import write_chain_report
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
