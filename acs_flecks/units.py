"""
Units of calibrated ACS images: everything is read in electrons.

CALACS writes SCI and ERR in ``ELECTRONS`` (flt/flc, crj/crc), drizzled and
some team products in ``ELECTRONS/S``, and a file can be left in ``COUNTS``
(DN) when ``ATODCORR``/``FLATCORR`` were not run.  `electron_scale` gives
the factor that turns SCI and ERR into electrons:

* ``ELECTRONS`` (or no ``BUNIT``): 1;
* ``ELECTRONS/S``: ``EXPTIME`` (cumulative in an ACSREJ sum, so the result
  is the electrons of the file);
* ``COUNTS`` (calibrated, trimmed: raw frames are handled by
  `acs_flecks.raw`): the gain, ``ATODGN<amp>`` on each amplifier's half of
  the chip when they are non-zero, else ``CCDGAIN``;
* ``COUNTS/S``: gain x ``EXPTIME``;
* SBC (a MAMA, photon counting) ``COUNTS``: as they are;

anything else (``MJy/sr``, ``UNITLESS``, ...) or a missing gain or
``EXPTIME`` is refused with one line naming the file.  `acs_flecks.io.ACSImage`
applies the factor when it reads pixels, so the analyses never mix units
between files.

>>> from acs_flecks.units import electron_scale              # doctest: +SKIP
>>> electron_scale(primary, sci_header, shape=(2048, 4096))  # doctest: +SKIP
(600.0, 'ELECTRONS/S x EXPTIME 600 s')
"""

import numpy as np

from .exceptions import InputFileError

__all__ = ['electron_scale', 'ELECTRON_UNITS']

#: BUNIT values that are electrons already.
ELECTRON_UNITS = ('', 'ELECTRONS', 'ELECTRON', 'E-')

_AMPS = {1: ('A', 'B'), 2: ('C', 'D')}


def _gain(primary, ccdchip, sci_header, nx, path):
    """Gain as a scalar or a (1, nx) column array (per amplifier half)."""
    nominal = float(primary.get('CCDGAIN', 0.0) or 0.0)
    det = str(primary.get('DETECTOR', '')).strip()
    amps = _AMPS.get(int(ccdchip)) if det == 'WFC' else None
    if amps:
        g = [float(primary.get(f'ATODGN{a}', 0.0) or 0.0) for a in amps]
        if all(v > 0 for v in g):
            if g[0] == g[1]:
                return g[0], f'ATODGN{amps[0]}'
            ltv1 = float(sci_header.get('LTV1', 0.0))
            x0 = np.arange(nx) - ltv1               # 0-indexed chip column
            col = np.where(x0 < 2048, g[0], g[1]).astype(np.float32)
            return col[None, :], f'ATODGN{amps[0]}/{amps[1]}'
    if nominal > 0:
        return nominal, 'CCDGAIN'
    raise InputFileError('BUNIT=COUNTS but no gain (ATODGN* and CCDGAIN zero '
                         'or missing)', path=path)


def electron_scale(primary, sci_header, *, ccdchip, shape, path=None):
    """
    Factor turning a chip's SCI and ERR into electrons.

    Parameters
    ----------
    primary, sci_header : `~astropy.io.fits.Header`
    ccdchip : int
    shape : tuple of int
        (rows, columns) of the chip image.
    path : str, optional
        For messages.

    Returns
    -------
    scale : float or `~numpy.ndarray`
        1 for electrons; else a scalar or a (1, columns) array.
    how : str
        What was done (for logs and outputs).

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        A unit that cannot be converted, or no gain / EXPTIME to do it.
    """
    bunit = str(sci_header.get('BUNIT', '') or '').strip().upper()
    if bunit in ELECTRON_UNITS:
        return 1.0, 'ELECTRONS'
    rate = bunit.endswith('/S') or bunit.endswith('/SEC')
    base = bunit.split('/')[0]
    factor, how = 1.0, []
    if base in ('COUNTS', 'COUNT', 'DN') and \
            str(primary.get('DETECTOR', '')).strip() == 'SBC':
        # the SBC (a MAMA) counts photon events: no gain to apply
        factor, how = 1.0, ['SBC counts (no gain)']
    elif base in ('COUNTS', 'COUNT', 'DN'):
        g, src = _gain(primary, ccdchip, sci_header, int(shape[1]), path)
        factor, how = g, [f'COUNTS x gain ({src})']
    elif base not in ('ELECTRONS', 'ELECTRON', 'E-'):
        raise InputFileError(f'BUNIT={bunit!r} cannot be converted to '
                             'electrons (need ELECTRONS, ELECTRONS/S or COUNTS)',
                             path=path)
    if rate:
        try:
            exptime = float(primary.get('EXPTIME', 0.0) or 0.0)
        except (TypeError, ValueError):
            exptime = 0.0
        if exptime <= 0:
            raise InputFileError(f'BUNIT={bunit!r} with EXPTIME={exptime!r}: '
                                 'cannot convert the rate to electrons',
                                 path=path)
        factor = factor * exptime
        how.append(f'x EXPTIME {exptime:g} s')
    return factor, f'{bunit}: ' + ' '.join(how or ['electrons'])
