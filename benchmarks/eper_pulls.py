"""
Pulls of the EPER motion (issue 10): simulate the discovery scenario's EPER
images for several seeds (120 x 120 windows), measure the motion of the
large fleck (true (0, 0)) and of the elongated fleck (true (0, -0.3)), and
print (measured - true) / stated error for dx and dy.

Usage::

    python benchmarks/eper_pulls.py 1,2,3,4,5,6,7 [OUTDIR] [--raw]

``--raw`` measures from the raw frames (``simulate --eper-raw``) instead of
the calibrated ``_flt`` files.
"""

import glob
import os
import sys
import tempfile
import warnings

import numpy as np

from acs_flecks.characterize import eper_ratio, pair_eper
from acs_flecks.simulate import simulate_scenario

FLECKS = {'fleck1': (2, 1521.0, 1773.0, 0.0, 0.0),
          'fleck2': (1, 3510.0, 355.0, 0.0, -0.3)}


def main(argv):
    seeds = [int(s) for s in argv[0].split(',')] if argv else [1, 2, 3, 4, 5]
    raw = '--raw' in argv
    rest = [a for a in argv[1:] if a != '--raw']
    base = rest[0] if rest else tempfile.mkdtemp(prefix='eper_pulls_')
    kind = 'raw' if raw else 'flt'
    pulls = []
    warnings.simplefilter('ignore')
    for seed in seeds:
        out = os.path.join(base, f's{seed}')
        if not glob.glob(os.path.join(out, f'*_{kind}.fits')):
            simulate_scenario('discovery', out, seed=seed, window=120,
                              kinds='eper', eper_raw=raw)
        files = sorted(glob.glob(os.path.join(out, f'*_{kind}.fits')))
        for fid, (chip, x, y, tdx, tdy) in FLECKS.items():
            res = eper_ratio(pair_eper(files, ccdchip=chip), ccdchip=chip,
                             x=x, y=y)
            dx, dxe, dy, dye = res.shift
            pulls += [(dx - tdx) / dxe, (dy - tdy) / dye]
            print(f'seed {seed} {fid}: dx {dx:+.4f} +- {dxe:.4f} '
                  f'(pull {pulls[-2]:+.2f}), dy {dy:+.4f} +- {dye:.4f} '
                  f'(pull {pulls[-1]:+.2f})')
    p = np.array(pulls)
    print(f'{p.size} pulls: rms {np.sqrt(np.mean(p ** 2)):.2f}, '
          f'max |pull| {np.abs(p).max():.2f}')


if __name__ == '__main__':
    main(sys.argv[1:])
