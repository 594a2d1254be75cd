"""
Regenerate the report's Figures 1-18 from ACS files (or a simulated data
set's manifest).  Writes figureNN.png, figures.html and figures.ecsv, and
prints each figure written and each skipped with the reason.

Examples::

    acs_flecks figures --dkc dkc/*_dkc.fits --unflashed darks/*_crj.fits \\
        --flats flats/*_crc.fits --eper eper/*_flt.fits -o figs/
    acs_flecks figures --manifest sim/manifest.ecsv -o figs/
"""

import os

from ..parameters import DATE_OF_ORIGIN

NAME = 'figures'
HELP = "regenerate the report's Figures 1-18"


def _numbers(text):
    from ..exceptions import AcsFlecksError

    try:
        out = []
        for part in text.split(','):
            if '-' in part:
                a, b = (int(v) for v in part.split('-'))
                out.extend(range(a, b + 1))
            elif part.strip():
                out.append(int(part))
    except ValueError:
        raise AcsFlecksError(f'--only must look like 1,3,5-7, got {text!r}') from None
    return out


def add_arguments(parser):
    parser.add_argument('--dkc', nargs='+', default=[], metavar='F',
                        help='combined post-flashed short darks (DKC)')
    parser.add_argument('--unflashed', nargs='+', default=[], metavar='F',
                        help='un-flashed combined darks (Figure 4)')
    parser.add_argument('--flats', nargs='+', default=[], metavar='F',
                        help='lamp flats, one per filter and date (Figures 9-17)')
    parser.add_argument('--eper', nargs='+', default=[], metavar='F',
                        help='EPER lamp images of two epochs (Figures 5-7)')
    parser.add_argument('--daily-dark', nargs='+', default=[], metavar='F',
                        help='flashed long daily dark, optionally followed by '
                             'its daily superdark (Figure 2)')
    parser.add_argument('--manifest', default=None, metavar='MANIFEST.ecsv',
                        help="take the inputs from a simulator manifest "
                             "(kinds dkc, dark, daily, flat, eper)")
    parser.add_argument('--flecks', default=None, metavar='FLECKS.ecsv',
                        help='fleck positions (columns ccdchip, x, y, optional '
                             'id, box_ny, box_nx, photometry); default the '
                             "report's three flecks")
    parser.add_argument('--artifacts', default=None, metavar='TABLE.ecsv',
                        help='known artifacts for Figure 18 (find catalog or '
                             'monitor artifacts table)')
    parser.add_argument('--history', default=None, metavar='DB',
                        help='monitor history database (stable artifacts of '
                             'Figure 18)')
    parser.add_argument('--appeared', default=DATE_OF_ORIGIN, metavar='DATE',
                        help=f'date of origin (default {DATE_OF_ORIGIN})')
    parser.add_argument('--only', default=None, metavar='N[,N-M]',
                        help='draw only these figure numbers')
    parser.add_argument('-o', '--outdir', required=True, metavar='DIR')


def run(args):
    from ..exceptions import AcsFlecksError
    from ..html import read_manifest, regenerate_figures

    inputs = {'dkc': list(args.dkc), 'unflashed': list(args.unflashed),
              'flats': list(args.flats), 'eper': list(args.eper),
              'daily_darks': list(args.daily_dark)}
    if args.manifest:
        for k, v in read_manifest(args.manifest).items():
            inputs[k] = inputs[k] + v
    from ..io import check_detectors
    # daily darks are among the inputs (from --daily-dark or the manifest)
    check_detectors([p for v in inputs.values() for p in v],
                    operation='figures')
    if not any(inputs.values()):
        raise AcsFlecksError('no input files: give --dkc/--unflashed/--flats/'
                             '--eper/--daily-dark or --manifest')
    try:
        from astropy.time import Time
        Time(args.appeared)
    except ValueError:
        raise AcsFlecksError(f'--appeared is not a date: {args.appeared!r}') from None
    only = _numbers(args.only) if args.only else None
    bad = [n for n in only or () if not 1 <= n <= 18]
    if bad:
        raise AcsFlecksError(f'--only: the report has Figures 1-18, got '
                             f'{bad[0]}')
    from ..utils import OutputGuard
    files = [p for v in inputs.values() for p in v]
    files += [p for p in (args.manifest, args.flecks, args.artifacts,
                          args.history) if p]
    for path in files:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a file', path=path)
    guard = OutputGuard(inputs=files, protected=[
        (args.history, 'the history database')])
    guard.directory(args.outdir, option='-o')
    for name in ('figures.html', 'figures.ecsv'):
        guard.file(os.path.join(args.outdir, name), option='-o')
    guard.create()
    out = regenerate_figures(outdir=args.outdir,
                             flecks=args.flecks, artifacts=args.artifacts,
                             history=args.history, appeared=args.appeared,
                             figures=only, **inputs)
    nw = 0
    for n, r in out.items():
        if n == 'index':
            continue
        if r['status'] == 'written':
            nw += 1
            extra = f'  ({r["note"]})' if r['note'] else ''
            print(f'figure {n:2d}: wrote {r["file"]}{extra}')
        else:
            print(f'figure {n:2d}: skipped: {r["note"]}')
    print(f'{nw} figure(s) written; index {out["index"]}')
    return 0
