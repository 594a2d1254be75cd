"""
Regenerate the instrument report's Figures 1-18 from ACS files.

The report's figures fall in three groups:

* images of the flecks in flashed darks (Figures 1-4, 8, 18), drawn here;
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

>>> from acs_flecks.plotting.report_figures import regenerate_figures
>>> out = regenerate_figures(outdir='figs', dkc=dkc_files,
...                          flats=flat_files)               # doctest: +SKIP
>>> out[3]['file']                                          # doctest: +SKIP
'figs/figure03.png'
"""

import html
import textwrap
import logging
import os
import warnings

import numpy as np
from astropy.table import QTable, Table
from astropy.time import Time
from astropy.visualization import ZScaleInterval
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..coords import chip_name, chip_to_image, image_to_chip, pixel_to_index
from ..exceptions import AcsFlecksError, InputFileError
from ..combined import combination
from ..io import open_image
from ..utils import atomic_output, write_ecsv
from .characterize import save_figure

__all__ = ['REPORT_CAPTIONS', 'REPORT_FLECKS', 'DATE_OF_ORIGIN', 'fleck_table',
           'read_manifest', 'chip_region', 'plot_flashed_dark_region',
           'plot_daily_superdark', 'exposures_summed', 'plot_flecks',
           'plot_flashed_unflashed',           'plot_shadow_boxes', 'plot_new_and_stable', 'stable_artifacts',
           'stack_figures', 'regenerate_figures']

log = logging.getLogger(__name__)

# Date of origin of the report's flecks (report §2; acs_flecks.parameters).
from ..parameters import DATE_OF_ORIGIN  # noqa: E402

#: The report's flecks: id, CCDCHIP, 1-indexed x, y, cutout (rows, columns)
#: and whether the fleck is part of the photometry (§6.1: the tiny fleck
#: is not).  The report's "20 x 30" box of the elongated fleck is 20
#: columns by 30 rows.
REPORT_FLECKS = (('fleck1', 2, 1521, 1773, 40, 40, True),
                 ('fleck2', 1, 3510, 355, 30, 20, True),
                 ('fleck3', 1, 1850, 1755, 40, 40, False))

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

#: Side of the report's red square (pixels).
SQUARE = 20


# -- inputs ---------------------------------------------------------------

def fleck_table(flecks=None):
    """
    The flecks to draw, as a `~astropy.table.QTable`.

    Parameters
    ----------
    flecks : table, path or sequence, optional
        A table (or an ECSV file) with columns ``ccdchip``, ``x``, ``y``
        (1-indexed chip pixels) and optionally ``id``, ``box_ny``,
        ``box_nx`` (cutout rows and columns, default 40) and
        ``photometry`` (default True); or a sequence of (ccdchip, x, y).
        Default: the report's three flecks (`REPORT_FLECKS`).

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``id``, ``ccdchip``, ``x``, ``y``, ``box_ny``, ``box_nx``,
        ``photometry``; row order = the report's order (the first
        photometric fleck plays the large fleck, the second the elongated).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Missing columns, a chip other than 1 or 2, an empty table.
    """
    path = None
    if flecks is None:
        rows = REPORT_FLECKS
        return QTable(rows=[list(r) for r in rows],
                      names=('id', 'ccdchip', 'x', 'y', 'box_ny', 'box_nx',
                             'photometry'))
    if isinstance(flecks, (str, os.PathLike)):
        path = os.fspath(flecks)
        try:
            flecks = Table.read(path)
        except Exception as exc:  # astropy raises many types for bad files
            raise InputFileError(f'cannot read the fleck table ({exc})',
                                 path=path) from None
    if not isinstance(flecks, Table):
        try:
            flecks = Table(rows=[tuple(r) for r in flecks],
                           names=('ccdchip', 'x', 'y'))
        except (TypeError, ValueError) as exc:
            raise AcsFlecksError(f'flecks must be a table with ccdchip, x, y '
                                 f'or (ccdchip, x, y) tuples ({exc})') from None
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in flecks.colnames]
    if missing:
        raise AcsFlecksError(f'fleck table lacks column(s) {", ".join(missing)}',
                             path=path)
    if len(flecks) == 0:
        raise AcsFlecksError('fleck table is empty', path=path)

    def plain(col):
        return np.asarray(getattr(col, 'value', col))
    chips = plain(flecks['ccdchip']).astype(int)
    bad = sorted(set(chips) - {1, 2})
    if bad:
        raise AcsFlecksError(f'fleck table: ccdchip must be 1 or 2, got {bad}',
                             path=path)
    n = len(flecks)
    ids = ([str(v) for v in flecks['id']] if 'id' in flecks.colnames
           else [f'fleck{i + 1}' for i in range(n)])
    out = QTable({'id': ids, 'ccdchip': chips,
                  'x': plain(flecks['x']).astype(float),
                  'y': plain(flecks['y']).astype(float)})
    for c in ('box_ny', 'box_nx'):
        out[c] = (plain(flecks[c]).astype(int) if c in flecks.colnames
                  else np.full(n, 40))
    out['photometry'] = (plain(flecks['photometry']).astype(bool)
                         if 'photometry' in flecks.colnames else np.ones(n, bool))
    return out


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


def _open(f):
    return open_image(f, operation='figures')


def _by_time(images):
    return sorted(images, key=lambda im: im.obs_time.mjd)


# -- drawing helpers ------------------------------------------------------

def chip_region(image, *, ccdchip, x, y, size):
    """
    A region of a chip around a 1-indexed chip position, clipped to the data.

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
    ccdchip : int
    x, y : float
        1-indexed full-chip position (centre of the region).
    size : int or tuple of int
        Side (or (ny, nx)) of the region in pixels.

    Returns
    -------
    data : `~numpy.ndarray`
        SCI values (a copy, float), possibly smaller than ``size`` where the
        image ends.
    extent : tuple of float
        (left, right, bottom, top) pixel edges in the 1-indexed chip frame,
        for ``imshow(..., origin='lower', extent=extent)``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        The position is not on the image (e.g. outside a subarray).
    """
    img = _open(image)
    chip = img.chip(ccdchip, arrays=('SCI',))
    ny, nx = (size, size) if np.ndim(size) == 0 else size
    xi, yi = chip_to_image(float(x), float(y), chip.ltv)
    r, c = pixel_to_index(int(round(xi)), int(round(yi)))
    rows, cols = chip.shape
    if not (0 <= r < rows and 0 <= c < cols):
        raise AcsFlecksError(
            f'{chip_name(ccdchip)} ({x:g}, {y:g}) is not on the image (it covers '
            f'chip x {1 - chip.ltv[0]:g}-{cols - chip.ltv[0]:g}, y '
            f'{1 - chip.ltv[1]:g}-{rows - chip.ltv[1]:g})', path=img.path)
    r0, c0 = max(r - ny // 2, 0), max(c - nx // 2, 0)
    r1, c1 = min(r - ny // 2 + ny, rows), min(c - nx // 2 + nx, cols)
    data = np.array(chip.sci[r0:r1, c0:c1], dtype=float)
    # pixel edges of the 0-indexed columns c0..c1-1 are 1-indexed c0+0.5 ...
    left, bottom = image_to_chip(c0 + 0.5, r0 + 0.5, chip.ltv)
    right, top = image_to_chip(c1 + 0.5, r1 + 0.5, chip.ltv)
    return data, (left, right, bottom, top)


def _limits(data):
    """Display range: IRAF/DS9 zscale (robust to hot pixels, warm columns)."""
    v = data[np.isfinite(data)]
    if v.size == 0:
        return 0.0, 1.0
    a, b = ZScaleInterval().get_limits(v)
    return (float(a), float(b)) if b > a else (float(a) - 1, float(a) + 1)


def _square(ax, x, y, side=SQUARE, color='red'):
    """The report's red square, centred on the 1-indexed pixel (x, y)."""
    sq = Rectangle((x - side / 2, y - side / 2), side, side, fill=False,
                   edgecolor=color, linewidth=1.3, gid='fleck_square')
    ax.add_patch(sq)
    return sq


def _box(ax, box, color, label):
    """Outline a (xmin, xmax, ymin, ymax) 1-indexed inclusive box."""
    x0, x1, y0, y1 = box
    r = Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False,
                  edgecolor=color, linewidth=1.5, label=label, gid=label)
    ax.add_patch(r)
    return r


def _label(ax, ccdchip, fontsize=None):
    name = chip_name(ccdchip)
    kw = {'fontsize': fontsize} if fontsize else {}
    ax.set_xlabel(f'x ({name} column, pixels)', **kw)
    ax.set_ylabel(f'y ({name} row, pixels)', **kw)


def _show(ax, data, extent, *, vmin=None, vmax=None, cmap='gray'):
    lo, hi = _limits(data)
    return ax.imshow(data, origin='lower', extent=extent, cmap=cmap,
                     vmin=lo if vmin is None else vmin,
                     vmax=hi if vmax is None else vmax,
                     interpolation='nearest')


def _unit(img):
    b = img.bunit or 'electrons'
    return 'e-' if b.upper().startswith('ELECTRON') else b


def _date(img):
    return img.obs_time.isot[:10]


def _missing(ax, text, width=40):
    """Blank panel with a (wrapped) note saying why."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, textwrap.fill(text, width), ha='center', va='center',
            transform=ax.transAxes, fontsize=7)


# -- figures --------------------------------------------------------------

def plot_flashed_dark_region(image, *, ccdchip, x, y, size=200, square=SQUARE,
                             label=''):
    """
    A region of a flashed dark with the fleck in a red square (Figure 1).

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        A flashed dark (a long dark in the report; any post-flashed dark).
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck (centre of the square).
    size : int
        Side of the region (clipped to the image).
    square : int
        Side of the red square.
    label : str
        Fleck name for the title.

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    img = _open(image)
    data, ext = chip_region(img, ccdchip=ccdchip, x=x, y=y, size=size)
    fig = Figure(figsize=(6.4, 5.6), layout='constrained')
    ax = fig.subplots()
    im = _show(ax, data, ext)
    _square(ax, x, y, square)
    fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
    _label(ax, ccdchip)
    ax.set_title(f'{img.name} ({_date(img)}, flash {img.flashdur.value:g} s, '
                 f'{img.exptime.value:g} s)\n{label + " " if label else ""}'
                 f'{chip_name(ccdchip)} ({x:g}, {y:g}) in the '
                 f'{square}x{square} red square', fontsize=9)
    return fig


def exposures_summed(image, ccdchip):
    """
    How many exposures a combined image's pixels add up.

    ACSREJ writes totals (``EXPTIME`` = ``TEXPTIME``, the sum of the
    ``NCOMBINE`` inputs); a team's own combination may be an average
    (``EXPTIME`` = one input's exposure time, ``TEXPTIME`` the sum).  The
    per-exposure image is the data divided by this number.

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
    ccdchip : int

    Returns
    -------
    int
        ``NCOMBINE`` for totals, 1 for an average (or a single exposure).
    """
    # one decision for the whole package: acs_flecks.combined
    return int(round(1 / combination(_open(image), ccdchip=ccdchip)
                     .per_exposure))


def plot_daily_superdark(daily_dark, short_dark, *, ccdchip, x, y,
                         superdark=None, size=100, square=SQUARE):
    """
    Daily dark, short dark and daily superdark around a fleck (Figure 2).

    Parameters
    ----------
    daily_dark : str or `~acs_flecks.io.ACSImage`
        Combined flashed long darks of one day.
    short_dark : str or `~acs_flecks.io.ACSImage`
        Combined flashed short dark (DKC) with the same post-flash.
    superdark : str or `~acs_flecks.io.ACSImage`, optional
        The daily superdark.  If not given it is computed as the report
        describes its last step: daily dark - short dark, each divided by
        its ``NCOMBINE`` when it is a sum (an average is already one
        exposure; `acs_flecks.combined.combination`), so the post-flash
        signal and the fleck cancel.
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck.
    size : int
        Side of the regions.
    square : int

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    dd, sd = _open(daily_dark), _open(short_dark)
    d1, ext = chip_region(dd, ccdchip=ccdchip, x=x, y=y, size=size)
    d2, ext2 = chip_region(sd, ccdchip=ccdchip, x=x, y=y, size=size)
    # one exposure of each: a sum is divided by NCOMBINE, an average is
    # already per exposure (acs_flecks.combined decides from the header)
    d1 = d1 * combination(dd, ccdchip=ccdchip).per_exposure
    d2 = d2 * combination(sd, ccdchip=ccdchip).per_exposure
    if superdark is not None:
        sup = _open(superdark)
        d3, ext3 = chip_region(sup, ccdchip=ccdchip, x=x, y=y, size=size)
        d3 = d3 * combination(sup, ccdchip=ccdchip).per_exposure
        t3 = f'daily superdark {sup.name} ({_date(sup)})'
    else:
        if d1.shape != d2.shape or ext != ext2:
            raise AcsFlecksError(
                f'daily dark {dd.name} and short dark {sd.name} cover different '
                f'pixels around ({x:g}, {y:g}); cannot difference them',
                path=dd.path)
        d3, ext3 = d1 - d2, ext
        t3 = 'daily superdark = daily dark - short dark (per exposure)'
    fig = Figure(figsize=(5.6, 13), layout='constrained')
    axes = fig.subplots(3, 1)
    for ax, d, e, t in zip(axes, (d1, d2, d3), (ext, ext2, ext3),
                           (f'daily dark {dd.name} ({_date(dd)})',
                            f'short dark {sd.name} ({_date(sd)})', t3)):
        im = _show(ax, d, e)
        _square(ax, x, y, square)
        fig.colorbar(im, ax=ax, label=f'signal per exposure ({_unit(dd)})')
        _label(ax, ccdchip, fontsize=8)
        ax.set_title(t, fontsize=8)
    fig.suptitle(f'{chip_name(ccdchip)} ({x:g}, {y:g})')
    return fig


def plot_flecks(image, flecks=None, *, size=60, square=SQUARE):
    """
    Each fleck in a flashed dark, one panel per fleck (Figure 3).

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        A post-flashed dark taken after the date of origin.
    flecks : table, optional
        See `fleck_table` (default: the report's three flecks).
    size : int
        Side of each panel's region.
    square : int

    Returns
    -------
    `~matplotlib.figure.Figure`
        Panels of flecks outside the image say so.
    """
    img = _open(image)
    ft = fleck_table(flecks)
    fig = Figure(figsize=(5.2, 4.4 * len(ft)), layout='constrained')
    axes = np.atleast_1d(fig.subplots(len(ft), 1, squeeze=False).ravel())
    for i, (ax, f) in enumerate(zip(axes, ft)):
        chip, x, y = int(f['ccdchip']), float(f['x']), float(f['y'])
        title = f'({i + 1}) {f["id"]}: {chip_name(chip)} ({x:g}, {y:g})'
        try:
            data, ext = chip_region(img, ccdchip=chip, x=x, y=y, size=size)
        except AcsFlecksError:
            _missing(ax, f'{title}: not on {img.name}')
            continue
        im = _show(ax, data, ext)
        _square(ax, x, y, square)
        fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
        _label(ax, chip, fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f'{img.name} ({_date(img)}), {square}x{square} px red squares',
                 fontsize=9)
    return fig


def plot_flashed_unflashed(unflashed, flashed, flecks=None, *, size=60,
                           square=SQUARE):
    """
    Un-flashed (left) vs post-flashed (right) dark, one row per fleck
    (Figure 4).

    Parameters
    ----------
    unflashed : str or `~acs_flecks.io.ACSImage`
        Un-flashed combined dark after the anneal.
    flashed : str or `~acs_flecks.io.ACSImage`
        Post-flashed dark of the same period.
    flecks : table, optional
        See `fleck_table`; every row is drawn.
    size, square : int

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    un, fl = _open(unflashed), _open(flashed)
    ft = fleck_table(flecks)
    fig = Figure(figsize=(10, 4.3 * len(ft)), layout='constrained')
    axes = fig.subplots(len(ft), 2, squeeze=False)
    for row, f in zip(axes, ft):
        chip, x, y = int(f['ccdchip']), float(f['x']), float(f['y'])
        for ax, img, kind in ((row[0], un, 'un-flashed'), (row[1], fl, 'post-flashed')):
            title = (f'{f["id"]} {chip_name(chip)} ({x:g}, {y:g}): {kind}\n'
                     f'{img.name} ({_date(img)}, flash {img.flashdur.value:g} s)')
            try:
                data, ext = chip_region(img, ccdchip=chip, x=x, y=y, size=size)
            except AcsFlecksError:
                _missing(ax, f'{title}: not on the image')
                continue
            im = _show(ax, data, ext)
            _square(ax, x, y, square)
            fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
            _label(ax, chip, fontsize=8)
            ax.set_title(title, fontsize=8)
    return fig


def plot_shadow_boxes(image, *, ccdchip, x, y, shadow_box=None, empty_box=None,
                      lamp=None, size=40, label=''):
    """
    The large fleck in a flashed short dark with the §5 shadow box (blue)
    and the empty comparison box (orange) outlined (Figure 8).

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        A flashed short dark (DKC) showing the fleck.
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck.
    shadow_box, empty_box : tuple of int, optional
        (xmin, xmax, ymin, ymax) 1-indexed inclusive; default from
        `acs_flecks.characterize.shadow_boxes` (with ``lamp``).
    lamp : `~acs_flecks.characterize.TransmissivityResult`, optional
        The fleck in lamp flats, to place the default boxes.
    size : int
        Side of the region shown (enlarged to include the empty box).
    label : str

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    from ..characterize.shadow import shadow_boxes
    img = _open(image)
    if (shadow_box is None) != (empty_box is None):
        raise AcsFlecksError('give both shadow_box and empty_box, or neither')
    if shadow_box is None:
        shadow_box, empty_box = shadow_boxes(img, ccdchip=ccdchip, x=x, y=y,
                                             lamp=lamp)
    # a square region centred on the fleck that contains both boxes
    reach = max(abs(v - c) for v, c in zip((*shadow_box, *empty_box),
                                           (x, x, y, y, x, x, y, y)))
    side = int(max(size, 2 * reach + 8))
    data, ext = chip_region(img, ccdchip=ccdchip, x=x, y=y, size=side)
    fig = Figure(figsize=(6.6, 5.6), layout='constrained')
    ax = fig.subplots()
    im = _show(ax, data, ext)
    sb, eb = tuple(int(v) for v in shadow_box), tuple(int(v) for v in empty_box)
    _box(ax, sb, 'tab:blue', f'shadow box x {sb[0]}-{sb[1]}, y {sb[2]}-{sb[3]}')
    _box(ax, eb, 'tab:orange', f'empty box x {eb[0]}-{eb[1]}, y {eb[2]}-{eb[3]}')
    ax.legend(fontsize=7, loc='lower left')
    fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
    _label(ax, ccdchip)
    ax.set_title(f'{label + " " if label else ""}{chip_name(ccdchip)} '
                 f'({x:g}, {y:g}) in {img.name} ({_date(img)})', fontsize=9)
    return fig


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
    from ..report import REPORT_CSS
    lines = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<title>acs_flecks: report figures</title>',
             f'<style>{REPORT_CSS}</style></head><body>',
             '<h1>Report figures regenerated by acs_flecks</h1>']
    if report:
        href = os.path.relpath(os.path.abspath(report), os.path.abspath(outdir))
        lines.append(f'<nav><a href="{html.escape(href)}">Back to the run '
                     'report</a></nav>')
    lines += ['<div class="tbl"><table>',
              '<tr><th>Figure</th><th>Caption (report)</th><th>File / reason</th></tr>']
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
    from ..report import relative_paths
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
        from .characterize import plot_eper_ratios
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
        from .characterize import plot_shadow_series
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
        from .characterize import plot_filter_thumbnails
        res = need_trans(n, f, what)
        if res is not None:
            bef = trans_before.get(str(f['id']))
            save(n, plot_filter_thumbnails(res, before=bef),
                 '' if bef is not None else 'no earlier flats: one row')

    def filt(res):
        return 'F435W' if 'F435W' in res.filters else res.filters[0]

    def fig12():
        from .characterize import plot_aperture_analysis
        res = need_trans(12, large, 'large fleck')
        if res is not None:
            save(12, plot_aperture_analysis(res, filt(res)))

    def fig13():
        from .characterize import plot_master_aperture
        res = need_trans(13, large, 'large fleck')
        if res is not None:
            save(13, plot_master_aperture(res, filt(res)))

    def sed(n, f, what):
        from .characterize import plot_sed
        res = need_trans(n, f, what)
        if res is not None:
            save(n, plot_sed(res))

    def fig15():
        from .characterize import plot_aperture_analysis, plot_master_aperture
        res = need_trans(15, elong, 'elongated fleck')
        if res is not None:
            save(15, stack_figures([plot_aperture_analysis(res, filt(res)),
                                    plot_master_aperture(res, filt(res))]))

    def fig17():
        from ..characterize import compare_led_lamp
        from .characterize import plot_led_lamp
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
