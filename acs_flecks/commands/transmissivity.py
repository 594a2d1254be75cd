"""
Measure a fleck's transmissivity in lamp flats (report §6.1).

For each broadband flat: cutout, division by the local background (a plane
fitted to the pixels outside the fleck), 1 - image, the pixels blocking more
than --aperture-threshold form the filter's aperture; the union over the
filters is the master aperture, and the transmissivity per filter is the
mean normalized flux in it.  Narrowband flats are skipped.  Writes
<ID>_transmissivity.ecsv, <ID>_badpix.ecsv (pixels under
--badpix-threshold), <ID>_aperture.fits, <ID>_maps.fits and the figures
(Figures 10-14) to DIR.

Example::

    acs_flecks transmissivity flats/*_crc.fits --ccdchip 2 --x 1521 --y 1773 \\
        --box 40x40 -o out/
"""

import os

from ..parameters import CHARACTERIZATION, COMBINE_RULES
from ..parameters import add_arguments as add_parameters

#: The characterization stage's cutout (40 pixels, report §6.1) as NXxNY.
BOX_DEFAULT = '{0}x{0}'.format(CHARACTERIZATION.defaults.box)

NAME = 'transmissivity'
HELP = 'per-filter transmissivity, master aperture and bad pixels of a fleck (§6.1)'


def add_position_arguments(parser, *, box_default=BOX_DEFAULT):
    """--ccdchip, --x, --y, --box, -o (shared by the characterization commands)."""
    parser.add_argument('--ccdchip', type=int, required=True, choices=(1, 2),
                        help='chip: 1 = WFC1, 2 = WFC2')
    parser.add_argument('--x', type=float, required=True,
                        help='1-indexed chip column of the fleck')
    parser.add_argument('--y', type=float, required=True,
                        help='1-indexed chip row of the fleck')
    parser.add_argument('--box', default=box_default, metavar='NXxNY',
                        help=f'cutout size, width x height (default {box_default}; '
                             'the report used 20x30 for the elongated fleck)')
    parser.add_argument('--fleck-id', default='', help='name used in output files')
    parser.add_argument('-o', '--outdir', required=True, metavar='DIR',
                        help='output directory (created if needed)')
    parser.add_argument('--no-figures', action='store_true', help='skip the figures')


def check_outdir(path):
    """Create the output directory or raise a clear error (call it after
    every other check: see `check_position_arguments`)."""
    from ..utils import check_output_directory
    check_output_directory(path, option='-o', create=True)


def check_position_arguments(args, inputs, *, thresholds=()):
    """
    Check, before any work or write, what the characterization commands
    share: the input files exist, --x/--y are finite and on the chip,
    --box parses, thresholds are fractions, and -o DIR can be made.

    Parameters
    ----------
    args : argparse.Namespace
    inputs : list of str
        Every input file.
    thresholds : iterable of str
        Attribute names of fraction options (``'aperture_threshold'``).
    """
    from ..characterize import parse_box
    from ..exceptions import AcsFlecksError
    from ..utils import OutputGuard
    from ..validate import check_chip_position, check_parameter

    for path in inputs:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    check_chip_position(args.x, args.y)
    try:
        parse_box(args.box)
    except AcsFlecksError as exc:
        raise AcsFlecksError(f'--box: {exc}') from None
    for name in thresholds:
        p = CHARACTERIZATION[name]
        check_parameter(getattr(args, name), p, p.option)
    guard = OutputGuard(inputs=inputs)
    guard.directory(args.outdir, option='-o')
    return guard


def add_arguments(parser):
    parser.add_argument('flats', nargs='+', metavar='FLAT',
                        help='lamp flats (crc/crj), one per filter and date; '
                             'flats of several dates are grouped by date')
    parser.add_argument('--appeared', default=None, metavar='DATE',
                        help='date of origin of the fleck: the first complete '
                             'set of flats on/after it is measured (earlier '
                             'sets: check, later: stability); default the '
                             'latest complete set')
    add_position_arguments(parser)
    add_parameters(parser, CHARACTERIZATION, (
        'aperture_threshold', 'badpix_threshold', 'combine', 'background'),
        help={'badpix_threshold': 'transmissivity under which a pixel is bad',
              'combine': 'rule combining filters for bad pixels: '
                         f'{", ".join(COMBINE_RULES)} or a filter name'})
    parser.add_argument('--before', nargs='+', metavar='FLAT', default=None,
                        help='flats of an earlier date for the thumbnail figure')


def run(args):
    from ..characterize import bad_pixels, measure_transmissivity, parse_box
    from ..characterize.fleck import FleckCharacterization
    from ..plotting.characterize import write_fleck_figures
    from ..utils import write_ecsv
    from ..validate import check_number

    check_position_arguments(args, list(args.flats) + list(args.before or []),
                             thresholds=('aperture_threshold',))
    check_number(args.badpix_threshold, '--badpix-threshold', minimum=0,
                 maximum=1)
    from ..io import check_detectors
    check_detectors(list(args.flats) + list(args.before or []),
                    operation='transmissivity')
    from ..characterize.badpix import check_combine
    check_combine(args.combine, what='--combine')
    check_outdir(args.outdir)
    res = measure_transmissivity(
        args.flats, ccdchip=args.ccdchip, x=args.x, y=args.y,
        box=parse_box(args.box), aperture_threshold=args.aperture_threshold,
        badpix_threshold=args.badpix_threshold, background=args.background,
        fleck_id=args.fleck_id, date_of_origin=args.appeared)
    sets = res.flat_sets
    print(f'flats of {res.flat_set} used ({len(res.measurements)} filter(s)); '
          f'earlier sets {[d for d, _ in sets["before"]] or "none"} (check), '
          f'later sets {[d for d, _ in sets["after"]] or "none"} (stability)')
    bad = bad_pixels(res, combine=args.combine, fleck_id=args.fleck_id or None)
    prefix = res.default_prefix
    files = res.write(args.outdir, prefix=prefix)
    p = os.path.join(args.outdir, f'{prefix}_badpix.ecsv')
    write_ecsv(bad, p)
    files['badpix'] = p
    if not args.no_figures:
        before = None
        if args.before:
            before = measure_transmissivity(
                args.before, ccdchip=args.ccdchip, x=args.x, y=args.y,
                box=parse_box(args.box), aperture_threshold=args.aperture_threshold,
                background=args.background)
        ch = FleckCharacterization(transmissivity=res, bad_pixels=bad)
        files.update(write_fleck_figures(ch, args.outdir, prefix=prefix,
                                         before=before))
    t = res.to_table()
    t['wavelength'].info.format = '.1f'
    for c in ('transmissivity', 'transmissivity_err', 'err_stat', 'err_norm', 'err_flat'):
        t[c].info.format = '.4f'
    t['filter', 'wavelength', 'transmissivity', 'transmissivity_err',
      'aperture_npix', 'filter_npix', 'n_excluded', 'n_below_badpix'].pprint_all()
    print(f'master aperture: {res.master_npix} pixels; pixels under '
          f'{args.badpix_threshold:g} ({bad.meta["maps_used"][0]}): {len(bad)}')
    for pth, reason in res.skipped:
        print(f'skipped {os.path.basename(pth)}: {reason}')
    for kind, path in files.items():
        print(f'wrote {kind}: {path}')
    return 0
