"""
Benchmark of ``acs_flecks monitor`` on simulated full-frame epochs.

Simulates the discovery timeline (full 2048 x 4096 chips, one DKC per
anneal cycle), monitors it on a local dask.distributed cluster with 1 and
then 2 worker processes (one thread each: one chip per worker at a time),
and prints:

* epochs per minute for each worker count and the scaling ratio;
* the peak resident memory of each worker process;
* whether both runs gave identical artifacts, and the discovery result
  (new artifacts with their date-of-origin bracket).

Usage::

    python benchmarks/bench_monitor.py [--epochs 6] [--outdir DIR] [--keep]

The epochs are the cycles around the date of origin (2017-05-05), so the
result also checks the report's timeline at full frame.
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

from acs_flecks.monitor import monitor_epochs
from acs_flecks.simulate import simulate_scenario
from acs_flecks.simulate.scenarios import ANNEAL_CYCLE_STARTS


def _peak_rss_mb():
    # ru_maxrss is in kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_once(files, db, n_workers):
    from distributed import Client, LocalCluster
    t0 = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1,
                      processes=True, dashboard_address=None,
                      memory_limit='auto') as cluster, \
            Client(cluster) as client:
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        art = monitor_epochs(files, db=db, scheduler=client, progress=False)
        elapsed = time.perf_counter() - t1
        peaks = client.run(_peak_rss_mb)
    return art, elapsed, startup, peaks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--epochs', type=int, default=6,
                        help='number of anneal-cycle epochs (default 6)')
    parser.add_argument('--outdir', help='where to simulate (default: tmp)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the simulated files')
    args = parser.parse_args(argv)
    origin = ANNEAL_CYCLE_STARTS.index('2017-05-05')
    lo = max(0, origin - args.epochs // 2)
    cycles = list(ANNEAL_CYCLE_STARTS[lo:lo + args.epochs])
    outdir = args.outdir or tempfile.mkdtemp(prefix='bench_monitor_')
    try:
        t0 = time.perf_counter()
        res = simulate_scenario('discovery', outdir, seed=0, kinds=['dkc'],
                                epochs=cycles)
        files = [str(p) for p in res.files['path']]
        print(f'simulated {len(files)} full-frame DKC epochs '
              f'({cycles[0]} .. {cycles[-1]}) in '
              f'{time.perf_counter() - t0:.1f} s; '
              f'{os.path.getsize(files[0]) / 2**20:.0f} MB each')
        results = {}
        for n in (1, 2):
            db = os.path.join(outdir, f'history_{n}.sqlite')
            if os.path.exists(db):
                os.remove(db)
            art, elapsed, startup, peaks = run_once(files, db, n)
            rate = len(files) / elapsed * 60.0
            results[n] = (art, rate)
            print(f'workers={n}: {elapsed:.1f} s for {len(files)} epochs '
                  f'= {rate:.2f} epochs/min (cluster start {startup:.1f} s); '
                  'peak memory per worker: ' +
                  ', '.join(f'{v:.0f} MB' for v in peaks.values()))
        print(f'scaling 2 vs 1 worker: {results[2][1] / results[1][1]:.2f}x '
              f'(ideal 2.00x; cores available: {os.cpu_count()}; load '
              f'average now: {os.getloadavg()[0]:.1f})')
        a1, a2 = results[1][0], results[2][0]
        same = (len(a1) == len(a2) and
                all(np.array_equal(np.asarray(a1[c]), np.asarray(a2[c]))
                    for c in ('artifact_id', 'status', 'first_seen')) and
                np.array_equal(a1['x'].value, a2['x'].value))
        print(f'1-worker and 2-worker results identical: {same}')
        truth = res.truth.artifacts
        print(f'artifacts: {len(a1)} ('
              + ', '.join(f'{s} {np.sum(a1["status"] == s)}'
                          for s in ('stable', 'new', 'vanished', 'changed'))
              + f'); truth: {len(truth)} artifacts of which '
              f'{np.sum(truth["kind"] == "fleck")} flecks')
        for r in a1[a1['status'] == 'new']:
            d = np.hypot(truth['x'].value - r['x'].value,
                         truth['y'].value - r['y'].value)
            d[np.asarray(truth['ccdchip']) != r['ccdchip']] = np.inf
            k = int(np.argmin(d))
            name = truth['id'][k] if d[k] < 5 else '(no truth match!)'
            print(f'  new: {name} WFC{r["ccdchip"]} ({r["x"].value:.1f}, '
                  f'{r["y"].value:.1f}) between {r["last_seen_absent"]} and '
                  f'{r["first_seen"]}')
    finally:
        if not args.keep and not args.outdir:
            shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    warnings.simplefilter('default')
    sys.exit(main())
