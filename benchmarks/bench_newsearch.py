"""
Sensitivity of the new-artifact search (issue #15) beside the report's §7
search, on the package's simulator WITHOUT LED penumbra.

Four experiments, each printed as a table (and, with ``--figure``, drawn):

``discovery``
    The report's timeline (12 monthly DKC, ~100 freckles, the three flecks
    appearing on 2017-05-05) without penumbra: every new artifact with its
    dates and the search that found it, and whether the tiny fleck comes
    out new, dated 2017-04-04 .. 2017-05-05, at its position.

``six``
    Six monthly epochs, 100 stable freckles and 40 random flecks (10-240 px,
    10-100% deep) appearing at random epochs (2nd to 6th).  For the flecks
    with at least 5 pixels deeper than 5 times the per-pixel noise of their
    epoch ("eligible"): how many ``monitor`` calls new with the right
    ``first_seen`` and ``last_seen_absent``, with and without the
    difference search; false new artifacts over the six epochs.
``completeness``
    Flecks of 5-320 px and 3-100% depth injected at random epochs of
    4-epoch timelines (several seeds): the fraction called new and correctly
    dated, per bin of area and depth, for ``monitor`` with the difference
    search and for the §7 search alone.
``falsenew``
    A timeline with no new particle (100 freckles), with a 2% change of the
    flash level and a 1% tilt of its pattern in some epochs: new artifacts
    per epoch (false by construction).

Usage::

    python benchmarks/bench_newsearch.py [discovery six completeness falsenew]
        [--window N] [--seeds N] [--outdir DIR] [--figure FIG.png]

``--window`` simulates sub-arrays (faster; the false-alarm rate then covers
fewer pixels than two full chips); default full frame for ``discovery``,
``six`` and ``falsenew``, 1024 for ``completeness``.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

from acs_flecks.io import ACSImage
from acs_flecks.monitor import monitor_epochs
from acs_flecks.simulate.injection import (appearing_flecks_scenario,
                                           no_penumbra, write_dkc_timeline)
from acs_flecks.simulate.scenarios import get_scenario

AREA_BINS = (5, 10, 20, 40, 80, 160, 320)
DEPTH_BINS = (0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


def _truth(sc, paths):
    """Per fleck: chip, LED position, appear index, area (> 5%), peak LED
    blocking and number of pixels deeper than 5x the per-pixel noise."""
    starts = list(sc.cycles['start'])
    imgs = {}
    rows = []
    for a in sc.artifacts:
        if a.kind != 'fleck':
            continue
        k = starts.index(a.appear)
        block, (x0, y0) = a.blocking_map('led_core')
        img = imgs.setdefault(k, ACSImage(paths[k]))
        chip = img.chip(a.ccdchip, arrays=('SCI', 'ERR'))
        ltv = chip.ltv
        r = int(round(a.y + ltv[1])) - 1
        c = int(round(a.x + ltv[0])) - 1
        box = (slice(max(r - 30, 0), r + 30), slice(max(c - 30, 0), c + 30))
        frac = float(np.median(chip.err[box] / np.abs(chip.sci[box])))
        thr = min(0.05, block.max() / 2)
        rows.append(dict(id=a.id, chip=a.ccdchip, x=a.x + a.led_dx,
                         y=a.y + a.led_dy, k=k,
                         area=int(np.count_nonzero(block > thr)),
                         reach=3.0 + np.sqrt(np.count_nonzero(block > 0.01)
                                             / np.pi),
                         depth=float(block.max()),
                         n5=int(np.count_nonzero(block > 5 * frac)),
                         noise=frac))
    return rows


def _evaluate(art, truth, starts):
    new = art[art['status'] == 'new']
    used = set()
    for t in truth:
        t['new'] = t['dated'] = False
        t['found_by'] = ''
        d = np.hypot(art['x'].value - t['x'], art['y'].value - t['y'])
        d[np.asarray(art['ccdchip']) != t['chip']] = np.inf
        if not len(d) or d.min() > 3.5:
            continue
        a = art[int(np.argmin(d))]
        used.add(str(a['artifact_id']))
        t['new'] = a['status'] == 'new'
        t['found_by'] = str(a['found_by'])
        t['dated'] = bool(t['new'] and a['first_seen'][:10] == starts[t['k']]
                          and str(a['last_seen_absent'])[:10]
                          == starts[t['k'] - 1])
    # a new artifact that is not the match of a fleck is false unless it
    # lies on the shadow of a fleck present then (one fleck detected as
    # several tracks: a duplicate, counted apart)
    false, dup = [], []
    for a in new:
        if str(a['artifact_id']) in used:
            continue
        on = [t for t in truth if t['chip'] == a['ccdchip'] and
              starts.index(a['first_seen'][:10]) >= t['k'] and
              np.hypot(a['x'].value - t['x'], a['y'].value - t['y'])
              <= t['reach']]
        (dup if on else false).append(a)
    return false, dup


def _monitor(paths, db, difference):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return monitor_epochs(paths, db=db, scheduler='serial',
                              difference=difference, progress=False)


def discovery(args, outdir):
    sc = no_penumbra(get_scenario('discovery', seed=args.seed,
                                  kinds=('dkc',)))
    sc.trail = None
    if args.window:          # windows on the tiny fleck and the large one
        sc.centers = {1: (1850, 1755), 2: (1521, 1773)}
    paths = write_dkc_timeline(sc, outdir, window=args.window)
    flecks = [a for a in sc.artifacts if a.kind == 'fleck']
    for label, diff in (('monitor (difference + §7)', True),
                        ('§7 search alone', False)):
        t0 = time.perf_counter()
        art = _monitor(paths, os.path.join(outdir, f'd_{diff}.sqlite'), diff)
        el = time.perf_counter() - t0
        new = art[art['status'] == 'new']
        print(f'discovery, no penumbra ({label}, {el:.0f} s): {len(art)} '
              f'artifacts, {len(new)} new')
        for a in new:
            near = [(np.hypot(a['x'].value - f.x - f.led_dx,
                              a['y'].value - f.y - f.led_dy), f.id)
                    for f in flecks if f.ccdchip == a['ccdchip']]
            dist, fid = min(near) if near else (np.inf, '-')
            print(f'  NEW {a["artifact_id"]} chip {a["ccdchip"]} '
                  f'({a["x"].value:.1f}, {a["y"].value:.1f}) '
                  f'{str(a["last_seen_absent"])[:10]} .. '
                  f'{a["first_seen"][:10]} found_by={a["found_by"]} '
                  f'n_epochs={a["n_epochs"]} n_forced={a["n_forced"]}; '
                  f'nearest fleck {fid} at {dist:.1f} px')
        f3 = [f for f in flecks if f.id == 'fleck3'][0]
        d = np.hypot(new['x'].value - f3.x - f3.led_dx,
                     new['y'].value - f3.y - f3.led_dy)
        d[np.asarray(new['ccdchip']) != f3.ccdchip] = np.inf
        ok = bool(len(d) and d.min() < 2 and
                  new[np.argmin(d)]['first_seen'][:10] == '2017-05-05' and
                  str(new[np.argmin(d)]['last_seen_absent'])[:10]
                  == '2017-04-04')
        print(f'  tiny fleck new, dated 2017-04-04 .. 2017-05-05, within 2 px:'
              f' {ok}')


def six(args, outdir):
    sc = appearing_flecks_scenario(seed=args.seed, n_epochs=6, n_flecks=40,
                                   n_freckles=100, window=args.window)
    t0 = time.perf_counter()
    paths = write_dkc_timeline(sc, outdir, window=args.window)
    starts = list(sc.cycles['start'])
    truth = _truth(sc, paths)
    print(f'six: {len(paths)} epochs written in '
          f'{time.perf_counter() - t0:.0f} s '
          + ('(full frame)' if not args.window else
             f'({args.window} px windows)'))
    out = {}
    for label, diff in (('monitor (difference + §7)', True),
                        ('§7 search alone', False)):
        t0 = time.perf_counter()
        art = _monitor(paths, os.path.join(outdir, f'six_{diff}.sqlite'),
                       diff)
        el = time.perf_counter() - t0
        false, dup = _evaluate(art, truth, starts)
        elig = [t for t in truth if t['n5'] >= 5]
        ok = [t for t in elig if t['dated']]
        allok = [t for t in truth if t['dated']]
        out[label] = (len(ok), len(elig))
        print(f'  {label}: {len(allok)}/{len(truth)} flecks new and correctly '
              f'dated; eligible (>= 5 px deeper than 5x noise): '
              f'{len(ok)}/{len(elig)} ({100 * len(ok) / max(len(elig), 1):.0f}'
              f'%); false new over the 6 epochs: {len(false)} (and {len(dup)} '
              'duplicate track(s) of a fleck); '
              f'smallest found: '
              f'{min([t["area"] for t in allok], default=0)} px; {el:.0f} s')
        missed = [t for t in elig if not t['dated']]
        for t in missed:
            print(f'    missed: {t["id"]} chip {t["chip"]} area {t["area"]} '
                  f'depth {t["depth"]:.2f} n5 {t["n5"]} new={t["new"]} '
                  f'found_by={t["found_by"]!r}')
        for a in false:
            print(f'    false new: {a["artifact_id"]} chip {a["ccdchip"]} '
                  f'({a["x"].value:.1f}, {a["y"].value:.1f}) '
                  f'first_seen {a["first_seen"][:10]} '
                  f'found_by {a["found_by"]}')
    return out


def completeness(args, outdir):
    window = args.window or 1024
    results = {True: [], False: []}
    n_false = {True: 0, False: 0}
    n_dup = {True: 0, False: 0}
    for s in range(args.seeds):
        sc = appearing_flecks_scenario(
            seed=1000 + s, n_epochs=4, n_flecks=args.flecks,
            n_freckles=30, window=window, area_range=(AREA_BINS[0],
                                                      AREA_BINS[-1]),
            depth_range=(DEPTH_BINS[0], DEPTH_BINS[-1]))
        sub = os.path.join(outdir, f'c{s}')
        paths = write_dkc_timeline(sc, sub, window=window)
        starts = list(sc.cycles['start'])
        for diff in (True, False):
            truth = _truth(sc, paths)
            art = _monitor(paths, os.path.join(sub, f'h_{diff}.sqlite'), diff)
            false, dup = _evaluate(art, truth, starts)
            n_false[diff] += len(false)
            n_dup[diff] += len(dup)
            results[diff] += truth
        print(f'  completeness seed {s}: {len(results[True])} flecks so far',
              file=sys.stderr)
    table = {}
    for diff in (True, False):
        rows = results[diff]
        area = np.array([t['area'] for t in rows])
        depth = np.array([t['depth'] for t in rows])
        good = np.array([t['dated'] for t in rows])
        grid = np.full((len(AREA_BINS) - 1, len(DEPTH_BINS) - 1), np.nan)
        count = np.zeros(grid.shape, int)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                sel = ((area >= AREA_BINS[i]) & (area < AREA_BINS[i + 1]) &
                       (depth >= DEPTH_BINS[j]) & (depth < DEPTH_BINS[j + 1]))
                count[i, j] = sel.sum()
                if sel.any():
                    grid[i, j] = good[sel].mean()
        table[diff] = (grid, count)
    print(f'completeness ({args.seeds} x 4-epoch timelines, {window} px '
          f'windows, {len(results[True])} flecks; fraction new AND correctly '
          'dated; rows: area [px] blocking > 5% (> half the peak if '
          'shallower than 10%), columns: peak LED blocking)')
    head = ' '.join(f'{DEPTH_BINS[j]:.2f}-{DEPTH_BINS[j + 1]:.2f}'
                    for j in range(len(DEPTH_BINS) - 1))
    for diff, label in ((True, 'monitor (difference + §7)'),
                        (False, '§7 search alone')):
        grid, count = table[diff]
        print(f'  {label}; false new: {n_false[diff]} (duplicate tracks of a '
              f'fleck: {n_dup[diff]})')
        print(f'    {"area":>9} | {head}')
        for i in range(grid.shape[0]):
            cells = ' '.join(
                '   -     ' if not count[i, j] else
                f'{grid[i, j]:4.2f} ({count[i, j]:2d})'
                for j in range(grid.shape[1]))
            print(f'    {AREA_BINS[i]:>4}-{AREA_BINS[i + 1]:<4} | {cells}')
    return table


def falsenew(args, outdir):
    sc = appearing_flecks_scenario(seed=args.seed + 500, n_epochs=6,
                                   n_flecks=0, n_freckles=100,
                                   window=args.window)
    starts = list(sc.cycles['start'])
    paths = write_dkc_timeline(
        sc, outdir, window=args.window,
        flash_scale={starts[2]: 1.02, starts[4]: 0.98, starts[5]: 1.02},
        flash_tilt={starts[3]: (0.01, 0.0), starts[4]: (0.0, -0.01),
                    starts[5]: (0.01, 0.01)})
    per_epoch = {}
    for diff in (True, False):
        # one epoch at a time: the false new artifacts of each epoch as the
        # monitor reported them when that epoch was the latest
        db = os.path.join(outdir, f'f_{diff}.sqlite')
        counts = []
        for p in paths:
            art = _monitor([p], db, diff)
            new = art[art['status'] == 'new']
            counts.append(len(new))
        per_epoch[diff] = counts
        trans = int(np.count_nonzero(art['status'] == 'transient'))
        label = 'difference + §7' if diff else '§7 alone'
        print(f'false new per epoch ({label}, no new particle; 2% flash '
              'level and 1% tilt changes): '
              + ', '.join(f'{s}: {c}' for s, c in zip(starts, counts))
              + f'; transient at the end: {trans}')
    return starts, per_epoch


def figure(path, table, falsenew_result):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    centres = 0.5 * (np.array(DEPTH_BINS[:-1]) + np.array(DEPTH_BINS[1:]))
    for ax, diff, title in ((axes[0], True, 'monitor: difference + §7 search'),
                            (axes[1], False, '§7 search alone')):
        grid, count = table[diff]
        for i in range(grid.shape[0]):
            ok = count[i] > 0
            ax.plot(centres[ok], grid[i][ok], 'o-',
                    label=f'{AREA_BINS[i]}-{AREA_BINS[i + 1]} px')
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel('peak blocking (1 - transmissivity)')
        ax.set_ylabel('new and correctly dated')
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(title='area (> 5% blocking)', fontsize=8)
    if falsenew_result:
        starts, per = falsenew_result
        x = np.arange(len(starts))
        axes[2].bar(x - 0.2, per[True], 0.4, label='difference + §7')
        axes[2].bar(x + 0.2, per[False], 0.4, label='§7 alone')
        for xi, a, b in zip(x, per[True], per[False]):
            axes[2].text(xi - 0.2, a + 0.03, str(a), ha='center', fontsize=8)
            axes[2].text(xi + 0.2, b + 0.03, str(b), ha='center', fontsize=8)
        axes[2].set_xticks(x, [s[2:] for s in starts], rotation=45)
        axes[2].set_ylabel('false new artifacts (epoch = latest)')
        axes[2].set_title('no new particle (2% level, 1% tilt changes)')
        axes[2].set_ylim(0, max(1, max(per[True] + per[False])) + 0.5)
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('experiments', nargs='*',
                        default=['discovery', 'six', 'completeness',
                                 'falsenew'],
                        choices=['discovery', 'six', 'completeness',
                                 'falsenew'])
    parser.add_argument('--window', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--seeds', type=int, default=4,
                        help='timelines of the completeness experiment')
    parser.add_argument('--flecks', type=int, default=60,
                        help='flecks per completeness timeline')
    parser.add_argument('--outdir')
    parser.add_argument('--figure', metavar='FIG.png')
    args = parser.parse_args(argv)
    outdir = args.outdir or tempfile.mkdtemp(prefix='bench_newsearch_')
    table = fn = None
    try:
        if 'discovery' in args.experiments:
            discovery(args, os.path.join(outdir, 'discovery'))
        if 'six' in args.experiments:
            six(args, os.path.join(outdir, 'six'))
        if 'completeness' in args.experiments:
            table = completeness(args, os.path.join(outdir, 'completeness'))
        if 'falsenew' in args.experiments:
            fn = falsenew(args, os.path.join(outdir, 'falsenew'))
        if args.figure and table is not None:
            figure(args.figure, table, fn)
            print(f'wrote {args.figure}')
    finally:
        if not args.outdir:
            shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
