"""
Show what acs_flecks reads from ACS files: detector, filter, times, flash,
chips keyed by CCDCHIP with their extensions, shapes and LTV offsets.

Example::

    acs_flecks info jbt122x8q_flc.fits
"""

import sys

NAME = 'info'
HELP = 'print the metadata acs_flecks reads from ACS files'


def add_arguments(parser):
    parser.add_argument('files', nargs='+', metavar='FILE',
                        help='ACS FITS files')


def run(args):
    from astropy.table import Table

    from ..io import ACSImage

    rows = []
    for path in args.files:
        img = ACSImage(path)
        for chip in img.chips:
            ltv1, ltv2 = img.ltv(chip)
            rows.append((img.name, img.detector, img.filter,
                         img.obs_time.isot[:19], img.exptime.value,
                         img.flashdur.value, img.flashsta, img.imagetyp,
                         chip, f'[SCI,{img._entry(chip)["extver"]}]',
                         '%dx%d' % img.shape[::-1], ltv1, ltv2,
                         img.ncombine(chip), img.bunit))
    table = Table(rows=rows, names=(
        'file', 'detector', 'filter', 'obs_time', 'exptime', 'flashdur',
        'flashsta', 'imagetyp', 'ccdchip', 'ext', 'nx x ny', 'ltv1', 'ltv2',
        'ncombine', 'bunit'))
    table.pprint_all()
    sys.stdout.flush()
    return 0
