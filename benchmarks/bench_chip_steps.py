"""
CPU time of each step of the §7 search on each chip of one file, in one
process and on one thread (what `acs_flecks.detect.finder._search_images`
and `find_artifacts_in_chip` do, step by step).

The compiled kernels are loaded first (one search of a tiny chip), so the
figures are those of a running process; the first chip also pays for the
first use of each full-size buffer, the second one shows the steady state.

Usage::

    python benchmarks/bench_chip_steps.py DKC.fits
"""

import sys
import time

import numpy as np

from acs_flecks.detect import finder
from acs_flecks.detect.catalog import measure_sources
from acs_flecks.detect.deblend import deblend_segments
from acs_flecks.detect.medfilt import fill_and_pad, median_brackets
from acs_flecks.detect.normalize import (background_noise_grids,
                                         expand_taps, smooth_background)
from acs_flecks.detect.segmentation import segment_above
from acs_flecks.io import ACSImage


def load_kernels():
    """Load the compiled kernels from the cache: one search of a tiny chip
    with an artifact (what the first call in a process pays)."""
    yy, xx = np.mgrid[:64, :64]
    tiny = (40 * (1 - 0.5 * np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 20.))
            + np.random.default_rng(0).normal(0, 1, xx.shape)
            ).astype(np.float32)
    finder.find_artifacts_in_chip(tiny, box=16, threads=1)


def chip_steps(sci, dq, ccdchip, ltv, name, p, *, clock=time.process_time):
    """
    Run the search of one chip step by step, as ``_search_images`` and
    ``find_artifacts_in_chip`` do it (bracketed median, the data and
    above-threshold mask in the level's and the mask's memory).

    Returns
    -------
    times : dict
        {step: seconds of ``clock``}, in the order of the steps.
    n_above : int
        Pixels above the threshold.
    table : `~astropy.table.QTable`
        The chip's catalogue.
    """
    times = {}

    def step(key, func, *args, **kwargs):
        t = clock()
        out = func(*args, **kwargs)
        times[key] = clock() - t
        return out

    flags = np.uint16(p.mask_flags)
    level = step('smooth level', smooth_background, sci, box=p.box, dq=dq,
                 mask_flags=flags)
    padded, mask, _ = step('fill and pad', fill_and_pad, sci, dq, flags,
                           level, size=p.median_size)
    br = step('coarse pass', median_brackets, padded, size=p.median_size,
              threads=1)
    grid = step('exact 4x4 grid', br.grid, 4)
    bkg, rms = step('noise grids', lambda: background_noise_grids(
        finder._deficit(grid, level[::4, ::4]), box=p.box // 4, step=1))
    noise = step('noise map', finder._noise_map, rms, br.shape, p)
    rows, i0, w0, w1 = expand_taps(bkg, br.shape, box=p.box,
                                   extrapolate=False)
    codes, bits, size, coarse, below = br.exact_args()
    data, above, n_above = step(
        'fused exact pass', finder._data_and_above_bracketed, level, rows,
        i0, w0, w1, noise, np.float32(p.nsigma), codes, bits, size, coarse,
        below, br.lower, level, mask)
    segm = step('labelling', segment_above, above, p.min_area)
    if segm is not None:
        segm = step('deblending', deblend_segments, data, segm, noise=noise,
                    nsigma=p.nsigma, branch_area=p.min_area, copy=False)
    table = step('measurements', measure_sources, data, segm,
                 ccdchip=ccdchip, ltv=ltv, noise=noise, file=name)
    return times, n_above, table


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__)
        return 2
    load_kernels()
    img = ACSImage(argv[0])
    p = finder.FindParameters()
    for c in img.chips:
        ch = img.chip(c, arrays=('SCI', 'DQ'), allow_nan=True)
        sci = np.asarray(ch.sci, np.float32)
        dq = np.asarray(ch.dq).astype(np.uint16)
        times, n_above, _ = chip_steps(sci, dq, c, ch.ltv, img.name, p)
        steps = ', '.join(f'{k} {v:.3f}' for k, v in times.items())
        print(f'chip CCDCHIP={c} (CPU s, one thread): {steps}; total '
              f'{sum(times.values()):.3f}; {n_above} pixels above the '
              f'threshold')
    return 0


if __name__ == '__main__':
    sys.exit(main())
