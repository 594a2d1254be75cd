"""
EPER lamp images of two epochs (report §4, Figures 5-7): pair the images
by signal level, take the ratio late / early of the locally normalized
cutouts, average it in a box around the fleck (with its error), and measure
the fleck's sub-pixel motion between the epochs (with its uncertainty).
Writes <ID>_eper.ecsv, <ID>_eper_ratio.fits and <ID>_eper_ratio.png.

Example::

    acs_flecks eper eper/*.fits --ccdchip 1 --x 3510 --y 355 -o out/
"""

from ..parameters import CHARACTERIZATION
from ..parameters import add_arguments as add_parameters
from .transmissivity import (add_position_arguments, check_outdir,
                             check_position_arguments)

NAME = 'eper'
HELP = 'EPER epoch ratios and motion of a fleck (§4)'


def add_arguments(parser):
    parser.add_argument('images', nargs='+', metavar='EPER',
                        help='bias-subtracted EPER lamp images of two epochs')
    add_position_arguments(parser)
    parser.add_argument('--ratio-box', default=None, metavar='NXxNY',
                        help='box in which ratios are averaged (default: the '
                             "fleck's bounding box + 1 pixel)")
    add_parameters(parser, CHARACTERIZATION, ('aperture_threshold',), help={
        'aperture_threshold': 'blocking fraction defining the fleck'})


def run(args):
    from ..characterize import eper_ratio, output_prefix, pair_eper, parse_box
    from ..exceptions import AcsFlecksError

    check_position_arguments(args, list(args.images),
                             thresholds=('aperture_threshold',))
    if args.ratio_box:
        try:
            parse_box(args.ratio_box)
        except AcsFlecksError as exc:
            raise AcsFlecksError(f'--ratio-box: {exc}') from None
    from ..io import check_detectors
    check_detectors(args.images, operation='eper')
    check_outdir(args.outdir)
    pairs = pair_eper(args.images, ccdchip=args.ccdchip, x=args.x, y=args.y,
                      box=parse_box(args.box))
    res = eper_ratio(pairs, ccdchip=args.ccdchip, x=args.x, y=args.y,
                     box=parse_box(args.box),
                     ratio_box=parse_box(args.ratio_box) if args.ratio_box else None,
                     aperture_threshold=args.aperture_threshold,
                     fleck_id=args.fleck_id)
    prefix = output_prefix(args.fleck_id, args.ccdchip, args.x, args.y)
    files = res.write(args.outdir, prefix=prefix)
    if not args.no_figures:
        import os
        from ..plotting.characterize import plot_eper_ratios, save_figure
        p = os.path.join(args.outdir, f'{prefix}_eper_ratio.png')
        files['figure'] = save_figure(plot_eper_ratios(res), p)
    t = res.to_table()
    for c in t.colnames:
        if t[c].dtype.kind == 'f':
            t[c].info.format = '.3f'
    cols = [c for c in ('level_early', 'level_late', 'mean_ratio',
                        'mean_ratio_err', 'flux_ratio', 'flux_ratio_err',
                        'dx', 'dx_err', 'dy', 'dy_err', 'shift_converged')
            if c in t.colnames]
    t[cols].pprint_all()
    if 'shift_converged' in t.colnames and not all(t['shift_converged']):
        print('shift fits that did not converge (shift_converged False) are '
              'left out of the motion')
    dx, dxe, dy, dye = res.shift
    print(f'motion late - early: dx = {dx:.3f} +/- {dxe:.3f} pix, '
          f'dy = {dy:.3f} +/- {dye:.3f} pix')
    for kind, path in files.items():
        print(f'wrote {kind}: {path}')
    return 0
