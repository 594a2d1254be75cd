"""
The "bracketed" median of the §7 search (issue 12), measured on a chip
(`acs_flecks.detect.medfilt.median_brackets`; see docs/find.rst).

The 14-bit codes of `acs_flecks.detect.medfilt` are a monotone
quantization, so the coarse code (top 6 bits) of each window's median is
the median of the window's coarse codes.  A constant-time sliding
histogram of 64 bins (Perreault & Hebert 2007) gives it for every pixel,
hence a proven lower bound of the median (the smallest image value in
that bin); the exact value of any pixel is one of the few window values
of that bin.  A search needs exact values only at its background/noise
grid (every 4th row and column) and where the bound does not rule out
the threshold.

This script checks, on a full chip of a DKC, that the grid values equal
`median_of_padded` and that the bounds hold, and prints the CPU seconds
of the exact kernel, of the coarse pass and of the exact grid.

Usage::

    python benchmarks/bench_median_brackets.py DKC.fits
"""

import sys
import time

import numpy as np

from acs_flecks.detect.medfilt import median_brackets, median_of_padded


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    from acs_flecks.io import ACSImage
    img = ACSImage(argv[0])
    sci = np.asarray(img.chip(img.chips[0], arrays=('SCI',)).sci, np.float32)
    pad = np.pad(sci, 7, mode='symmetric')
    median_brackets(pad[:200, :300].copy(), threads=1).grid(4)  # compile
    c = time.process_time()
    exact = median_of_padded(pad, threads=1)
    t_exact = time.process_time() - c
    c = time.process_time()
    br = median_brackets(pad, threads=1)
    t_coarse = time.process_time() - c
    c = time.process_time()
    grid = br.grid(4)
    t_grid = time.process_time() - c
    print(f'grid exact: {np.array_equal(grid, exact[::4, ::4])}; lower '
          f'bounds hold: {bool((br.lower[br.coarse] <= exact).all())}')
    print(f'CPU s per chip (one thread): exact kernel {t_exact:.2f}; '
          f'coarse pass {t_coarse:.2f} + exact grid {t_grid:.2f} = '
          f'{t_coarse + t_grid:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
