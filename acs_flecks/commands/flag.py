"""
Re-flag the DQ of exposures calibrated before the new bad-pixel table.

Writes a copy of each calibrated ACS/WFC exposure (flt/flc, full frame or
subarray) into OUTDIR, same file name, with the table's flags OR-ed into DQ
exactly as CALACS DQICORR (dodqi.c) applies them for that exposure's
CCDCHIP, CCDAMP, CCDGAIN and LTV, and HISTORY cards naming the table.
Exposures taken before the table's USEAFTER are copied unchanged (and said
so).  Inputs are never modified; an output equal to an input is refused.

Example::

    acs_flecks flag j*_flc.fits --bpixtab new_bpx.fits -o reflagged/

Exit status: 0 done, 2 bad input (nothing written).
"""

NAME = 'flag'
HELP = 'copy exposures with the new bpixtab OR-ed into DQ (as CALACS)'


def add_arguments(parser):
    parser.add_argument('exposures', nargs='+', metavar='EXPOSURE',
                        help='calibrated ACS/WFC flt/flc files')
    parser.add_argument('--bpixtab', required=True, metavar='BPX',
                        help='the new bad-pixel table')
    parser.add_argument('-o', '--outdir', required=True, metavar='OUTDIR',
                        help='directory of the copies (created if missing; '
                             'not the inputs\' directory)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing copies in OUTDIR')


def run(args):
    from ..flag import flag_exposures

    result = flag_exposures(args.exposures, bpixtab=args.bpixtab,
                            outdir=args.outdir, overwrite=args.overwrite)
    print(f'bad-pixel table {result.meta["bpixtab"]} (USEAFTER '
          f'{result.meta["useafter"][:10]}):')
    for row in result:
        print(f'{row["exposure"]} ({row["obs_date"][:10]}) -> '
              f'{row["output"]}: {row["note"]}')
    return 0
