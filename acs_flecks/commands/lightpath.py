"""
Flashed vs un-flashed darks (report §3): is an artifact a particle in the
light path (its shadow disappears without illumination) or a CCD defect
(it persists)?  Prints, per artifact, the deficit and its significance in
both images and the verdict.

Examples::

    acs_flecks lightpath --flashed jd_dkc.fits --unflashed jd_crj.fits \\
        --catalog artifacts.ecsv -o lightpath.ecsv
    acs_flecks lightpath --flashed F.fits --unflashed U.fits \\
        --ccdchip 2 --x 1521 --y 1773
"""

import os
import sys

from ..parameters import MONITORING
from ..parameters import add_arguments as add_parameters

NAME = 'lightpath'
HELP = 'flashed vs un-flashed: particle in the light path or CCD defect'


def add_arguments(parser):
    parser.add_argument('--flashed', required=True, metavar='F',
                        help='post-flashed dark (e.g. the DKC)')
    parser.add_argument('--unflashed', required=True, metavar='U',
                        help='un-flashed dark of the same period')
    parser.add_argument('--catalog', metavar='CAT.ecsv',
                        help='artifact positions (find or monitor output: '
                             'ccdchip, x, y [, area])')
    parser.add_argument('--ccdchip', type=int, action='append', default=[],
                        help='chip of a position (with --x/--y; repeatable)')
    parser.add_argument('--x', type=float, action='append', default=[],
                        help='1-indexed full-chip column (repeatable)')
    parser.add_argument('--y', type=float, action='append', default=[],
                        help='1-indexed full-chip row (repeatable)')
    parser.add_argument('--radius', type=float,
                        help='aperture radius in pixels (default from the '
                             'catalog area, else 3)')
    add_parameters(parser, MONITORING, ('lightpath_nsigma',),
                   dests={'lightpath_nsigma': 'nsigma'})
    parser.add_argument('-o', '--output', metavar='OUT.ecsv',
                        help='write the results (ECSV)')


def run(args):
    from astropy.table import QTable

    from ..exceptions import AcsFlecksError
    from ..monitor.lightpath import lightpath_test
    from ..utils import OutputGuard, write_ecsv
    from ..validate import check_chip_position, check_number, check_parameter
    if args.catalog and (args.x or args.y or args.ccdchip):
        raise AcsFlecksError('give either --catalog or --ccdchip/--x/--y')
    check_parameter(args.nsigma, MONITORING['lightpath_nsigma'], '--nsigma')
    check_number(args.radius, '--radius', minimum=0, inclusive=False,
                 allow_none=True)
    for x, y in zip(args.x, args.y):
        check_chip_position(x, y)
    for c in args.ccdchip:
        if c not in (1, 2):
            raise AcsFlecksError(f'--ccdchip must be 1 or 2, got {c}')
    inputs = [args.flashed, args.unflashed] + (
        [args.catalog] if args.catalog else [])
    for path in inputs:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    OutputGuard(inputs=inputs).file(args.output, option='-o')
    if args.catalog:
        try:
            positions = QTable.read(args.catalog, format='ascii.ecsv')
        except Exception as exc:  # astropy raises many types here
            raise AcsFlecksError(f'cannot read the catalog ({exc})',
                                 path=args.catalog) from None
        from .bpixtab import check_positions
        check_positions(positions, args.catalog, 'catalog')
    else:
        n = len(args.x)
        if n == 0 or len(args.y) != n or len(args.ccdchip) not in (1, n):
            raise AcsFlecksError('give --x and --y the same number of times '
                                 'and --ccdchip once or as many times')
        chips = args.ccdchip * n if len(args.ccdchip) == 1 else args.ccdchip
        positions = list(zip(chips, args.x, args.y))
    try:
        table = lightpath_test(args.flashed, args.unflashed, positions,
                               nsigma=args.nsigma, radius=args.radius)
    except AcsFlecksError:
        raise                      # (a ValueError too) unchanged, path kept
    except ValueError as exc:
        raise AcsFlecksError(str(exc)) from None
    show = table['artifact_id', 'ccdchip', 'x', 'y', 'verdict',
                 'deficit_frac_flashed', 'snr_flashed',
                 'deficit_frac_unflashed', 'snr_unflashed',
                 'expected_unflashed', 'deficit_unflashed',
                 'disappearance_significance']
    for c in show.colnames:
        if show[c].dtype.kind == 'f':
            show[c].info.format = '.2f'
    show.pprint_all()
    if args.output:
        write_ecsv(table, args.output)
        print(f'wrote {args.output}')
    sys.stdout.flush()
    return 0
