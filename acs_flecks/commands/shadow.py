"""
The shadow trail in +y of a fleck (report §5, Figure 9): total signal in an
11x3 box just above the fleck vs an empty box of the same size to its
right, with Poisson errors from the electrons counted (sum or average,
decided from the header), flagged pixels left out, for every short flashed
dark.  Give --flats to place the boxes on the lamp footprint.  Writes
<ID>_shadow.ecsv and <ID>_shadow.png.

Example::

    acs_flecks shadow dkc/*_dkc.fits --ccdchip 2 --x 1521 --y 1773 \\
        --flats flats/*_crc.fits --appeared 2017-05-05 -o out/
"""

import os

from .transmissivity import check_outdir

NAME = 'shadow'
HELP = 'shadow-trail vs empty-box signal over short darks (§5)'


def _box(text, option='box'):
    from ..exceptions import AcsFlecksError

    try:
        vals = [int(v) for v in text.split(',')]
    except ValueError:
        raise AcsFlecksError(f'{option} must be XMIN,XMAX,YMIN,YMAX, got '
                             f'{text!r}') from None
    if len(vals) != 4:
        raise AcsFlecksError(f'{option} must be XMIN,XMAX,YMIN,YMAX, got '
                             f'{text!r}')
    if vals[0] > vals[1] or vals[2] > vals[3] or min(vals) < 1:
        raise AcsFlecksError(f'{option} must have 1 <= XMIN <= XMAX and '
                             f'1 <= YMIN <= YMAX, got {text!r}')
    return tuple(vals)


def add_arguments(parser):
    parser.add_argument('darks', nargs='+', metavar='DARK',
                        help='average short flashed darks (DKC)')
    parser.add_argument('--ccdchip', type=int, required=True, choices=(1, 2))
    parser.add_argument('--x', type=float, required=True, help='1-indexed chip column')
    parser.add_argument('--y', type=float, required=True, help='1-indexed chip row')
    parser.add_argument('--shadow-box', default=None, metavar='XMIN,XMAX,YMIN,YMAX',
                        help='explicit shadow box (1-indexed, inclusive)')
    parser.add_argument('--empty-box', default=None, metavar='XMIN,XMAX,YMIN,YMAX',
                        help='explicit empty box of the same size')
    parser.add_argument('--flats', nargs='+', default=None, metavar='FLAT',
                        help='lamp flats (any dates: the first complete set '
                             'on/after --appeared is used): '
                             'the boxes are placed on the lamp footprint moved '
                             "onto the dark (noise and the trail cannot widen "
                             "it); default: a model footprint from the dark")
    parser.add_argument('--size', default='11x3', metavar='NXxNY',
                        help='size of the default boxes (default 11x3)')
    parser.add_argument('--appeared', default=None, metavar='DATE',
                        help='date of origin to mark on the figure')
    parser.add_argument('--fleck-id', default='')
    parser.add_argument('-o', '--outdir', required=True, metavar='DIR')
    parser.add_argument('--no-figures', action='store_true')


def run(args):
    from ..characterize import output_prefix, shadow_time_series
    from ..exceptions import AcsFlecksError
    from ..utils import OutputGuard
    from ..validate import check_chip_position

    for path in args.darks:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    check_chip_position(args.x, args.y)
    from ..io import check_detectors
    check_detectors(args.darks, operation='shadow')
    from ..characterize.shadow import check_flashed_darks
    args.darks = check_flashed_darks(args.darks)     # before any output
    try:
        nx, ny = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        raise AcsFlecksError(f'--size must look like 11x3 (NXxNY), got '
                             f'{args.size!r}') from None
    if nx < 1 or ny < 1:
        raise AcsFlecksError(f'--size must be positive (NXxNY), got '
                             f'{args.size!r}')
    size = (ny, nx)
    sb = _box(args.shadow_box, '--shadow-box') if args.shadow_box else None
    eb = _box(args.empty_box, '--empty-box') if args.empty_box else None
    if args.appeared:
        from astropy.time import Time
        try:
            Time(args.appeared)
        except ValueError:
            raise AcsFlecksError(f'--appeared is not a date: '
                                 f'{args.appeared!r}') from None
    flats = list(args.flats or [])
    for path in flats:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    if flats:
        check_detectors(flats, operation='shadow (--flats)')
    OutputGuard(inputs=list(args.darks) + flats).directory(args.outdir,
                                                           option='-o')
    lamp = None
    if flats and sb is None:
        from ..characterize import measure_transmissivity
        lamp = measure_transmissivity(flats, ccdchip=args.ccdchip,
                                      x=args.x, y=args.y,
                                      fleck_id=args.fleck_id,
                                      date_of_origin=args.appeared)
        print(f'flats of {lamp.flat_set} used for the lamp footprint')
    check_outdir(args.outdir)
    series = shadow_time_series(args.darks, ccdchip=args.ccdchip, x=args.x, y=args.y,
                                shadow_box=sb, empty_box=eb, size=size,
                                lamp=lamp, fleck_id=args.fleck_id)
    prefix = output_prefix(args.fleck_id, args.ccdchip, args.x, args.y)
    files = series.write(args.outdir, prefix=prefix)
    if not args.no_figures:
        from ..plotting.characterize import plot_shadow_series, save_figure
        p = os.path.join(args.outdir, f'{prefix}_shadow.png')
        files['figure'] = save_figure(plot_shadow_series(series, appeared=args.appeared), p)
    t = series.table.copy()
    t['time'] = t['time'].isot
    for c in t.colnames:
        if t[c].dtype.kind == 'f':
            t[c].info.format = '.1f'
    t['time', 'shadow_signal', 'shadow_err', 'empty_signal', 'empty_err',
      'difference', 'difference_err', 'significance', 'combination',
      'shadow_npix_excluded', 'empty_npix_excluded'].pprint_all()
    placed = ('given' if sb is not None else 'lamp footprint from the flats'
              if lamp is not None else 'model footprint from the latest dark')
    print(f'boxes: {placed}; Poisson errors from the electrons counted '
          f'({", ".join(sorted(set(series.table["combination"])))}: sum or '
          'single -> sqrt(S), average of N -> sqrt(S/N))')
    print(f'shadow box x {series.shadow_box[0]}-{series.shadow_box[1]}, y '
          f'{series.shadow_box[2]}-{series.shadow_box[3]}; empty box x '
          f'{series.empty_box[0]}-{series.empty_box[1]}, y '
          f'{series.empty_box[2]}-{series.empty_box[3]}')
    for kind, path in files.items():
        print(f'wrote {kind}: {path}')
    return 0
