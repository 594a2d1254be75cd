"""
The figures of the report's discovery (§2) and initial characterization
(§3): the flecks in flashed darks (Figures 1-3) and un-flashed vs
post-flashed darks (Figure 4).
"""

import numpy as np
from matplotlib.figure import Figure

from ..combined import combination
from ..coords import chip_name
from ..exceptions import AcsFlecksError
from .chip_images import (SQUARE, _date, _label, _missing, _open, _show,
                          _square, _unit, chip_region)
from .report_flecks import fleck_table

__all__ = ['plot_flashed_dark_region', 'exposures_summed',
           'plot_daily_superdark', 'plot_flecks', 'plot_flashed_unflashed']


def _signal_panel(fig, ax, img, data, extent, *, ccdchip, x, y, square,
                  fontsize=None):
    """One region of a chip in signal units: the image, the red square on
    the fleck, a colour bar and the chip's axis labels (Figures 1, 3, 4)."""
    im = _show(ax, data, extent)
    _square(ax, x, y, square)
    fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
    _label(ax, ccdchip, fontsize=fontsize)

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
    _signal_panel(fig, ax, img, data, ext, ccdchip=ccdchip, x=x, y=y,
                  square=square)
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
        _signal_panel(fig, ax, img, data, ext, ccdchip=chip, x=x, y=y,
                      square=square, fontsize=8)
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
            _signal_panel(fig, ax, img, data, ext, ccdchip=chip, x=x, y=y,
                          square=square, fontsize=8)
            ax.set_title(title, fontsize=8)
    return fig
