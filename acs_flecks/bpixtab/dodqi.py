"""
Expand bad-pixel table rows into the DQ mask of one chip exactly as CALACS
does: a port of hstcal ``pkg/acs/lib/dodqi.c`` (``doDQI``, ``ReadBpixTab``,
``DQINormal``), with the row selection of ``pkg/acs/lib/sameint.c``
(``SameInt``, ``SameFlt``) and the wildcards of
``pkg/acs/include/acswild.h``.

Read against spacetelescope/hstcal at commit 5c1c177 (2026-06-30).
"""

import numpy as np

from ..coords import CHIP_SHAPES
from ..exceptions import ReferenceFileError
from .columns import _AMP_WILDCARDS, _INT_WILDCARDS, _column, _strings
from .table import BpixtabFile

__all__ = ['expand_bpixtab']


def _selected_rows(table, *, ccdchip, ccdamp, ccdgain):
    """Boolean mask of the rows dodqi.c applies to the given chip/amp/gain."""
    n = len(table)
    chip = _column(table, 'CCDCHIP').astype(np.int64)
    sel = np.isin(chip, _INT_WILDCARDS) | (chip == int(ccdchip))
    if ccdamp is not None and 'CCDAMP' in table.colnames:
        amps = _strings(table['CCDAMP'])
        sel &= np.isin(amps, _AMP_WILDCARDS) | (amps == str(ccdamp).strip())
    if ccdgain is not None and 'CCDGAIN' in table.colnames:
        gain = _column(table, 'CCDGAIN')
        if gain.dtype.kind in 'iu' and gain.dtype.itemsize >= 4:
            # int (TFORM J) column: SameInt(row, (int)gain)
            g = gain.astype(np.int64)
            sel &= np.isin(g, _INT_WILDCARDS) | (g == int(ccdgain))
        else:
            # any other type (short 'I', real 'E'): SameFlt in float32
            g = gain.astype(np.float32)
            sel &= (np.isin(g, np.float32(_INT_WILDCARDS))
                    | (g == np.float32(ccdgain)))
    return sel if n else np.zeros(0, bool)


def expand_bpixtab(table, *, ccdchip, shape=CHIP_SHAPES['WFC'], ltv=(0, 0),
                   ccdamp=None, ccdgain=None, placeholder=False):
    """
    Expand a bad-pixel table into the DQ mask of one chip, as CALACS does.

    Follows hstcal ``pkg/acs/lib/dodqi.c`` (``doDQI``, ``ReadBpixTab``,
    ``DQINormal``): a row applies when ``CCDCHIP`` equals ``ccdchip`` or is
    a wildcard (-999, -1), ``CCDAMP`` is 'N/A'/'ANY' or equals ``ccdamp``
    and ``CCDGAIN`` is -999/-1 or equals ``ccdgain`` (an int32 column is
    compared with the truncated gain, any other type as float32); a missing
    CCDAMP/CCDGAIN column matches everything.  The run starts at the
    1-indexed (``PIX1``, ``PIX2``) shifted by the image's (``LTV1``,
    ``LTV2``), goes ``LENGTH`` pixels along ``AXIS`` and is clipped at the
    image edges (dropped if entirely off); ``VALUE`` (read as a short) is
    OR-ed into the mask.

    Parameters
    ----------
    table : `~astropy.table.Table` or `BpixtabFile`
        The bad-pixel rows.
    ccdchip : int
        CCDCHIP of the chip.
    shape : tuple of int, optional
        (rows, columns) of the image (default a full WFC chip).
    ltv : tuple of float, optional
        (``LTV1``, ``LTV2``) of the image (24, 0 for a raw WFC chip).
    ccdamp, ccdgain : str and float, optional
        The image's ``CCDAMP`` and ``CCDGAIN``; `None` (default) applies
        the rows of every amplifier/gain (the union).
    placeholder : bool, optional
        If `True`, mimic CALACS when no row applies: it ORs 64 into the
        0-indexed pixel [1, 1].

    Returns
    -------
    mask : `~numpy.ndarray` of uint16
        The OR of the VALUEs of the rows covering each pixel.

    Raises
    ------
    acs_flecks.exceptions.ReferenceFileError
        A row with AXIS not 1 or 2 or LENGTH <= 0 (CALACS stops there).
    """
    if isinstance(table, BpixtabFile):
        table = table.table
    ny, nx = (int(s) for s in shape)
    mask = np.zeros((ny, nx), np.uint16)
    if len(table) == 0:
        if placeholder:
            mask[1, 1] |= 64
        return mask
    axis = _column(table, 'AXIS').astype(np.int64)
    length = _column(table, 'LENGTH').astype(np.int64)
    if not np.isin(axis, (1, 2)).all():
        bad = axis[~np.isin(axis, (1, 2))][0]
        raise ReferenceFileError(f'AXIS = {bad} in BPIXTAB, but it must be '
                                 '1 or 2')
    if (length <= 0).any():
        raise ReferenceFileError(f'LENGTH = {length[length <= 0][0]} in '
                                 'BPIXTAB, but it must be positive')
    sel = _selected_rows(table, ccdchip=ccdchip, ccdamp=ccdamp,
                         ccdgain=ccdgain)
    if not sel.any():
        if placeholder:
            mask[1, 1] |= 64
        return mask
    # C: int xstart = (PIX1 - 1) + ltv, the double truncated toward zero
    xs = np.trunc(_column(table, 'PIX1')[sel].astype(np.float64) - 1
                  + float(ltv[0])).astype(np.int64)
    ys = np.trunc(_column(table, 'PIX2')[sel].astype(np.float64) - 1
                  + float(ltv[1])).astype(np.int64)
    ln = length[sel]
    ax = axis[sel]
    # VALUE is read as a C short and OR-ed into the (unsigned) DQ array
    val = _column(table, 'VALUE')[sel].astype(np.int64).astype(
        np.int16).view(np.uint16)
    # along the run: a = start along the axis, b = the fixed coordinate
    a0 = np.where(ax == 1, xs, ys)
    b = np.where(ax == 1, ys, xs)
    na = np.where(ax == 1, nx, ny)
    nb = np.where(ax == 1, ny, nx)
    a1 = a0 + ln - 1
    keep = ~((a1 < 0) | (a0 >= na) | (b < 0) | (b >= nb))
    a0 = np.clip(a0[keep], 0, None)
    a1 = np.minimum(a1[keep], na[keep] - 1)
    b, ax, val = b[keep], ax[keep], val[keep]
    counts = a1 - a0 + 1
    if counts.size == 0:
        return mask
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts,
                                                  counts)
    along = np.repeat(a0, counts) + offsets
    fixed = np.repeat(b, counts)
    is_x = np.repeat(ax == 1, counts)
    rows = np.where(is_x, fixed, along)
    cols = np.where(is_x, along, fixed)
    flat = rows * nx + cols
    pix_val = np.repeat(val, counts)
    out = mask.reshape(-1)
    # OR is idempotent: per distinct value, fancy assignment handles repeats
    for v in np.unique(pix_val):
        idx = flat[pix_val == v]
        out[idx] |= v
    return mask


def _universal_rows(table):
    """Rows that apply to every amplifier and gain configuration."""
    sel = np.ones(len(table), bool)
    if 'CCDAMP' in table.colnames:
        sel &= np.isin(_strings(table['CCDAMP']), _AMP_WILDCARDS)
    if 'CCDGAIN' in table.colnames:
        sel &= np.isin(_column(table, 'CCDGAIN').astype(np.float64),
                       _INT_WILDCARDS)
    return table[sel]
