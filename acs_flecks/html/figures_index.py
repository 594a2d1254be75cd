"""
Regenerate the instrument report's Figures 1-18 from ACS files, and write
their index page (``figures.html``, ``figures.ecsv``).

The report's figures fall in three groups:

* images of the flecks in flashed darks (Figures 1-4, 8, 18), drawn by
  `acs_flecks.figures`;
* the characterization plots (Figures 5-7, 9-17), drawn by
  `acs_flecks.plotting.characterize` from the measurements of
  `acs_flecks.characterize`;
* Figure 2 needs a flashed long *daily* dark, which only the CCD Daily
  Monitor program provides: it is drawn when such a file is given and
  skipped otherwise (no data are made up).

`regenerate_figures` draws every figure the inputs allow, writes
``figureNN.png`` plus an index (``figures.html`` and ``figures.ecsv``) with
the report caption of each figure, its file, or why it was skipped.

Images are shown in the 1-indexed full-chip frame (x = column, y = row) of
the chip named in the title, whatever the file's ``LTV`` offsets; the
report's 20x20 pixel red square is centred on the fleck position.

>>> from acs_flecks.html import regenerate_figures
>>> out = regenerate_figures(outdir='figs', dkc=dkc_files,
...                          flats=flat_files)               # doctest: +SKIP
>>> out[3]['file']                                          # doctest: +SKIP
'figs/figure03.png'
"""

import html
import logging
import os
import warnings

import numpy as np
from astropy.table import Table
from astropy.time import Time
from matplotlib.figure import Figure

from ..parameters import DATE_OF_ORIGIN
from ..exceptions import AcsFlecksError, InputFileError
from ..figures import (chip_region, fleck_table, plot_daily_superdark,
                       plot_flashed_dark_region, plot_flashed_unflashed,
                       plot_flecks, plot_new_and_stable, plot_shadow_boxes,
                       stable_artifacts)
from ..figures.chip_images import _open
from ..plotting.characterize import save_figure
from ..utils import atomic_output, write_ecsv
from .document import REPORT_CSS, relative_paths

__all__ = ['REPORT_CAPTIONS', 'read_manifest', 'stack_figures',
           'regenerate_figures']

log = logging.getLogger(__name__)

#: Captions of the report's figures (abridged from the report's text).
REPORT_CAPTIONS = {
    1: 'A region in the flashed long dark image from the June 26th to July '
       '26th 2017 anneal cycle with the larger fleck highlighted by the '
       '20x20 pixel red square.',
    2: 'The effect of differencing the daily dark and the short dark: daily '
       'dark (top), short dark (middle), daily superdark (bottom); the 20x20 '
       'pixel red square is centred on the fleck.',
    3: 'The three flecks identified by the ACS Team. A 20x20 pixel red square '
       'is shown for scale.',
    4: 'Comparing the behaviors of the fleck-affected pixels: un-flashed '
       '(left) and post-flashed (right) data after the anneal, one row per '
       'fleck, 20x20 pixel red square for scale.',
    5: 'Ratio of EPER flats observed in November 2017 and May 2017, one panel '
       'per signal level, 40x40 pixel region containing the larger fleck (1).',
    6: 'Same as Figure 5 but for the elongated fleck (2) on WFC1.',
    7: 'Same as Figure 5 but for the tiny fleck (3) on WFC1.',
    8: 'The larger fleck in a flashed short dark with its low-level "shadow" '
       'in +y: the 11x3 pixel shadow box (blue) and the empty comparison '
       'box of the same size (orange).',
    9: 'Total signal in the shadow box and in the empty box in each average '
       'short dark, with Poisson errors.',
    10: 'Thumbnails in 8 broadband filters of the larger fleck on WFC2 in the '
        'later and the earlier lamp flats.',
    11: 'Same as Figure 10, but for the elongated fleck on WFC1.',
    12: 'Details of the F435W photometric analysis of the larger fleck: (A) '
        'normalized inverted image, (B) histogram with the 5% and 50% limits, '
        '(C) the F435W aperture.',
    13: 'The master photometric aperture (selection count over the filters, '
        'outlined in red) and the master aperture on the F435W data.',
    14: 'Transmissivity of the larger fleck against the effective wavelength '
        'of each filter (its "SED").',
    15: 'Same as Figures 12 and 13 combined, but for the elongated fleck '
        '(20x30 pixel image).',
    16: 'Same as Figure 14, but for the elongated fleck.',
    17: 'The master flat aperture applied to the flashed dark and the '
        'difference between the flat and the LED apertures: larger fleck '
        '(top), elongated fleck (bottom).',
    18: '(Left column) The new flecks in short darks before and after their '
        'date of origin. (Right column) Existing artifacts that were stable '
        'over the same epochs.',
}


def read_manifest(path):
    """
    Inputs of `regenerate_figures` from a simulator manifest.

    Parameters
    ----------
    path : str
        ``manifest.ecsv`` written by `acs_flecks.simulate.simulate_scenario`
        (columns ``path``, ``kind``; kinds 'dkc', 'dark', 'daily', 'flat',
        'eper').  Relative paths are taken relative to the manifest.

    Returns
    -------
    dict
        ``dkc``, ``unflashed``, ``daily_darks``, ``flats``, ``eper``: lists
        of paths (the keyword arguments of `regenerate_figures`).
    """
    path = os.fspath(path)
    try:
        t = Table.read(path, format='ascii.ecsv')
    except Exception as exc:  # astropy raises many types for bad files
        raise InputFileError(f'cannot read the manifest ({exc})', path=path) from None
    missing = [c for c in ('path', 'kind') if c not in t.colnames]
    if missing:
        raise InputFileError(f'manifest lacks column(s) {", ".join(missing)}',
                             path=path)
    base = os.path.dirname(os.path.abspath(path))
    keys = {'dkc': 'dkc', 'dark': 'unflashed', 'daily': 'daily_darks',
            'flat': 'flats', 'eper': 'eper'}
    out = {v: [] for v in keys.values()}
    for p, k in zip(t['path'], t['kind']):
        k = str(k).strip().lower()
        if k not in keys:
            raise InputFileError(f'manifest: unknown kind {k!r} for {p}', path=path)
        p = str(p)
        out[keys[k]].append(p if os.path.isabs(p) else os.path.join(base, p))
    return out

def _by_time(images):
    return sorted(images, key=lambda im: im.obs_time.mjd)

def stack_figures(figures, *, dpi=90):
    """
    Stack figures vertically into one (e.g. Figure 15 = Figures 12 + 13 for
    the elongated fleck).  Each figure is rendered to pixels first.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    arrays = []
    for f in figures:
        f.set_dpi(dpi)
        canvas = FigureCanvasAgg(f)
        canvas.draw()
        arrays.append(np.asarray(canvas.buffer_rgba()))
    width = max(a.shape[1] for a in arrays)
    heights = [a.shape[0] for a in arrays]
    fig = Figure(figsize=(width / dpi, sum(heights) / dpi), dpi=dpi)
    axes = fig.subplots(len(arrays), 1, squeeze=False,
                        gridspec_kw={'height_ratios': heights, 'hspace': 0})
    fig.subplots_adjust(0, 0, 1, 1)
    for ax, a in zip(axes.ravel(), arrays):
        ax.imshow(a, interpolation='nearest')
        ax.set_axis_off()
    return fig


# -- driver ---------------------------------------------------------------

def _check_inputs(kind, files, *, flashed):
    """Open headers; a flash state that contradicts the kind is an error."""
    images = []
    for f in files:
        img = _open(f)
        if flashed is not None and img.flashed != flashed:
            state = 'post-flashed' if img.flashed else 'not post-flashed'
            raise InputFileError(
                f'given as {kind} but the file is {state} (FLASHDUR='
                f'{img.flashdur.value:g} s, FLASHSTA={img.flashsta!r})',
                path=img.path)
        images.append(img)
    return _by_time(images)


def _on_image(img, chip, x, y, box=(1, 1)):
    try:
        data, _ = chip_region(img, ccdchip=chip, x=x, y=y, size=box)
    except AcsFlecksError:
        return False
    return data.shape == tuple(box)


def _flat_sets(flats):
    """Split flats into dates (groups within 30 days); earliest first."""
    groups = []
    for img in flats:
        if groups and img.obs_time.mjd - groups[-1][0].obs_time.mjd <= 30:
            groups[-1].append(img)
        else:
            groups.append([img])
    return groups


def _write_index(outdir, records, report=None):
    rows = [(n, r['status'], os.path.basename(r['file']) if r['file'] else '',
             r['note'], r['caption']) for n, r in sorted(records.items())]
    t = Table(rows=rows, names=('figure', 'status', 'file', 'note', 'caption'))
    p_ecsv = os.path.join(outdir, 'figures.ecsv')
    write_ecsv(t, p_ecsv)
    lines = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<title>acs_flecks: report figures</title>',
             f'<style>{REPORT_CSS}</style></head><body>',
             '<h1>Report figures regenerated by acs_flecks</h1>']
    if report:
        href = os.path.relpath(os.path.abspath(report), os.path.abspath(outdir))
        lines.append(f'<nav><a href="{html.escape(href)}">Back to the run '
                     'report</a></nav>')
    lines += ['<div class="tbl"><table>',
              '<tr><th>Figure</th><th class="wrap">Caption (report)</th>'
              '<th class="wrap">File / reason</th></tr>']
    for n, st, f, note, cap in rows:
        if st == 'written':
            cell = (f'<a href="{html.escape(f)}"><img src="{html.escape(f)}" '
                    f'alt="Figure {n}" style="width: 420px"></a><br>{html.escape(f)}')
            if note:
                cell += f'<br><i>{html.escape(note)}</i>'
        else:
            cell = f'skipped: {html.escape(note)}'
        lines.append(f'<tr><td>{n}</td><td class="wrap">{html.escape(cap)}</td>'
                     f'<td class="wrap">{cell}</td></tr>')
    lines += ['</table></div></body></html>']
    p_html = os.path.join(outdir, 'figures.html')
    with atomic_output(p_html) as tmp:
        with open(tmp, 'w', encoding='utf-8') as fh:
            fh.write(relative_paths('\n'.join(lines), outdir) + '\n')
    return p_html, p_ecsv


def regenerate_figures(*, outdir, dkc=(), unflashed=(), flats=(), eper=(),
                       daily_darks=(), flecks=None, history=None,
                       characterization=None, artifacts=None,
                       appeared=DATE_OF_ORIGIN, figures=None, dpi=110,
                       report=None):
    """
    Draw every report figure the inputs allow and write an index.

    Parameters
    ----------
    outdir : str
        Output directory (created if needed); ``figureNN.png``,
        ``figures.html`` and ``figures.ecsv`` are written there.
    dkc : list
        Combined post-flashed short darks (DKC), any order (Figures 1, 3, 4,
        8, 9, 17, 18).
    unflashed : list
        Un-flashed combined darks (Figure 4).
    flats : list
        Lamp flats, one per filter and date; the latest date is measured,
        an earlier date (if any) is the "before" row of Figures 10-11
        (Figures 10-17).
    eper : list
        EPER lamp images of two epochs (Figures 5-7).
    daily_darks : list
        A flashed long daily dark, optionally followed by the daily
        superdark (Figure 2; Figure 1 then shows the daily dark).
    flecks : table or str, optional
        See `fleck_table`; default the report's three flecks.  The first
        and second photometric flecks play the report's large and elongated
        fleck.
    history : str, optional
        Monitor history database (stable artifacts of Figure 18).
    characterization : dict, optional
        fleck id -> `~acs_flecks.characterize.FleckCharacterization`
        already computed; its measurements are reused.
    artifacts : table or str, optional
        Known artifacts for Figure 18 (see `stable_artifacts`).
    appeared : str
        Date of origin: darks before it are "before", from it "after".
    figures : iterable of int, optional
        Only these figure numbers (default all 1-18).
    dpi : int
    report : str, optional
        The run's HTML report: the index links back to it.

    Returns
    -------
    dict
        figure number -> dict with ``status`` ('written' or 'skipped'),
        ``file`` (path or None), ``caption``, ``note`` (reason of a skip or
        what the figure shows instead of the report's data); key ``'index'``
        -> path of ``figures.html``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Unreadable input, an un-flashed file given as flashed (or the
        reverse), a bad fleck table or output directory.
    """
    outdir = os.fspath(outdir)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise AcsFlecksError('output is not a directory', path=outdir)
    wanted = set(range(1, 19)) if figures is None else {int(n) for n in figures}
    bad = sorted(n for n in wanted if not 1 <= n <= 18)
    if bad:
        raise AcsFlecksError(f'figure numbers must be 1-18, got {bad}')
    ft = fleck_table(flecks)
    t_app = Time(appeared)
    dk = _check_inputs('dkc', dkc, flashed=True)
    un = _check_inputs('unflashed', unflashed, flashed=False)
    fl = _check_inputs('flats', flats, flashed=None)
    ep = _check_inputs('eper', eper, flashed=None)
    dd = _check_inputs('daily dark', daily_darks, flashed=True) if daily_darks else []
    if len(dd) > 2:
        raise AcsFlecksError(f'give one daily dark and optionally its daily '
                             f'superdark, got {len(dd)} files')
    if dd:  # keep the user's order: daily dark first, superdark second
        dd = [_open(f) for f in daily_darks]
    os.makedirs(outdir, exist_ok=True)
    ch_in = characterization or {}
    after = [im for im in dk if im.obs_time >= t_app]
    before = [im for im in dk if im.obs_time < t_app]
    phot = [f for f in ft if f['photometry']]
    large = phot[0] if phot else None
    elong = phot[1] if len(phot) > 1 else None

    records = {}

    def record(n, status, file=None, note=''):
        records[n] = {'status': status, 'file': file, 'caption': REPORT_CAPTIONS[n],
                      'note': note}
        if status == 'skipped':
            log.debug('figure %d skipped: %s', n, note)

    def save(n, fig, note=''):
        p = os.path.join(outdir, f'figure{n:02d}.png')
        save_figure(fig, p, dpi=dpi)
        record(n, 'written', p, note)

    def attempt(n, func):
        if n not in wanted:
            return
        try:
            func()
        except AcsFlecksError as exc:
            record(n, 'skipped', note=str(exc))

    # -- Figure 1
    def fig1():
        if large is None:
            return record(1, 'skipped', note='no photometric fleck in the fleck table')
        chip, x, y = int(large['ccdchip']), float(large['x']), float(large['y'])
        if dd:
            img, note = dd[0], ''
        elif after:
            # the report's cycle: the dark closest to 2017-06-26, else latest
            img = min(after, key=lambda im: abs(im.obs_time.mjd - Time('2017-06-26').mjd))
            note = 'no flashed long dark given: shown in the short flashed dark'
        else:
            return record(1, 'skipped', note=f'needs a flashed dark taken after '
                                            f'{appeared} (--dkc or --daily-dark)')
        save(1, plot_flashed_dark_region(img, ccdchip=chip, x=x, y=y,
                                         label=str(large['id'])), note)

    # -- Figure 2
    def fig2():
        if not dd:
            return record(2, 'skipped', note=(
                'needs a flashed long daily dark (--daily-dark, or kind '
                "'daily' in a simulator manifest); nothing is made up"))
        if not dk:
            return record(2, 'skipped', note='needs a short flashed dark (--dkc)')
        if large is None:
            return record(2, 'skipped', note='no photometric fleck in the fleck table')
        short = min(dk, key=lambda im: abs(im.obs_time.mjd - dd[0].obs_time.mjd))
        sup = dd[1] if len(dd) > 1 else None
        note = '' if sup is not None else \
            'daily superdark computed as daily dark - short dark'
        save(2, plot_daily_superdark(dd[0], short, superdark=sup,
                                     ccdchip=int(large['ccdchip']),
                                     x=float(large['x']), y=float(large['y'])), note)

    # -- Figure 3
    def fig3():
        if not after:
            return record(3, 'skipped', note=f'needs a flashed dark (--dkc) '
                                            f'taken after {appeared}')
        img = after[-1]
        absent = [str(f['id']) for f in ft
                  if not _on_image(img, int(f['ccdchip']), f['x'], f['y'])]
        if len(absent) == len(ft):
            return record(3, 'skipped', note=f'no fleck lies on {img.name}')
        note = f'not on {img.name}: {", ".join(absent)}' if absent else ''
        save(3, plot_flecks(img, ft), note)

    # -- Figure 4
    def fig4():
        if not un:
            return record(4, 'skipped', note='needs un-flashed darks (--unflashed)')
        if not after:
            return record(4, 'skipped', note=f'needs a flashed dark (--dkc) taken '
                                            f'after {appeared}')
        un_after = [im for im in un if im.obs_time >= t_app] or un
        u0 = un_after[0]
        f0 = min(after, key=lambda im: abs(im.obs_time.mjd - u0.obs_time.mjd))
        rows = [f for f in phot if _on_image(f0, int(f['ccdchip']), f['x'], f['y'])
                and _on_image(u0, int(f['ccdchip']), f['x'], f['y'])]
        if not rows:
            return record(4, 'skipped', note=f'no photometric fleck on both '
                                            f'{u0.name} and {f0.name}')
        save(4, plot_flashed_unflashed(u0, f0, ft[[list(ft['id']).index(f['id'])
                                                   for f in rows]]))

    # -- lamp-flat measurements (Figures 9-17)
    trans, trans_before, notes_tr = {}, {}, {}
    sets = _flat_sets(fl)

    def measure(f):
        from ..characterize import measure_transmissivity
        fid = str(f['id'])
        if fid in ch_in and getattr(ch_in[fid], 'transmissivity', None) is not None:
            trans[fid] = ch_in[fid].transmissivity
        if not sets:
            notes_tr[fid] = 'needs lamp flats (--flats)'
            return
        box = (int(f['box_ny']), int(f['box_nx']))
        kw = dict(ccdchip=int(f['ccdchip']), x=float(f['x']), y=float(f['y']),
                  box=box, fleck_id=fid)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                if fid not in trans:
                    trans[fid] = measure_transmissivity(sets[-1], **kw)
                if len(sets) > 1:
                    trans_before[fid] = measure_transmissivity(sets[0], **kw)
        except AcsFlecksError as exc:
            notes_tr.setdefault(fid, str(exc))

    if wanted & set(range(8, 18)):
        for f in phot[:2]:
            measure(f)

    def need_trans(n, f, what):
        if f is None:
            record(n, 'skipped', note=f'no {what} (photometric fleck) in the fleck table')
            return None
        res = trans.get(str(f['id']))
        if res is None:
            record(n, 'skipped', note=f'{f["id"]}: ' + notes_tr.get(
                str(f['id']), 'no lamp-flat measurement'))
        return res

    # -- Figures 5-7
    def eper_fig(n, f):
        from ..characterize import eper_ratio, pair_eper
        from ..plotting.characterize import plot_eper_ratios
        if f is None:
            return record(n, 'skipped', note='fewer flecks in the fleck table')
        fid = str(f['id'])
        res = getattr(ch_in.get(fid), 'eper', None)
        if res is None:
            if not ep:
                return record(n, 'skipped', note='needs EPER images of two epochs (--eper)')
            chip = int(f['ccdchip'])
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                box = (int(f['box_ny']), int(f['box_nx']))
                pairs = pair_eper(ep, ccdchip=chip, x=float(f['x']),
                                  y=float(f['y']), box=box)
                res = eper_ratio(pairs, ccdchip=chip, x=float(f['x']),
                                 y=float(f['y']), box=box, fleck_id=fid)
        save(n, plot_eper_ratios(res))

    # -- Figures 8, 9 (large fleck)
    def fig8():
        if large is None:
            return record(8, 'skipped', note='no photometric fleck in the fleck table')
        if not after:
            return record(8, 'skipped', note=f'needs a flashed short dark (--dkc) '
                                            f'taken after {appeared}')
        fid = str(large['id'])
        sh = getattr(ch_in.get(fid), 'shadow', None)
        kw = {}
        if sh is not None:
            kw = {'shadow_box': sh.shadow_box, 'empty_box': sh.empty_box}
        else:
            kw = {'lamp': trans.get(fid)}
        save(8, plot_shadow_boxes(after[-1], ccdchip=int(large['ccdchip']),
                                  x=float(large['x']), y=float(large['y']),
                                  label=fid, **kw))

    def fig9():
        from ..characterize import shadow_time_series
        from ..plotting.characterize import plot_shadow_series
        if large is None:
            return record(9, 'skipped', note='no photometric fleck in the fleck table')
        fid = str(large['id'])
        series = getattr(ch_in.get(fid), 'shadow', None)
        if series is None:
            if len(dk) < 2:
                return record(9, 'skipped', note='needs short flashed darks of '
                                                'several epochs (--dkc)')
            series = shadow_time_series(dk, ccdchip=int(large['ccdchip']),
                                        x=float(large['x']), y=float(large['y']),
                                        lamp=trans.get(fid), fleck_id=fid)
        save(9, plot_shadow_series(series, appeared=appeared))

    # -- Figures 10-16
    def thumbs(n, f, what):
        from ..plotting.characterize import plot_filter_thumbnails
        res = need_trans(n, f, what)
        if res is not None:
            bef = trans_before.get(str(f['id']))
            save(n, plot_filter_thumbnails(res, before=bef),
                 '' if bef is not None else 'no earlier flats: one row')

    def filt(res):
        return 'F435W' if 'F435W' in res.filters else res.filters[0]

    def fig12():
        from ..plotting.characterize import plot_aperture_analysis
        res = need_trans(12, large, 'large fleck')
        if res is not None:
            save(12, plot_aperture_analysis(res, filt(res)))

    def fig13():
        from ..plotting.characterize import plot_master_aperture
        res = need_trans(13, large, 'large fleck')
        if res is not None:
            save(13, plot_master_aperture(res, filt(res)))

    def sed(n, f, what):
        from ..plotting.characterize import plot_sed
        res = need_trans(n, f, what)
        if res is not None:
            save(n, plot_sed(res))

    def fig15():
        from ..plotting.characterize import plot_aperture_analysis, plot_master_aperture
        res = need_trans(15, elong, 'elongated fleck')
        if res is not None:
            save(15, stack_figures([plot_aperture_analysis(res, filt(res)),
                                    plot_master_aperture(res, filt(res))]))

    def fig17():
        from ..characterize import compare_led_lamp
        from ..plotting.characterize import plot_led_lamp
        if not after:
            return record(17, 'skipped', note=f'needs a post-flashed dark (--dkc) '
                                             f'taken after {appeared}')
        comps, notes = [], []
        for f in (large, elong):
            if f is None:
                continue
            fid = str(f['id'])
            c = getattr(ch_in.get(fid), 'ledlamp', None)
            if c is None and fid in trans:
                try:
                    c = compare_led_lamp(after[-1], trans[fid])
                except AcsFlecksError as exc:
                    notes.append(f'{fid}: {exc}')
            elif c is None:
                notes.append(f'{fid}: ' + notes_tr.get(fid, 'no lamp-flat measurement'))
            if c is not None:
                comps.append(c)
        if not comps:
            return record(17, 'skipped', note='; '.join(notes) or 'no fleck measured')
        save(17, plot_led_lamp(comps), '; '.join(notes))

    def fig18():
        if not before or not after:
            return record(18, 'skipped', note=f'needs short flashed darks (--dkc) '
                                             f'before and after {appeared}')
        b, a = before[-1], after[0]
        stable = stable_artifacts(b, a, ft, artifacts=artifacts, history=history)
        note = '' if len(stable) else 'no stable artifact found on both darks'
        save(18, plot_new_and_stable(b, a, ft, stable), note)

    attempt(1, fig1)
    attempt(2, fig2)
    attempt(3, fig3)
    attempt(4, fig4)
    for n, k in ((5, 0), (6, 1), (7, 2)):
        attempt(n, lambda n=n, k=k: eper_fig(n, ft[k] if k < len(ft) else None))
    attempt(8, fig8)
    attempt(9, fig9)
    attempt(10, lambda: thumbs(10, large, 'large fleck'))
    attempt(11, lambda: thumbs(11, elong, 'elongated fleck'))
    attempt(12, fig12)
    attempt(13, fig13)
    attempt(14, lambda: sed(14, large, 'large fleck'))
    attempt(15, fig15)
    attempt(16, lambda: sed(16, elong, 'elongated fleck'))
    attempt(17, fig17)
    attempt(18, fig18)
    index, _ = _write_index(outdir, records, report=report)
    out = dict(sorted(records.items()))
    out['index'] = index
    return out
