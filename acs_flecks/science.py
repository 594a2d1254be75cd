"""
Science exposures against a delivered bad-pixel table: the shared pieces of
`acs_flecks.impact` and `acs_flecks.flag`.

The new bad-pixel table (report §8) reaches only data calibrated after its
delivery.  To tell an observer what it means for an exposure, or to re-flag
an exposure calibrated before the delivery, three things are needed:

* the calibrated ACS/WFC exposure (`open_science`: an flt/flc, full frame or
  subarray, with SCI/ERR/DQ per chip keyed by ``CCDCHIP``);
* the table (`DeliveredTable`): its rows, its ``USEAFTER`` (the flecks'
  date of origin) and which rows are the flecks' (the rows this package
  added to the reference; see `DeliveredTable.selection`);
* the expansion of the table onto that exposure's DQ array exactly as
  CALACS ``DQICORR`` does it (hstcal ``pkg/acs/lib/dodqi.c``): rows
  selected by the chip's ``CCDCHIP`` and the primary ``CCDAMP`` and
  ``CCDGAIN``, shifted by the SCI header's ``LTV1``/``LTV2``, clipped at the
  image edges (`acs_flecks.bpixtab.expand_bpixtab`).

>>> from acs_flecks.science import DeliveredTable, open_science  # doctest: +SKIP
>>> table = DeliveredTable.read('new_bpx.fits')                  # doctest: +SKIP
>>> img = open_science('jbt122x8q_flc.fits')                      # doctest: +SKIP
>>> table.applies_to(img)                                         # doctest: +SKIP
False
>>> dq = table.mask(img, 2)              # what dodqi.c ORs into [DQ,1]  # doctest: +SKIP
"""

import logging
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .bpixtab import (DQ_BAD_PIXEL, BpixtabFile, expand_bpixtab,
                      parse_useafter, read_bpixtab)
from .coords import WFC_CHIP_SHAPE
from .exceptions import (AcsFlecksError, AcsFlecksWarning, InputFileError,
                         ReferenceFileError)
from .io import ACSImage

__all__ = ['DeliveredTable', 'open_science', 'chip_origin', 'chip_selection',
           'FleckRowsWarning']

log = logging.getLogger(__name__)

_ADDED = re.compile(r'Added\s+(\d+)\s+row\(s\)')
_DERIVED = re.compile(r'acs_flecks:\s+derived\s+from\s+(\S+?);')


class FleckRowsWarning(AcsFlecksWarning):
    """The fleck rows of a bad-pixel table could not be told apart from the
    reference rows: every row with the flag counts as a fleck's."""


def open_science(path, *, operation=None):
    """
    Open a calibrated ACS/WFC exposure (flt/flc, full frame or subarray).

    Parameters
    ----------
    path : str or path-like
        The file.
    operation : str, optional
        The operation (e.g. 'impact'), named when the detector is refused.

    Returns
    -------
    `~acs_flecks.io.ACSImage`

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Not ACS, not WFC, no SCI/ERR/DQ per chip, no pixel data (a
        stripped header), a chip larger than a
        calibrated WFC chip (a raw file), binned data (``LTM`` not 1), or no
        ``CCDAMP``/``CCDGAIN`` (which select the bad-pixel rows).
    """
    img = ACSImage(path, detector='WFC', operation=operation)
    ny, nx = img.shape
    if ny < 1 or nx < 1:
        raise InputFileError(
            f'the chips have no pixel data (NAXIS1, NAXIS2 = {nx}, {ny}): a '
            'stripped, header-only file', path=img.path)
    if ny > WFC_CHIP_SHAPE[0] or nx > WFC_CHIP_SHAPE[1]:
        raise InputFileError(
            f'chips are {nx}x{ny} pixels, larger than a calibrated WFC chip '
            f'({WFC_CHIP_SHAPE[1]}x{WFC_CHIP_SHAPE[0]}): a raw file? Give '
            'the calibrated flt/flc', path=img.path)
    for chip in img.chips:
        h = img.chip_header(chip)
        for key in ('LTM1_1', 'LTM2_2'):
            if float(h.get(key, 1.0)) != 1.0:
                raise InputFileError(
                    f'CCDCHIP={chip} has {key}={h[key]}: binned data are not '
                    'supported', path=img.path)
        x0, y0 = chip_origin(img, chip)
        if x0 < 1 or y0 < 1 or x0 + nx - 1 > WFC_CHIP_SHAPE[1] or \
                y0 + ny - 1 > WFC_CHIP_SHAPE[0]:
            raise InputFileError(
                f'CCDCHIP={chip}: LTV1, LTV2 = {img.ltv(chip)} put the '
                f'{nx}x{ny} image outside the {WFC_CHIP_SHAPE[1]}x'
                f'{WFC_CHIP_SHAPE[0]} chip', path=img.path)
    for key in ('CCDAMP', 'CCDGAIN'):
        if img.header.get(key) in (None, ''):
            raise InputFileError(
                f'no {key} keyword in the primary header (CALACS selects '
                'bad-pixel rows by it)', path=img.path)
    try:
        float(img.header['CCDGAIN'])
    except (TypeError, ValueError):
        raise InputFileError(f'CCDGAIN={img.header["CCDGAIN"]!r} is not a '
                             'number', path=img.path) from None
    img.obs_time  # noqa: B018 - an unreadable date fails here
    return img


def chip_origin(img, ccdchip):
    """1-indexed chip-frame (x, y) of the image's pixel (1, 1): 1 - LTV."""
    ltv1, ltv2 = img.ltv(ccdchip)
    return 1 - ltv1, 1 - ltv2


def chip_selection(img):
    """(``CCDAMP``, ``CCDGAIN``) of an exposure, as CALACS reads them."""
    return (str(img.header['CCDAMP']).strip(), float(img.header['CCDGAIN']))


@dataclass
class DeliveredTable:
    """
    A bad-pixel table delivered for the flecks, as applied to science data.

    Attributes
    ----------
    bpx : `~acs_flecks.bpixtab.BpixtabFile`
        The table.
    useafter : `~astropy.time.Time`
        Its ``USEAFTER``: exposures taken earlier are not affected.
    value : int
        The flag of the flecks (4, bad detector pixel).
    fleck_rows : `~numpy.ndarray` of bool
        Which rows are the flecks' (all rows with ``value`` when they cannot
        be told apart, or when ``reference`` is used instead).
    reference : `~acs_flecks.bpixtab.BpixtabFile` or None
        The table it replaced: fleck pixels are then the pixels flagged with
        ``value`` by this table and not by the reference.
    selection : str
        How the fleck pixels were told apart (for logs and table metadata).
    """

    bpx: BpixtabFile
    useafter: object
    value: int
    fleck_rows: np.ndarray
    reference: BpixtabFile = None
    selection: str = ''

    @property
    def name(self):
        """Base name of the table file."""
        return self.bpx.name

    @property
    def path(self):
        """The table file."""
        return self.bpx.path

    @classmethod
    def read(cls, path, *, reference=None, value=DQ_BAD_PIXEL):
        """
        Read the new table (and optionally the one it replaced).

        Parameters
        ----------
        path : str or path-like
            The bad-pixel table delivered for the flecks.
        reference : str or path-like, optional
            The table it replaced; fleck pixels are those it did not flag
            with ``value``.  Without it, a table written by acs_flecks tells
            its own added rows (its HISTORY says how many were appended);
            for any other table every row with ``value`` counts (with a
            `FleckRowsWarning`).
        value : int, optional
            The flag of the flecks (4).

        Raises
        ------
        acs_flecks.exceptions.ReferenceFileError
            Unreadable table, another detector than WFC, no or a bad
            ``USEAFTER``, rows CALACS would reject (AXIS, LENGTH).
        """
        bpx = _read_table(path)
        useafter = bpx.primary_header.get('USEAFTER')
        if useafter in (None, ''):
            raise ReferenceFileError('has no USEAFTER keyword: cannot tell '
                                     'which exposures it applies to',
                                     path=bpx.path)
        try:
            ua = parse_useafter(useafter)
        except AcsFlecksError as exc:
            raise ReferenceFileError(exc.problem, path=bpx.path) from None
        vals = np.asarray(bpx.table['VALUE']).astype(np.int64)
        has_flag = (vals & int(value)) != 0
        ref = None
        if reference is not None:
            ref = _read_table(reference)
            if os.path.realpath(ref.path) == os.path.realpath(bpx.path):
                raise ReferenceFileError('the reference is the new table '
                                         'itself', path=ref.path)
            rows = has_flag
            how = (f'pixels flagged {value} by {bpx.name} and not by '
                   f'{ref.name}')
        else:
            rows, how = _added_rows(bpx, has_flag, value)
        return cls(bpx=bpx, useafter=ua, value=int(value), fleck_rows=rows,
                   reference=ref, selection=how)

    def applies_to(self, img):
        """True if the exposure was taken on or after ``USEAFTER``."""
        return bool(img.obs_time >= self.useafter)

    def mask(self, img, ccdchip, *, placeholder=True):
        """
        What CALACS ``dodqi.c`` ORs into the DQ of one chip of ``img``.

        Parameters
        ----------
        img : `~acs_flecks.io.ACSImage`
            The exposure (`open_science`).
        ccdchip : int
            The chip.
        placeholder : bool, optional
            Include the DQ 64 CALACS sets at pixel [1, 1] when no row applies.

        Returns
        -------
        `~numpy.ndarray` of uint16, the image's shape
        """
        amp, gain = chip_selection(img)
        return self._expand(self.bpx.table, img, ccdchip, amp, gain,
                            placeholder)

    def fleck_mask(self, img, ccdchip):
        """
        Pixels of one chip of ``img`` the table flags for the flecks.

        Returns
        -------
        `~numpy.ndarray` of bool, the image's shape
        """
        amp, gain = chip_selection(img)
        value = np.uint16(self.value)
        new = self._expand(self.bpx.table[self.fleck_rows], img, ccdchip, amp,
                           gain, False) & value
        if self.reference is not None:
            old = self._expand(self.reference.table, img, ccdchip, amp, gain,
                               False) & value
            return (new != 0) & (old == 0)
        return new != 0

    def _expand(self, table, img, ccdchip, amp, gain, placeholder):
        try:
            return expand_bpixtab(table, ccdchip=ccdchip, shape=img.shape,
                                  ltv=img.ltv(ccdchip), ccdamp=amp,
                                  ccdgain=gain, placeholder=placeholder)
        except ReferenceFileError as exc:
            if exc.path is None:
                raise ReferenceFileError(exc.problem, path=self.path) from None
            raise

    def check_detector(self, img):
        """Raise if the table is not for the exposure's detector."""
        if self.bpx.detector != img.detector:
            raise ReferenceFileError(
                f'bad-pixel table is for detector {self.bpx.detector}, but '
                f'{img.name} is {img.detector}', path=self.path)


def _read_table(path):
    # Rows are taken exactly as CALACS takes them (a run past the edge is
    # clipped by expand_bpixtab), so the row checks of a delivery are off;
    # AXIS and LENGTH, which CALACS refuses, raise in expand_bpixtab.
    bpx = read_bpixtab(path, check=False)
    if bpx.detector != 'WFC':
        raise ReferenceFileError(
            f'bad-pixel table is for detector {bpx.detector}, but the '
            'flecks and these exposures are on WFC', path=bpx.path)
    axis = np.asarray(bpx.table['AXIS']).astype(np.int64)
    length = np.asarray(bpx.table['LENGTH']).astype(np.int64)
    if len(axis) and not np.isin(axis, (1, 2)).all():
        raise ReferenceFileError(
            f'AXIS = {axis[~np.isin(axis, (1, 2))][0]} in a row, but it must '
            'be 1 or 2 (CALACS stops there)', path=bpx.path)
    if len(length) and (length <= 0).any():
        raise ReferenceFileError(
            f'LENGTH = {length[length <= 0][0]} in a row, but it must be '
            'positive (CALACS stops there)', path=bpx.path)
    return bpx


def _added_rows(bpx, has_flag, value):
    """Rows acs_flecks appended to its reference, from the HISTORY it
    wrote (`acs_flecks.delivery.write_bpixtab`: reference rows first, then
    'Added N row(s)')."""
    text = ' '.join(str(v) for v in bpx.primary_header.get('HISTORY', []))
    text = re.sub(r'\s+', ' ', text)
    derived = _DERIVED.search(text)
    added = _ADDED.search(text)
    n = len(bpx.table)
    if derived and added and 0 < int(added.group(1)) <= n:
        k = int(added.group(1))
        rows = np.zeros(n, bool)
        rows[n - k:] = True
        rows &= has_flag
        return rows, (f'the {k} row(s) acs_flecks added to '
                      f'{derived.group(1)} (HISTORY of {bpx.name})')
    warnings.warn(
        f'{bpx.name}: cannot tell the fleck rows from the reference rows '
        '(not written by acs_flecks; give the table it replaced): every row '
        f'with DQ {value} counts as a fleck', FleckRowsWarning)
    return has_flag.copy(), f'every row of {bpx.name} with DQ {value}'
