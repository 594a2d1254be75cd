"""
Simulate ACS/WFC calibration files with known truth.

Writes the files of a scenario (combined short flashed darks per anneal
cycle, un-flashed darks, lamp flats, EPER lamp images) in the real two-chip
layout, plus ``manifest.ecsv``, ``truth_artifacts.ecsv`` and
``truth_maps.fits``.

Scenarios: ``discovery`` (the report's 2017 timeline: ~100 freckles and the
three flecks appearing on 2017-05-05), ``population`` (random flecks of many
sizes and depths, for completeness curves), ``blank`` (no particles),
``lifetime`` (monthly epochs 2002-2026 with the 2017 flecks, an artifact that
fades and one that moves; use --window).

Examples::

    acs_flecks simulate discovery sim/ --seed 1
    acs_flecks simulate discovery sim/ --window 200 --kinds dkc,flat
"""

from ..parameters import KINDS, SCENARIOS

NAME = 'simulate'
HELP = 'write simulated ACS/WFC files and their truth'


def add_arguments(parser):
    parser.add_argument('scenario', metavar='SCENARIO',
                        help=f'one of: {", ".join(SCENARIOS)}')
    parser.add_argument('outdir', metavar='OUTDIR',
                        help='output directory (created if needed)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed (default 0)')
    parser.add_argument('--window', type=int, default=None, metavar='N',
                        help='write N x N sub-array windows around the '
                             'report flecks instead of full 2048x4096 chips')
    parser.add_argument('--kinds', default=','.join(KINDS),
                        help='comma-separated file kinds to write '
                             f'(default {",".join(KINDS)})')
    parser.add_argument('--dq4-after', default=None, metavar='DATE',
                        help='files observed on/after DATE carry DQ 4 on '
                             'the fleck pixels below 50%% transmissivity (as '
                             'after a new bpixtab is in use)')
    parser.add_argument('--eper-raw', action='store_true',
                        help='also write each EPER image as a raw frame '
                             '(*_raw.fits: uint16 DN with BZERO, prescan, '
                             'virtual overscan, bias per amplifier, null '
                             'ERR/DQ) next to its calibrated _flt twin')


def run(args):
    from ..simulate import simulate_scenario

    res = simulate_scenario(args.scenario, args.outdir, seed=args.seed,
                            window=args.window, kinds=args.kinds,
                            dq4_after=args.dq4_after,
                            eper_raw=args.eper_raw)
    counts = {}
    for kind in res.files['kind']:
        counts[kind] = counts.get(kind, 0) + 1
    size = 'full-frame' if args.window is None else \
        f'{args.window}x{args.window} window'
    print(f'scenario {args.scenario!r} (seed {args.seed}, {size}):')
    for kind, n in counts.items():
        print(f'  {n:3d} {kind} file(s) in {res.outdir}')
    print(f'  manifest: {res.manifest_path}')
    print(f'  truth:    {res.truth_paths[0]} '
          f'({len(res.truth.ids)} artifacts)')
    print(f'  maps:     {res.truth_paths[1]}')
    return 0
