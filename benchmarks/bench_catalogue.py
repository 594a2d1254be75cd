"""
One catalogue entry per physical artifact: the monitoring catalogue against
the simulator's truth (issue #11).

Simulates the discovery timeline (full 2048 x 4096 chips, one DKC per
anneal cycle; 100 freckles and the report's three flecks), monitors it
(``acs_flecks monitor``, in-process), and compares every catalogue entry
with the simulated artifacts at their LED-frame positions (6 px,
`acs_flecks.simulate.evaluation.compare_catalogue`).  Prints the number of
entries, artifacts recovered, split artifacts and duplicate entries, false
entries, and the status of the simulated artifacts, for

* ``footprint``: the current cross-match (footprint overlap, deblended
  pieces kept together, siblings checked by forced measurement);
* ``centroid``: the same detections cross-matched by centroid distance only
  (3 px, what acs_flecks did before issue #11) -- the footprints are
  ignored.

Usage::

    python benchmarks/bench_catalogue.py [--seed 0] [--outdir DIR] [--keep]
    python benchmarks/bench_catalogue.py --history DIR/history.sqlite \\
        --truth DIR/sim/truth_artifacts.ecsv   # reuse a monitored history

The detection (~1 min per 12 epochs on one core) runs once; both
cross-matches use the same stored detections.
"""

import argparse
import glob
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
from astropy.table import QTable, Table

from acs_flecks.simulate.evaluation import (catalogue_summary,
                                            compare_catalogue,
                                            format_catalogue_summary)
from acs_flecks.monitor import HistoryDatabase, monitor_epochs
from acs_flecks.monitor.classify import classify_history


def _classify(db_path, *, footprints):
    with HistoryDatabase(db_path, readonly=True) as db:
        if footprints:
            return db.classify()[0]
        ep = db.epochs()
        cov = db.coverage()
        epochs = Table({'epoch_id': np.asarray(ep['epoch_id'], dtype=int),
                        'obs_mjd': np.asarray(ep['obs_mjd'], dtype=float)})
        epochs['coverage'] = [cov.get(int(e), {}) for e in ep['epoch_id']]
        det = db.detections()
        det.remove_column('footprint')
        verify, _ = db._verifier(False)
        params = db.find_parameters or {}
        margin = int(params.get('median_size', 15)) // 2 + 1
        return classify_history(epochs, det, verify=verify,
                                edge_margin=margin)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--outdir', default=None)
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--history', default=None,
                    help='an existing monitored history (skips simulation '
                    'and detection)')
    ap.add_argument('--truth', default=None,
                    help='truth_artifacts.ecsv of that simulation')
    args = ap.parse_args(argv)
    tmp = None
    if args.history:
        db_path, truth_path = args.history, args.truth
        if not truth_path:
            ap.error('--history needs --truth')
    else:
        from acs_flecks.simulate import simulate_scenario
        outdir = args.outdir or tempfile.mkdtemp(prefix='bench_catalogue_')
        tmp = None if (args.keep or args.outdir) else outdir
        sim = os.path.join(outdir, 'sim')
        t0 = time.perf_counter()
        simulate_scenario('discovery', sim, seed=args.seed, kinds=['dkc'])
        print(f'simulated 12 full-frame epochs in '
              f'{time.perf_counter() - t0:.0f} s')
        db_path = os.path.join(outdir, 'history.sqlite')
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            monitor_epochs(sorted(glob.glob(os.path.join(sim, '*_dkc.fits'))),
                           db=db_path, scheduler='serial', progress=False)
        print(f'monitored in {time.perf_counter() - t0:.0f} s')
        truth_path = os.path.join(sim, 'truth_artifacts.ecsv')
    truth = QTable.read(truth_path, format='ascii.ecsv')
    try:
        for name, fp in (('footprint', True), ('centroid', False)):
            t0 = time.perf_counter()
            arts = _classify(db_path, footprints=fp)
            dt = time.perf_counter() - t0
            per_truth, per_entry = compare_catalogue(arts, truth)
            s = catalogue_summary(per_truth, per_entry)
            print(f'\n{name} cross-match ({dt:.1f} s):')
            print('  ' + format_catalogue_summary(s))
            split = per_truth[per_truth['n_entries'] > 1]
            if len(split):
                print('  split: ' + ', '.join(
                    f'{r["truth_id"]} x{r["n_entries"]}' for r in split))
            false = per_entry[per_entry['role'] == 'false']
            if len(false):
                print('  false: ' + ', '.join(false['artifact_id']))
            missed = per_truth[per_truth['n_entries'] == 0]
            if len(missed):
                print('  missed: ' + ', '.join(
                    f'{r["truth_id"]} (area {r["area"].value:.0f}, depth '
                    f'{r["depth"].value:.0f}%)' for r in missed))
            fl = per_truth[per_truth['kind'] == 'fleck']
            print('  flecks: ' + ', '.join(
                f'{r["truth_id"]} {r["artifact_id"]} {r["status"]}'
                for r in fl))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
