"""
Monitor artifacts across anneal cycles (report §2, §7).

Searches each epoch (the combined short flashed dark, DKC, of an anneal
cycle) for artifacts, keeps the whole history in an SQLite database,
cross-matches artifacts between epochs and classifies them: stable, new
(with the date-of-origin bracket last_seen_absent .. first_seen), vanished,
changed, or transient (a single noise or edge detection).

Examples::

    # a lifetime, on all local cores
    acs_flecks monitor dkc/*_dkc.fits --db history.sqlite -o artifacts.ecsv \\
        --timeline timeline.png --thumbnails new.png
    # next month's epoch (the past is not reprocessed)
    acs_flecks monitor --add jd1234_dkc.fits --db history.sqlite -o artifacts.ecsv
    # on an existing dask.distributed cluster
    acs_flecks monitor dkc/*.fits --db history.sqlite --scheduler tcp://head:8786
    # export only (read-only, works while a run writes)
    acs_flecks monitor --db history.sqlite -o artifacts.ecsv
"""

import os
import sys

from ..parameters import DETECTION, MONITORING
from ..parameters import add_arguments as add_parameters

NAME = 'monitor'
HELP = 'find, cross-match and classify artifacts across epochs (history DB)'

#: The detection parameters this command takes as options.
MONITOR_DETECTION = ('median_size', 'nsigma', 'min_area')


def add_arguments(parser):
    parser.add_argument('files', nargs='*', metavar='FILE',
                        help='one flashed dark (DKC) per epoch, any order')
    parser.add_argument('--db', required=True, metavar='HISTORY.sqlite',
                        help='history database (created if missing)')
    parser.add_argument('-o', '--output', metavar='ARTIFACTS.ecsv',
                        help='write the artifacts table (ECSV)')
    parser.add_argument('--add', action='append', default=[], metavar='FILE',
                        help='add an epoch to an existing history (may be '
                             'repeated); an epoch already present changes '
                             'nothing, an older one is inserted in time '
                             'order and everything re-classified')
    parser.add_argument('--include', action='append', default=[], metavar='FILE',
                        help='use this epoch even though its header does not '
                             'say it was post-flashed (FLASHSTA missing or not '
                             'SUCCESSFUL); repeatable')
    add_parameters(parser, MONITORING, ('tolerance',))
    # None: a local cluster (the chain's '' means the same)
    parser.add_argument('--scheduler', metavar='ADDRESS',
                        help="dask.distributed scheduler address "
                             "(tcp://host:8786), or 'serial' for no Dask "
                             '(default: a local cluster on all cores)')
    add_parameters(parser, MONITORING, ('workers',), help={
        'workers': 'local worker processes'})
    parser.add_argument('--timeline', metavar='FIG.png',
                        help='write the timeline figure')
    parser.add_argument('--thumbnails', metavar='FIG.png',
                        help='write before/after thumbnails of new artifacts')
    parser.add_argument('--detections', metavar='DETECTIONS.ecsv',
                        help='also export every detection')
    add_parameters(parser, DETECTION, MONITOR_DETECTION)
    add_parameters(parser, MONITORING, ('change_nsigma', 'vanish_after'))
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    g = parser.add_argument_group(
        'new-artifact search (each epoch against the median of the earlier '
        'ones; see docs/newsearch.rst)')
    g.add_argument('--no-difference', action='store_true',
                   help='run the report\'s §7 search alone')
    add_parameters(g, MONITORING, ('difference_nsigma', 'difference_kernels',
                                   'min_reference', 'max_reference'))
    g.add_argument('--unflashed', action='append', default=[],
                   metavar='DARK', help='un-flashed dark for the light-path '
                   'test of new candidates (may be repeated)')


def _print_summary(art):
    import numpy as np

    from ..coords import chip_name

    s = art.meta.get('summary', {})
    names, counts = np.unique(np.asarray(art['status']), return_counts=True)
    print(f'history: {art.meta.get("n_epochs_total", "?")} epoch(s); '
          f'{len(art)} artifact(s): '
          + (', '.join(f'{c} {n}' for n, c in zip(names, counts)) or 'none'))
    if s:
        print(f'this run: {len(s.get("added", []))} epoch(s) added, '
              f'{len(s.get("already_present", []))} already present, '
              f'{len(s.get("out_of_order", []))} out of order, '
              f'{len(s.get("skipped", []))} skipped')
        for line in s.get('skipped', []):
            print(f'  skipped: {line}')
        if s.get('difference_searched'):
            print(f'new-artifact search: {len(s["difference_searched"])} '
                  'epoch(s) searched against their earlier epochs')
        for line in s.get('difference_skipped', []):
            print(f'  {line}')
    for status in ('new', 'vanished', 'changed'):
        sel = art[art['status'] == status]
        for r in sel:
            where = (f'{r["artifact_id"]} {chip_name(r["ccdchip"])} '
                     f'({r["x"].value:.1f}, {r["y"].value:.1f})')
            if status == 'new':
                by = r['found_by'] if 'found_by' in art.colnames else ''
                print(f'  NEW {where}: appeared between '
                      f'{r["last_seen_absent"]} and {r["first_seen"]}'
                      + (f' (found by: {by})' if by else ''))
            elif status == 'vanished':
                print(f'  VANISHED {where}: last seen {r["last_seen"]}, '
                      f'absent from {r["first_seen_absent"]}')
            else:
                print(f'  CHANGED {where}: {r["change_reason"]}')


def _validate(args, files):
    """Every option and output, before the database is opened."""
    from ..detect import FindParameters
    from ..exceptions import AcsFlecksError
    from ..utils import OutputGuard
    from ..validate import check_figure_format, check_parameter
    for name in ('tolerance', 'change_nsigma', 'vanish_after', 'workers'):
        p = MONITORING[name]
        check_parameter(getattr(args, name), p, p.option)
    for name in MONITOR_DETECTION:
        opt = DETECTION[name].option
        try:
            FindParameters(**{name: getattr(args, name)})
        except AcsFlecksError as exc:
            raise AcsFlecksError(f'{opt}: {exc}') from None
    guard = OutputGuard(inputs=files,
                        protected=[(args.db, 'the history database')])
    guard.file(args.output, option='-o')
    guard.file(args.detections, option='--detections')
    for opt in ('timeline', 'thumbnails'):
        path = getattr(args, opt)
        if path:
            check_figure_format(path, f'--{opt}')
            guard.file(path, option=f'--{opt}')
    for path in files:
        if not os.path.isfile(path):
            raise AcsFlecksError('no such file' if not os.path.isdir(path)
                                 else 'is a directory, not a FITS file',
                                 path=path)


def run(args):
    from ..exceptions import AcsFlecksError
    from ..monitor import HistoryDatabase, monitor_epochs
    files = list(args.files) + list(args.add)
    if args.add and not os.path.exists(args.db):
        raise AcsFlecksError('--add needs an existing history database; give '
                             'the epochs as FILE arguments to start one',
                             path=args.db)
    scheduler = args.scheduler
    if args.workers is not None and scheduler not in (None, 'serial'):
        raise AcsFlecksError('--workers applies to the local cluster only, '
                             'not to --scheduler ADDRESS')
    _validate(args, files + list(args.unflashed or []))
    difference = False
    if not args.no_difference:
        try:
            kernels = tuple(float(k) for k in
                            str(args.difference_kernels).split(',') if k)
        except ValueError:
            raise AcsFlecksError(
                '--difference-kernels must be comma-separated numbers, got '
                f'{args.difference_kernels!r}') from None
        from ..detect.difference import DifferenceParameters
        difference = DifferenceParameters(
            nsigma=args.difference_nsigma, kernels=kernels,
            min_reference=args.min_reference,
            max_reference=args.max_reference)
    if args.unflashed and (args.no_difference or not files):
        raise AcsFlecksError('--unflashed applies to the new-artifact search '
                             'of the epochs given (not with --no-difference)')
    if files:
        art = monitor_epochs(
            files, db=args.db, tolerance=args.tolerance, scheduler=scheduler,
            workers=args.workers,
            find_kwargs={k: getattr(args, k) for k in MONITOR_DETECTION},
            change_nsigma=args.change_nsigma, vanish_after=args.vanish_after,
            output=args.output, progress=False if args.no_progress else None,
            difference=difference, unflashed=args.unflashed,
            include=args.include)
    else:
        with HistoryDatabase(args.db, readonly=True) as db:
            art = db.artifacts()
            if args.output:
                db.export(args.output)
    if args.detections:
        with HistoryDatabase(args.db, readonly=True) as db:
            db.export_detections(args.detections)
    if args.timeline or args.thumbnails:
        from ..plotting.timeline import plot_new_thumbnails, plot_timeline
        from ..utils import atomic_output
        for path, func in ((args.timeline, plot_timeline),
                           (args.thumbnails, plot_new_thumbnails)):
            if path:
                fig = func(args.db)
                with atomic_output(path) as tmp:
                    fig.savefig(tmp, dpi=120,
                                format=os.path.splitext(path)[1][1:].lower())
    _print_summary(art)
    if args.output:
        print(f'wrote {args.output}')
    sys.stdout.flush()
    return 0
