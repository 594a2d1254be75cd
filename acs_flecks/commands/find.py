"""
Find dark artifacts (flecks, freckles) in post-flashed darks (report §7).

Each chip is median filtered (15x15), normalized by its smooth LED level,
inverted to a percent deficit, 100 x (1 - image), and searched for groups
of at least MIN_AREA connected pixels above NSIGMA x the noise.  Positions
are 1-indexed, x = column, in the full-chip frame.

Examples::

    acs_flecks find jd_dkc_2017-05-05.fits -o artifacts.ecsv
    acs_flecks find dkc*.fits -o all.ecsv --regions artifacts.reg \\
        --thumbnails thumbs/ --known freckles.ecsv
"""

import os

from ..dq import DEFAULT_MASK_FLAGS  # noqa: F401  (--mask-flags' default,
#                                     through the detection stage)
from ..parameters import DETECTION, add_arguments as add_parameters

NAME = 'find'
HELP = 'find dark artifacts in flashed darks (report §7) and write a catalog'

#: The detection parameters this command takes as options.
FIND_PARAMETERS = ('median_size', 'nsigma', 'min_area', 'mask_flags',
                   'deblend', 'deblend_contrast', 'deblend_min_area')


def add_arguments(parser):
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='post-flashed darks (DKC, crj/flt)')
    parser.add_argument('-o', '--output', required=True, metavar='CATALOG',
                        help='output catalog (ECSV)')
    add_parameters(parser, DETECTION, FIND_PARAMETERS, help={
        'deblend': 'do not split blended artifacts (default: deblend as '
                   'SExtractor, 32 levels, contrast 0.005)'})
    parser.add_argument('--chips', type=int, nargs='+', metavar='CCDCHIP',
                        help='chips to search (default: all)')
    parser.add_argument('--regions', metavar='FILE.reg',
                        help='also write a DS9 region file (one per image '
                             'when several, named FILE_<rootname>.reg)')
    parser.add_argument('--thumbnails', metavar='DIR',
                        help='write a contact sheet of the artifacts per '
                             'image into DIR')
    parser.add_argument('--known', metavar='KNOWN.ecsv',
                        help='catalog of known artifacts: adds a "known" '
                             'column and marks new ones in the figures')
    parser.add_argument('--match-radius', type=float, default=5.0,
                        metavar='PIX',
                        help='radius for matching --known (default 5 pix)')


def _tags(images):
    """Name of each image in per-image outputs: its ROOTNAME, or its file
    name (without .fits) when two images share a ROOTNAME."""
    roots = [img.rootname for img in images]
    out = []
    for img, root in zip(images, roots):
        if roots.count(root) > 1:
            root = os.path.basename(img.path)
            for ext in ('.gz', '.fits', '.fit'):
                if root.lower().endswith(ext):
                    root = root[:-len(ext)]
        out.append(root)
    return out


def _region_path(base, tag, many):
    if not many:
        return base
    stem, ext = os.path.splitext(base)
    return f'{stem}_{tag}{ext or ".reg"}'


def run(args):
    import numpy as np

    from ..detect.catalog import (match_known, read_catalog, write_catalog,
                                  write_ds9_regions)
    from ..detect.finder import FindParameters, find_artifacts
    from ..exceptions import AcsFlecksError
    from ..io import ACSImage

    # validate everything before any work, so nothing is written on error
    from ..utils import OutputGuard
    from ..validate import check_number
    params = FindParameters(**{k: getattr(args, k) for k in FIND_PARAMETERS})
    check_number(args.match_radius, '--match-radius', minimum=0,
                 inclusive=False)
    for chip in args.chips or ():
        if chip not in (1, 2):
            raise AcsFlecksError(f'--chips: CCDCHIP must be 1 or 2, got '
                                 f'{chip}')
    inputs = list(args.images) + ([args.known] if args.known else [])
    for path in inputs:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    images = [ACSImage(p, detector='WFC', operation='find')
              for p in args.images]
    many = len(images) > 1
    guard = OutputGuard(inputs=inputs)
    out = guard.file(args.output, option='-o')
    tags = _tags(images)
    if args.regions:
        for tag in tags:
            guard.file(_region_path(args.regions, tag, many),
                       option='--regions')
            if not many:
                break
    if args.thumbnails:
        guard.directory(args.thumbnails, option='--thumbnails')
        for tag in tags:
            guard.file(os.path.join(args.thumbnails, f'{tag}_artifacts.png'),
                       option='--thumbnails')
    known = read_catalog(args.known) if args.known else None
    guard.create()

    catalogs = []
    for img in images:
        cat = find_artifacts(img, chips=args.chips, **{
            k: getattr(params, k) for k in FIND_PARAMETERS})
        cat['obs_time'] = np.array([cat.meta['obs_time']] * len(cat),
                                   dtype='U23')
        if known is not None:
            cat['known'] = match_known(cat, known, radius=args.match_radius)
        catalogs.append(cat)

    if many:
        from astropy.table import vstack
        table = vstack(catalogs, metadata_conflicts='silent')
        table['id'] = np.arange(1, len(table) + 1)
        table.meta = dict(catalogs[0].meta)
        table.meta['source_file'] = [c.meta['source_file'] for c in catalogs]
        table.meta['obs_time'] = [c.meta['obs_time'] for c in catalogs]
        table.meta['ltv'] = {}
    else:
        table = catalogs[0]
    write_catalog(table, out)
    if args.regions:
        for tag, cat in zip(tags, catalogs):
            write_ds9_regions(cat, _region_path(args.regions, tag, many))
    if args.thumbnails:
        from ..plotting.thumbnails import contact_sheet, save_figure
        for img, tag, cat in zip(images, tags, catalogs):
            fig = contact_sheet(img, cat, params=params)
            save_figure(fig, os.path.join(args.thumbnails,
                                          f'{tag}_artifacts.png'))
    for img, cat in zip(images, catalogs):
        n_new = '' if known is None else \
            f', {int((~cat["known"]).sum())} new'
        per_chip = ', '.join(
            f'WFC{c}: {int((cat["ccdchip"] == c).sum())}'
            for c in cat.meta['chips'])
        print(f'{img.name}: {len(cat)} artifact(s) ({per_chip}{n_new})')
    print(f'catalog written to {out}')
    return 0
