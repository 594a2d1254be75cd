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

from .exceptions import InputFileError
from .filters import WFC_FILTERS, is_clear, resolve_filter

__all__ = ['ACSImage', 'ChipData', 'ACSCollection', 'open_acs',
           'SUPPORTED_DETECTORS']

log = logging.getLogger(__name__)

#: Detectors this package knows; most analyses need 'WFC'.
SUPPORTED_DETECTORS = ('WFC', 'HRC', 'SBC')

_ARRAYS = ('SCI', 'ERR', 'DQ')


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


def _read_fits_headers(path):
    """Open ``path`` and return (primary header, [(extname, extver, header,
    data-span ok)]), raising `InputFileError` for non-FITS or truncated files."""
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
                primary = hdul[0].header.copy()
                exts = []
                for i, hdu in enumerate(hdul):
                    info = hdul.fileinfo(i)
                    end = info['datLoc'] + info['datSpan']
                    if end > size:
                        raise InputFileError(
                            f'truncated FITS file: HDU {i} needs {end} bytes, '
                            f'the file has {size}', path=path)
                    if i == 0:
                        continue
                    h = hdu.header.copy()
                    exts.append((str(h.get('EXTNAME', '')).strip().upper(),
                                 int(h.get('EXTVER', 1)), i, h))
    except InputFileError:
        raise
    except (OSError, ValueError, TypeError, IndexError, KeyError,
            fits.verify.VerifyError, Warning) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f'not a readable FITS file ({msg})',
                             path=path) from None
    return primary, exts


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
        files have no ERR/DQ worth using).

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Not a FITS file, truncated, not ACS, unsupported detector, a chip
        without ``CCDCHIP``, a missing SCI/ERR/DQ, or inconsistent shapes.
        Stripped data (empty arrays) are detected when pixels are read.
    """

    def __init__(self, path, *, detector=None, require_arrays=True):
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
            allowed = (detector,) if isinstance(detector, str) else tuple(detector)
            if det not in allowed:
                raise InputFileError(
                    f'detector {det} is not supported here (need '
                    f'{" or ".join(allowed)})', path=self.path)
        self._index = self._map_extensions(exts, require_arrays)
        if det == 'WFC':
            for key in ('FILTER1', 'FILTER2'):
                name = str(self.header.get(key, '') or '').strip().upper()
                if name and not is_clear(name) and name not in WFC_FILTERS \
                        and name != 'N/A':
                    raise InputFileError(
                        f'unknown WFC filter {key}={name!r}', path=self.path)

    def _map_extensions(self, exts, require_arrays):
        by_key = {}
        for name, ver, idx, hdr in exts:
            if name in _ARRAYS:
                by_key[(name, ver)] = (idx, hdr)
        scis = sorted(ver for name, ver in by_key if name == 'SCI')
        if not scis:
            raise InputFileError('no SCI extension', path=self.path)
        index = {}
        for ver in scis:
            idx, hdr = by_key[('SCI', ver)]
            if 'CCDCHIP' in hdr:
                chip = int(hdr['CCDCHIP'])
            elif self.header.get('DETECTOR') != 'WFC' and len(scis) == 1:
                chip = int(self.header.get('CCDCHIP', 1))
            else:
                raise InputFileError(f'[SCI,{ver}] has no CCDCHIP keyword',
                                     path=self.path)
            if chip in index:
                raise InputFileError(
                    f'CCDCHIP={chip} appears in more than one SCI extension',
                    path=self.path)
            entry = {'SCI': idx, 'header': hdr, 'extver': ver}
            shape = (int(hdr.get('NAXIS2', 0)), int(hdr.get('NAXIS1', 0)))
            for name in ('ERR', 'DQ'):
                if ('%s' % name, ver) not in by_key:
                    if require_arrays:
                        raise InputFileError(
                            f'chip CCDCHIP={chip} has [SCI,{ver}] but no '
                            f'[{name},{ver}]', path=self.path)
                    continue
                eidx, ehdr = by_key[(name, ver)]
                eshape = (int(ehdr.get('NAXIS2', 0)), int(ehdr.get('NAXIS1', 0)))
                if ehdr.get('NAXIS', 0) and eshape != shape:
                    raise InputFileError(
                        f'[{name},{ver}] shape {eshape} differs from '
                        f'[SCI,{ver}] shape {shape} (CCDCHIP={chip})',
                        path=self.path)
                entry[name] = eidx
            entry['shape'] = shape
            index[chip] = entry
        shapes = {e['shape'] for e in index.values()}
        if len(shapes) > 1:
            raise InputFileError(f'chips have different shapes {sorted(shapes)}',
                                 path=self.path)
        return index

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
        if not date:
            raise InputFileError('no EXPSTART or DATE-OBS keyword',
                                 path=self.path)
        clock = _card(self.header, 'TIME-OBS') or '00:00:00'
        try:
            return Time(f'{date}T{clock}', format='isot', scale='utc')
        except ValueError:
            raise InputFileError(
                f'unreadable DATE-OBS/TIME-OBS {date!r} {clock!r}',
                path=self.path) from None

    @property
    def flashdur(self):
        """``FLASHDUR`` (LED post-flash duration) in s."""
        return float(self.header.get('FLASHDUR', 0.0) or 0.0) * u.s

    @property
    def flashsta(self):
        """``FLASHSTA`` ('SUCCESSFUL', 'NOT PERFORMED', 'ABORTED')."""
        return _card(self.header, 'FLASHSTA', 'NOT PERFORMED')

    @property
    def flashed(self):
        """True if the image was post-flashed successfully."""
        return self.flashdur.value > 0 and self.flashsta == 'SUCCESSFUL'

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
        h = self.chip_header(ccdchip)
        return float(h.get('LTV1', 0.0)), float(h.get('LTV2', 0.0))

    def ncombine(self, ccdchip=None):
        """``NCOMBINE`` of a chip (default: the first chip)."""
        h = self.chip_header(self.chips[0] if ccdchip is None else ccdchip)
        return int(h.get('NCOMBINE', self.header.get('NCOMBINE', 1)))

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
        out = {}
        try:
            with fits.open(self.path, memmap=True) as hdul:
                for name in _ARRAYS:
                    if name not in arrays:
                        out[name] = None
                        continue
                    if name not in entry:
                        out[name] = None
                        continue
                    if section is not None and entry['shape'][0] > 0 and \
                            hdul[entry[name]].header.get('NAXIS', 0) == 2:
                        data = hdul[entry[name]].section[tuple(section)]
                        out[name] = self._check_section(data, name)
                        continue
                    data = hdul[entry[name]].data
                    out[name] = self._check_array(data, name, entry, ccdchip)
                    if section is not None:
                        out[name] = out[name][tuple(section)]
        except InputFileError:
            raise
        except (OSError, ValueError, TypeError) as exc:
            raise InputFileError(
                f'cannot read the pixels of chip CCDCHIP={ccdchip} ({exc})',
                path=self.path) from None
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

    @staticmethod
    def _check_section(data, name):
        if name == 'DQ':
            return np.asarray(data, dtype=np.uint16)
        return np.asarray(data, dtype=np.float32)

    def _check_array(self, data, name, entry, ccdchip):
        ver = entry['extver']
        shape = entry['shape']
        if data is None or data.size == 0 or min(shape) == 0:
            # Compressed-away DQ/ERR (NAXIS=0 with NPIX keywords) is a
            # constant array in real HST files; empty SCI is stripped data.
            hdr_idx = entry[name]
            if name != 'SCI' and data is None and min(shape) > 0:
                with fits.open(self.path) as hdul:
                    const = hdul[hdr_idx].header.get('PIXVALUE', 0)
                dtype = np.uint16 if name == 'DQ' else np.float32
                return np.full(shape, const, dtype=dtype)
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
