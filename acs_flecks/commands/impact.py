"""
Which science exposures and sources the flecks touch.

For every calibrated ACS/WFC exposure (flt/flc, full frame or subarray) and
every source (an ECSV table with id, ra, dec in degrees, or a DS9 region
file of points and circles in a sky frame), one row: the chip and the
1-indexed chip pixel (x = column) found through the exposure's own WCS with
its distortion (SIP and the D2IMARR/WCSDVARR lookup tables), whether the
pixel under the source carries the table's fleck flag (DQ 4) in an
exposure taken on or after the table's USEAFTER, the distance to the
nearest fleck pixel, and, with --flecks (the transmissivity maps of the
characterization), the expected fractional flux loss in the exposure's
filter within --radius.  Sources off every chip are listed as such.  A
summary per source (printed, and written beside the output as
<OUTPUT>_summary.ecsv) counts the exposures that cover it unaffected.

Example::

    acs_flecks impact j*_flc.fits --bpixtab new_bpx.fits \\
        --sources targets.reg --flecks flecks_2017/ -o impact.ecsv

Exit status: 0 done, 2 bad input (nothing written).
"""

NAME = 'impact'
HELP = 'which science exposures and sources the flecks touch'


def add_arguments(parser):
    parser.add_argument('exposures', nargs='+', metavar='EXPOSURE',
                        help='calibrated ACS/WFC flt/flc files (full frame '
                             'or subarray)')
    parser.add_argument('--bpixtab', required=True, metavar='BPX',
                        help='the new bad-pixel table (USEAFTER = the '
                             "flecks' date of origin)")
    parser.add_argument('--sources', required=True, metavar='SOURCES',
                        help='ECSV with id, ra, dec (deg) or a DS9 region '
                             'file of points/circles')
    parser.add_argument('-o', '--output', required=True, metavar='ECSV',
                        help='the impact table (the summary goes to '
                             '<OUTPUT>_summary.ecsv)')
    parser.add_argument('--flecks', nargs='+', metavar='RESULTS',
                        help='transmissivity maps (*_maps.fits) or the '
                             'directories of a run: adds the flux loss')
    parser.add_argument('--radius', type=float, default=4.0, metavar='PIX',
                        help='aperture radius in pixels for sources '
                             'without their own (default 4 = 0.2 arcsec)')
    parser.add_argument('--max-loss', type=float, default=0.01,
                        help='a flux loss above this makes a source '
                             'affected (default 0.01)')
    parser.add_argument('--reference', metavar='OLD_BPX',
                        help='the table the new one replaced: fleck pixels '
                             'are those it did not flag (default: the rows '
                             'acs_flecks added, from the HISTORY)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs')


def run(args):
    import numpy as np

    from ..impact import exposure_impact
    from ..utils import check_output_path

    inputs = list(args.exposures) + [args.bpixtab, args.sources] + \
        ([args.reference] if args.reference else [])
    check_output_path(args.output, inputs=inputs, overwrite=args.overwrite)
    res = exposure_impact(args.exposures, bpixtab=args.bpixtab,
                          sources=args.sources, flecks=args.flecks,
                          radius=args.radius, max_loss=args.max_loss,
                          reference=args.reference)
    files = res.write(args.output, overwrite=args.overwrite, inputs=inputs)
    t = res.table
    on = np.asarray(t['on_chip'])
    print(f'{len(res.summary)} source(s) x {len(set(t["exposure"]))} '
          f'exposure(s): {int(on.sum())} on a chip, '
          f'{int(np.sum(t["flagged"]))} on a flagged fleck pixel, '
          f'{int(np.sum(t["affected"]))} affected; bad-pixel table '
          f'{res.table_name} (USEAFTER {t.meta["useafter"][:10]})')
    for note in res.notes:
        print(note)
    s = res.summary.copy()
    for c in ('ra', 'dec'):
        s[c].info.format = '.6f'
    for c in ('min_distance', 'max_flux_loss'):
        s[c].info.format = '.3f'
    s['id', 'ra', 'dec', 'n_exposures', 'n_on_chip', 'n_flagged',
      'n_affected', 'n_unaffected', 'min_distance',
      'max_flux_loss'].pprint_all()
    for kind, path in files.items():
        print(f'wrote {kind}: {path}')
    return 0
