"""
Whole-process benchmark of the §7 search on a full-frame two-chip DKC.

Times, process against process and in one run, on the same file:

(a) the report's pipeline as a user would run it: a fresh Python process
    that reads the file, filters each chip with
    ``scipy.ndimage.median_filter(size=15)``, normalizes it
    (``100 x (1 - image / level)``), writes it to FITS and runs SExtractor
    (``source-extractor``, DETECT_THRESH 5, DETECT_MINAREA 25), chip after
    chip;
(b) ``acs_flecks find FILE -o CAT.ecsv`` (the installed command).

Each is run once untimed (to fill the page cache with the file and the
libraries; nothing else is warmed up: every timed run is a new process that
imports, loads the compiled kernels and reads the file), then ``--repeat``
times alternately; the median wall-clock time of each, their ratio, and the
CPU seconds and peak memory of each process are printed.  A breakdown of
(b) follows, measured step by step in one more fresh process on one thread
(start-up = interpreter + imports + loading the compiled kernels, read,
median, segmentation, catalogue, write), and a check that the catalogues of
all runs of (b) are byte-identical and agree with SExtractor's detections.

Usage::

    python benchmarks/bench_find.py [FILE] [--repeat 3] [--outdir DIR]

Without FILE a full-frame DKC of the ``discovery`` scenario (2017-05-31,
after the flecks appeared) is simulated into ``--outdir`` first.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

_HERE = os.path.abspath(__file__)


def _loadavg():
    with open('/proc/loadavg') as fh:
        return ' '.join(fh.read().split()[:3])


def run_one(cmd):
    """Run ``cmd`` as a new process: (wall s, CPU s, peak RSS MiB, stdout),
    the CPU time and memory of that process and its children only.

    The files written by the previous process (the report pipeline writes
    two chip-size FITS files for SExtractor) are flushed to disk first,
    untimed, so that their write-back does not land inside the next
    process's timing."""
    os.sync()
    with tempfile.TemporaryFile('w+') as out, \
            tempfile.TemporaryFile('w+') as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)} failed:\n{err.read()}')
        return (wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
                out.read())


# --------------------------------------------------------------------------
# (a) the report's pipeline, run in its own process (``--report FILE DIR``)
def report_pipeline(path, workdir):
    t0 = time.perf_counter()
    import numpy as np
    from scipy import ndimage

    from acs_flecks.detect.finder import FindParameters
    from acs_flecks.detect.normalize import smooth_background
    from acs_flecks.detect.sextractor import run_sextractor
    from acs_flecks.io import ACSImage
    times = {'start-up': time.perf_counter() - t0}
    p = FindParameters()
    img = ACSImage(path)
    found = {}
    for ccdchip in img.chips:
        t = time.perf_counter()
        chip = img.chip(ccdchip, arrays=('SCI', 'DQ'), allow_nan=True)
        sci = np.asarray(chip.sci, np.float32)
        times['read'] = times.get('read', 0) + time.perf_counter() - t
        t = time.perf_counter()
        mask = ((chip.dq & p.mask_flags) != 0) | ~np.isfinite(sci)
        level = smooth_background(sci, box=p.box, dq=chip.dq,
                                  mask_flags=p.mask_flags)
        filled = np.where(mask, level, sci)
        filtered = ndimage.median_filter(filled, size=p.median_size,
                                         mode='reflect')
        inverted = (100 * (1 - filtered / level)).astype(np.float32)
        times['median'] = times.get('median', 0) + time.perf_counter() - t
        t = time.perf_counter()
        sx = run_sextractor(inverted, detect_thresh=5.0, detect_minarea=25,
                            workdir=workdir)
        times['sextractor'] = times.get('sextractor', 0) \
            + time.perf_counter() - t
        found[int(ccdchip)] = [[float(r['x']), float(r['y'])] for r in sx]
    print(json.dumps({'times': times, 'found': found}))


# --------------------------------------------------------------------------
# breakdown of (b), step by step on one thread (``--breakdown FILE OUT``)
#: Groups of `bench_chip_steps.chip_steps`' steps in the breakdown.
BREAKDOWN = {'median': ('smooth level', 'fill and pad', 'coarse pass',
                        'exact 4x4 grid'),
             'segmentation': ('noise grids', 'noise map', 'fused exact pass',
                              'labelling', 'deblending'),
             'catalogue': ('measurements',)}


def breakdown(path, output):
    t0 = time.perf_counter()
    import numpy as np

    from acs_flecks.detect import finder
    from acs_flecks.detect.catalog import stack_catalogs, write_catalog
    from acs_flecks.io import ACSImage
    from bench_chip_steps import chip_steps, load_kernels
    load_kernels()
    T = {'start-up': time.perf_counter() - t0}

    def add(key, t):
        T[key] = T.get(key, 0.0) + time.perf_counter() - t

    p = finder.FindParameters()
    t = time.perf_counter()
    img = ACSImage(path)
    chips = {c: img.chip(c, arrays=('SCI', 'DQ'), allow_nan=True)
             for c in img.chips}
    arrays = {c: (np.asarray(ch.sci, np.float32),
                  np.asarray(ch.dq).astype(np.uint16)) for c, ch in
              chips.items()}
    add('read', t)
    tables = []
    for c, (sci, dq) in arrays.items():
        steps, _, table = chip_steps(sci, dq, c, chips[c].ltv, img.name, p,
                                     clock=time.perf_counter)
        for group, names in BREAKDOWN.items():
            T[group] = T.get(group, 0.0) + sum(steps.get(n, 0.0)
                                               for n in names)
        tables.append(table)
    t = time.perf_counter()
    table = stack_catalogs(tables, {})
    add('catalogue', t)
    t = time.perf_counter()
    write_catalog(table, output)
    add('write', t)
    T['total'] = time.perf_counter() - t0
    T['n'] = len(table)
    print(json.dumps(T))


def _simulated(outdir):
    import glob
    files = sorted(glob.glob(os.path.join(outdir, '*dkc_20170531*.fits')))
    if not files:
        from acs_flecks.simulate import simulate_scenario
        print(f'simulating full-frame DKC files in {outdir} ...')
        simulate_scenario('discovery', outdir, seed=0, kinds=['dkc'])
        files = sorted(glob.glob(os.path.join(outdir,
                                              '*dkc_20170531*.fits')))
    return files[0]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--report']:
        return report_pipeline(argv[1], argv[2])
    if argv[:1] == ['--breakdown']:
        return breakdown(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('file', nargs='?', help='full-frame two-chip DKC')
    parser.add_argument('--repeat', type=int, default=3,
                        help='timed runs of each (default 3)')
    parser.add_argument('--many', type=int, default=4,
                        help='epochs for the many-files runs (find and '
                             'monitor --scheduler serial in one process; '
                             'default 4, 0 to skip)')
    parser.add_argument('--outdir', default=os.path.join(
        tempfile.gettempdir(), 'acs_flecks_bench_find'),
        help='where to simulate the file when none is given')
    args = parser.parse_args(argv)

    from acs_flecks.detect.sextractor import sextractor_available
    if not sextractor_available():
        print('source-extractor is not installed: cannot run (a)')
        return 1
    path = os.path.abspath(args.file or _simulated(args.outdir))
    work = tempfile.mkdtemp(prefix='bench_find_')
    exe = os.path.join(os.path.dirname(sys.executable), 'acs_flecks')
    cmd_a = [sys.executable, _HERE, '--report', path, work]

    def cmd_b(i):
        return [exe, 'find', path, '-o', os.path.join(work, f'cat{i}.ecsv')]
    print(f'file: {path} ({os.path.getsize(path) / 2**20:.0f} MiB); CPUs: '
          f'{len(os.sched_getaffinity(0))}; load average at start: '
          f'{_loadavg()}')

    # one untimed run of each: the file and the libraries in the page cache
    # (and the compiled kernels in the cache folder, as after any first run)
    run_one(cmd_a)
    run_one(cmd_b('warm'))
    ta, tb, ca, cb, ma, mb, outs_a = [], [], [], [], [], [], []
    for i in range(args.repeat):
        w, c, m, out = run_one(cmd_a)
        ta.append(w)
        ca.append(c)
        ma.append(m)
        outs_a.append(json.loads(out.strip().splitlines()[-1]))
        w, c, m, out = run_one(cmd_b(i))
        tb.append(w)
        cb.append(c)
        mb.append(m)
        print(f'  run {i + 1}: (a) {ta[-1]:7.2f} s   (b) {tb[-1]:6.3f} s')
    # start-up alone
    tv = [run_one([exe, '--version'])[0] for _ in range(5)]
    th = [run_one([exe, 'find', '--help'])[0] for _ in range(5)]
    a, b = statistics.median(ta), statistics.median(tb)
    print()
    print(f'whole processes, median of {args.repeat} (wall clock):')
    print(f'  (a) report pipeline (scipy median_filter + SExtractor): '
          f'{a:8.2f} s  (CPU {statistics.median(ca):.2f} s, '
          f'peak {max(ma):.0f} MiB)')
    print(f'  (b) acs_flecks find FILE -o CAT.ecsv:                   '
          f'{b:8.3f} s  (CPU {statistics.median(cb):.2f} s, '
          f'peak {max(mb):.0f} MiB)')
    print(f'  ratio (a)/(b): {a / b:.1f}x wall clock, '
          f'{statistics.median(ca) / statistics.median(cb):.1f}x CPU '
          f'seconds   (load average at end: {_loadavg()})')
    print(f'  acs_flecks --version {statistics.median(tv):.3f} s, '
          f'acs_flecks find --help {statistics.median(th):.3f} s '
          f'(median of 5)')
    ra = outs_a[-1]['times']
    print('  (a) by step: ' + ', '.join(f'{k} {v:.2f} s'
                                        for k, v in ra.items()))

    # breakdown of (b) in a fresh process, one thread, step by step
    out = subprocess.run([sys.executable, _HERE, '--breakdown', path,
                          os.path.join(work, 'breakdown.ecsv')],
                         capture_output=True, text=True, check=True).stdout
    T = json.loads(out.strip().splitlines()[-1])
    steps = ('start-up', 'read', 'median', 'segmentation', 'catalogue',
             'write')
    print('  (b) by step, one thread, fresh process: '
          + ', '.join(f'{k} {T[k]:.3f} s' for k in steps)
          + f'; total {T["total"]:.3f} s')

    # the catalogues: identical in every run, and against SExtractor
    blobs = {open(os.path.join(work, f'cat{i}.ecsv'), 'rb').read()
             for i in range(args.repeat)}
    print(f'catalogues of (b) byte-identical across runs: {len(blobs) == 1}')
    from astropy.table import QTable
    import numpy as np
    cat = QTable.read(os.path.join(work, 'cat0.ecsv'), format='ascii.ecsv')
    n_sx = n_match = 0
    for chip, pos in outs_a[-1]['found'].items():
        pos = np.array(pos).reshape(-1, 2)
        n_sx += len(pos)
        mine = cat[cat['ccdchip'] == int(chip)]
        for row in mine:
            d = np.hypot(pos[:, 0] - row['x'].value, pos[:, 1] - row['y'].value)
            n_match += bool(len(d) and d.min() < 0.5)
    print(f'detections: (a) SExtractor {n_sx}, (b) acs_flecks {len(cat)}, '
          f'(b) within 0.5 px of (a): {n_match}')

    # many epochs in one process: start-up and kernel loading paid once
    if args.many:
        import glob
        many = sorted(glob.glob(os.path.join(os.path.dirname(path),
                                             '*dkc*.fits')))[:args.many]
        # these files in the page cache too, as the single file above (one
        # untimed run)
        run_one([exe, 'find', *many, '-o', os.path.join(work, 'warm.ecsv')])
        w, c, m, _ = run_one([exe, 'find', *many, '-o',
                              os.path.join(work, 'many.ecsv')])
        print(f'many files, one process: acs_flecks find on {len(many)} '
              f'full-frame epochs {w:.1f} s = {60 * len(many) / w:.1f} '
              f'epochs/min (vs {60 / b:.1f} epochs/min one process per '
              f'epoch); CPU {c:.1f} s, peak {m:.0f} MiB')
        w, c, m, _ = run_one([exe, 'monitor', *many, '--db',
                              os.path.join(work, 'many.sqlite'),
                              '--scheduler', 'serial', '--no-progress'])
        print(f'  acs_flecks monitor --scheduler serial on the same: '
              f'{w:.1f} s = {60 * len(many) / w:.1f} epochs/min; CPU '
              f'{c:.1f} s, peak {m:.0f} MiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
