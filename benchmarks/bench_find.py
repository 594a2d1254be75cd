"""
Benchmark of the §7 search on simulated full-frame DKC files.

Compares, in one run and on the same files:

(a) the report's pipeline: ``scipy.ndimage.median_filter(size=15)`` of each
    chip, the same normalization (``100 x (1 - image / level)``) written to
    FITS, and SExtractor (``source-extractor``, DETECT_THRESH 5,
    DETECT_MINAREA 25, its own background mesh), chip after chip;
(b) ``acs_flecks.detect.find_artifacts`` (both chips at once on 2 cores);

and prints seconds per two-chip file, their ratio, peak memory, and
whether the detections agree: the filtered images must be identical, and
SExtractor's detections are compared with acs_flecks' (count, positions
within 0.5 pixel), both with SExtractor's own background (the report's
run) and with the acs_flecks noise map (same threshold: identical).

Usage::

    python benchmarks/bench_find.py [--files 2] [--outdir DIR]
"""

import argparse
import glob
import os
import resource
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from scipy import ndimage


def _children():
    """CPU seconds used by finished child processes (SExtractor)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _loadavg():
    with open('/proc/loadavg') as fh:
        return fh.read().strip()


def report_pipeline(path, workdir):
    """(a): scipy median + same normalization + SExtractor, per chip."""
    from acs_flecks.detect.finder import FindParameters
    from acs_flecks.detect.normalize import smooth_background
    from acs_flecks.detect.sextractor import run_sextractor
    from acs_flecks.io import ACSImage

    p = FindParameters()
    img = ACSImage(path)
    out = {}
    for ccdchip in img.chips:
        chip = img.chip(ccdchip, arrays=('SCI', 'DQ'))
        mask = ((chip.dq & p.mask_flags) != 0) | ~np.isfinite(chip.sci)
        level = smooth_background(chip.sci, box=p.box, dq=chip.dq,
                                  mask_flags=p.mask_flags)
        filled = np.where(mask, level, chip.sci)
        filtered = ndimage.median_filter(filled, size=p.median_size,
                                         mode='reflect')
        inverted = (100 * (1 - filtered / level)).astype(np.float32)
        sx = run_sextractor(inverted, detect_thresh=5.0, detect_minarea=25,
                            workdir=workdir)
        out[ccdchip] = (sx, filtered)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--files', type=int, default=2,
                        help='number of DKC files to time (default 2)')
    parser.add_argument('--outdir', default=None,
                        help='directory of simulated DKC files (made if '
                             'empty)')
    args = parser.parse_args(argv)

    from acs_flecks.detect import find_artifacts, find_artifacts_in_chip
    from acs_flecks.detect.sextractor import (run_sextractor,
                                              sextractor_available)
    from acs_flecks.io import ACSImage

    if not sextractor_available():
        print('source-extractor is not installed: cannot run (a)')
        return 1
    outdir = args.outdir or os.path.join(tempfile.gettempdir(),
                                         'acs_flecks_bench_find')
    files = sorted(glob.glob(os.path.join(outdir, '*dkc*.fits')))
    if not files:
        from acs_flecks.simulate import simulate_scenario
        print(f'simulating full-frame DKC files in {outdir} ...')
        res = simulate_scenario('discovery', outdir, seed=0, kinds=['dkc'])
        files = sorted(str(p) for p in res.files['path'])
    # epochs after the appearance of the flecks
    files = [f for f in files if '2017' in f][-args.files:]
    print(f'{len(files)} file(s), 2 chips of '
          f'{"x".join(map(str, ACSImage(files[0]).shape[::-1]))} each; '
          f'CPUs: {len(os.sched_getaffinity(0))}; /proc/loadavg at start: '
          f'{_loadavg()}')

    # warm up outside the timings: numba cache, and the lazy imports of a
    # catalog with sources (photutils SourceCatalog loads matplotlib)
    yy, xx = np.mgrid[:256, :256]
    warm = 40 * (1 - 0.5 * np.exp(-((xx - 128) ** 2 + (yy - 128) ** 2)
                                  / 50.0))
    warm += np.random.default_rng(0).normal(0, 1, warm.shape)
    assert len(find_artifacts_in_chip(warm.astype(np.float32))) == 1
    import skimage.segmentation  # noqa: F401  (deblending's watershed)
    # and one untimed full file: the first full-chip arrays of a process
    # cost page faults (fresh memory from the kernel) that a monthly job
    # over many files pays once; reported, not averaged
    t0 = time.perf_counter()
    find_artifacts(files[0])
    print(f'  first find_artifacts call of the process (untimed warm-up): '
          f'{time.perf_counter() - t0:.3f} s')

    work = tempfile.mkdtemp(prefix='bench_find_')
    t_a, t_b, c_a, c_b, results_a, results_b = [], [], [], [], [], []
    for path in files:
        t0, c0, k0 = time.perf_counter(), time.process_time(), _children()
        results_a.append(report_pipeline(path, work))
        t_a.append(time.perf_counter() - t0)
        c_a.append(time.process_time() - c0 + _children() - k0)
        t0, c0 = time.perf_counter(), time.process_time()
        results_b.append(find_artifacts(path))
        t_b.append(time.perf_counter() - t0)
        c_b.append(time.process_time() - c0)
        print(f'  {os.path.basename(path)}: (a) {t_a[-1]:7.2f} s '
              f'(CPU {c_a[-1]:6.2f} s)   (b) {t_b[-1]:6.3f} s '
              f'(CPU {c_b[-1]:5.2f} s, both threads)')

    # peak memory of (b), traced separately (tracemalloc slows it down)
    tracemalloc.start()
    find_artifacts(files[0])
    peak_b = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # agreement
    from photutils.segmentation import detect_sources

    from acs_flecks.detect.deblend import deblend_segments
    identical_filter = True
    n_a = n_b = n_match = n_same = n_same_match = 0
    dmax = 0.0
    t_deblend, n_split, n_sx3 = [], 0, 0
    for path, ra, cat in zip(files, results_a, results_b):
        img = ACSImage(path)
        for ccdchip, (sx, filtered) in ra.items():
            chip = img.chip(ccdchip, arrays=('SCI', 'DQ'))
            sub, prep = find_artifacts_in_chip(chip.sci, chip.dq,
                                               ccdchip=ccdchip,
                                               return_prepared=True)
            identical_filter &= bool(np.array_equal(prep.filtered, filtered))
            # cost of the deblending step alone (CPU seconds per chip)
            data = prep.inverted - prep.background
            segm = detect_sources(data, 5.0 * prep.noise, n_pixels=25,
                                  connectivity=8)
            c0 = time.process_time()
            split = deblend_segments(data, segm, noise=prep.noise,
                                     nsigma=5.0, branch_area=25)
            t_deblend.append(time.process_time() - c0)
            n_split += split.n_labels - segm.n_labels
            # SExtractor's own branch area (3 pixels)
            n_sx3 += deblend_segments(data, segm, noise=prep.noise,
                                      nsigma=5.0, branch_area=3).n_labels
            mine = cat[cat['ccdchip'] == ccdchip]
            n_a += len(sx)
            n_b += len(mine)
            for row in mine:
                d = np.hypot(sx['x'] - row['x'].value,
                             sx['y'] - row['y'].value) if len(sx) else [9e9]
                if np.min(d) < 0.5:
                    n_match += 1
            same = run_sextractor(prep.inverted - prep.background,
                                  rms_map=prep.noise, workdir=work)
            n_same += len(same)
            for row in mine:
                d = np.hypot(same['x'] - row['x'].value,
                             same['y'] - row['y'].value)
                if len(d) and np.min(d) < 0.5:
                    n_same_match += 1
                    dmax = max(dmax, float(np.min(d)))

    a = np.mean(t_a)
    b = np.mean(t_b)
    ca = np.mean(c_a)
    cb = np.mean(c_b)
    print()
    print('seconds per two-chip file (mean of %d):' % len(files))
    print(f'  (a) report pipeline, scipy median_filter + SExtractor: '
          f'{a:8.2f} s')
    print(f'  (b) acs_flecks find:                                 '
          f'{b:8.3f} s')
    print(f'  ratio (a)/(b): {a / b:6.1f}x   (wall clock, '
          f'{len(os.sched_getaffinity(0))} CPUs; /proc/loadavg at end: '
          f'{_loadavg()})')
    print(f'  CPU seconds per file: (a) {ca:.2f}, (b) {cb:.2f}; CPU ratio '
          f'{ca / cb:.1f}x')
    print(f'peak memory: (b) traced {peak_b / 2**20:.0f} MiB; '
          f'process max RSS {maxrss:.0f} MiB')
    print(f'filtered images identical to scipy median_filter: '
          f'{identical_filter}')
    print(f'detections: (a) SExtractor own background {n_a}, (b) acs_flecks '
          f'{n_b}, (b) within 0.5 px of (a): {n_match}')
    print(f'            SExtractor with the acs_flecks noise map {n_same}, '
          f'matched {n_same_match} (max offset {dmax:.4f} px)')
    print(f'deblending (included in (b)): {np.mean(t_deblend):.3f} CPU s '
          f'per chip, {n_split} extra artifact(s) from split blends; with '
          f'SExtractor\'s 3-pixel branches {n_sx3} artifacts (SExtractor '
          f'with the acs_flecks noise map: {n_same})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
