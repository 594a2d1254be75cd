"""
Certify a bad-pixel table the way CRDS checks it, offline: CRDS validators
for ACS bpx, astropy FITS verification, the package's own checks (columns,
CCDCHIP, AXIS, LENGTH, runs on the chip, duplicates, DETECTOR) and, with
--reference, the pixel-level difference per chip and flag after expanding
both tables as CALACS does.

Example::

    acs_flecks certify new_bpx.fits --reference old_bpx.fits \\
        --flecks flecks.ecsv

Exit status: 0 passed, 1 a check failed, 2 bad input.
"""

from ..parameters import DELIVERY
from ..parameters import add_arguments as add_parameters

NAME = 'certify'
HELP = 'check a bpixtab (CRDS validators, FITS, CALACS rules, pixel diff)'


def add_arguments(parser):
    parser.add_argument('table', metavar='BPIXTAB', help='the table to check')
    parser.add_argument('--reference', metavar='REF',
                        help='the table it replaces (path or jref$name)')
    parser.add_argument('--flecks', metavar='ECSV',
                        help='fleck catalog or bad pixels (ccdchip, x, y): '
                             'new flags must lie near them')
    add_parameters(parser, DELIVERY, ('value',), help={
        'value': 'the only flag that may be added'})
    parser.add_argument('--detector', help='expected DETECTOR (e.g. WFC)')
    add_parameters(parser, DELIVERY, ('max_distance',), help={
        'max_distance': 'largest distance (pixels) of a new flag from a '
                        'fleck'})
    parser.add_argument('--max-new-pixels', type=int, default=10000,
                        help='more newly flagged pixels fail (default: 10000)')
    parser.add_argument('--list-pixels', action='store_true',
                        help='also list every pixel that gains a flag')


def run(args):
    import os

    from ..certify import certify_bpixtab
    from ..exceptions import AcsFlecksError
    from ..reference import resolve_reference
    from ..validate import check_dq_value, check_integer, check_parameter
    from .bpixtab import read_table

    check_dq_value(args.value, '--value')
    check_parameter(args.max_distance, DELIVERY['max_distance'],
                    '--max-distance')
    check_integer(args.max_new_pixels, '--max-new-pixels', minimum=0)
    for path in (args.table, args.flecks):
        if path is not None and not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)

    reference = (resolve_reference(args.reference)
                 if args.reference else None)
    flecks = read_table(args.flecks, 'fleck')
    result = certify_bpixtab(args.table, reference=reference, flecks=flecks,
                             value=args.value, detector=args.detector,
                             max_distance=args.max_distance,
                             max_new_pixels=args.max_new_pixels)
    print(result.report())
    if args.list_pixels and result.gained_pixels is not None:
        result.gained_pixels.pprint_all()
    return 0 if result.passed else 1
