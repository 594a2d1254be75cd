"""
Monitoring the instrument's lifetime: epochs per minute by scheduler.

Simulates the ``lifetime`` scenario (monthly anneal epochs 2002-2026, ~295
DKC files) with windowed chips (``--window``, default 200 x 200 per chip),
plus ``--full`` full-frame epochs, and runs the monitor
(`acs_flecks.monitor.monitor_epochs`: search, cross-match, classify, history
database) over them:

``serial``
    in one process, no Dask;
``local-1``, ``local-2``
    a Dask ``LocalCluster`` with 1 and 2 worker processes (one thread each);
``scheduler``
    ``acs_flecks monitor --scheduler tcp://127.0.0.1:PORT`` against a
    ``dask scheduler`` and a ``dask worker --nworkers 2 --nthreads 1``
    started here as separate processes on 127.0.0.1 (and stopped after).

Each mode runs in a fresh process with a new history database; the script
prints the wall-clock time, epochs per minute, the peak memory of the main
process and of each worker, and whether the artifacts tables of all modes
are identical (values, and the ECSV bytes apart from the database path).
Then the same on the full-frame epochs (serial and ``local-2``), the
single-thread time of one full-frame chip, and what that projects for a
cluster of N workers.

Usage::

    python benchmarks/bench_lifetime.py [--outdir DIR] [--window 200]
        [--epochs N] [--full 2]
"""

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

_HERE = os.path.abspath(__file__)


def _maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _loadavg():
    with open('/proc/loadavg') as fh:
        return ' '.join(fh.read().split()[:3])


# --------------------------------------------------------------------------
# one mode, in its own process: --run MODE DB OUT FILE...
def run_mode(mode, db, out, files):
    t0 = time.perf_counter()
    from acs_flecks.monitor import monitor_epochs
    workers = {}
    if mode == 'serial':
        t1 = time.perf_counter()
        monitor_epochs(files, db=db, scheduler='serial', output=out,
                       progress=False)
        wall = time.perf_counter() - t1
    else:
        from distributed import Client, LocalCluster
        n = int(mode.split('-')[1])
        cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               memory_limit='auto')
        client = Client(cluster)
        t1 = time.perf_counter()
        monitor_epochs(files, db=db, scheduler=client, output=out,
                       progress=False)
        wall = time.perf_counter() - t1
        workers = client.run(_maxrss_mib)
        client.close()
        cluster.close()
    print(json.dumps({'wall': wall, 'process': time.perf_counter() - t0,
                      'main_mib': _maxrss_mib(),
                      'workers_mib': sorted(workers.values())}))


def _sub(mode, db, out, files):
    cmd = [sys.executable, _HERE, '--run', mode, db, out] + list(files)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f'{mode} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _through_scheduler(db, out, files, work):
    """``acs_flecks monitor --scheduler`` against a separately started
    ``dask scheduler`` + ``dask worker`` (2 processes, 1 thread each)."""
    dask = os.path.join(os.path.dirname(sys.executable), 'dask')
    sfile = os.path.join(work, 'scheduler.json')
    logs = open(os.path.join(work, 'dask.log'), 'w')
    sched = subprocess.Popen([dask, 'scheduler', '--host', '127.0.0.1',
                              '--port', '0', '--no-dashboard',
                              '--scheduler-file', sfile],
                             stdout=logs, stderr=logs)
    worker = None
    try:
        for _ in range(300):
            if os.path.exists(sfile) and os.path.getsize(sfile):
                break
            time.sleep(0.1)
        with open(sfile) as fh:
            address = json.load(fh)['address']
        worker = subprocess.Popen([dask, 'worker', address, '--nworkers', '2',
                                   '--nthreads', '1', '--no-dashboard',
                                   '--host', '127.0.0.1',
                                   '--memory-limit', 'auto'],
                                  stdout=logs, stderr=logs)
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        exe = os.path.join(os.path.dirname(sys.executable), 'acs_flecks')
        t0 = time.perf_counter()
        proc = subprocess.run([exe, 'monitor', *files, '--db', db, '-o', out,
                               '--scheduler', address, '--no-progress'],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f'monitor --scheduler failed:\n{proc.stderr}')
        with Client(address, timeout=60) as client:
            peaks = client.run(_maxrss_mib)
        return {'wall': wall, 'process': wall, 'main_mib': float('nan'),
                'workers_mib': sorted(peaks.values()), 'address': address}
    finally:
        for p in (worker, sched):   # only the processes started here
            if p is not None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        logs.close()


def _same_tables(paths):
    """(values identical, bytes identical apart from meta lines naming the
    database) of the artifacts ECSVs."""
    import numpy as np
    from astropy.table import QTable
    tabs = [QTable.read(p, format='ascii.ecsv') for p in paths]

    def same(a, b):
        a, b = np.ma.asarray(getattr(a, 'value', a)), \
            np.ma.asarray(getattr(b, 'value', b))
        if a.shape != b.shape or not np.array_equal(np.ma.getmaskarray(a),
                                                    np.ma.getmaskarray(b)):
            return False
        a, b = a.compressed(), b.compressed()
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == 'f'))
    values = all(t.colnames == tabs[0].colnames and len(t) == len(tabs[0])
                 and all(same(t[c], tabs[0][c]) for c in t.colnames)
                 for t in tabs[1:])

    def body(p):
        with open(p) as fh:
            return [line for line in fh if '.sqlite' not in line]
    return values, all(body(p) == body(paths[0]) for p in paths[1:])


def _simulate(outdir, window, epochs=None):
    from acs_flecks.simulate import simulate_scenario
    files = sorted(glob.glob(os.path.join(outdir, '*dkc*.fits')))
    if not files:
        t0 = time.perf_counter()
        simulate_scenario('lifetime', outdir, window=window, kinds=['dkc'],
                          epochs=epochs)
        files = sorted(glob.glob(os.path.join(outdir, '*dkc*.fits')))
        print(f'  simulated {len(files)} file(s) in {outdir} in '
              f'{time.perf_counter() - t0:.0f} s')
    return files


def _print(mode, r, n):
    w = ', '.join(f'{m:.0f}' for m in r['workers_mib']) or '-'
    print(f'  {mode:10s} {r["wall"]:8.1f} s  {60 * n / r["wall"]:7.1f} '
          f'epochs/min   main {r["main_mib"]:5.0f} MiB   workers {w} MiB')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--run']:
        return run_mode(argv[1], argv[2], argv[3], argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--outdir', default=os.path.join(
        tempfile.gettempdir(), 'acs_flecks_bench_lifetime'))
    parser.add_argument('--window', type=int, default=200)
    parser.add_argument('--epochs', type=int, default=None,
                        help='only the first N epochs (default all)')
    parser.add_argument('--full', type=int, default=2,
                        help='full-frame epochs (around 2017-05-05)')
    args = parser.parse_args(argv)

    print(f'CPUs: {len(os.sched_getaffinity(0))}; load average at start: '
          f'{_loadavg()}')
    files = _simulate(os.path.join(args.outdir, f'window{args.window}'),
                      args.window)[:args.epochs]
    n = len(files)
    work = tempfile.mkdtemp(prefix='bench_lifetime_')
    print(f'\n{n} windowed epochs ({args.window}x{args.window} per chip):')
    outs, results = [], {}
    for mode in ('serial', 'local-1', 'local-2', 'scheduler'):
        db = os.path.join(work, f'{mode}.sqlite')
        out = os.path.join(work, f'{mode}.ecsv')
        if mode == 'scheduler':
            r = _through_scheduler(db, out, files, work)
        else:
            r = _sub(mode, db, out, files)
        results[mode] = r
        outs.append(out)
        _print(mode, r, n)
    values, raw = _same_tables(outs)
    from astropy.table import QTable
    art = QTable.read(outs[0], format='ascii.ecsv')
    import numpy as np
    names, counts = np.unique(np.asarray(art['status']), return_counts=True)
    print(f'  artifacts: {len(art)} ('
          + ', '.join(f'{c} {s}' for s, c in zip(names, counts)) + ')')
    print(f'  identical in every mode: values {values}, ECSV bytes {raw}')

    # full frames
    if args.full:
        from acs_flecks.simulate.scenarios import LIFETIME_CYCLE_STARTS
        i = LIFETIME_CYCLE_STARTS.index('2017-05-05')
        eps = list(LIFETIME_CYCLE_STARTS[i - args.full // 2:
                                         i - args.full // 2 + args.full])
        full = _simulate(os.path.join(args.outdir, 'full'), None, eps)
        print(f'\n{len(full)} full-frame epochs (2 chips of 2048x4096):')
        fouts = []
        for mode in ('serial', 'local-2'):
            db = os.path.join(work, f'full-{mode}.sqlite')
            out = os.path.join(work, f'full-{mode}.ecsv')
            r = _sub(mode, db, out, full)
            results[f'full-{mode}'] = r
            fouts.append(out)
            _print(mode, r, len(full))
        print(f'  identical: {_same_tables(fouts)[0]}')
        # one full-frame chip on one thread, what a worker does per task
        code = ('import time, sys; from acs_flecks.detect.finder import '
                'find_chip; find_chip(sys.argv[1], 1); t = time.perf_counter()'
                '; c = time.process_time(); find_chip(sys.argv[1], 2); '
                'print(time.perf_counter() - t, time.process_time() - c)')
        out = subprocess.run([sys.executable, '-c', code, full[-1]],
                             capture_output=True, text=True,
                             check=True).stdout.split()
        t_chip, c_chip = float(out[-2]), float(out[-1])
        # a worker with a core to itself takes its CPU time; on a loaded
        # machine the wall clock is longer
        per_epoch = 2 * c_chip
        print(f'  one full-frame chip on one thread: {t_chip:.2f} s wall, '
              f'{c_chip:.2f} CPU s (an epoch: {per_epoch:.2f} CPU s)')
        print('  projection for N single-thread workers, one core each, on '
              'full frames (detection only, perfect scaling, files readable '
              'at the same paths):')
        for nw in (1, 2, 8, 32, 128):
            print(f'    N = {nw:3d}: {60 * nw / per_epoch:8.0f} epochs/min; '
                  f'the {len(LIFETIME_CYCLE_STARTS)} lifetime epochs in '
                  f'{len(LIFETIME_CYCLE_STARTS) * per_epoch / nw / 60:6.1f} '
                  'min')
    print(f'\nload average at end: {_loadavg()}')
    with open(os.path.join(work, 'results.json'), 'w') as fh:
        json.dump(results, fh, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
