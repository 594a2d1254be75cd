"""
The one place where user pixel coordinates meet numpy indices.

Coordinates shown to users (catalogs, reports, command-line options, DS9
regions, the bad-pixel table) are **1-indexed, x = column, y = row, per chip**,
as in the instrument report ("WFC2 at (1521, 1773)").  numpy indexes
``array[row, column]`` from 0, so the pixel (x, y) is ``array[y - 1, x - 1]``.

>>> from acs_flecks.coords import pixel_to_index, index_to_pixel
>>> pixel_to_index(1521, 1773)
(1772, 1520)
>>> index_to_pixel(1772, 1520)
(1521, 1773)
"""

import numpy as np

__all__ = ['pixel_to_index', 'index_to_pixel', 'cutout_slices',
           'image_to_chip', 'chip_to_image',
           'WFC_CHIP_SHAPE', 'CHIP_NAMES', 'chip_name', 'CHIP_SHAPES',
           'DETECTOR_CHIPS']

#: Shape (rows, columns) of a calibrated WFC chip.
WFC_CHIP_SHAPE = (2048, 4096)

#: Shape (rows, columns) of the trimmed reference frame of one chip, per
#: detector (the frame of calibrated images and of bad-pixel tables).
CHIP_SHAPES = {'WFC': WFC_CHIP_SHAPE, 'HRC': (1024, 1024), 'SBC': (1024, 1024)}

#: CCDCHIP values of each detector's chips.
DETECTOR_CHIPS = {'WFC': (1, 2), 'HRC': (1,), 'SBC': (1,)}

#: Names of the WFC chips by CCDCHIP value.
CHIP_NAMES = {1: 'WFC1', 2: 'WFC2'}


def chip_name(ccdchip):
    """Return 'WFC1' or 'WFC2' for a CCDCHIP value."""
    return CHIP_NAMES[int(ccdchip)]


def pixel_to_index(x, y):
    """
    Convert 1-indexed (x, y) pixel coordinates to 0-indexed (row, column).

    Parameters
    ----------
    x, y : float, int or array-like
        1-indexed column and row.  Non-integer values (centroids) are
        converted without rounding.

    Returns
    -------
    row, column : same type as the input
        ``y - 1`` and ``x - 1``.
    """
    if np.ndim(x) or np.ndim(y):
        return np.asarray(y) - 1, np.asarray(x) - 1
    return y - 1, x - 1


def index_to_pixel(row, column):
    """
    Convert 0-indexed (row, column) to 1-indexed (x, y) pixel coordinates.

    Parameters
    ----------
    row, column : float, int or array-like
        numpy indices (or sub-pixel positions in the numpy frame).

    Returns
    -------
    x, y : same type as the input
        ``column + 1`` and ``row + 1``.
    """
    if np.ndim(row) or np.ndim(column):
        return np.asarray(column) + 1, np.asarray(row) + 1
    return column + 1, row + 1


def image_to_chip(x, y, ltv):
    """
    Convert 1-indexed image pixels to the full-chip (reference) frame.

    ``LTV1``/``LTV2`` give the offset of the image in the full-chip frame
    (IRAF convention: image = chip + LTV), so chip = image - LTV.  Full-frame
    calibrated WFC data have LTV = (0, 0); a subarray whose first column is
    chip column 1001 has LTV1 = -1000.

    Parameters
    ----------
    x, y : float or array-like
        1-indexed image coordinates.
    ltv : tuple of float
        (``LTV1``, ``LTV2``) of the chip's SCI header.

    Returns
    -------
    x, y
        1-indexed chip-frame coordinates.

    >>> image_to_chip(1, 1, (-1000.0, -200.0))
    (1001.0, 201.0)
    """
    return x - ltv[0], y - ltv[1]


def chip_to_image(x, y, ltv):
    """Inverse of `image_to_chip`: chip-frame (x, y) to image (x, y).

    >>> chip_to_image(1001, 201, (-1000.0, -200.0))
    (1.0, 1.0)
    """
    return x + ltv[0], y + ltv[1]


def cutout_slices(x, y, shape, *, chip_shape=WFC_CHIP_SHAPE, path=None):
    """
    Slices of a cutout of ``shape`` (ny, nx) centred on the 1-indexed pixel.

    The cutout spans rows ``y - ny//2 ... y - ny//2 + ny - 1`` (1-indexed),
    likewise in x, so a 40x40 box around (1521, 1773) covers x 1501-1540
    and y 1753-1792.

    Parameters
    ----------
    x, y : int
        1-indexed centre (rounded to the nearest pixel).
    shape : tuple of int
        (ny, nx) of the cutout.
    chip_shape : tuple of int, optional
        Shape of the chip, to check the box lies inside it.
    path : str, optional
        File named in the error message.

    Returns
    -------
    (slice, slice)
        Row and column slices into the chip array.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        If the box does not lie entirely on the chip.
    """
    from .exceptions import AcsFlecksError

    ny, nx = (int(s) for s in shape)
    if ny < 1 or nx < 1:
        raise AcsFlecksError(f'cutout shape must be positive, got {shape!r}',
                             path=path)
    row0, col0 = pixel_to_index(int(round(x)), int(round(y)))
    r0 = row0 - ny // 2
    c0 = col0 - nx // 2
    r1, c1 = r0 + ny, c0 + nx
    if r0 < 0 or c0 < 0 or r1 > chip_shape[0] or c1 > chip_shape[1]:
        raise AcsFlecksError(
            f'a {ny}x{nx} (rows x columns) box centred on (x, y) = ({x}, {y}) '
            f'does not fit on the {chip_shape[1]}x{chip_shape[0]} chip',
            path=path)
    return slice(r0, r1), slice(c0, c1)
