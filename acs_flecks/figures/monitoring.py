"""
The figure of the report's detection and future monitoring (§7): new
flecks and stable artifacts before and after the date of origin
(Figure 18), and the choice of the stable artifacts shown
(`stable_artifacts`).
"""

import os
import warnings

import numpy as np
from astropy.table import QTable, Table
from matplotlib.figure import Figure

from ..coords import chip_name
from ..exceptions import AcsFlecksError
from .chip_images import SQUARE, _date, _missing, _open, _square, chip_region
from .report_flecks import fleck_table

__all__ = ['stable_artifacts', 'plot_new_and_stable']

def stable_artifacts(before, after, flecks=None, *, artifacts=None, history=None,
                     n=3, tolerance=3.0, exclude_radius=30.0, size=40):
    """
    Artifacts present and unchanged in both of two flashed darks.

    Parameters
    ----------
    before, after : str or `~acs_flecks.io.ACSImage`
        Flashed darks before and after the date of origin.
    flecks : table, optional
        New flecks (excluded); see `fleck_table`.
    artifacts : table or str, optional
        Known artifacts (a ``find`` catalog or a monitor artifacts table:
        columns ``ccdchip``, ``x``, ``y``, optionally ``status``; only
        ``status == 'stable'`` rows are used when the column exists).
    history : str, optional
        Monitor history database; its stable artifacts are used.
    n : int
        How many to return (the largest first when an ``area`` is known).
    tolerance : float
        Match radius (pixels) between the two darks' detections.
    exclude_radius : float
        Artifacts closer than this to a fleck are left out.
    size : int
        Only artifacts whose ``size`` x ``size`` thumbnail lies on both
        images are returned.

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``ccdchip``, ``x``, ``y``, ``source`` (at most ``n`` rows).

    Notes
    -----
    Without ``artifacts`` or ``history`` both darks are searched with the
    report's §7 detection (`acs_flecks.detect.find_artifacts`) and the
    detections matched within ``tolerance``.
    """
    b, a = _open(before), _open(after)
    ft = fleck_table(flecks)
    if artifacts is not None:
        t = Table.read(artifacts) if isinstance(artifacts, (str, os.PathLike)) \
            else Table(artifacts)
        source = 'artifacts table'
        if 'status' in t.colnames:
            t = t[np.asarray([str(s) == 'stable' for s in t['status']], bool)]
    elif history is not None:
        from ..monitor.history import HistoryDatabase
        with HistoryDatabase(history, readonly=True) as db:
            t = Table(db.classify()[0])
        t = t[np.asarray([str(s) == 'stable' for s in t['status']], bool)]
        source = 'history'
    else:
        from ..detect import find_artifacts
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            cb = Table(find_artifacts(b))
            ca = Table(find_artifacts(a))
        keep = []
        for i, r in enumerate(ca):
            same = cb[np.asarray(cb['ccdchip']) == int(r['ccdchip'])]
            if len(same) == 0:
                continue
            d = np.hypot(np.asarray(same['x'], float) - float(r['x']),
                         np.asarray(same['y'], float) - float(r['y']))
            if d.min() <= tolerance:
                keep.append(i)
        t = ca[keep]
        source = 'detected in both darks'
    if 'area' in t.colnames:
        t = t[np.argsort(-np.asarray(t['area'], float), kind='stable')]
    rows = []
    for r in t:
        chip = int(np.asarray(r['ccdchip']))
        x, y = float(np.asarray(r['x'])), float(np.asarray(r['y']))
        near = [(int(f['ccdchip']) == chip
                 and np.hypot(f['x'] - x, f['y'] - y) < exclude_radius) for f in ft]
        if any(near):
            continue
        ok = True
        for img in (b, a):
            try:
                d, _ = chip_region(img, ccdchip=chip, x=x, y=y, size=size)
            except AcsFlecksError:
                ok = False
                break
            ok = ok and d.shape == (size, size)
        if ok:
            rows.append((chip, x, y, source))
        if len(rows) >= n:
            break
    return QTable(rows=rows or None, names=('ccdchip', 'x', 'y', 'source'),
                  dtype=(int, float, float, str))


def plot_new_and_stable(before, after, flecks=None, stable=None, *, size=40,
                        square=SQUARE):
    """
    New flecks (left column) and stable artifacts (right column) before and
    after the date of origin (Figure 18).

    Each artifact gets a row of two thumbnails (before, after), normalized
    to the local median so that both dates share one colour scale.

    Parameters
    ----------
    before, after : str or `~acs_flecks.io.ACSImage`
        Flashed short darks before and after the date of origin.
    flecks : table, optional
        New flecks (`fleck_table`).
    stable : table, optional
        Stable artifacts (columns ``ccdchip``, ``x``, ``y``), e.g. from
        `stable_artifacts`.
    size, square : int

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    b, a = _open(before), _open(after)
    ft = fleck_table(flecks)
    stable = [] if stable is None else stable
    nrow = max(len(ft), len(stable), 1)
    fig = Figure(figsize=(12, 2.9 * nrow + 0.6), layout='constrained')
    axes = fig.subplots(nrow, 4, squeeze=False)
    im = None
    groups = ((0, [(str(f['id']), int(f['ccdchip']), float(f['x']), float(f['y']))
                   for f in ft], 'new'),
              (2, [(f'artifact {k + 1}', int(r['ccdchip']), float(np.asarray(r['x'])),
                    float(np.asarray(r['y']))) for k, r in enumerate(stable)],
               'stable'))
    for col, items, kind in groups:
        for k in range(nrow):
            if k >= len(items):
                for j in (0, 1):
                    axes[k, col + j].set_axis_off()
                if k == 0:
                    axes[k, col].text(0.5, 0.5, f'no {kind} artifacts given',
                                      ha='center', transform=axes[k, col].transAxes)
                continue
            name, chip, x, y = items[k]
            for j, img in enumerate((b, a)):
                ax = axes[k, col + j]
                try:
                    data, ext = chip_region(img, ccdchip=chip, x=x, y=y, size=size)
                except AcsFlecksError:
                    _missing(ax, f'{name} {chip_name(chip)} ({x:.0f}, {y:.0f}) '
                                 f'is not on {img.name}', width=28)
                    continue
                med = np.nanmedian(data)
                norm = data / med if med > 0 else data
                im = ax.imshow(norm, origin='lower', extent=ext, cmap='gray',
                               vmin=0.4, vmax=1.15, interpolation='nearest')
                if kind == 'new':
                    _square(ax, x, y, square)
                ax.set_title(f'{name} {chip_name(chip)} ({x:.0f}, {y:.0f})\n'
                             f'{"before" if j == 0 else "after"}: {_date(img)}',
                             fontsize=7)
                ax.set_xlabel('x (column, pix)', fontsize=7)
                ax.set_ylabel(f'y ({chip_name(chip)} row, pix)', fontsize=7)
                ax.tick_params(labelsize=6)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.5, label='signal / local median')
    fig.suptitle(f'New flecks (left) and stable artifacts (right): {b.name} '
                 f'({_date(b)}) vs {a.name} ({_date(a)})', fontsize=10)
    return fig
