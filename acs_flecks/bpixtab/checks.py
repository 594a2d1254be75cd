"""
Row checks of a bad-pixel table: what CALACS refuses, what it clips or
ignores, and what a row this package writes must satisfy.

The three lists share their tests: ``AXIS`` 1 or 2 and
``LENGTH > 0`` (hstcal ``pkg/acs/lib/dodqi.c``, ``ReadBpixTab`` stops on
anything else), and the extent of each run against the chip
(``DQINormal`` clips a run past the edge and skips one wholly outside).
They differ in what they make of the rest:

* `check_bpixtab_rows` -- a reference CALACS can apply: refuses those
  AXIS and LENGTH, and a ``VALUE`` outside 0..32767;
* `bpixtab_row_warnings` -- valid rows CALACS clips or ignores: runs past
  the edge or wholly off the chip, a ``CCDCHIP`` of no chip and no
  wildcard, ``VALUE = 0``;
* `check_new_rows` -- rows this package writes: refuses those AXIS and
  LENGTH, a ``VALUE`` outside 1..32767, a ``CCDCHIP`` not a chip of the
  detector (wildcards included) and any pixel off the chip.
"""

import numpy as np

from ..coords import CHIP_SHAPES, DETECTOR_CHIPS
from .columns import _INT_WILDCARDS, _column

__all__ = ['check_bpixtab_rows', 'bpixtab_row_warnings', 'check_new_rows']


class _Findings(list):
    """Messages (a list of str) with the kind of each in ``kinds``
    ('axis', 'length', 'value', 'ccdchip', 'on_chip')."""

    def __init__(self):
        super().__init__()
        self.kinds = []

    def of(self, kind):
        """The messages of one kind."""
        return [m for m, k in zip(self, self.kinds) if k == kind]


class _RowCheck:
    """
    The integer columns of some rows, the tests the row checks share, and
    the messages found (``found``, a `_Findings`).

    ``offset`` is the row number of ``table[0]`` minus one in the file.
    """

    def __init__(self, table, *, detector, offset=0):
        self.cols = {k: _column(table, k).astype(np.int64)
                     for k in ('AXIS', 'LENGTH', 'PIX1', 'PIX2', 'CCDCHIP',
                               'VALUE')}
        self.detector = detector
        self.offset = offset
        self.found = _Findings()

    def report(self, bad, what, kind):
        """Add the message of the rows ``bad`` (count and first row), of
        kind ``kind``, if there are any."""
        cols = self.cols
        idx = np.flatnonzero(bad)
        if idx.size:
            i = idx[0]
            self.found.kinds.append(kind)
            self.found.append(
                f'{idx.size} row(s) {what} (first: row {i + 1 + self.offset}: '
                f'PIX1={cols["PIX1"][i]} PIX2={cols["PIX2"][i]} '
                f'LENGTH={cols["LENGTH"][i]} AXIS={cols["AXIS"][i]} '
                f'VALUE={cols["VALUE"][i]} CCDCHIP={cols["CCDCHIP"][i]})')

    def report_refused(self):
        """Report the rows ``ReadBpixTab`` stops on: ``AXIS`` not 1 or 2,
        ``LENGTH <= 0``."""
        self.report(~np.isin(self.cols['AXIS'], (1, 2)),
                    'with AXIS not 1 or 2', 'axis')
        self.report(self.cols['LENGTH'] <= 0, 'with LENGTH <= 0', 'length')

    @property
    def shape(self):
        """(rows, columns) of a chip of the detector."""
        return CHIP_SHAPES[self.detector]

    def off_chip(self):
        """
        Masks ``(partial, outside)`` of the applicable runs (AXIS 1 or 2,
        LENGTH > 0) that go past the chip edge (``DQINormal`` clips them)
        and of those wholly off the chip (it skips them).
        """
        ny, nx = self.shape
        axis, length = self.cols['AXIS'], self.cols['LENGTH']
        pix1, pix2 = self.cols['PIX1'], self.cols['PIX2']
        ok = np.isin(axis, (1, 2)) & (length > 0)
        xend = np.where(axis == 1, pix1 + length - 1, pix1)
        yend = np.where(axis == 2, pix2 + length - 1, pix2)
        outside = ok & ((xend < 1) | (yend < 1) | (pix1 > nx) | (pix2 > ny))
        partial = ok & ~outside & ((pix1 < 1) | (pix2 < 1) | (xend > nx)
                                   | (yend > ny))
        return partial, outside


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
    if len(table) == 0:
        return _Findings()
    rows = _RowCheck(table, detector=detector)
    rows.report_refused()
    value = rows.cols['VALUE']
    rows.report((value < 0) | (value > 32767),
                'with VALUE outside 0..32767 (CALACS ORs VALUE as a 16-bit '
                'short: a negative or larger VALUE sets other flags than '
                'written)', 'value')
    return rows.found


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
    if len(table) == 0:
        return _Findings()
    rows = _RowCheck(table, detector=detector, offset=offset)
    ny, nx = rows.shape
    partial, outside = rows.off_chip()
    rows.report(partial, f'running past the edge of the {nx}x{ny} chip '
                '(CALACS clips them)', 'on_chip')
    rows.report(outside, f'wholly outside the {nx}x{ny} chip (CALACS skips '
                'them)', 'on_chip')
    allowed = DETECTOR_CHIPS[detector] + _INT_WILDCARDS
    rows.report(~np.isin(rows.cols['CCDCHIP'], allowed),
                f'with a CCDCHIP that is no {detector} chip nor a wildcard '
                f'{allowed} (CALACS applies them to no chip)', 'ccdchip')
    rows.report(rows.cols['VALUE'] == 0, 'with VALUE = 0 (they flag nothing)',
                'value')
    return rows.found


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
    if len(table) == 0:
        return _Findings()
    rows = _RowCheck(table, detector=detector, offset=offset)
    ny, nx = rows.shape
    rows.report_refused()
    value = rows.cols['VALUE']
    rows.report((value <= 0) | (value > 32767), 'with VALUE not in 1..32767',
                'value')
    rows.report(~np.isin(rows.cols['CCDCHIP'], DETECTOR_CHIPS[detector]),
                f'with CCDCHIP not a {detector} chip '
                f'{DETECTOR_CHIPS[detector]}', 'ccdchip')
    # a run past the edge and one wholly off the chip alike: nothing written
    # may be clipped
    partial, outside = rows.off_chip()
    rows.report(partial | outside, f'running off the {nx}x{ny} chip',
                'on_chip')
    return rows.found
