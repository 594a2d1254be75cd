"""
Bad pixels to bad-pixel table rows: check and select the pixels to flag
(`select_bad_pixels`, `check_threshold`) and encode them as maximal runs
along x, ``AXIS=1`` (`mask_to_runs`, `bad_pixel_rows`).
"""

import logging

import numpy as np
from astropy.table import QTable, Table

from ..coords import CHIP_SHAPES, DETECTOR_CHIPS, pixel_to_index
from ..exceptions import AcsFlecksError
from .columns import DQ_BAD_PIXEL

__all__ = ['mask_to_runs', 'select_bad_pixels', 'bad_pixel_rows',
           'check_threshold']

log = logging.getLogger(__name__)


def mask_to_runs(mask):
    """
    Turn a boolean mask into runs along x (``AXIS=1``).

    Parameters
    ----------
    mask : 2-D array-like of bool
        One chip, numpy order ``[row, column]``.

    Returns
    -------
    pix1, pix2, length : `~numpy.ndarray` of int64
        1-indexed first column and row of each run and its length, sorted
        by row then column.

    >>> import numpy as np
    >>> m = np.zeros((3, 5), bool); m[1, 1:4] = True; m[2, 0] = True
    >>> [a.tolist() for a in mask_to_runs(m)]
    [[2, 1], [2, 3], [3, 1]]
    """
    m = np.asarray(mask, bool)
    padded = np.zeros((m.shape[0], m.shape[1] + 2), np.int8)
    padded[:, 1:-1] = m
    d = np.diff(padded, axis=1)
    r0, c0 = np.nonzero(d == 1)
    r1, c1 = np.nonzero(d == -1)
    # both lists are in row-major order, so the i-th start pairs the i-th end
    x, y = (np.asarray(v, np.int64) for v in
            (c0 + 1, r0 + 1))  # 1-indexed, as coords.index_to_pixel
    return x, y, (c1 - c0).astype(np.int64)


def select_bad_pixels(bad_pixels, *, threshold=0.5, detector='WFC',
                      path=None):
    """
    Validate a bad-pixel list and keep the pixels to flag.

    Parameters
    ----------
    bad_pixels : `~astropy.table.Table`
        Columns ``ccdchip``, ``x``, ``y`` (1-indexed, full-chip frame) and
        optionally ``transmissivity`` and ``fleck_id``.
    threshold : float or None, optional
        With a ``transmissivity`` column, only pixels below it are kept
        (report §8: 50%).  `None` keeps every row.
    detector : str, optional
        Detector whose chips the pixels must lie on.
    path : str, optional
        File named in error messages.

    Returns
    -------
    `~astropy.table.QTable`
        ``ccdchip``, ``x``, ``y`` (int64), ``fleck_id`` and
        ``transmissivity`` (when given), sorted by chip, y, x, without
        duplicate pixels.
    """
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in bad_pixels.colnames]
    if missing:
        raise AcsFlecksError(f'bad-pixel table lacks column(s) '
                             f'{", ".join(missing)}', path=path)
    t = QTable()
    for name in ('ccdchip', 'x', 'y'):
        v = np.asarray(getattr(bad_pixels[name], 'value', bad_pixels[name]),
                       dtype=float)
        if v.size and (not np.isfinite(v).all() or (v != np.round(v)).any()):
            raise AcsFlecksError(f'column {name} must hold whole pixel '
                                 f'numbers, got e.g. {v[v != np.round(v)][:1]}',
                                 path=path)
        t[name] = v.astype(np.int64)
    if 'fleck_id' in bad_pixels.colnames:
        t['fleck_id'] = np.asarray(bad_pixels['fleck_id'])
    if 'transmissivity' in bad_pixels.colnames:
        trans = bad_pixels['transmissivity']
        t['transmissivity'] = np.asarray(getattr(trans, 'value', trans),
                                         dtype=float)
        if threshold is not None:
            keep = t['transmissivity'] < threshold
            if (~keep).any():
                log.info('%d pixel(s) at or above %.0f%% transmissivity are '
                         'not flagged', int((~keep).sum()), 100 * threshold)
            t = t[keep]
    ny, nx = CHIP_SHAPES[detector]
    chips = DETECTOR_CHIPS[detector]
    bad_chip = ~np.isin(t['ccdchip'], chips)
    if bad_chip.any():
        raise AcsFlecksError(
            f'ccdchip {t["ccdchip"][bad_chip][0]} is not a {detector} chip '
            f'{chips}', path=path)
    off = (t['x'] < 1) | (t['x'] > nx) | (t['y'] < 1) | (t['y'] > ny)
    if off.any():
        i = np.flatnonzero(off)[0]
        raise AcsFlecksError(
            f'pixel (x, y) = ({t["x"][i]}, {t["y"][i]}) is off the {nx}x{ny} '
            f'{detector} chip', path=path)
    if len(t):
        t.sort(['ccdchip', 'y', 'x'])
        key = np.stack([t['ccdchip'], t['y'], t['x']], axis=1)
        _, first = np.unique(key, axis=0, return_index=True)
        t = t[np.sort(first)]
    return t


def bad_pixel_rows(bad_pixels, *, value=DQ_BAD_PIXEL, detector='WFC',
                   exclude=None):
    """
    Turn bad pixels into bpixtab rows (runs along ``AXIS=1``).

    Parameters
    ----------
    bad_pixels : `~astropy.table.Table`
        Validated pixels (see `select_bad_pixels`).
    value : int, optional
        The DQ flag (4, bad detector pixel).
    detector : str, optional
        The detector (chip shape).
    exclude : dict, optional
        ``{ccdchip: uint16 mask}`` of flags already set; pixels whose mask
        already contains every bit of ``value`` get no row.

    Returns
    -------
    `~astropy.table.Table`
        Columns PIX1, PIX2, LENGTH, AXIS, VALUE, CCDCHIP, CCDAMP ('N/A'),
        CCDGAIN (-999), sorted by chip, PIX2, PIX1.
    """
    shape = CHIP_SHAPES[detector]
    out = {k: [] for k in ('PIX1', 'PIX2', 'LENGTH', 'CCDCHIP')}
    for chip in sorted(set(int(c) for c in bad_pixels['ccdchip'])):
        sub = bad_pixels[bad_pixels['ccdchip'] == chip]
        want = np.zeros(shape, bool)
        row, col = pixel_to_index(np.asarray(sub['x']), np.asarray(sub['y']))
        want[row, col] = True
        if exclude is not None and chip in exclude:
            want &= (exclude[chip] & np.uint16(value)) != np.uint16(value)
        pix1, pix2, length = mask_to_runs(want)
        out['PIX1'].append(pix1)
        out['PIX2'].append(pix2)
        out['LENGTH'].append(length)
        out['CCDCHIP'].append(np.full(pix1.size, chip, np.int64))
    cols = {k: (np.concatenate(v) if v else np.zeros(0, np.int64))
            for k, v in out.items()}
    n = cols['PIX1'].size
    return Table({'PIX1': cols['PIX1'], 'PIX2': cols['PIX2'],
                  'LENGTH': cols['LENGTH'], 'AXIS': np.ones(n, np.int64),
                  'VALUE': np.full(n, int(value), np.int64),
                  'CCDCHIP': cols['CCDCHIP'],
                  'CCDAMP': np.full(n, 'N/A', dtype='U4'),
                  'CCDGAIN': np.full(n, -999, np.int64)})


def check_threshold(threshold, *, what='threshold'):
    """
    Check a transmissivity threshold: a number in (0, 1].

    Parameters
    ----------
    threshold : float
        Pixels with a transmissivity below it are flagged (report §8: 0.5).
    what : str, optional
        Name of the option in the message (e.g. '--threshold').

    Returns
    -------
    float

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Not a number, NaN, or outside (0, 1] (0 would flag nothing, more
        than 1 every pixel).
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise AcsFlecksError(f'{what} must be a number in (0, 1], got '
                             f'{threshold!r}') from None
    if not 0 < value <= 1:      # False for NaN too
        raise AcsFlecksError(
            f'{what} must be a transmissivity in (0, 1] (e.g. 0.5), got '
            f'{threshold!r}')
    return value
