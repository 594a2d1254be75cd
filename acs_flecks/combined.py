"""
Combined images: an ACSREJ sum, a script's average, or one exposure.

ACSREJ (``_crj``, ``_crc``) writes SCI and ERR as **sums** in electrons with
``NCOMBINE`` in the SCI header and a cumulative ``EXPTIME``/``TEXPTIME``
(hstcal ``acsrej_do.c``); a team's own scripts often write **averages** (the
short darks of the report's §5, and this package's simulated ``dkc``), whose
``EXPTIME`` is that of one exposure.  A Poisson error must come from the
electrons actually counted: ``sqrt(S)`` for a sum S, ``sqrt(N A) / N`` for
an average A of N exposures.

`combination` decides from the header, in this order:

1. ``NCOMBINE <= 1``: a single exposure.
2. ``TEXPTIME`` present and different from ``EXPTIME``: ``EXPTIME`` is that
   of one exposure (``EXPTIME x NCOMBINE ~ TEXPTIME``): an **average**;
   ``EXPTIME == TEXPTIME`` (cumulative): a **sum**.
3. otherwise the pixels decide: in a sum ``ERR**2 ~ SCI + N rn**2``, in an
   average ``ERR**2 ~ (SCI + rn**2) / N``; the median of ``ERR**2 / SCI``
   over well-exposed pixels is ~1 for a sum and ~1/N for an average.

SCI is read in electrons whatever its ``BUNIT`` (`acs_flecks.units`: a
rate x ``EXPTIME``, counts x gain), so the same rules apply to every unit.
The decision and its reason are returned (and written by the commands that
use it, e.g. ``acs_flecks shadow``).

>>> from acs_flecks.combined import combination        # doctest: +SKIP
>>> c = combination('jd0q01abq_crj.fits')               # doctest: +SKIP
>>> c.kind, c.ncombine, c.counted_per_unit              # doctest: +SKIP
('sum', 4, 1.0)
"""

import logging
from dataclasses import dataclass

import numpy as np

from .exceptions import InputFileError
from .io import ACSImage
from .units import electron_scale

__all__ = ['Combination', 'combination']

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Combination:
    """
    How an image was combined.

    Attributes
    ----------
    kind : str
        ``'single'``, ``'sum'`` or ``'average'``.
    ncombine : int
        ``NCOMBINE``.
    counted_per_unit : float
        Electrons counted per electron of SCI (as read, in electrons): 1 for
        a single exposure or a sum, ``NCOMBINE`` for an average.
    per_exposure : float
        Factor giving the mean single-exposure electrons from SCI (1 /
        ``NCOMBINE`` for a sum, 1 for an average or a single exposure).
    reason : str
        Which header values decided.
    """

    kind: str
    ncombine: int
    counted_per_unit: float
    per_exposure: float
    reason: str

    def poisson_error(self, total):
        """Poisson error (SCI units) of a sum of SCI values ``total``."""
        counted = max(float(total), 0.0) * self.counted_per_unit
        return float(np.sqrt(counted) / self.counted_per_unit)


def _float(header, key):
    try:
        v = header.get(key)
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def combination(image, *, ccdchip=None):
    """
    Decide whether an image is a single exposure, a sum or an average.

    Parameters
    ----------
    image : str, path-like or `~acs_flecks.io.ACSImage`
    ccdchip : int, optional
        Chip whose SCI header holds ``NCOMBINE``/``BUNIT`` (default: first).

    Returns
    -------
    Combination

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        ``BUNIT`` that cannot be converted to electrons.
    """
    img = image if isinstance(image, ACSImage) else ACSImage(
        image, require_arrays=False)
    chip = img.chips[0] if ccdchip is None else int(ccdchip)
    n = max(img.ncombine(chip), 1)
    # SCI is read in electrons (acs_flecks.units: a rate x EXPTIME, counts x
    # gain); a unit that cannot be converted is refused here
    electron_scale(img.header, img.chip_header(chip), ccdchip=chip,
                   shape=img.shape, path=img.path)
    exptime = _float(img.header, 'EXPTIME') or 0.0
    texptime = _float(img.header, 'TEXPTIME')
    if n <= 1:
        return Combination('single', 1, 1.0, 1.0, 'NCOMBINE=1')
    if texptime is not None and exptime > 0:
        if abs(texptime - exptime) <= 1e-3 * max(texptime, 1e-9):
            return Combination('sum', n, 1.0, 1.0 / n,
                               f'EXPTIME = TEXPTIME = {exptime:g} s '
                               f'(cumulative), NCOMBINE={n}: an ACSREJ sum')
        return Combination('average', n, float(n), 1.0,
                           f'EXPTIME {exptime:g} s = one exposure of '
                           f'TEXPTIME {texptime:g} s, NCOMBINE={n}: an '
                           'average')
    # no TEXPTIME: the pixels decide
    d = img.chip(chip, arrays=('SCI', 'ERR'))
    if d.err is None:
        raise InputFileError(
            f'NCOMBINE={n} without TEXPTIME or ERR: cannot tell a sum from '
            'an average', path=img.path)
    sci, err = d.sci, d.err
    ok = np.isfinite(sci) & np.isfinite(err) & (err > 0)
    ok &= sci >= max(np.nanpercentile(sci[ok], 50), 1.0) if ok.any() else ok
    if ok.sum() < 10:
        raise InputFileError(
            f'NCOMBINE={n} without TEXPTIME and too few exposed pixels to '
            'tell a sum from an average', path=img.path)
    r = float(np.median(err[ok] ** 2 / sci[ok]))
    if abs(np.log(max(r, 1e-9))) <= abs(np.log(max(r * n, 1e-9))):
        return Combination('sum', n, 1.0, 1.0 / n,
                           f'no TEXPTIME; median ERR^2/SCI = {r:.2f} ~ 1: '
                           f'a sum of {n}')
    return Combination('average', n, float(n), 1.0,
                       f'no TEXPTIME; median ERR^2/SCI = {r:.2f} ~ 1/{n}: '
                       f'an average of {n}')
