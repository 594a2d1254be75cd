"""
Time ``acs_flecks.impact.exposure_impact`` and ``acs_flecks.flag``: full-frame
exposures on the real jbt122x8q headers (``../shared/real``), N random
sources over the field, the test suite's bad-pixel table.

    python benchmarks/bench_impact.py [N_SOURCES] [N_EXPOSURES]

Prints the wall time of each step.
"""

import os
import shutil
import sys
import tempfile
import time

import numpy as np
from astropy.table import Table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

import test_impact as T  # noqa: E402  (the test builders)
from acs_flecks.delivery import write_bpixtab  # noqa: E402
from acs_flecks.flag import flag_exposures  # noqa: E402
from acs_flecks.impact import exposure_impact  # noqa: E402


def main(n_sources=1000, n_exposures=4):
    d = tempfile.mkdtemp(prefix='bench_impact_')
    ref = T.write_reference(os.path.join(d, 'old_bpx.fits'))
    new = os.path.join(d, 'new_bpx.fits')
    write_bpixtab(ref, T.fleck_pixels(), new, useafter='2017-05-05',
                  certify=False)
    t0 = time.perf_counter()
    files = [T.build_exposure(os.path.join(d, f'jbench{i:02d}q_flc.fits'),
                              expstart=T.AFTER, seed=i)
             for i in range(n_exposures)]
    print(f'build {n_exposures} full-frame exposures: '
          f'{time.perf_counter() - t0:.1f} s')
    rng = np.random.default_rng(0)
    chip = rng.integers(1, 3, n_sources)
    x = rng.uniform(1, 4096, n_sources)
    y = rng.uniform(1, 2048, n_sources)
    rows = [(f's{i}', *T.sky_of(int(c), xx, yy))
            for i, (c, xx, yy) in enumerate(zip(chip, x, y))]
    src = os.path.join(d, 'src.ecsv')
    Table(rows=rows, names=('id', 'ra', 'dec')).write(src)
    t0 = time.perf_counter()
    res = exposure_impact(files, bpixtab=new, sources=src)
    dt = time.perf_counter() - t0
    print(f'impact: {n_exposures} exposures x {n_sources} sources: {dt:.1f} s '
          f'({1e3 * dt / (n_exposures * n_sources):.2f} ms per pair); '
          f'{int(np.sum(res.table["on_chip"]))} on a chip')
    t0 = time.perf_counter()
    flag_exposures(files, bpixtab=new, outdir=os.path.join(d, 'out'))
    dt = time.perf_counter() - t0
    print(f'flag: {n_exposures} full-frame exposures: {dt:.1f} s '
          f'({dt / n_exposures:.2f} s each)')
    shutil.rmtree(d)


if __name__ == '__main__':
    main(*(int(a) for a in sys.argv[1:3]))
