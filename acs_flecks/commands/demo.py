"""
Run the whole job on built-in demo data.

Simulates the report's discovery timeline (2017: one combined short flashed
dark per anneal cycle as full two-chip frames, lamp flats of December 2016
and 2017, un-flashed darks and EPER images), then runs find -> monitor ->
flashed vs un-flashed -> characterize -> bpixtab -> certify -> HTML report,
compares the result with the simulation's truth and prints where every
output went.

Example::

    acs_flecks demo acs_flecks_demo
"""

import os

NAME = 'demo'
HELP = 'simulate the 2017 discovery and run the whole chain on it'


def add_arguments(parser):
    parser.add_argument('outdir', nargs='?', default='acs_flecks_demo',
                        metavar='OUTDIR',
                        help='output directory (default: acs_flecks_demo)')
    parser.add_argument('--seed', type=int, default=0,
                        help='simulation seed (default 0)')
    parser.add_argument('--window', type=int, default=None, metavar='N',
                        help='simulate the darks as N x N windows instead of '
                             'full frames (faster; the tiny fleck is then '
                             'outside them)')
    parser.add_argument('--workers', type=int, default=None,
                        help='Dask workers (default: all cores)')
    parser.add_argument('--scheduler', default='',
                        help="Dask scheduler address ('serial' for none)")


def run(args):
    from ..demo import run_demo
    from ._summary import (print_artifact_counts, print_chain_tail,
                           print_outputs)

    print(f'acs_flecks demo: simulating the 2017 discovery in {args.outdir}/ '
          '(full-frame darks take a minute)...', flush=True)
    result, comparison, timings, truth = run_demo(
        args.outdir, seed=args.seed, window=args.window,
        workers=args.workers, scheduler=args.scheduler)
    print_artifact_counts(result)
    print()
    print('Flecks: simulation truth vs what acs_flecks found '
          '(1-indexed chip pixels):')
    for name in ('x_found', 'y_found'):
        comparison[name].info.format = '.2f'
    comparison.pprint_all()
    cat = getattr(result, 'catalogue', None)
    if cat is not None:
        print()
        print('The whole catalogue vs the simulation truth (6 px, LED '
              'frame):')
        print('  ' + cat['summary'])
        pt = cat['per_truth']
        bad = pt[(pt['n_entries'] != 1) | (pt['kind'] == 'fleck')]
        if len(bad):
            print('  flecks, and artifacts missed or split:')
            for name in ('x', 'y', 'area', 'depth'):
                bad[name].info.format = '.1f'
            bad.pprint_all()
    if result.characterizations:
        from ..simulate.evaluation import compare_transmissivity
        trans = compare_transmissivity(result, truth)
        trans.sort(['fleck', 'filter'])
        for name, fmt in (('measured', '.4f'), ('error', '.4f'),
                          ('truth', '.4f'), ('pull', '+.2f')):
            trans[name].info.format = fmt
        print()
        print('Transmissivity per filter in the master aperture, measured vs '
              'the truth in the same aperture (pull = difference / error):')
        trans.pprint_all()
    print_chain_tail(result)
    print()
    print('Timings:')
    for stage, sec in timings.items():
        print(f'  {stage}: {sec:.1f} s')
    print_outputs(result, extra=[('simulation', os.path.join(args.outdir, 'data')
                                  + ' (manifest.ecsv, truth_artifacts.ecsv, '
                                  'truth_maps.fits)')])
    print()
    print(f'Open {os.path.abspath(result.report)} in a browser; the '
          "report's Figures 1-18 are indexed in "
          f'{os.path.abspath(result.outputs["figures"])}.')
    return 0
