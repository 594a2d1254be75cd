"""
Merge bad pixels into a reference bad-pixel table: every reference row kept
unchanged and in order, new ``AXIS=1`` rows appended for the pixels the
reference does not already flag (`merge_bad_pixels`).
"""

import logging
import warnings

import numpy as np
from astropy.table import Table

from ..coords import CHIP_SHAPES, DETECTOR_CHIPS
from ..exceptions import AcsFlecksError, BpixtabWarning, ReferenceFileError
from .columns import DQ_BAD_PIXEL
from .dodqi import _universal_rows, expand_bpixtab
from .runs import bad_pixel_rows, select_bad_pixels
from .table import BpixtabFile

__all__ = ['merge_bad_pixels']

log = logging.getLogger(__name__)


def _fit_dtype(values, dtype, name):
    """Cast new-row values to the reference column type, or raise."""
    dtype = np.dtype(dtype)
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        v = np.asarray(values, np.int64)
        if v.size and (v.min() < info.min or v.max() > info.max):
            raise ReferenceFileError(
                f'new {name} values do not fit the reference column type '
                f'{dtype}')
        return v.astype(dtype)
    if dtype.kind == 'f':
        return np.asarray(values, np.float64).astype(dtype)
    if dtype.kind in 'SU':
        text = np.asarray(values).astype(str)
        width = dtype.itemsize // (4 if dtype.kind == 'U' else 1)
        if text.size and np.char.str_len(text).max() > width:
            raise ReferenceFileError(f'column {name} ({dtype}) is too narrow '
                                     f'for {text[0]!r}')
        return text.astype(dtype)
    raise ReferenceFileError(f'unsupported column type {dtype} of {name}')


def merge_bad_pixels(reference_table, bad_pixels, *, value=DQ_BAD_PIXEL,
                     detector='WFC', threshold=0.5):
    """
    Add bad pixels to a reference bad-pixel table.

    Every reference row is kept unchanged and in order; new rows (runs
    along x, ``CCDAMP='N/A'``, ``CCDGAIN=-999``) are appended for the pixels
    that the reference does not already flag with ``value`` for every
    amplifier and gain.  Column types are the reference's; a missing
    ``CCDAMP`` or ``CCDGAIN`` column is added with wildcards (CALACS 10.5
    crashes without CCDGAIN), with a `BpixtabWarning`.

    Parameters
    ----------
    reference_table : `~astropy.table.Table` or `BpixtabFile`
        The reference rows.
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y`` (1-indexed full-chip frame), optionally
        ``transmissivity`` and ``fleck_id``.
    value : int, optional
        The DQ flag to set (4).
    detector : str, optional
        Detector of the pixels ('WFC').
    threshold : float or None, optional
        Transmissivity below which a pixel is flagged (see
        `select_bad_pixels`).

    Returns
    -------
    `~astropy.table.Table`
        The merged table; ``meta['n_reference']`` and ``meta['n_added']``
        count the rows, ``meta['added_pixels']`` the pixels newly flagged.
    """
    if isinstance(reference_table, BpixtabFile):
        reference_table = reference_table.table
    value = int(value)
    if value <= 0 or value > 32767 or value & (value - 1):
        raise AcsFlecksError(f'value must be a single DQ bit (e.g. 4), got '
                             f'{value!r}')
    ref = Table(reference_table, copy=True)
    ref.meta = {}
    pixels = select_bad_pixels(bad_pixels, threshold=threshold,
                               detector=detector)
    shape = CHIP_SHAPES[detector]
    universal = _universal_rows(ref)
    exclude = {chip: expand_bpixtab(universal, ccdchip=chip, shape=shape)
               for chip in DETECTOR_CHIPS[detector]}
    new = bad_pixel_rows(pixels, value=value, detector=detector,
                         exclude=exclude)
    for name, fmt_dtype, fill in (('CCDAMP', 'S4', 'N/A'),
                                  ('CCDGAIN', np.float32, -999.0)):
        if name not in ref.colnames:
            warnings.warn(f'the reference bad-pixel table has no {name} '
                          f'column; adding it with the wildcard {fill!r} '
                          '(CALACS 10.5 crashes without CCDGAIN)',
                          BpixtabWarning)
            ref[name] = np.full(len(ref), fill, dtype=fmt_dtype)
    merged_cols = {}
    for name in ref.colnames:
        if name in new.colnames:
            added = _fit_dtype(new[name], ref[name].dtype, name)
        else:
            # a column of the reference this package does not know (none
            # in real ACS tables): zero / empty in the new rows
            added = np.zeros(len(new), ref[name].dtype)
            log.warning('reference column %s is unknown; new rows get 0', name)
        merged_cols[name] = np.concatenate([np.asarray(ref[name]), added])
    merged = Table(merged_cols, names=ref.colnames)
    n_pix = int(new['LENGTH'].sum()) if len(new) else 0
    merged.meta['n_reference'] = len(ref)
    merged.meta['n_added'] = len(new)
    merged.meta['added_pixels'] = n_pix
    log.info('%d reference row(s) kept, %d row(s) added for %d pixel(s) '
             '(%d requested)', len(ref), len(new), n_pix, len(pixels))
    return merged
