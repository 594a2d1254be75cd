"""
A region of a chip drawn as the report draws it: zscale grey scale in the
1-indexed full-chip frame (x = column, y = row) of the chip named in the
title, whatever the file's ``LTV`` offsets, with the report's 20x20 pixel
red square centred on a fleck (`chip_region`, `SQUARE`).

The private helpers (``_show``, ``_square``, ``_box``, ``_label``, ...) are
shared by the figure modules of this sub-package.
"""

import textwrap

import numpy as np
from astropy.visualization import ZScaleInterval
from matplotlib.patches import Rectangle

from ..coords import chip_name, chip_to_image, image_to_chip, pixel_to_index
from ..exceptions import AcsFlecksError
from ..io import open_image

__all__ = ['SQUARE', 'chip_region']

#: Side of the report's red square (pixels).
SQUARE = 20


def _open(f):
    return open_image(f, operation='figures')


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
