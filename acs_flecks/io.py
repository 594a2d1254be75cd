"""
Reading ACS files: per-chip SCI, ERR and DQ keyed by ``CCDCHIP``.

An ACS/WFC image file holds a primary header and one SCI/ERR/DQ triple per
chip.  The first triple (``[SCI,1]``) is chip **WFC2** (``CCDCHIP=2``) and the
second is **WFC1**; this module never relies on that order and keys every
chip by its ``CCDCHIP`` keyword.  Extra extensions (HDRLET, WCSCORR, D2IMARR,
WCSDVARR) are ignored.

Headers are read when the file is opened; pixel arrays are read one chip at
a time when asked for (`ACSImage.chip`), so scanning the metadata of hundreds
of files costs no pixel I/O.

>>> from acs_flecks.io import ACSImage                # doctest: +SKIP
>>> img = ACSImage('jbt122x8q_flc.fits')               # doctest: +SKIP
>>> img.detector, img.filter, img.chips                # doctest: +SKIP
('WFC', 'F814W', (1, 2))
>>> chip = img.chip(2)           # the [SCI,1] triple  # doctest: +SKIP
>>> chip.sci[1772, 1520]         # pixel (x, y) = (1521, 1773)  # doctest: +SKIP
"""

import logging
import os
import warnings
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.time import Time

from .coords import CHIP_SHAPES, DETECTOR_CHIPS
from .exceptions import FlashStatusWarning, InputFileError
from .filters import WFC_FILTERS, is_clear, resolve_filter
from .raw import RawFrame, is_raw_layout
from .units import electron_scale

__all__ = ['ACSImage', 'ChipData', 'ACSCollection', 'open_acs',
           'open_image', 'check_detector', 'check_detectors',
           'FLECK_DETECTORS', 'is_scaled', 'is_null_extension',
           'null_extension_shape', 'null_extension_array',
           'SUPPORTED_DETECTORS']

log = logging.getLogger(__name__)

#: Detectors this package knows; most analyses need 'WFC'.
SUPPORTED_DETECTORS = ('WFC', 'HRC', 'SBC')

_ARRAYS = ('SCI', 'ERR', 'DQ')

#: MJD of 2002-03-01, when ACS was installed on HST (SM3B).
ACS_INSTALLED_MJD = 52334.0

#: Columns and rows a raw frame adds on each side of the trimmed chip
#: (physical prescan, virtual overscan; hstcal ``acsccd``): WFC 24 and 20,
#: HRC 19 and 20 (the real HRC raw: 1062 x 1044 with LTV1 = 19).
_RAW_MARGINS = {'WFC': (24, 20), 'HRC': (19, 20), 'SBC': (0, 0)}

#: Why an operation cannot use a detector, for the refusal message.
_DETECTOR_REASONS = {
    'SBC': 'SBC is a MAMA detector: no LED post-flash, no CCD darks, no DKC',
    'HRC': 'the flecks are on the WFC CCDs',
}


def check_detector(detector, supported, *, operation=None, path=None):
    """
    Refuse a detector an operation does not support.

    Parameters
    ----------
    detector : str
        ``DETECTOR`` of the file ('WFC', 'HRC', 'SBC').
    supported : str or tuple of str
        The detectors the operation supports.
    operation : str, optional
        Name of the operation, for the message (e.g. 'find').
    path : str, optional
        The file, for the message.

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        ``detector`` is not in ``supported``.
    """
    allowed = (supported,) if isinstance(supported, str) else tuple(supported)
    if detector in allowed:
        return
    what = f'{operation} supports' if operation else 'supported:'
    reason = _DETECTOR_REASONS.get(detector)
    raise InputFileError(
        f'detector {detector} is not supported here ({what} '
        f'{" or ".join(allowed)} only'
        + (f'; {reason})' if reason else ')'), path=path)


@dataclass(frozen=True)
class ChipData:
    """
    The pixel data of one chip.

    Attributes
    ----------
    ccdchip : int
        ``CCDCHIP`` (1 for WFC1, 2 for WFC2).
    sci, err : `~numpy.ndarray` (float32)
        Science and error arrays in ``bunit``.
    dq : `~numpy.ndarray` (uint16)
        Data-quality flags.
    header : `~astropy.io.fits.Header`
        The SCI extension header.
    ltv : tuple of float
        (``LTV1``, ``LTV2``): offset of this image in the full-chip frame.
    """

    ccdchip: int
    sci: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    header: fits.Header
    ltv: tuple

    @property
    def shape(self):
        """(rows, columns) of the chip."""
        return self.sci.shape


def _compression(hdul):
    """The compression astropy decoded the file with ('gzip', 'bzip2',
    'zip', ...) or `None` for a plain FITS file."""
    return getattr(hdul._file, 'compression', None)


def _decompressed_size(path, compression):
    """
    The size in bytes of the decompressed stream of a compressed FITS file.

    astropy reads a truncated ``.gz`` without complaint, dropping the HDUs
    past the cut, so the size check of a plain file (file size against the
    end of the last HDU) needs the decompressed size.  For gzip the trailer
    (ISIZE, the size modulo 2**32) is read first; the stream is
    decompressed to its end (which raises on truncation) only when the
    trailer does not match ``expected`` in `_check_complete`.
    """
    import bz2
    import gzip
    import lzma
    import zipfile
    opener = {'gzip': gzip.open, 'bzip2': bz2.open, 'lzma': lzma.open}
    try:
        if compression == 'zip':
            with zipfile.ZipFile(path) as zf:
                info = zf.infolist()[0]
                with zf.open(info) as f:
                    while f.read(1 << 22):
                        pass
                return info.file_size
        if compression not in opener:
            return None
        n = 0
        with opener[compression](path, 'rb') as f:
            while True:
                chunk = f.read(1 << 22)
                if not chunk:
                    break
                n += len(chunk)
        return n
    except (OSError, EOFError, ValueError, zipfile.BadZipFile,
            lzma.LZMAError) as exc:
        raise InputFileError(f'truncated or corrupt {compression} file '
                             f'({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})',
                             path=path) from None


def _gzip_isize(path):
    """The ISIZE trailer of a gzip file (uncompressed size mod 2**32)."""
    with open(path, 'rb') as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), 'little')


def _check_complete(path, compression, end):
    """Raise `InputFileError` if a compressed file holds fewer bytes than
    its HDUs need (``end``), or is cut inside the compressed stream."""
    if compression == 'gzip' and os.path.getsize(path) >= 18 and \
            _gzip_isize(path) == end % (1 << 32):
        return      # the usual case: complete single-member gzip
    size = _decompressed_size(path, compression)
    if size is not None and end > size:
        raise InputFileError(
            f'truncated FITS file: its HDUs need {end} bytes, the '
            f'{compression} stream holds {size}', path=path)


def _read_fits_headers(path):
    """Open ``path`` and return (primary header, [(extname, extver or None,
    HDU index, header)]), raising `InputFileError` for non-FITS or
    truncated files (compressed ones included)."""
    if not os.path.exists(path):
        raise InputFileError('no such file', path=path)
    if os.path.isdir(path):
        raise InputFileError('is a directory, not a FITS file', path=path)
    size = os.path.getsize(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', fits.verify.VerifyWarning)
            warnings.filterwarnings('error', message='.*truncated.*')
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                compression = _compression(hdul)
                primary = hdul[0].header.copy()
                exts = []
                end = 0
                for i, hdu in enumerate(hdul):
                    info = hdul.fileinfo(i)
                    end = info['datLoc'] + info['datSpan']
                    if compression is None and end > size:
                        raise InputFileError(
                            f'truncated FITS file: HDU {i} needs {end} bytes, '
                            f'the file has {size}', path=path)
                    if i == 0:
                        continue
                    h = hdu.header.copy()
                    exts.append((str(h.get('EXTNAME', '')).strip().upper(),
                                 h.get('EXTVER'), i, h))
                if compression is not None:
                    _check_complete(path, compression, end)
    except InputFileError:
        raise
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError,
            fits.verify.VerifyError, Warning) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f'not a readable FITS file ({msg})',
                             path=path) from None
    return primary, exts


def _number(header, key, *, path, where='primary header', default=None,
            integer=False):
    """
    A numeric header keyword, checked: a finite number (a whole one with
    ``integer``), else `InputFileError` naming the keyword and value.
    Absent -> ``default``.
    """
    if key not in header or header[key] is None:
        return default
    value = header[key]
    if isinstance(value, str):
        value = value.strip()
    ok = isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_)) and np.isfinite(value)
    if ok and integer and float(value) != int(value):
        ok = False
    if not ok:
        kind = 'a whole number' if integer else 'a finite number'
        raise InputFileError(f'{key}={value!r} in the {where} is not {kind}',
                             path=path)
    return int(value) if integer else float(value)


# -- raw-format helpers (shared with the raw-frame calibration) -------------
def is_scaled(header):
    """`True` if an image HDU's data are BZERO/BSCALE/BLANK-scaled (e.g. a
    raw frame's uint16 stored as int16 with BZERO=32768): astropy cannot
    memory-map those, so they are read with ``memmap=False``."""
    return any(k in header for k in ('BZERO', 'BSCALE', 'BLANK'))


def is_null_extension(header):
    """`True` for a "null" image extension (``NAXIS = 0``): a constant array
    described by ``PIXVALUE`` and ``NPIX1``/``NPIX2`` (raw ERR and DQ)."""
    return int(header.get('NAXIS', 0) or 0) == 0


def null_extension_shape(header):
    """(``NPIX2``, ``NPIX1``) of a null extension, or `None` if absent."""
    if 'NPIX1' in header and 'NPIX2' in header:
        try:
            return int(header['NPIX2']), int(header['NPIX1'])
        except (TypeError, ValueError):
            return None
    return None


def null_extension_array(header, shape, name):
    """
    Expand a null extension to the constant array it stands for.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
        The extension header (``PIXVALUE``, default 0).
    shape : tuple of int
        (rows, columns) of the chip's SCI array.
    name : str
        'ERR' (float32) or 'DQ' (uint16).

    Returns
    -------
    `~numpy.ndarray`
    """
    dtype = np.uint16 if name == 'DQ' else np.float32
    value = header.get('PIXVALUE', 0)
    return np.full(shape, 0 if value is None else value, dtype=dtype)


def _card(header, key, default=None):
    value = header.get(key, default)
    if isinstance(value, str):
        value = value.strip()
    return value


class ACSImage:
    """
    An ACS image file (flt/flc, crj/crc, dkc/drk, pfl/lfl, raw EPER, ...).

    Parameters
    ----------
    path : str or path-like
        The FITS file.
    detector : str or tuple of str, optional
        Detector(s) the caller supports; another one raises
        `~acs_flecks.exceptions.InputFileError`.  Default: any ACS detector.
    require_arrays : bool, optional
        If `True` (default) every SCI extension must have an ERR and a DQ
        of the same EXTVER and shape; with `False` only SCI is required (raw
        files have no ERR/DQ worth using).  A "null" ERR or DQ (``NAXIS =
        0``, ``PIXVALUE``, ``NPIX1``/``NPIX2``, as in raw files) is read as
        a constant array of the SCI shape.
    operation : str, optional
        Name of the caller's operation, used in the message refusing a
        ``detector`` it does not support.

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Not a FITS file, truncated (compressed files included), not ACS,
        unsupported detector, duplicate or missing ``EXTVER``, an ERR or DQ
        without its SCI, a chip without ``CCDCHIP`` or with one that is not
        a chip of the detector, non-numeric ``CCDCHIP``/``EXPSTART``/
        ``EXPTIME``/``LTV1``/``LTV2`` (...), ``LTV1``/``LTV2`` that put the
        image off the chip, a missing SCI/ERR/DQ, or inconsistent shapes.
        Stripped data (empty arrays) are detected when pixels are read.
    """

    def __init__(self, path, *, detector=None, require_arrays=True,
                 operation=None):
        self.path = os.fspath(path)
        self.header, exts = _read_fits_headers(self.path)
        instrume = _card(self.header, 'INSTRUME')
        if instrume != 'ACS':
            raise InputFileError(
                f'not an ACS file (INSTRUME={instrume!r})', path=self.path)
        det = _card(self.header, 'DETECTOR')
        if det not in SUPPORTED_DETECTORS:
            raise InputFileError(f'unknown ACS detector DETECTOR={det!r}',
                                 path=self.path)
        if detector is not None:
            check_detector(det, detector, operation=operation, path=self.path)
        for key in ('EXPSTART', 'EXPEND', 'EXPTIME', 'TEXPTIME', 'FLASHDUR',
                    'DARKTIME'):
            _number(self.header, key, path=self.path)
        expstart = _number(self.header, 'EXPSTART', path=self.path)
        if expstart is not None:
            self._check_mjd(expstart, 'EXPSTART')
        self._index = self._map_extensions(exts, require_arrays)
        #: `~acs_flecks.raw.RawFrame` of a raw CCD frame (DN with prescan
        #: and overscan), calibrated to trimmed electrons on reading; or None
        self.raw = None
        if any(is_raw_layout(self.header, e['header'])
               for e in self._index.values()):
            self.raw = RawFrame(self.path, self.header, self._index)
            for chip, e in self._index.items():
                e['header'] = self.raw.trimmed_header(chip)
                e['shape'] = self.raw.trimmed_shape(chip)
                e['ltv'] = (float(e['header']['LTV1']),
                            float(e['header']['LTV2']))
        elif not self.is_flash_reference:
            # a unit that cannot be converted to electrons fails at open
            for chip, e in self._index.items():
                electron_scale(self.header, e['header'], ccdchip=chip,
                               shape=e['shape'], path=self.path)
        if det == 'WFC':
            for key in ('FILTER1', 'FILTER2'):
                name = str(self.header.get(key, '') or '').strip().upper()
                if name and not is_clear(name) and name not in WFC_FILTERS \
                        and name != 'N/A':
                    raise InputFileError(
                        f'unknown WFC filter {key}={name!r}', path=self.path)

    def _check_mjd(self, mjd, what):
        """Refuse an observation time outside the life of ACS (installed
        2002-03-01; at most a year from now)."""
        import datetime
        start = Time(ACS_INSTALLED_MJD, format='mjd')
        end = Time(datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None)).mjd + 366
        if not ACS_INSTALLED_MJD <= mjd <= end:
            raise InputFileError(
                f'{what} = MJD {mjd:g} is outside the life of ACS (installed '
                f'{start.iso[:10]}, MJD {ACS_INSTALLED_MJD}): not an ACS '
                'observation time', path=self.path)

    def _map_extensions(self, exts, require_arrays):
        det = _card(self.header, 'DETECTOR')
        by_key = {}
        for name, ver, idx, hdr in exts:
            if name not in _ARRAYS:
                continue
            # EXTVER defaults to 1 (FITS standard)
            ver = _number(hdr, 'EXTVER', path=self.path, default=1,
                          integer=True, where=f'{name} extension (HDU {idx})')
            if (name, ver) in by_key:
                raise InputFileError(
                    f'two [{name},{ver}] extensions (HDU {by_key[(name, ver)][0]}'
                    f' and HDU {idx}): duplicate or missing EXTVER',
                    path=self.path)
            by_key[(name, ver)] = (idx, hdr)
        scis = sorted(ver for name, ver in by_key if name == 'SCI')
        if not scis:
            raise InputFileError('no SCI extension', path=self.path)
        orphans = sorted(f'[{name},{ver}]' for name, ver in by_key
                         if name != 'SCI' and ver not in scis)
        if orphans:
            raise InputFileError(
                f'{" and ".join(orphans)} without a matching SCI extension '
                '(inconsistent file)', path=self.path)
        index = {}
        for ver in scis:
            idx, hdr = by_key[('SCI', ver)]
            where = f'[SCI,{ver}] header'
            if 'CCDCHIP' in hdr:
                chip = _number(hdr, 'CCDCHIP', path=self.path, where=where,
                               integer=True)
            elif det != 'WFC' and len(scis) == 1:
                chip = _number(self.header, 'CCDCHIP', path=self.path,
                               default=1, integer=True)
            else:
                raise InputFileError(f'[SCI,{ver}] has no CCDCHIP keyword',
                                     path=self.path)
            if chip not in DETECTOR_CHIPS[det]:
                raise InputFileError(
                    f'[SCI,{ver}] has CCDCHIP={chip}, not a {det} chip '
                    f'{" or ".join(str(c) for c in DETECTOR_CHIPS[det])}',
                    path=self.path)
            if chip in index:
                raise InputFileError(
                    f'CCDCHIP={chip} appears in more than one SCI extension',
                    path=self.path)
            entry = {'SCI': idx, 'header': hdr, 'extver': ver,
                     'headers': {'SCI': hdr}}
            shape = (int(hdr.get('NAXIS2', 0)), int(hdr.get('NAXIS1', 0)))
            naxis = int(hdr.get('NAXIS', 0) or 0)
            if naxis not in (0, 2):
                raise InputFileError(
                    f'[SCI,{ver}] is a {naxis}-D image (NAXIS={naxis}); an ACS '
                    'chip is 2-D', path=self.path)
            if naxis != 2:
                shape = (0, 0) if not is_null_extension(hdr) else \
                    (null_extension_shape(hdr) or (0, 0))
            for name in ('ERR', 'DQ'):
                if (name, ver) not in by_key:
                    if require_arrays:
                        raise InputFileError(
                            f'chip CCDCHIP={chip} has [SCI,{ver}] but no '
                            f'[{name},{ver}]', path=self.path)
                    continue
                eidx, ehdr = by_key[(name, ver)]
                if is_null_extension(ehdr):
                    eshape = null_extension_shape(ehdr)
                else:
                    eshape = (int(ehdr.get('NAXIS2', 0)),
                              int(ehdr.get('NAXIS1', 0)))
                if eshape is not None and eshape != shape:
                    raise InputFileError(
                        f'[{name},{ver}] shape {eshape} differs from '
                        f'[SCI,{ver}] shape {shape} (CCDCHIP={chip})',
                        path=self.path)
                entry[name] = eidx
                entry['headers'][name] = ehdr
            entry['shape'] = shape
            entry['ltv'] = self._check_ltv(hdr, chip, ver, shape, det)
            index[chip] = entry
        shapes = {e['shape'] for e in index.values()}
        if len(shapes) > 1:
            raise InputFileError(f'chips have different shapes {sorted(shapes)}',
                                 path=self.path)
        return index

    def _check_ltv(self, hdr, chip, ver, shape, det):
        """(LTV1, LTV2) of a chip, checked: whole numbers that keep the image
        on the chip (a raw frame may add its prescan and overscan)."""
        where = f'[SCI,{ver}] header'
        ltv1 = _number(hdr, 'LTV1', path=self.path, where=where, default=0.0)
        ltv2 = _number(hdr, 'LTV2', path=self.path, where=where, default=0.0)
        for key, v in (('LTV1', ltv1), ('LTV2', ltv2)):
            if v != round(v):
                raise InputFileError(
                    f'{key}={v!r} in the {where} is not a whole number of '
                    'pixels', path=self.path)
        ny, nx = shape
        if min(shape) == 0:
            return ltv1, ltv2       # stripped data: refused when read
        cy, cx = CHIP_SHAPES[det]
        raw = str(hdr.get('BUNIT', '') or '').strip().upper() == 'COUNTS'
        mx, my = _RAW_MARGINS[det] if raw else (0, 0)
        # first and last image pixel in the 1-indexed chip frame
        x0, x1 = 1 - ltv1, nx - ltv1
        y0, y1 = 1 - ltv2, ny - ltv2
        if x0 < 1 - mx or x1 > cx + mx or y0 < 1 - my or y1 > cy + my:
            extra = (f' plus its {mx}-column prescan and {my}-row overscan'
                     if raw else '')
            raise InputFileError(
                f'LTV1={ltv1:g}, LTV2={ltv2:g} put the {nx}x{ny} image of '
                f'CCDCHIP={chip} at chip columns {x0:g}..{x1:g}, rows '
                f'{y0:g}..{y1:g}: outside the {cx}x{cy} {det} chip{extra}',
                path=self.path)
        return ltv1, ltv2

    def __repr__(self):
        return (f'<ACSImage {os.path.basename(self.path)} {self.detector} '
                f'{self.filter} {self.obs_time.isot} chips={self.chips}>')

    # -- metadata ---------------------------------------------------------
    @property
    def name(self):
        """The file's base name."""
        return os.path.basename(self.path)

    @property
    def chips(self):
        """The CCDCHIP values present, sorted (e.g. ``(1, 2)``)."""
        return tuple(sorted(self._index))

    @property
    def detector(self):
        """``DETECTOR`` ('WFC', 'HRC' or 'SBC')."""
        return _card(self.header, 'DETECTOR')

    @property
    def rootname(self):
        """``ROOTNAME`` (or the file name without suffix)."""
        return _card(self.header, 'ROOTNAME') or self.name.split('_')[0]

    @property
    def filter1(self):
        """``FILTER1``."""
        return _card(self.header, 'FILTER1', '')

    @property
    def filter2(self):
        """``FILTER2``."""
        return _card(self.header, 'FILTER2', '')

    @property
    def filter(self):
        """The filter in the beam, resolved from FILTER1/FILTER2."""
        return resolve_filter(self.filter1, self.filter2)

    @property
    def exptime(self):
        """``EXPTIME`` as a `~astropy.units.Quantity` in seconds."""
        return float(self.header.get('EXPTIME', 0.0)) * u.s

    @property
    def texptime(self):
        """``TEXPTIME`` (total of combined inputs) in s, or `None`."""
        value = self.header.get('TEXPTIME')
        return None if value is None else float(value) * u.s

    @cached_property
    def obs_time(self):
        """Start of the observation, `~astropy.time.Time` (from ``EXPSTART``,
        else ``DATE-OBS`` + ``TIME-OBS``)."""
        if self.header.get('EXPSTART') is not None:
            return Time(float(self.header['EXPSTART']), format='mjd',
                        scale='utc')
        date = _card(self.header, 'DATE-OBS')
        if not date and self.is_flash_reference and _card(self.header, 'USEAFTER'):
            # a reference file (CRDS FLSHFILE) has USEAFTER, not DATE-OBS
            import datetime
            ua = _card(self.header, 'USEAFTER')
            try:
                return Time(datetime.datetime.strptime(ua, '%b %d %Y %H:%M:%S'),
                            scale='utc')
            except ValueError:
                raise InputFileError(f'unreadable USEAFTER {ua!r}',
                                     path=self.path) from None
        if not date:
            raise InputFileError('no EXPSTART or DATE-OBS keyword',
                                 path=self.path)
        clock = _card(self.header, 'TIME-OBS') or '00:00:00'
        try:
            t = Time(f'{date}T{clock}', format='isot', scale='utc')
        except ValueError:
            raise InputFileError(
                f'unreadable DATE-OBS/TIME-OBS {date!r} {clock!r}',
                path=self.path) from None
        self._check_mjd(t.mjd, 'DATE-OBS')
        return t

    @property
    def flashdur(self):
        """``FLASHDUR`` (LED post-flash duration) in s."""
        return float(self.header.get('FLASHDUR', 0.0) or 0.0) * u.s

    @property
    def flashsta(self):
        """``FLASHSTA`` ('SUCCESSFUL', 'NOT PERFORMED', 'ABORTED')."""
        return _card(self.header, 'FLASHSTA', 'NOT PERFORMED')

    @property
    def is_flash_reference(self):
        """True for a post-flash reference file (CRDS ``FLSHFILE``,
        ``*_fls.fits``, ``FILETYPE`` 'POST FLASH'): the LED light path
        itself, accepted wherever a post-flashed image is the LED input
        (report §6.2)."""
        ftype = str(_card(self.header, 'FILETYPE', '') or '').upper()
        return 'FLASH' in ftype or (not ftype and self.name.lower().endswith(
            '_fls.fits') and self.header.get('EXPSTART') is None)

    @cached_property
    def flashed(self):
        """True if the image was post-flashed successfully
        (``FLASHDUR > 0`` and ``FLASHSTA = 'SUCCESSFUL'``).  Without a
        ``FLASHSTA`` keyword (combined darks written by scripts) the status
        is decided from ``FLASHDUR > 0``, with a
        `~acs_flecks.exceptions.FlashStatusWarning`.  A post-flash
        reference file is the flash itself (`is_flash_reference`)."""
        if self.is_flash_reference:
            return True
        if 'FLASHSTA' not in self.header:
            on = bool(self.flashdur.value > 0)
            warnings.warn(FlashStatusWarning(
                f'{self.name}: no FLASHSTA keyword; taken as '
                f'{"post-flashed" if on else "not post-flashed"} from FLASHDUR='
                f'{self.flashdur.value:g} s'))
            return on
        return bool(self.flashdur.value > 0) and self.flashsta == 'SUCCESSFUL'

    @property
    def imagetyp(self):
        """``IMAGETYP`` ('DARK', 'FLAT', 'EXT', ...)."""
        return _card(self.header, 'IMAGETYP', '')

    @property
    def obstype(self):
        """``OBSTYPE`` ('IMAGING', 'INTERNAL', ...)."""
        return _card(self.header, 'OBSTYPE', '')

    @property
    def bpixtab(self):
        """``BPIXTAB`` as written in the header (e.g. ``jref$x_bpx.fits``)."""
        return _card(self.header, 'BPIXTAB')

    def chip_header(self, ccdchip):
        """The SCI header of chip ``ccdchip``."""
        return self._entry(ccdchip)['header']

    @property
    def bunit(self):
        """``BUNIT`` of the science arrays (e.g. 'ELECTRONS')."""
        return _card(self.chip_header(self.chips[0]), 'BUNIT', '')

    def ltv(self, ccdchip):
        """(``LTV1``, ``LTV2``) of a chip: its offset in the full-chip frame."""
        return self._entry(ccdchip)['ltv']

    def ncombine(self, ccdchip=None):
        """``NCOMBINE`` of a chip (default: the first chip)."""
        h = self.chip_header(self.chips[0] if ccdchip is None else ccdchip)
        value = _number(h, 'NCOMBINE', path=self.path, integer=True,
                        where='SCI header')
        if value is None:
            value = _number(self.header, 'NCOMBINE', path=self.path,
                            integer=True, default=1)
        return value

    @property
    def shape(self):
        """(rows, columns) of each chip, from the headers."""
        return self._index[self.chips[0]]['shape']

    def _entry(self, ccdchip):
        try:
            return self._index[int(ccdchip)]
        except (KeyError, ValueError, TypeError):
            raise InputFileError(
                f'has no chip CCDCHIP={ccdchip!r} (chips: {self.chips})',
                path=self.path) from None

    # -- pixels -----------------------------------------------------------
    def chip(self, ccdchip, *, arrays=_ARRAYS, allow_nan=False, section=None):
        """
        Read one chip's pixels.

        Parameters
        ----------
        ccdchip : int
            ``CCDCHIP`` of the chip (1 = WFC1, 2 = WFC2).
        arrays : tuple of str, optional
            Which of 'SCI', 'ERR', 'DQ' to read; the others are `None`.
        allow_nan : bool, optional
            If `False` (default) a chip whose SCI is all NaN is an error.
        section : tuple of slice, optional
            (row slice, column slice) in numpy (0-indexed image) order: read
            only that part of each array (through astropy's lazy
            ``ImageHDU.section``), e.g. a cutout of a full-frame file.

        Returns
        -------
        ChipData
            SCI/ERR as native float32, DQ as uint16.

        Raises
        ------
        acs_flecks.exceptions.InputFileError
            Stripped (empty) data, unreadable data, or an all-NaN chip.
        """
        entry = self._entry(ccdchip)
        if self.raw is not None:
            return self._raw_chip(ccdchip, entry, arrays, allow_nan, section)
        wanted = [n for n in _ARRAYS if n in arrays and n in entry]
        out = {name: None for name in _ARRAYS}
        # astropy cannot memory-map BZERO/BSCALE/BLANK-scaled data (a raw
        # frame's uint16 SCI): read those chips without memmap
        memmap = not any(is_scaled(entry['headers'][n]) for n in wanted)
        try:
            with fits.open(self.path, memmap=memmap) as hdul:
                for name in wanted:
                    hdu = hdul[entry[name]]
                    if name != 'SCI' and is_null_extension(hdu.header) and \
                            min(entry['shape']) > 0:
                        data = null_extension_array(hdu.header,
                                                    entry['shape'], name)
                        out[name] = data if section is None else \
                            data[tuple(section)]
                        continue
                    if section is not None and entry['shape'][0] > 0 and \
                            hdu.header.get('NAXIS', 0) == 2:
                        data = hdu.section[tuple(section)]
                        out[name] = self._check_section(data, name)
                        continue
                    data = hdu.data
                    out[name] = self._check_array(data, name, entry, ccdchip)
                    if section is not None:
                        out[name] = out[name][tuple(section)]
        except InputFileError:
            raise
        except (OSError, EOFError, ValueError, TypeError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputFileError(
                f'cannot read the pixels of chip CCDCHIP={ccdchip} ({msg})',
                path=self.path) from None
        # SCI/ERR in electrons whatever BUNIT (acs_flecks.units); a post-flash
        # reference (e-/s of flash) is only ever normalized: as it is
        scale, _ = (1.0, '') if self.is_flash_reference else electron_scale(
            self.header, entry['header'], ccdchip=ccdchip,
            shape=entry['shape'], path=self.path)
        if not np.isscalar(scale) or scale != 1.0:
            cols = section[1] if section is not None else slice(None)
            sc = scale if np.isscalar(scale) else scale[:, cols]
            for name in ('SCI', 'ERR'):
                if out[name] is not None:
                    out[name] = (out[name] * sc).astype(np.float32)
        sci = out['SCI']
        if sci is not None and sci.size and not allow_nan and \
                not np.isfinite(sci).any():
            where = 'chip' if section is None else 'section of chip'
            raise InputFileError(
                f'{where} CCDCHIP={ccdchip} has no finite SCI values (all NaN)',
                path=self.path)
        return ChipData(ccdchip=int(ccdchip), sci=sci, err=out['ERR'],
                        dq=out['DQ'], header=entry['header'],
                        ltv=self.ltv(ccdchip))

    def _raw_chip(self, ccdchip, entry, arrays, allow_nan, section):
        """`chip` of a raw frame: `acs_flecks.raw.RawFrame.calibrate`."""
        sci, err, dq = self.raw.calibrate(ccdchip)
        sl = tuple(section) if section is not None else (slice(None),) * 2
        out = {n: (a[sl] if n in arrays else None)
               for n, a in (('SCI', sci), ('ERR', err), ('DQ', dq))}
        if out['SCI'] is not None and out['SCI'].size and not allow_nan \
                and not np.isfinite(out['SCI']).any():
            raise InputFileError(f'chip CCDCHIP={ccdchip} has no finite SCI '
                                 'values (all NaN)', path=self.path)
        return ChipData(ccdchip=int(ccdchip), sci=out['SCI'], err=out['ERR'],
                        dq=out['DQ'], header=entry['header'],
                        ltv=self.ltv(ccdchip))

    @staticmethod
    def _check_section(data, name):
        if name == 'DQ':
            return np.asarray(data, dtype=np.uint16)
        return np.asarray(data, dtype=np.float32)

    def _check_array(self, data, name, entry, ccdchip):
        ver = entry['extver']
        shape = entry['shape']
        if data is None or data.size == 0 or min(shape) == 0:
            raise InputFileError(
                f'[{name},{ver}] (CCDCHIP={ccdchip}) has no pixel data '
                f'(shape {None if data is None else data.shape}): stripped '
                'or header-only file', path=self.path)
        if data.shape != shape:
            raise InputFileError(
                f'[{name},{ver}] has shape {data.shape}, expected {shape}',
                path=self.path)
        if name == 'DQ':
            return np.asarray(data, dtype=np.uint16)
        return np.asarray(data, dtype=np.float32)

    def check_data(self):
        """Read every chip once to check it has usable pixels.

        Raises `InputFileError` on stripped, unreadable or all-NaN data."""
        for chip in self.chips:
            self.chip(chip)
        return self


def open_acs(path, **kwargs):
    """Open an ACS file; shorthand for ``ACSImage(path, **kwargs)``."""
    return ACSImage(path, **kwargs)


#: The detector every fleck analysis needs: the flecks are on the WFC CCDs.
FLECK_DETECTORS = ('WFC',)


def check_detectors(images, *, operation, detector=FLECK_DETECTORS):
    """
    Refuse, from the primary headers alone, an ACS file of a detector an
    operation does not support -- before the operation writes anything.

    Files that cannot be read, or are not ACS, are left alone: the
    operation reports (or skips) them with its own reason.

    Parameters
    ----------
    images : iterable of str, path-like or `ACSImage`
        The inputs (`None` entries are ignored).
    operation : str
        Name of the operation, for the message.
    detector : str or tuple of str, optional
        Supported detectors (default `FLECK_DETECTORS`).

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        The first file of another detector.
    """
    for image in images:
        if image is None:
            continue
        if isinstance(image, ACSImage):
            check_detector(image.detector, detector, operation=operation,
                           path=image.path)
            continue
        path = os.fspath(image)
        try:
            header = fits.getheader(path, 0)
        except Exception:  # noqa: BLE001 - unreadable: the operation says why
            continue
        if str(header.get('INSTRUME', '')).strip() != 'ACS':
            continue
        det = str(header.get('DETECTOR', '')).strip()
        if det in SUPPORTED_DETECTORS:
            check_detector(det, detector, operation=operation, path=path)


def open_image(image, *, operation, detector=FLECK_DETECTORS, **kwargs):
    """
    Open an image for an operation, refusing detectors it does not support.

    Parameters
    ----------
    image : str, path-like or `ACSImage`
        The file (an `ACSImage` is checked, not reopened).
    operation : str
        Name of the operation (e.g. 'find'), for the refusal message.
    detector : str or tuple of str, optional
        The detectors the operation supports (default `FLECK_DETECTORS`).
    **kwargs
        Passed to `ACSImage` (e.g. ``require_arrays``).

    Returns
    -------
    ACSImage

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Unreadable file or unsupported detector.
    """
    if isinstance(image, ACSImage):
        check_detector(image.detector, detector, operation=operation,
                       path=image.path)
        return image
    return ACSImage(image, detector=detector, operation=operation, **kwargs)


class ACSCollection:
    """
    A set of ACS files, sorted by observation time.

    Parameters
    ----------
    images : iterable of str, path-like or `ACSImage`
        The files (opened for their headers only).
    **kwargs
        Passed to `ACSImage` for paths.
    """

    def __init__(self, images, **kwargs):
        imgs = [im if isinstance(im, ACSImage) else ACSImage(im, **kwargs)
                for im in images]
        self.images = sorted(imgs, key=lambda im: (im.obs_time.mjd, im.path))

    def __len__(self):
        return len(self.images)

    def __iter__(self):
        return iter(self.images)

    def __getitem__(self, item):
        return self.images[item]

    def group_by_filter(self):
        """dict filter name -> list of `ACSImage` (time-ordered)."""
        groups = {}
        for im in self.images:
            groups.setdefault(im.filter, []).append(im)
        return groups

    def group_by_epoch(self, anneal_dates):
        """
        Group the images by anneal cycle.

        Parameters
        ----------
        anneal_dates : array-like of `~astropy.time.Time` or str
            The anneal dates.  An image belongs to the cycle that starts at
            the last anneal at or before its observation time.

        Returns
        -------
        dict
            `~astropy.time.Time` (start of the cycle, ISO string key) ->
            list of `ACSImage`; images before the first anneal are keyed
            ``'before'``.
        """
        dates = Time(sorted(Time(anneal_dates).mjd), format='mjd')
        groups = {}
        for im in self.images:
            i = np.searchsorted(dates.mjd, im.obs_time.mjd, side='right') - 1
            key = 'before' if i < 0 else dates[i].iso[:10]
            groups.setdefault(key, []).append(im)
        return groups
