"""
Compare a fleck's aperture in an LED post-flashed dark (DKC) with its lamp
master aperture from flats (report §6.2, Figure 17): both apertures, their
difference, and the offset of the LED shadow from the lamp shadow (model
fit of the shifted lamp blocking image, with its uncertainty).  Writes
<ID>_ledlamp.ecsv, <ID>_ledlamp.fits and <ID>_ledlamp.png to DIR.

Example::

    acs_flecks ledlamp dkc.fits --flats flats/*_crc.fits --ccdchip 2 \\
        --x 1521 --y 1773 -o out/
"""

from ..parameters import CHARACTERIZATION
from ..parameters import add_arguments as add_parameters
from .transmissivity import (add_position_arguments, check_outdir,
                             check_position_arguments)

NAME = 'ledlamp'
HELP = 'LED post-flash vs lamp-flat aperture of a fleck and their offset (§6.2)'


def add_arguments(parser):
    parser.add_argument('dkc', metavar='DKC',
                        help='post-flashed combined dark, or the post-flash '
                             'reference file (CRDS FLSHFILE, *_fls.fits)')
    parser.add_argument('--flats', nargs='+', required=True, metavar='FLAT',
                        help='lamp flats of one date (define the master aperture)')
    add_position_arguments(parser)
    add_parameters(parser, CHARACTERIZATION, ('aperture_threshold',), help={
        'aperture_threshold': 'blocking fraction defining an aperture'})


def run(args):
    from ..characterize import (compare_led_lamp, measure_transmissivity,
                                parse_box)

    check_position_arguments(args, [args.dkc, *args.flats],
                             thresholds=('aperture_threshold',))
    from ..io import check_detectors
    check_detectors([args.dkc, *args.flats], operation='ledlamp')
    check_outdir(args.outdir)
    lamp = measure_transmissivity(args.flats, ccdchip=args.ccdchip, x=args.x,
                                  y=args.y, box=parse_box(args.box),
                                  aperture_threshold=args.aperture_threshold,
                                  fleck_id=args.fleck_id)
    comp = compare_led_lamp(args.dkc, lamp)
    files = comp.write(args.outdir, prefix=lamp.default_prefix)
    if not args.no_figures:
        import os
        from ..plotting.characterize import plot_led_lamp, save_figure
        p = os.path.join(args.outdir, f'{lamp.default_prefix}_ledlamp.png')
        files['figure'] = save_figure(plot_led_lamp(comp), p)
    t = comp.to_table()
    for c in t.colnames:
        if t[c].dtype.kind == 'f':
            t[c].info.format = '.3f'
    t.pprint_all()
    for kind, path in files.items():
        print(f'wrote {kind}: {path}')
    return 0
