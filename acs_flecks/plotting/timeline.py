"""
Figures of the monitoring history (report §2, §7, Figure 18).

* `plot_timeline`: every artifact vs epoch, new ones highlighted with the
  date-of-origin bracket;
* `plot_new_thumbnails`: each new artifact before (``last_seen_absent``
  epoch) and after (``first_seen`` epoch) its date of origin, like the
  report's Figure 18.

Both return a `matplotlib.figure.Figure` (no pyplot) and accept a history
database path or `~acs_flecks.monitor.HistoryDatabase`.

>>> from acs_flecks.plotting.timeline import plot_timeline   # doctest: +SKIP
>>> plot_timeline('history.sqlite').savefig('timeline.png')  # doctest: +SKIP
"""

import json
import logging
import warnings

import numpy as np
from astropy.time import Time
from matplotlib.figure import Figure

from ..coords import chip_name, chip_to_image, pixel_to_index
from ..exceptions import AcsFlecksError, SkippedFileWarning

__all__ = ['plot_timeline', 'plot_new_thumbnails', 'STATUS_STYLE']

log = logging.getLogger(__name__)

#: Marker colour and label of each status.
STATUS_STYLE = {'stable': ('0.55', 'stable'), 'new': ('tab:red', 'new'),
                'vanished': ('tab:orange', 'vanished'),
                'changed': ('tab:blue', 'changed'),
                'transient': ('0.8', 'transient')}


def _history(db):
    """(artifacts, detections, detection artifact ids, epochs) of a DB."""
    from ..monitor.history import HistoryDatabase
    own = not isinstance(db, HistoryDatabase)
    database = HistoryDatabase(db, readonly=True) if own else db
    try:
        settings = json.loads(database.get_meta('classification', '{}')
                              or '{}')
        kw = {}
        if 'tolerance_pix' in settings:
            kw['tolerance'] = settings['tolerance_pix']
        if 'change_nsigma' in settings:
            kw['change_nsigma'] = settings['change_nsigma']
        if 'vanish_after' in settings:
            kw['vanish_after'] = settings['vanish_after']
        artifacts, det, ids = database.classify(**kw)
        epochs = database.epochs()
    finally:
        if own:
            database.close()
    return artifacts, det, ids, epochs


def _dates(mjd):
    return Time(np.asarray(mjd, dtype=float), format='mjd').to_datetime()


def plot_timeline(db, *, figure=None, label_new=True):
    """
    Timeline of every artifact vs epoch.

    Parameters
    ----------
    db : str, path-like or `~acs_flecks.monitor.HistoryDatabase`
        The history.
    figure : `~matplotlib.figure.Figure`, optional
        Figure to draw in (default: a new one).
    label_new : bool, optional
        Write chip and position next to new artifacts.

    Returns
    -------
    `~matplotlib.figure.Figure`
        One row per artifact (grouped by chip, in order of first
        detection), a marker per detection coloured by status, an open
        circle where the artifact was not detected but a forced measurement
        found it, thin vertical lines at the epochs, and for new artifacts a red band between
        ``last_seen_absent`` and ``first_seen`` (the date-of-origin
        bracket) labelled with chip and position.
    """
    artifacts, det, ids, epochs = _history(db)
    n = len(artifacts)
    n_new = int(np.sum(np.asarray(artifacts['status']) == 'new')) if n else 0
    # tall enough for the rows and for one line of text per new artifact
    height = max(3.5, 0.09 * n + 2,
                 1.5 * LABEL_FONTSIZE / 72 * n_new * label_new + 2.4)
    fig = figure or Figure(figsize=(9, height), layout='constrained')
    ax = fig.add_subplot()
    order = sorted(range(n), key=lambda i: (int(artifacts['ccdchip'][i]),
                                            float(artifacts['first_seen_mjd'][i].value),
                                            artifacts['artifact_id'][i]))
    row_of = {artifacts['artifact_id'][i]: k for k, i in enumerate(order)}
    ep_dates = _dates(epochs['obs_mjd']) if len(epochs) else []
    for d in ep_dates:
        ax.axvline(d, color='0.9', lw=0.8, zorder=0)
    det_dates = _dates(det['obs_mjd']) if len(det) else []
    status = {a: s for a, s in zip(artifacts['artifact_id'],
                                   artifacts['status'])}
    for st, (color, label) in STATUS_STYLE.items():
        sel = [k for k, a in enumerate(ids) if status.get(a) == st]
        if not sel:
            continue
        ax.scatter([det_dates[k] for k in sel], [row_of[ids[k]] for k in sel],
                   s=14 if st == 'stable' else 30, color=color,
                   label=f'{label} ({np.sum(artifacts["status"] == st)})',
                   zorder=3 if st != 'stable' else 2, edgecolor='none')
    forced = artifacts.meta.get('forced_present', {})
    fx = [d for a, mjds in forced.items() if a in row_of
          for d in _dates(mjds)]
    fy = [row_of[a] for a, mjds in forced.items() if a in row_of
          for _ in mjds]
    if fx:
        ax.scatter(fx, fy, s=14, facecolor='none', edgecolor='0.35', lw=0.7,
                   zorder=2, label='not detected, deficit measured there')
    new_rows = []
    for i in order:
        if artifacts['status'][i] != 'new':
            continue
        row = row_of[artifacts['artifact_id'][i]]
        lo = artifacts['last_seen_absent_mjd'][i].value
        hi = artifacts['first_seen_mjd'][i].value
        lo_d, hi_d = _dates([lo, hi])
        ax.fill_betweenx([row - 0.45, row + 0.45], lo_d, hi_d,
                         color='tab:red', alpha=0.25, lw=0, zorder=1)
        # the label goes left of the bracket, where a new artifact's row
        # has no markers
        new_rows.append((row, lo_d, f'{artifacts["artifact_id"][i]} '
                                    f'{chip_name(artifacts["ccdchip"][i])} '
                                    f'({artifacts["x"][i].value:.0f}, '
                                    f'{artifacts["y"][i].value:.0f})'))
    if label_new and new_rows:
        _label_rows(ax, new_rows, n, fig.get_figheight())
    chips = [int(artifacts['ccdchip'][i]) for i in order]
    for k in range(1, len(chips)):
        if chips[k] != chips[k - 1]:
            ax.axhline(k - 0.5, color='k', lw=0.6)
    for chip in sorted(set(chips)):
        rows = [k for k, c in enumerate(chips) if c == chip]
        ax.text(1.005, (np.mean(rows) + 1) / (max(n, 1) + 1), chip_name(chip),
                transform=ax.transAxes, rotation=90, va='center',
                fontsize=9)
    ax.set_ylim(-1, max(n, 1))
    ax.set_xlabel('Epoch (observation date, UTC)')
    ax.set_ylabel('Artifact (by chip, then first detection)')
    fig.suptitle(f'Artifacts in {len(epochs)} epochs: '
                 + ', '.join(f'{np.sum(artifacts["status"] == s)} {s}'
                             for s in STATUS_STYLE), fontsize=11)
    if n:
        # above the axes, under the title: with the plot at any height
        ax.legend(loc='lower left', bbox_to_anchor=(0.0, 1.0), ncol=3,
                  fontsize=8, frameon=False, borderaxespad=0.3)
    fig.autofmt_xdate()
    return fig


#: Font size (points) of the labels of new artifacts.
LABEL_FONTSIZE = 7


def _label_rows(ax, items, n, fig_height, fontsize=LABEL_FONTSIZE):
    """
    Label rows (row, date, text) in red, ending just left of ``date``,
    without overlaps: labels closer than one text line are pushed apart
    vertically (and stay inside the axes), with a leader line to their row
    when moved; a white box keeps them readable over other rows' markers.
    """
    # one text line in data (row) units; the axes take about the figure
    # height less 2 inches of title, legend and date labels
    axes_pt = max(fig_height - 2.0, 1.0) * 72.0
    line = 1.4 * fontsize * (n + 1) / axes_pt
    items = sorted(items, key=lambda t: t[0])
    ys = []
    for row, _, _ in items:
        ys.append(max(float(row), ys[-1] + line) if ys else float(row))
    top = n - 0.5
    if ys and ys[-1] > top:            # shift the stack down inside the axes
        ys = [y - (ys[-1] - top) for y in ys]
        for k in range(len(ys) - 2, -1, -1):
            ys[k] = min(ys[k], ys[k + 1] - line)
    for (row, date, text), y in zip(items, ys):
        moved = abs(y - row) > 1e-6
        ax.annotate(text, (date, row), xytext=(-6, y),
                    textcoords=('offset points', 'data'), fontsize=fontsize,
                    color='tab:red', va='center', ha='right', gid='new_label',
                    bbox=dict(boxstyle='square,pad=0.1', fc='white',
                              ec='none', alpha=0.85),
                    arrowprops=dict(arrowstyle='-', color='tab:red', lw=0.5,
                                    shrinkA=0, shrinkB=2) if moved else None)


def _cutout(path, ccdchip, x, y, size):
    from ..io import open_image
    img = open_image(path, operation='timeline')
    chip = img.chip(ccdchip, arrays=('SCI',))
    xi, yi = chip_to_image(x, y, chip.ltv)
    r, c = pixel_to_index(int(round(xi)), int(round(yi)))
    h = size // 2
    ny, nx = chip.shape
    r0, r1 = max(r - h, 0), min(r - h + size, ny)
    c0, c1 = max(c - h, 0), min(c - h + size, nx)
    cut = chip.sci[r0:r1, c0:c1].astype(float)
    med = np.nanmedian(cut)
    # the report shows DKC cut-outs normalized to the local level
    norm = cut / med if med > 0 else cut
    # extent in 1-indexed chip pixels (pixel edges)
    extent = (c0 + 0.5 - chip.ltv[0], c1 + 0.5 - chip.ltv[0],
              r0 + 0.5 - chip.ltv[1], r1 + 0.5 - chip.ltv[1])
    return norm, extent


def plot_new_thumbnails(db, *, size=40, figure=None, statuses=('new',)):
    """
    Each new artifact before and after its date of origin (Figure 18).

    Parameters
    ----------
    db : str, path-like or `~acs_flecks.monitor.HistoryDatabase`
        The history; the epoch files it names (``source_file``) must still
        be readable.
    size : int, optional
        Cut-out size in pixels.
    figure : `~matplotlib.figure.Figure`, optional
        Figure to draw in.
    statuses : tuple of str, optional
        Which artifacts to show.

    Returns
    -------
    `~matplotlib.figure.Figure`
        One row per artifact: the ``last_seen_absent`` epoch (left) and the
        ``first_seen`` epoch (right), normalized to the local median, on one
        colour scale with a colour bar; axes in 1-indexed chip pixels.
        Epochs whose files are gone are left blank (a
        `~acs_flecks.exceptions.SkippedFileWarning` names them).
    """
    artifacts, det, ids, epochs = _history(db)
    sel = [i for i in range(len(artifacts))
           if artifacts['status'][i] in statuses]
    file_at = {float(m): f for m, f in zip(epochs['obs_mjd'],
                                          epochs['source_file'])}
    nrow = max(len(sel), 1)
    fig = figure or Figure(figsize=(6.2, 2.8 * nrow), layout='constrained')
    axes = fig.subplots(nrow, 2, squeeze=False)
    if not sel:
        for ax in axes.ravel():
            ax.set_axis_off()
        axes[0, 0].text(0.5, 0.5, 'no new artifacts', ha='center',
                        transform=axes[0, 0].transAxes)
        return fig
    im = None
    for k, i in enumerate(sel):
        a = artifacts[i]
        chip = int(a['ccdchip'])
        x, y = float(a['x'].value), float(a['y'].value)
        for j, (col, title) in enumerate((('last_seen_absent_mjd', 'before'),
                                          ('first_seen_mjd', 'after'))):
            ax = axes[k, j]
            mjd = float(a[col].value)
            path = file_at.get(mjd)
            if not np.isfinite(mjd) or path is None:
                ax.set_axis_off()
                continue
            try:
                norm, extent = _cutout(path, chip, x, y, size)
            except (AcsFlecksError, OSError) as exc:
                warnings.warn(f'thumbnail of {a["artifact_id"]}: cannot read '
                              f'{path} ({exc})', SkippedFileWarning)
                ax.set_axis_off()
                continue
            im = ax.imshow(norm, origin='lower', extent=extent, cmap='gray',
                           vmin=0.4, vmax=1.15, interpolation='nearest')
            ax.set_title(f'{a["artifact_id"]} {chip_name(chip)} {title}: '
                         f'{Time(mjd, format="mjd").isot[:10]}', fontsize=8)
            ax.set_xlabel('x (chip pixel)', fontsize=8)
            ax.set_ylabel('y (chip pixel)', fontsize=8)
            ax.tick_params(labelsize=7)
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.6)
        cb.set_label('signal / local median')
    return fig
