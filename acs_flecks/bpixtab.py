"""
The ACS bad-pixel table (BPIXTAB, CRDS type ``bpx``): read, expand, merge,
write (report §8).

A bpixtab lists runs of bad pixels, one per row: ``PIX1``, ``PIX2`` (the
1-indexed first pixel in the trimmed full-chip frame), ``LENGTH``, ``AXIS``
(1 = along x, 2 = along y), ``VALUE`` (the DQ flag OR-ed into each pixel),
selected by ``CCDCHIP`` and optionally ``CCDAMP`` and ``CCDGAIN``.
`expand_bpixtab` turns the rows into the DQ mask of one chip exactly as
CALACS does (hstcal ``pkg/acs/lib/dodqi.c``); `merge_bad_pixels` adds the
fleck pixels as new ``AXIS=1`` runs, keeping every reference row unchanged
and adding nothing for a pixel the reference already flags with the value;
`write_bpixtab` writes the delivery file (USEAFTER, PEDIGREE, DESCRIP,
COMMENT, HISTORY) atomically, after certification.

>>> from acs_flecks.bpixtab import read_bpixtab, write_bpixtab  # doctest: +SKIP
>>> write_bpixtab('25g1256nj_bpx.fits', bad_pixels, 'new_bpx.fits',
...               useafter='2017-05-05')                         # doctest: +SKIP
"""

import logging
import os
import pathlib
import re
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.time import Time

from .coords import CHIP_SHAPES, DETECTOR_CHIPS, pixel_to_index
from .dq import FLECK_FLAG
from .exceptions import (AcsFlecksError, AcsFlecksWarning, CertificationError,
                         ReferenceFileError)
from .utils import atomic_output, check_output_path

__all__ = ['BpixtabFile', 'read_bpixtab', 'check_bpixtab_rows',
           'bpixtab_row_warnings', 'check_new_rows', 'check_threshold',
           'expand_bpixtab', 'mask_to_runs', 'bad_pixel_rows',
           'merge_bad_pixels', 'write_bpixtab', 'deliver_bpixtab', 'Delivery', 'parse_useafter',
           'format_useafter', 'format_pedigree', 'select_bad_pixels',
           'ACS_INSTALLED', 'USEAFTER_FUTURE_DAYS',
           'BpixtabWarning', 'REQUIRED_COLUMNS', 'CHIP_SHAPES',
           'DETECTOR_CHIPS', 'DQ_BAD_PIXEL']

log = logging.getLogger(__name__)

#: Columns CALACS needs (``OpenBpixTab`` fails without any of them).
REQUIRED_COLUMNS = ('PIX1', 'PIX2', 'LENGTH', 'AXIS', 'VALUE', 'CCDCHIP')

#: The DQ flag of a bad detector pixel (hstcal ``acsdq.h`` DETECTORPROB,
#: `acs_flecks.dq.FLECK_FLAG`).
DQ_BAD_PIXEL = FLECK_FLAG

# Wildcards of hstcal ``acswild.h``: INT_WILDCARD -1, INT_IGNORE -999,
# STRING_WILDCARD 'ANY'; dodqi.c also treats CCDAMP 'N/A' as a match.
_INT_WILDCARDS = (-1, -999)
_AMP_WILDCARDS = ('ANY', 'N/A')

#: Width of a CCDAMP column added to a reference that lacks one.
_NEW_AMP_FORMAT = '4A'
#: CCDGAIN added to a reference that lacks one: REAL as in the CRDS tpn.
_NEW_GAIN_FORMAT = 'E'

_STRUCTURAL = re.compile(
    r'^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|'
    r'T(TYPE|FORM|UNIT|NULL|DISP|SCAL|ZERO|DIM|BCOL)\d+|CHECKSUM|DATASUM)$')


class BpixtabWarning(AcsFlecksWarning):
    """A bad-pixel table lacks something CALACS needs (it was added), or a
    delivery's USEAFTER is before its reference's."""


class Delivery(NamedTuple):
    """What `deliver_bpixtab` wrote: ``path``, ``certification``,
    ``table``."""

    path: pathlib.Path
    certification: object
    table: Table


@dataclass
class BpixtabFile:
    """
    A bad-pixel table read from a FITS file.

    Attributes
    ----------
    path : str
        The file.
    table : `~astropy.table.Table`
        The rows, with the file's column types (e.g. ``int16``, ``S3``).
    primary_header, header : `~astropy.io.fits.Header`
        Primary header and table-extension header.
    columns : `~astropy.io.fits.ColDefs`
        The column definitions (TFORM, TUNIT, TNULL, TDISP) to write back.
    """

    path: str
    table: Table
    primary_header: fits.Header
    header: fits.Header
    columns: fits.ColDefs = field(repr=False)

    @property
    def detector(self):
        """``DETECTOR`` of the primary header (upper case, stripped)."""
        return str(self.primary_header.get('DETECTOR', '')).strip().upper()

    @property
    def extname(self):
        """``EXTNAME`` of the table extension (e.g. 'BPX')."""
        return str(self.header.get('EXTNAME', '')).strip()

    @property
    def name(self):
        """Base name of the file."""
        return os.path.basename(self.path)


def _column(table, name):
    return np.asarray(getattr(table[name], 'value', table[name]))


def _check_readable(path, error):
    """Raise ``error`` (one line naming the file) for a file that is not
    FITS or is truncated, compressed files included (astropy reads a
    truncated ``.gz`` silently short)."""
    from .exceptions import InputFileError
    from .io import _read_fits_headers
    try:
        _read_fits_headers(path)
    except InputFileError as exc:
        raise error(exc.problem, path=path) from None


def read_bpixtab(path, *, detector=None, check=True):
    """
    Read a bad-pixel table, keeping its column types.

    Parameters
    ----------
    path : str or path-like
        The FITS file; the first binary-table extension is the table (as
        CALACS opens it).
    detector : str, optional
        The detector the caller needs ('WFC'); another ``DETECTOR`` raises.
    check : bool, optional
        If `True` (default), rows CALACS cannot apply as written (see
        `check_bpixtab_rows`) raise `~acs_flecks.exceptions.ReferenceFileError`.
        Rows CALACS clips or ignores (`bpixtab_row_warnings`) are valid:
        they are kept and only logged.

    Returns
    -------
    BpixtabFile

    Raises
    ------
    acs_flecks.exceptions.ReferenceFileError
        Missing or unreadable file, no table, missing required columns,
        wrong detector, or bad rows.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ReferenceFileError('no such bad-pixel table', path=path)
    _check_readable(path, ReferenceFileError)
    try:
        with fits.open(path, memmap=False) as hdul:
            hdul.verify('exception')
            primary = hdul[0].header.copy()
            tables = [h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)]
            if not tables:
                raise ReferenceFileError('has no binary-table extension; not '
                                         'a bad-pixel table', path=path)
            hdu = tables[0]
            header = hdu.header.copy()
            columns = fits.ColDefs([c.copy() for c in hdu.columns])
            data = hdu.data
            table = Table(np.array(data) if data is not None else None)
            if data is None or len(table.colnames) == 0:
                table = Table(names=columns.names,
                              dtype=[c.dtype for c in columns])
    except ReferenceFileError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError,
            fits.verify.VerifyError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReferenceFileError(f'not a readable FITS table ({msg})',
                                 path=path) from None
    # FITS column names are case-insensitive; CALACS finds them in any case.
    for name in table.colnames:
        if name != name.upper() and name.upper() not in table.colnames:
            table.rename_column(name, name.upper())
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise ReferenceFileError(
            f'bad-pixel table lacks required column(s) {", ".join(missing)} '
            f'(has {", ".join(table.colnames)})', path=path)
    for name in REQUIRED_COLUMNS:
        if table[name].dtype.kind not in 'iu':
            raise ReferenceFileError(
                f'column {name} must be integer, it is {table[name].dtype}',
                path=path)
    if 'CCDGAIN' in table.colnames and table['CCDGAIN'].dtype.kind not in 'iuf':
        raise ReferenceFileError(f'column CCDGAIN must be numeric, it is '
                                 f'{table["CCDGAIN"].dtype}', path=path)
    if 'CCDAMP' in table.colnames and table['CCDAMP'].dtype.kind not in 'SU':
        raise ReferenceFileError(f'column CCDAMP must be a string, it is '
                                 f'{table["CCDAMP"].dtype}', path=path)
    for name in table.colnames:
        if table[name].ndim > 1:
            raise ReferenceFileError(
                f'column {name} holds arrays (shape {table[name].shape[1:]} '
                'per row); a bad-pixel table has one value per cell',
                path=path)
    bpx = BpixtabFile(path=path, table=table, primary_header=primary,
                      header=header, columns=columns)
    instrume = str(primary.get('INSTRUME', '')).strip()
    if instrume != 'ACS':
        raise ReferenceFileError(f'not an ACS table (INSTRUME={instrume!r})',
                                 path=path)
    if bpx.detector not in CHIP_SHAPES:
        raise ReferenceFileError(f'unknown DETECTOR={bpx.detector!r}',
                                 path=path)
    if detector is not None and bpx.detector != detector.upper():
        raise ReferenceFileError(
            f'bad-pixel table is for detector {bpx.detector}, but the '
            f'flecks are on {detector.upper()}', path=path)
    if check:
        problems = check_bpixtab_rows(table, detector=bpx.detector)
        if problems:
            more = f' (and {len(problems) - 3} more)' if len(problems) > 3 else ''
            raise ReferenceFileError('; '.join(problems[:3]) + more, path=path)
        for msg in bpixtab_row_warnings(table, detector=bpx.detector):
            log.info('%s: %s', bpx.name, msg)
    return bpx


def _row_columns(table):
    return {k: _column(table, k).astype(np.int64)
            for k in ('AXIS', 'LENGTH', 'PIX1', 'PIX2', 'CCDCHIP', 'VALUE')}


def _reporter(problems, cols, *, offset=0):
    """A function ``report(bad, what, kind)`` appending the message of the
    rows ``bad`` to ``problems``; ``problems.kinds`` gets ``kind``."""
    def report(bad, what, kind):
        idx = np.flatnonzero(bad)
        if idx.size:
            i = idx[0]
            problems.kinds.append(kind)
            problems.append(
                f'{idx.size} row(s) {what} (first: row {i + 1 + offset}: '
                f'PIX1={cols["PIX1"][i]} PIX2={cols["PIX2"][i]} '
                f'LENGTH={cols["LENGTH"][i]} AXIS={cols["AXIS"][i]} '
                f'VALUE={cols["VALUE"][i]} CCDCHIP={cols["CCDCHIP"][i]})')
    return report


class _Findings(list):
    """Messages (a list of str) with the kind of each in ``kinds``
    ('axis', 'length', 'value', 'ccdchip', 'on_chip')."""

    def __init__(self):
        super().__init__()
        self.kinds = []

    def of(self, kind):
        """The messages of one kind."""
        return [m for m, k in zip(self, self.kinds) if k == kind]


def check_bpixtab_rows(table, *, detector):
    """
    List the rows that make a bad-pixel table unusable as a reference.

    These are what CALACS itself cannot apply (hstcal ``dodqi.c``,
    ``ReadBpixTab``): ``AXIS`` not 1 or 2 and ``LENGTH <= 0`` stop CALACS
    (after it has applied the earlier rows).  In addition a ``VALUE``
    outside 0..32767 is refused: CALACS reads VALUE as a C ``short`` and
    ORs its 16-bit pattern into DQ, so -4 sets every flag but 1 and 2
    (0xFFFC, including 8192 "rejected" and the undefined 16384 and 32768)
    and 65540 sets 4 -- the table does not mean what it says, and a
    delivery derived from it would carry the error on.

    Rows CALACS accepts but clips or ignores (runs past the chip edge,
    ``CCDCHIP`` of no chip of the detector) are *not* problems here: they
    are kept as they are; see `bpixtab_row_warnings`.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Rows with the `REQUIRED_COLUMNS`.
    detector : str
        'WFC', 'HRC' or 'SBC'.

    Returns
    -------
    list of str
        One message per kind of problem, naming the first offending row
        (1-indexed, as in the FITS file) and the count.
    """
    problems = _Findings()
    if len(table) == 0:
        return problems
    cols = _row_columns(table)
    report = _reporter(problems, cols)
    report(~np.isin(cols['AXIS'], (1, 2)), 'with AXIS not 1 or 2', 'axis')
    report(cols['LENGTH'] <= 0, 'with LENGTH <= 0', 'length')
    value = cols['VALUE']
    report((value < 0) | (value > 32767),
           'with VALUE outside 0..32767 (CALACS ORs VALUE as a 16-bit short: '
           'a negative or larger VALUE sets other flags than written)',
           'value')
    return problems


def bpixtab_row_warnings(table, *, detector, offset=0):
    """
    List the rows CALACS accepts but clips or ignores.

    hstcal ``DQINormal`` clips a run that goes past the image edge and
    skips one wholly outside; a ``CCDCHIP`` that is neither a chip of the
    detector nor a wildcard (-1, -999) matches no chip; ``VALUE = 0``
    flags nothing.  A reference may hold such rows (they are valid): they
    are kept exactly as they are and only reported (`certify` warns).

    Parameters
    ----------
    table : `~astropy.table.Table`
        Rows with the `REQUIRED_COLUMNS`.
    detector : str
        'WFC', 'HRC' or 'SBC'.
    offset : int, optional
        Row number of ``table[0]`` minus one in the file (for messages).

    Returns
    -------
    list of str
    """
    warn = _Findings()
    if len(table) == 0:
        return warn
    ny, nx = CHIP_SHAPES[detector]
    cols = _row_columns(table)
    report = _reporter(warn, cols, offset=offset)
    axis, length = cols['AXIS'], cols['LENGTH']
    pix1, pix2 = cols['PIX1'], cols['PIX2']
    ok = np.isin(axis, (1, 2)) & (length > 0)
    xend = np.where(axis == 1, pix1 + length - 1, pix1)
    yend = np.where(axis == 2, pix2 + length - 1, pix2)
    outside = ok & ((xend < 1) | (yend < 1) | (pix1 > nx) | (pix2 > ny))
    partial = ok & ~outside & ((pix1 < 1) | (pix2 < 1) | (xend > nx)
                               | (yend > ny))
    report(partial, f'running past the edge of the {nx}x{ny} chip (CALACS '
                    'clips them)', 'on_chip')
    report(outside, f'wholly outside the {nx}x{ny} chip (CALACS skips them)',
           'on_chip')
    allowed = DETECTOR_CHIPS[detector] + _INT_WILDCARDS
    report(~np.isin(cols['CCDCHIP'], allowed),
           f'with a CCDCHIP that is no {detector} chip nor a wildcard '
           f'{allowed} (CALACS applies them to no chip)', 'ccdchip')
    report(cols['VALUE'] == 0, 'with VALUE = 0 (they flag nothing)', 'value')
    return warn


def check_new_rows(table, *, detector, offset=0):
    """
    List the problems of rows this package writes.

    Stricter than `check_bpixtab_rows`: a written row must be one CALACS
    applies as written -- ``AXIS`` 1 or 2, ``LENGTH > 0``, ``VALUE`` a
    positive short, ``CCDCHIP`` a chip of ``detector``, and every pixel of
    the run on the chip (nothing clipped).

    Parameters
    ----------
    table : `~astropy.table.Table`
        The rows.
    detector : str
        'WFC', 'HRC' or 'SBC'.
    offset : int, optional
        Row number of ``table[0]`` minus one in the file (for messages).

    Returns
    -------
    list of str
    """
    problems = _Findings()
    if len(table) == 0:
        return problems
    ny, nx = CHIP_SHAPES[detector]
    cols = _row_columns(table)
    report = _reporter(problems, cols, offset=offset)
    axis, length = cols['AXIS'], cols['LENGTH']
    pix1, pix2 = cols['PIX1'], cols['PIX2']
    report(~np.isin(axis, (1, 2)), 'with AXIS not 1 or 2', 'axis')
    report(length <= 0, 'with LENGTH <= 0', 'length')
    report((cols['VALUE'] <= 0) | (cols['VALUE'] > 32767),
           'with VALUE not in 1..32767', 'value')
    report(~np.isin(cols['CCDCHIP'], DETECTOR_CHIPS[detector]),
           f'with CCDCHIP not a {detector} chip {DETECTOR_CHIPS[detector]}',
           'ccdchip')
    ok = np.isin(axis, (1, 2)) & (length > 0)
    xend = np.where(axis == 1, pix1 + length - 1, pix1)
    yend = np.where(axis == 2, pix2 + length - 1, pix2)
    report(ok & ((pix1 < 1) | (pix2 < 1) | (xend > nx) | (yend > ny)),
           f'running off the {nx}x{ny} chip', 'on_chip')
    return problems


def _strings(col):
    arr = np.asarray(col)
    if arr.dtype.kind == 'S':
        arr = np.char.decode(arr, 'ascii', errors='replace')
    return np.char.rstrip(arr.astype(str))


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


def _universal_rows(table):
    """Rows that apply to every amplifier and gain configuration."""
    sel = np.ones(len(table), bool)
    if 'CCDAMP' in table.colnames:
        sel &= np.isin(_strings(table['CCDAMP']), _AMP_WILDCARDS)
    if 'CCDGAIN' in table.colnames:
        sel &= np.isin(_column(table, 'CCDGAIN').astype(np.float64),
                       _INT_WILDCARDS)
    return table[sel]


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


# ---------------------------------------------------------------- headers --
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep',
           'Oct', 'Nov', 'Dec')


#: ACS was installed in HST in March 2002 (SM3B): no ACS reference can be
#: used before this date.
ACS_INSTALLED = '2002-03-01'

#: How far in the future a USEAFTER may lie (days after today).
USEAFTER_FUTURE_DAYS = 366


def _useafter_limits():
    import datetime
    start = datetime.datetime.fromisoformat(ACS_INSTALLED)
    end = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) \
        + datetime.timedelta(days=USEAFTER_FUTURE_DAYS)
    return start, end


def _quiet_time(value, **kwargs):
    """`~astropy.time.Time` without ERFA's "dubious year" warnings (the
    range is checked before, so they carry no information)."""
    import erfa
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', erfa.ErfaWarning)
        warnings.filterwarnings('ignore', message='.*leap.second.*')
        return Time(value, **kwargs)


def _parse_date(useafter, *, what='USEAFTER'):
    """A USEAFTER (ISO, CRDS form or `~astropy.time.Time`) as a
    `datetime.datetime`, without any range check."""
    import datetime
    if isinstance(useafter, Time):
        try:
            with warnings.catch_warnings():
                import erfa
                warnings.simplefilter('ignore', erfa.ErfaWarning)
                when = useafter.utc.datetime
        except (ValueError, OverflowError):
            raise AcsFlecksError(f'invalid {what} {useafter!r}') from None
        if not isinstance(when, datetime.datetime):
            raise AcsFlecksError(f'{what} must be a single date, got '
                                 f'{useafter!r}')
        when = when.replace(microsecond=0)
    else:
        text = str(useafter).strip()
        m = re.fullmatch(r'([A-Za-z]{3})\s+(\d{1,2})\s+(\d{4})'
                         r'(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?', text)
        if m and m.group(1).title() in _MONTHS:
            fields = (int(m.group(3)), _MONTHS.index(m.group(1).title()) + 1,
                      int(m.group(2))) + tuple(int(g or 0)
                                              for g in m.group(4, 5, 6))
        else:
            m = re.fullmatch(r'(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})'
                             r'(?::(\d{2})(?:\.\d*)?)?)?', text)
            fields = None if m is None else tuple(int(g or 0)
                                                  for g in m.groups())
        try:
            if fields is None:
                raise ValueError(text)
            when = datetime.datetime(*fields)
        except ValueError:
            raise AcsFlecksError(
                f'invalid {what} {useafter!r} (expected e.g. 2017-05-05 or '
                "'May 05 2017 00:00:00')") from None
    return when


def parse_useafter(useafter, *, what='USEAFTER'):
    """
    Parse a USEAFTER date and check it lies in the life of ACS.

    Parameters
    ----------
    useafter : str or `~astropy.time.Time`
        ISO ('2017-05-05', '2017-05-05T00:00:00') or CRDS form
        ('May 05 2017 00:00:00').
    what : str, optional
        Name of the value in messages (e.g. '--useafter').

    Returns
    -------
    `~astropy.time.Time`

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        An unreadable date, or one before ACS was installed
        (`ACS_INSTALLED`) or more than `USEAFTER_FUTURE_DAYS` days in the
        future.
    """
    when = _parse_date(useafter, what=what)
    start, end = _useafter_limits()
    if when < start:
        raise AcsFlecksError(
            f'{what} {useafter!s} is before ACS was installed on HST '
            f'({ACS_INSTALLED}): no ACS reference file applies then')
    if when > end:
        raise AcsFlecksError(
            f'{what} {useafter!s} is more than {USEAFTER_FUTURE_DAYS} days '
            f'in the future (after {end:%Y-%m-%d})')
    return _quiet_time(when.isoformat(), format='isot', scale='utc')


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


def format_useafter(useafter):
    """USEAFTER in the CRDS form, e.g. 'May 05 2017 00:00:00'."""
    d = parse_useafter(useafter).datetime
    return (f'{_MONTHS[d.month - 1]} {d.day:02d} {d.year:04d} '
            f'{d.hour:02d}:{d.minute:02d}:{d.second:02d}')


def format_pedigree(start, end=None):
    """PEDIGREE of an in-flight table, e.g. 'INFLIGHT 05/05/2017 05/05/2017'
    (DD/MM/YYYY)."""
    s = parse_useafter(start).datetime
    e = parse_useafter(end if end is not None else start).datetime
    if e < s:
        raise AcsFlecksError(f'PEDIGREE end {end!r} is before start {start!r}')
    return f'INFLIGHT {s:%d/%m/%Y} {e:%d/%m/%Y}'


def _pixel_runs_text(sub):
    """Compact text of pixels: 'y=1773:x=1519-1524,1530; ...'."""
    parts = []
    for y in np.unique(sub['y']):
        xs = np.sort(np.asarray(sub['x'][sub['y'] == y]))
        runs = np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1)
        txt = ','.join(f'{r[0]}' if r.size == 1 else f'{r[0]}-{r[-1]}'
                       for r in runs)
        parts.append(f'y={y}:x={txt}')
    return '; '.join(parts)


def _history_lines(pixels, *, value, threshold, detector, reference_name,
                   n_added_rows, n_added_pixels, method):
    from .coords import chip_name
    lines = [f'acs_flecks: derived from {reference_name}; every original '
             'row kept unchanged.',
             f'Added {n_added_rows} row(s) (AXIS=1 runs, CCDAMP=N/A, '
             f'CCDGAIN=-999) flagging {n_added_pixels} pixel(s) with '
             f'DQ {value} (bad detector pixel).']
    if method:
        lines.append(f'Method: {method}')
    if 'fleck_id' in pixels.colnames:
        groups = sorted(set(np.asarray(pixels['fleck_id']).tolist()),
                        key=str)
    else:
        groups = [None]
    for fid in groups:
        sub = pixels if fid is None else pixels[np.asarray(
            pixels['fleck_id']) == fid]
        for chip in sorted(set(int(c) for c in sub['ccdchip'])):
            s = sub[sub['ccdchip'] == chip]
            name = chip_name(chip) if detector == 'WFC' else f'CCDCHIP={chip}'
            xc, yc = float(np.mean(s['x'])), float(np.mean(s['y']))
            label = 'bad pixels' if fid is None else f'fleck {fid}'
            extra = ''
            if 'transmissivity' in s.colnames and threshold is not None:
                extra = f' below {100 * threshold:.0f}% transmissivity'
            lines.append(f'{label}: {name} near (x, y) = ({xc:.0f}, {yc:.0f}):'
                         f' {len(s)} pixel(s){extra}; 1-indexed chip frame '
                         '(y=row:x=columns): '
                         + _pixel_runs_text(s))
    return lines


def deliver_bpixtab(reference, bad_pixels, output, *, useafter, value=DQ_BAD_PIXEL,
                  detector='WFC', description=None, history=(), comment=None,
                  pedigree=None, threshold=0.5, method=None, flecks=None,
                  certify=True, overwrite=True, max_distance=30.0):
    """
    Write a new bad-pixel table: the reference plus the fleck pixels.

    Parameters
    ----------
    reference : str, path-like or `BpixtabFile`
        The current bpixtab (never modified).
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y`` (1-indexed full-chip frame),
        ``transmissivity``, ``fleck_id`` (from the characterization).
    output : str or path-like
        The new file; must differ from ``reference``.
    useafter : str or `~astropy.time.Time`
        The date of origin of the flecks (report: 2017-05-05).
    value : int, optional
        DQ flag (4).
    detector : str, optional
        Detector of the flecks; the reference must match.
    description : str, optional
        ``DESCRIP`` (default says what was added).
    history : iterable of str, optional
        Extra HISTORY lines.
    comment : str, optional
        ``COMMENT`` text (default: why the table changed).
    pedigree : str, optional
        Default ``INFLIGHT <useafter> <useafter>``.
    threshold : float or None, optional
        Transmissivity below which pixels are flagged (0.5).
    method : str, optional
        One line on how the pixels were found, for HISTORY.
    flecks : `~astropy.table.Table`, optional
        Fleck positions (``ccdchip``, ``x``, ``y``) for the certification's
        distance check; without them that check is reported as not run
        (the bad pixels cannot stand in for them: each is at distance 0
        from itself).
    certify : bool, optional
        Run `acs_flecks.certify.certify_bpixtab` on the temporary file and
        rename it into place only if it passes (default `True`).
    overwrite : bool, optional
        Allow replacing an existing ``output``.
    max_distance : float, optional
        Certification: largest distance (pixels) of a new flag from a fleck.

    Returns
    -------
    Delivery
        ``path`` (the output), ``certification`` (the
        `~acs_flecks.certify.CertificationResult`, `None` if not run) and
        ``table`` (the merged rows; ``meta['n_added']`` new ones).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad input (nothing is written).
    acs_flecks.exceptions.CertificationError
        The table failed certification (nothing is written); the
        `~acs_flecks.certify.CertificationResult` is its ``result``.
    """
    useafter_text = format_useafter(useafter)
    pedigree = pedigree or format_pedigree(useafter)
    if threshold is not None:
        threshold = check_threshold(threshold)
    if certify:     # the certification's limits, before anything is written
        from .certify import _check_options
        _check_options(value=value, max_distance=max_distance,
                       max_new_pixels=10000)
    ref_path = reference.path if isinstance(reference, BpixtabFile) else \
        os.fspath(reference)
    check_output_path(output, inputs=[ref_path], overwrite=overwrite,
                      extensions=('.fits',))
    bpx = reference if isinstance(reference, BpixtabFile) else \
        read_bpixtab(ref_path, detector=detector)
    if bpx.detector != detector.upper():
        raise ReferenceFileError(
            f'bad-pixel table is for detector {bpx.detector}, but the flecks '
            f'are on {detector.upper()}', path=ref_path)
    if isinstance(reference, BpixtabFile):
        problems = check_bpixtab_rows(bpx.table, detector=bpx.detector)
        if problems:
            raise ReferenceFileError('; '.join(problems[:3]), path=ref_path)
    _warn_useafter_before_reference(useafter, bpx)
    pixels = select_bad_pixels(bad_pixels, threshold=threshold,
                               detector=detector)
    merged = merge_bad_pixels(bpx.table, pixels, value=value,
                              detector=detector, threshold=None)
    problems = check_new_rows(merged[len(bpx.table):], detector=detector,
                              offset=len(bpx.table))
    if problems:    # pragma: no cover - merge_bad_pixels writes valid rows
        raise AcsFlecksError('new rows would be invalid: '
                             + '; '.join(problems), path=output)
    hdul = _build_hdulist(bpx, merged, output=output, useafter=useafter_text,
                          pedigree=pedigree, value=value, pixels=pixels,
                          threshold=threshold, description=description,
                          comment=comment, history=history, method=method,
                          detector=detector)
    result = None
    with atomic_output(output) as tmp:
        hdul.writeto(tmp, output_verify='exception')
        if certify:
            from .certify import certify_bpixtab
            # without fleck positions the distance check is "not run": the
            # new pixels themselves would be at distance 0 from every pixel
            result = certify_bpixtab(
                tmp, reference=bpx, value=value, detector=detector,
                flecks=flecks, max_distance=max_distance)
            if not result.passed:
                err = CertificationError(
                    'the new bad-pixel table failed certification ('
                    + '; '.join(c.message for c in result.failures) + ')',
                    path=output)
                err.result = result
                raise err
            result.path = os.fspath(output)
    log.info('wrote %s: %d rows (%d new)', output, len(merged),
             merged.meta['n_added'])
    return Delivery(pathlib.Path(output), result, merged)


def _warn_useafter_before_reference(useafter, bpx):
    """Warn (`BpixtabWarning`) if the new USEAFTER is before the
    reference's own: the new table would replace it for data it never
    applied to."""
    ref_ua = bpx.primary_header.get('USEAFTER')
    if not ref_ua:
        return
    try:
        ref_t = _parse_date(ref_ua)
    except AcsFlecksError:
        log.info('%s: USEAFTER %r not understood; not compared', bpx.name,
                 ref_ua)
        return
    new_t = _parse_date(useafter)
    if new_t < ref_t:
        warnings.warn(
            f'USEAFTER {format_useafter(useafter)!r} is before the USEAFTER '
            f'{str(ref_ua).strip()!r} of the reference {bpx.name}: the new '
            'table would also replace the one in use before the reference',
            BpixtabWarning)


def write_bpixtab(reference, bad_pixels, output, *, useafter, **kwargs):
    """
    Write a new bad-pixel table: the reference plus the fleck pixels.

    Same as `deliver_bpixtab` (see it for every option), returning only
    the path.

    Parameters
    ----------
    reference : str, path-like or `BpixtabFile`
        The current bpixtab (never modified).
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y``, ``transmissivity``, ``fleck_id``.
    output : str or path-like
        The new file.
    useafter : str or `~astropy.time.Time`
        USEAFTER (the flecks' date of origin).
    **kwargs
        ``value``, ``detector``, ``description``, ``history``, ``comment``,
        ``pedigree``, ``threshold``, ``method``, ``flecks``, ``certify``,
        ``overwrite``, ``max_distance``.

    Returns
    -------
    pathlib.Path
    """
    return deliver_bpixtab(reference, bad_pixels, output, useafter=useafter,
                           **kwargs).path




def _build_hdulist(bpx, merged, *, output, useafter, pedigree, value, pixels,
                   threshold, description, comment, history, method,
                   detector):
    cols = []
    known = {c.name.upper(): c for c in bpx.columns}
    for name in merged.colnames:
        data = np.asarray(merged[name])
        if name in known:
            c = known[name]
            cols.append(fits.Column(name=c.name, format=c.format, unit=c.unit,
                                    null=c.null, disp=c.disp, array=data))
        elif name == 'CCDAMP':
            cols.append(fits.Column(name=name, format=_NEW_AMP_FORMAT,
                                    array=data.astype('S4')))
        elif name == 'CCDGAIN':
            cols.append(fits.Column(name=name, format=_NEW_GAIN_FORMAT,
                                    unit='electrons/DN',
                                    array=data.astype(np.float32)))
        else:  # pragma: no cover - merged columns come from the reference
            raise ReferenceFileError(f'unexpected column {name}',
                                     path=bpx.path)
    table_hdu = fits.BinTableHDU.from_columns(cols)
    # keep the reference extension's own keywords (EXTNAME, EXTVER, INHERIT,
    # SIZAXIS1/2, HISTORY); the column keywords come from the columns
    for card in bpx.header.cards:
        if card.keyword == 'HISTORY':
            table_hdu.header.add_history(card.value)
        elif card.keyword == 'COMMENT':
            table_hdu.header.add_comment(card.value)
        elif card.keyword and not _STRUCTURAL.match(card.keyword):
            table_hdu.header.append(fits.Card(card.keyword, card.value,
                                              card.comment))
    table_hdu.header['EXTNAME'] = bpx.extname or 'BPX'
    if 'EXTVER' not in table_hdu.header:
        table_hdu.header['EXTVER'] = 1

    ph = fits.Header()
    for card in bpx.primary_header.cards:
        if card.keyword in ('SIMPLE', 'BITPIX', 'NAXIS', 'EXTEND', 'DATE',
                            'IRAF-TLM', 'CHECKSUM', 'DATASUM', ''):
            continue
        if card.keyword == 'HISTORY':
            ph.add_history(card.value)
        elif card.keyword == 'COMMENT':
            ph.add_comment(card.value)
        else:
            ph.append(fits.Card(card.keyword, card.value, card.comment))
    ph['INSTRUME'] = 'ACS'
    ph['DETECTOR'] = detector.upper()
    ph['FILETYPE'] = 'BAD PIXELS'
    ph['FILENAME'] = (os.path.basename(os.fspath(output)), 'name of file')
    ph['USEAFTER'] = (useafter, 'use after this date (flecks appeared)')
    ph['PEDIGREE'] = pedigree
    n_new = merged.meta['n_added']
    n_flecks = (len(set(np.asarray(pixels['fleck_id']).tolist()))
                if 'fleck_id' in pixels.colnames else 0)
    descrip = description or (
        f'Adds DQ {value} for {merged.meta["added_pixels"]} pixels under '
        f'{n_flecks or "the"} fleck(s)')
    ph['DESCRIP'] = descrip[:67]
    ph['ORIGIN'] = ('acs_flecks', 'software that wrote this file')
    ph.add_comment(comment or (
        f'Bad-pixel table for ACS/{detector}: the reference '
        f'{bpx.name} plus DQ {value} on particles ("flecks") in the light '
        f'path that block more than {100 * (1 - (threshold or 0.5)):.0f}% '
        'of the light (acs_flecks, report sec. 8).'))
    lines = _history_lines(
        pixels, value=value, threshold=threshold, detector=detector,
        reference_name=bpx.name, n_added_rows=n_new,
        n_added_pixels=merged.meta['added_pixels'], method=method)
    for line in list(lines) + [str(h) for h in history]:
        # wrap at word boundaries (astropy would cut words at 72 chars)
        for chunk in textwrap.wrap(line, 70, subsequent_indent='  ',
                                   break_on_hyphens=False):
            ph.add_history(chunk)
    return fits.HDUList([fits.PrimaryHDU(header=ph), table_hdu])
