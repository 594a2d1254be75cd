"""
Read a bad-pixel table as CALACS opens it, keeping its column types
(`read_bpixtab`, `BpixtabFile`).

hstcal ``pkg/acs/lib/dodqi.c`` (``OpenBpixTab``) takes the first table
extension and needs the `~acs_flecks.bpixtab.columns.REQUIRED_COLUMNS`; the
rows are then checked (`~acs_flecks.bpixtab.checks.check_bpixtab_rows`).
"""

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ..coords import CHIP_SHAPES
from ..exceptions import InputFileError, ReferenceFileError
from ..io import _read_fits_headers
from .checks import bpixtab_row_warnings, check_bpixtab_rows
from .columns import REQUIRED_COLUMNS

__all__ = ['BpixtabFile', 'read_bpixtab']

log = logging.getLogger(__name__)


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


def _check_readable(path, error):
    """Raise ``error`` (one line naming the file) for a file that is not
    FITS or is truncated, compressed files included (astropy reads a
    truncated ``.gz`` silently short)."""
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
