"""
Write a new bad-pixel table: the reference plus DQ 4 on every fleck pixel
under 50% transmissivity (report §8).

Every reference row is kept unchanged; new rows are runs along x (AXIS=1)
with CCDAMP='N/A' and CCDGAIN=-999.  The table is certified (CRDS
validators, FITS verification, own checks, pixel difference against the
reference) before it is renamed into place: nothing is written if it fails.

Examples::

    acs_flecks bpixtab --reference jref$25g1256nj_bpx.fits \\
        --bad-pixels badpix.ecsv --flecks flecks.ecsv \\
        --useafter 2017-05-05 -o new_bpx.fits
    acs_flecks bpixtab --reference auto --image jbt122x8q_flc.fits \\
        --flecks flecks.ecsv --flats *_pfl.fits --useafter 2017-05-05 \\
        -o new_bpx.fits

Exit status: 0 written, 1 certification failed, 2 bad input.
"""

import os

from ..parameters import CHARACTERIZATION, DELIVERY
from ..parameters import add_arguments as add_parameters

NAME = 'bpixtab'

#: The flecks are on the WFC CCDs only.
SUPPORTED_DETECTORS = ('WFC',)
HELP = 'write a new bpixtab with DQ 4 on the fleck pixels (report §8)'


def add_arguments(parser):
    parser.add_argument('--reference', required=True, metavar='REF',
                        help="current bpixtab: a path, jref$name or 'auto' "
                             '(the BPIXTAB named in --image)')
    parser.add_argument('--image', metavar='FILE',
                        help="image whose header names the BPIXTAB, for "
                             "--reference auto (default: the first flat "
                             "observed at/after --useafter)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--bad-pixels', metavar='ECSV',
                     help='table of bad pixels: ccdchip, x, y (1-indexed), '
                          'transmissivity, fleck_id')
    src.add_argument('--flats', nargs='+', metavar='FLAT',
                     help='lamp flats to measure the transmissivity of each '
                          'fleck pixel (needs --flecks)')
    parser.add_argument('--flecks', metavar='ECSV',
                        help='fleck catalog (ccdchip, x, y): names the '
                             'flecks and bounds where new flags may appear')
    parser.add_argument('--useafter', required=True, metavar='DATE',
                        help="USEAFTER, e.g. 2017-05-05 or 'May 05 2017 "
                             "00:00:00' (the flecks' date of origin)")
    parser.add_argument('-o', '--output', required=True, metavar='FILE',
                        help='the new bpixtab')
    add_parameters(parser, DELIVERY, ('value',), help={
        'value': 'DQ flag to set, 4 = bad detector pixel'})
    add_parameters(parser, CHARACTERIZATION, ('badpix_threshold',),
                   options={'badpix_threshold': '--threshold'},
                   dests={'badpix_threshold': 'threshold'},
                   help={'badpix_threshold': 'flag pixels with '
                         'transmissivity below this, in (0, 1]'})
    parser.add_argument('--detector', default='WFC',
                        help='detector of the flecks (default: WFC, the '
                             'only one supported)')
    parser.add_argument('--description', metavar='TEXT',
                        help='DESCRIP of the new table')
    add_parameters(parser, DELIVERY, ('max_distance',))
    box = '{0}x{0}'.format(CHARACTERIZATION.defaults.box)
    parser.add_argument('--box', default=box,
                        help="cutout around each fleck for --flats, 'NXxNY' "
                             f"(default {box}; a 'box' column of --flecks "
                             'overrides it per fleck)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output file')


def read_table(path, what):
    """Read an ECSV (or any astropy-readable) table, or raise."""
    from astropy.table import Table

    from ..exceptions import AcsFlecksError

    if path is None:
        return None
    if not os.path.isfile(path):
        raise AcsFlecksError(f'no such {what} file', path=path)
    try:
        fmt = 'ascii.ecsv' if path.endswith(('.ecsv', '.ecsv.gz')) else None
        return Table.read(path, format=fmt) if fmt else Table.read(path)
    except Exception as exc:  # astropy raises many types for bad tables
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AcsFlecksError(f'cannot read the {what} table ({msg})',
                             path=path) from None


def _bad_pixels_from_flats(args, flecks):
    """Measure each fleck of the catalog in the lamp flats (report §6.1)
    and keep its pixels under the threshold (acs_flecks.characterize)."""
    from ..bpixtab import parse_useafter
    from ..characterize import bad_pixels, measure_transmissivity
    from ..exceptions import AcsFlecksError

    if flecks is None:
        raise AcsFlecksError('--flats needs --flecks (where to measure)')
    names = {n.lower(): n for n in flecks.colnames}
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in names]
    if missing:
        raise AcsFlecksError(f'fleck catalog lacks column(s) '
                             f'{", ".join(missing)}', path=args.flecks)
    results, ids = [], []
    for i, row in enumerate(flecks):
        def get(name, default=None):
            key = names.get(name)
            if key is None:
                return default
            v = row[key]
            return getattr(v, 'value', v)
        fid = str(get('fleck_id', '') or f'fleck{i + 1}')
        box = get('box', args.box)
        results.append(measure_transmissivity(
            args.flats, ccdchip=int(get('ccdchip')), x=float(get('x')),
            y=float(get('y')), box=box, fleck_id=fid,
            badpix_threshold=args.threshold,
            # flats of several dates: the first complete set on/after the
            # date of origin (= USEAFTER) is measured
            date_of_origin=parse_useafter(args.useafter)))
        r = results[-1]
        print(f'{fid}: flats of {r.flat_set} used ({len(r.measurements)} '
              f'filters); earlier sets {r.meta["flat_sets_before"] or "none"} '
              f'(check: fleck absent), later sets '
              f'{r.meta["flat_sets_after"] or "none"} (stability)')
        ids.append(fid)
    return bad_pixels(results, threshold=args.threshold, fleck_id=ids)


def check_positions(table, path, what, *, detector='WFC'):
    """Every row of a fleck or bad-pixel table on a chip of ``detector``
    (ccdchip, finite 1-indexed x, y inside the chip); the message names the
    table's file."""
    import numpy as np

    from ..coords import CHIP_SHAPES, DETECTOR_CHIPS
    from ..exceptions import AcsFlecksError
    names = {n.lower(): n for n in table.colnames}
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in names]
    if missing:
        raise AcsFlecksError(f'{what} table lacks column(s) '
                             f'{", ".join(missing)}', path=path)
    chips = DETECTOR_CHIPS.get(detector, (1, 2))
    ny, nx = CHIP_SHAPES.get(detector, (2048, 4096))
    try:
        cc = np.asarray(getattr(table[names['ccdchip']], 'value',
                                table[names['ccdchip']]), dtype=float)
        xs = np.asarray(getattr(table[names['x']], 'value',
                                table[names['x']]), dtype=float)
        ys = np.asarray(getattr(table[names['y']], 'value',
                                table[names['y']]), dtype=float)
    except (TypeError, ValueError):
        raise AcsFlecksError(f'{what} table: ccdchip, x and y must be '
                             'numbers', path=path) from None
    for i in range(len(table)):
        row = f'row {i + 1}'
        if not np.isfinite(cc[i]) or cc[i] not in chips:
            raise AcsFlecksError(f'{what} table {row}: ccdchip {cc[i]:g} is '
                                 f'not a {detector} chip '
                                 f'({", ".join(map(str, chips))})', path=path)
        if not (np.isfinite(xs[i]) and np.isfinite(ys[i])):
            raise AcsFlecksError(f'{what} table {row}: position (x, y) = '
                                 f'({xs[i]}, {ys[i]}) is not finite',
                                 path=path)
        if not (0.5 <= xs[i] <= nx + 0.5 and 0.5 <= ys[i] <= ny + 0.5):
            raise AcsFlecksError(
                f'{what} table {row}: position (x, y) = ({xs[i]:g}, '
                f'{ys[i]:g}) is off the {nx}x{ny} chip (1-indexed)',
                path=path)


def _validate(args):
    """Options that need no file, before anything is read (after the
    USEAFTER, threshold and certification limits)."""
    from ..characterize import parse_box
    from ..exceptions import AcsFlecksError
    from ..validate import check_dq_value
    check_dq_value(args.value, '--value')
    try:
        parse_box(args.box)
    except AcsFlecksError as exc:
        raise AcsFlecksError(f'--box: {exc}') from None
    if args.flats and not args.flecks:
        raise AcsFlecksError('--flats needs --flecks (where to measure)')


def run(args):
    from ..bpixtab import check_threshold, parse_useafter, select_bad_pixels
    from ..certify import _check_options
    from ..delivery import deliver_bpixtab
    from ..exceptions import AcsFlecksError, CertificationError
    from ..io import check_detector
    from ..reference import resolve_reference
    from ..utils import OutputGuard

    # fail fast, before any work
    parse_useafter(args.useafter, what='--useafter')
    args.threshold = check_threshold(args.threshold, what='--threshold')
    _check_options(value=args.value, max_distance=args.max_distance,
                   max_new_pixels=10000)
    check_detector(args.detector.upper(), SUPPORTED_DETECTORS,
                   operation='bpixtab (--detector)')
    _validate(args)
    detector = args.detector.upper()
    inputs = [args.bad_pixels, args.flecks, args.image, *(args.flats or [])]
    for path in inputs:
        if path is not None and not os.path.isfile(path):
            raise AcsFlecksError('no such file', path=path)
    flecks = read_table(args.flecks, 'fleck')
    if flecks is not None:
        if args.flats and not len(flecks):
            raise AcsFlecksError('the fleck table is empty: --flats has no '
                                 'fleck to measure', path=args.flecks)
        check_positions(flecks, args.flecks, 'fleck', detector=detector)
    image = args.image
    if image is None and args.flats:
        from ..reference import image_in_force
        # the reference in force at the date of origin (= USEAFTER), by
        # observation time, not by file name
        image, why = image_in_force(args.flats,
                                    date_of_origin=parse_useafter(args.useafter))
        if args.reference.lower() == 'auto':
            print(f'reference: BPIXTAB of {why}')
    reference = resolve_reference(args.reference, image=image)
    guard = OutputGuard(inputs=[*inputs, reference],
                        protected=[(reference, 'the reference bad-pixel '
                                    'table')], overwrite=args.overwrite)
    guard.file(args.output, option='-o', extensions=('.fits',))
    if args.bad_pixels:
        bad = read_table(args.bad_pixels, 'bad-pixel')
        check_positions(bad, args.bad_pixels, 'bad-pixel', detector=detector)
        try:
            select_bad_pixels(bad, threshold=args.threshold,
                              detector=detector)
        except AcsFlecksError as exc:
            if exc.path is not None:
                raise
            raise AcsFlecksError(exc.problem, path=args.bad_pixels) from None
    else:
        bad = _bad_pixels_from_flats(args, flecks)
    try:
        delivery = deliver_bpixtab(
            reference, bad, args.output, useafter=args.useafter,
            value=args.value, detector=detector,
            description=args.description, threshold=args.threshold,
            flecks=flecks, overwrite=args.overwrite,
            max_distance=args.max_distance,
            method=('pixels with transmissivity < '
                    f'{100 * args.threshold:.0f}% '
                    + ('from ' + os.path.basename(args.bad_pixels)
                       if args.bad_pixels else
                       f'measured in {len(args.flats)} lamp flat(s)')))
    except CertificationError as exc:
        result = getattr(exc, 'result', None)
        if result is not None:
            print(result.report())
        print(f'acs_flecks: {args.output} not written: certification failed')
        return 1
    print(delivery.certification.report())
    table = delivery.table
    print(f'wrote {delivery.path}: {table.meta["n_reference"]} reference '
          f'rows kept, {table.meta["n_added"]} rows added for '
          f'{table.meta["added_pixels"]} pixels (DQ {args.value})')
    return 0
