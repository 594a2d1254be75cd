"""
Cutouts around a fleck and their local background normalization (report §6.1).

The report cuts a 40x40 (20x30 for the elongated fleck) box around each
fleck, "divides out the local median" and inverts the image (1 - image), so
that the background sits at 0 and the fleck blocks a fraction of the light.
A plain median is biased when the lamp illumination has a gradient across
the box, so `normalize_cutout` fits a low-order 2-D polynomial (by default a
plane) to the background pixels only: pixels blocking more than the
aperture threshold, grown by a margin, are masked and the fit is iterated
with sigma clipping.  The fit's covariance gives the normalization's own
uncertainty at every pixel.

>>> from acs_flecks.characterize.cutouts import extract_cutout  # doctest: +SKIP
>>> cut = extract_cutout('flat_f435w_crc.fits', ccdchip=2, x=1521, y=1773)  # doctest: +SKIP
>>> cut.origin        # 1-indexed chip pixel of cut.sci[0, 0]   # doctest: +SKIP
(1501, 1753)
"""

import logging
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from scipy import ndimage

from ..coords import (WFC_CHIP_SHAPE, chip_to_image, cutout_slices,
                      image_to_chip)
from ..dq import DEFAULT_DQ_MASK
from ..exceptions import AcsFlecksError, InputFileError
from ..io import open_image

__all__ = ['Cutout', 'Normalization', 'extract_cutout', 'normalize_cutout',
           'parse_box', 'DEFAULT_DQ_MASK',
           'cutout_header', 'output_prefix']

log = logging.getLogger(__name__)


def parse_box(box, *, min_size=5):
    """
    Parse a box given as (ny, nx), an int, or a string ``'NXxNY'``.

    The string form follows the report ("a 20x30 pixel subsection"): width
    (x) first, then height (y).  Tuples are numpy order (ny, nx).

    min_size : int
        Smallest side accepted (a background needs room around the fleck).

    Returns
    -------
    tuple of int
        (ny, nx).
    """
    if isinstance(box, str):
        parts = box.lower().replace('*', 'x').split('x')
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise AcsFlecksError(f'box must look like 40x40 (NXxNY), got {box!r}') from None
        if len(vals) == 1:
            vals = vals * 2
        if len(vals) != 2:
            raise AcsFlecksError(f'box must look like 40x40 (NXxNY), got {box!r}')
        nx, ny = vals
    elif np.ndim(box) == 0:
        ny = nx = int(box)
    else:
        if len(box) != 2:
            raise AcsFlecksError(f'box must be (ny, nx), got {box!r}')
        ny, nx = (int(b) for b in box)
    if ny < min_size or nx < min_size:
        raise AcsFlecksError(f'box must be at least {min_size}x{min_size} pixels, '
                             f'got {nx}x{ny} (NXxNY)')
    return ny, nx


@dataclass
class Cutout:
    """
    A box of one chip around a position.

    Attributes
    ----------
    sci, err : `~numpy.ndarray`
        Science and error pixels (float64 copies).
    dq : `~numpy.ndarray`
        DQ flags (uint16).
    origin : tuple of int
        1-indexed chip-frame (x, y) of ``sci[0, 0]``.
    ccdchip : int
        The chip.
    center : tuple of float
        1-indexed chip-frame (x, y) the box was centred on.
    path : str
        The file.
    image : `~acs_flecks.io.ACSImage`
        The file's metadata.
    """

    sci: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    origin: tuple
    ccdchip: int
    center: tuple
    path: str = ''
    image: object = field(default=None, repr=False)

    @property
    def shape(self):
        """(ny, nx) of the cutout."""
        return self.sci.shape

    def pixel_grid(self):
        """1-indexed chip-frame (x, y) arrays of every cutout pixel."""
        ny, nx = self.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        return xx + self.origin[0], yy + self.origin[1]

    def good(self, dq_mask=DEFAULT_DQ_MASK):
        """Pixels with finite SCI, finite positive ERR and none of the
        ``dq_mask`` flags.  ``ERR <= 0`` is never a measurement: ACSREJ
        writes ``ERR[0, 0] = -1`` on purpose (a sentinel, hstcal
        ``acsrej_do.c``) and ERR = 0 where it rejected every input."""
        ok = np.isfinite(self.sci) & np.isfinite(self.err) & (self.err > 0)
        if self.dq is not None:
            ok &= (self.dq & np.uint16(dq_mask)) == 0
        return ok


def _open(image):
    return open_image(image, operation='cutouts', require_arrays=False)


def extract_cutout(image, *, ccdchip, x, y, box=(40, 40), read_noise=4.0):
    """
    Cut a box centred on a 1-indexed chip-frame pixel out of one chip.

    Parameters
    ----------
    image : str, path-like or `~acs_flecks.io.ACSImage`
        The ACS file (full frame or a window with ``LTV1``/``LTV2``).
    ccdchip : int
        1 (WFC1) or 2 (WFC2).
    x, y : float
        1-indexed full-chip-frame centre (rounded to the nearest pixel).
    box : tuple of int or str
        (ny, nx), or ``'NXxNY'``.
    read_noise : float
        Read noise (e-) used only for files without an ERR array (raw EPER
        images): ERR = sqrt(max(SCI, 0) + read_noise**2).

    Returns
    -------
    Cutout

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        The position is off the chip, not covered by a windowed file, or
        too close to an edge for the box; the file lacks the chip.
    """
    img = _open(image)
    ny, nx = parse_box(box, min_size=1)
    ccdchip = int(ccdchip)
    if img.detector == 'WFC' and not (1 <= x <= WFC_CHIP_SHAPE[1] and
                                      1 <= y <= WFC_CHIP_SHAPE[0]):
        raise AcsFlecksError(
            f'position (x, y) = ({x}, {y}) is off the WFC chip (x 1-'
            f'{WFC_CHIP_SHAPE[1]}, y 1-{WFC_CHIP_SHAPE[0]})', path=img.path)
    if ccdchip not in img.chips:
        raise InputFileError(f'has no chip CCDCHIP={ccdchip} (chips: '
                             f'{img.chips})', path=img.path)
    ltv = img.ltv(ccdchip)
    xi, yi = chip_to_image(x, y, ltv)
    shape = img.shape
    if not (0.5 <= xi < shape[1] + 0.5 and 0.5 <= yi < shape[0] + 0.5):
        raise AcsFlecksError(
            f'position (x, y) = ({x}, {y}) on CCDCHIP={ccdchip} is not in '
            f'this {shape[1]}x{shape[0]} image (LTV1, LTV2 = {ltv})',
            path=img.path)
    try:
        rows, cols = cutout_slices(xi, yi, (ny, nx), chip_shape=shape,
                                   path=img.path)
    except AcsFlecksError:
        raise AcsFlecksError(
            f'a {nx}x{ny} (NXxNY) box around (x, y) = ({x}, {y}) on '
            f'CCDCHIP={ccdchip} is too close to the image edge '
            f'({shape[1]}x{shape[0]}, LTV1, LTV2 = {ltv}); use a smaller '
            '--box', path=img.path) from None
    chip = img.chip(ccdchip)
    sci = np.array(chip.sci[rows, cols], dtype=float)
    if chip.err is not None:
        err = np.array(chip.err[rows, cols], dtype=float)
    else:
        err = np.sqrt(np.clip(sci, 0, None) + read_noise ** 2)
    dq = (np.zeros(sci.shape, np.uint16) if chip.dq is None
          else np.array(chip.dq[rows, cols], dtype=np.uint16))
    ox, oy = image_to_chip(cols.start + 1, rows.start + 1, ltv)
    return Cutout(sci=sci, err=err, dq=dq, origin=(int(round(ox)), int(round(oy))),
                  ccdchip=ccdchip, center=(x, y), path=img.path, image=img)


@dataclass
class Normalization:
    """
    The result of `normalize_cutout`.

    Attributes
    ----------
    image : `~numpy.ndarray`
        SCI / background (1 = unobstructed).
    err : `~numpy.ndarray`
        ERR / background: per-pixel statistical error (Poisson + read noise).
    background : `~numpy.ndarray`
        The background model (e-).
    background_rel_err : `~numpy.ndarray`
        Relative 1-sigma uncertainty of the background model at each pixel
        (fully correlated between pixels).
    background_mask : `~numpy.ndarray` of bool
        Pixels used for the background fit (after clipping).
    excess_scatter : float
        Scatter of the normalized background pixels beyond ERR (pixel
        response non-uniformity, flat-field structure), as a fraction.
    method : str
        ``'plane'``, ``'poly2'`` or ``'median'``.
    """

    image: np.ndarray
    err: np.ndarray
    background: np.ndarray
    background_rel_err: np.ndarray
    background_mask: np.ndarray
    excess_scatter: float
    method: str


_ORDERS = {'median': 0, 'plane': 1, 'poly2': 2}


def _design(xx, yy, order):
    cols = [np.ones_like(xx)]
    if order >= 1:
        cols += [xx, yy]
    if order >= 2:
        cols += [xx * xx, xx * yy, yy * yy]
    return np.stack(cols, axis=-1)


def normalize_cutout(sci, err, *, good=None, method='plane', threshold=0.05,
                     grow=2, sigma=3.0, maxiter=5):
    """
    Divide a cutout by its local background.

    The background is estimated from pixels that are not part of the fleck:
    starting from the median, every pixel below ``1 - threshold`` of the
    current model (and ``sigma`` x ERR below it) is masked, the mask grown by
    ``grow`` pixels (so the faint wings of the fleck do not pull the
    background down), and a polynomial is fitted by least squares to the
    remaining pixels with ``sigma`` clipping; this repeats until the mask is
    stable.  ``method='median'`` is the report's "local median" (a
    sigma-clipped median of the unmasked pixels), biased by lamp gradients;
    ``'plane'`` (default) fits a + b x + c y, which removes a linear
    gradient exactly; ``'poly2'`` adds the quadratic terms.

    Parameters
    ----------
    sci, err : `~numpy.ndarray`
        Cutout pixels and their 1-sigma errors (e-).
    good : `~numpy.ndarray` of bool, optional
        Usable pixels (default: finite values).
    method : {'plane', 'poly2', 'median'}
        Background model.
    threshold : float
        Fractional blocking above which a pixel is masked as fleck.
    grow : int
        Pixels by which the fleck mask is dilated.
    sigma : float
        Clipping threshold for the fit residuals.
    maxiter : int
        Maximum number of mask/fit iterations.

    Returns
    -------
    Normalization
    """
    if method not in _ORDERS:
        raise AcsFlecksError(f'background method must be one of '
                             f'{sorted(_ORDERS)}, got {method!r}')
    order = _ORDERS[method]
    sci = np.asarray(sci, dtype=float)
    err = np.asarray(err, dtype=float)
    if good is None:
        good = np.isfinite(sci) & np.isfinite(err)
    ny, nx = sci.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    # centred, scaled coordinates keep the normal equations well conditioned
    xs = (xx - (nx - 1) / 2) / max(nx, 1)
    ys = (yy - (ny - 1) / 2) / max(ny, 1)
    level = np.nanmedian(sci[good]) if good.any() else np.nan
    if not np.isfinite(level) or level <= 0:
        raise AcsFlecksError(f'cutout has no positive background (median '
                             f'{level!r} e-); not an illuminated image?')
    model = np.full(sci.shape, level)
    use = good.copy()
    fleck = np.zeros(sci.shape, bool)
    design = _design(xs, ys, order)
    cov = None
    for _ in range(maxiter):
        # significantly (sigma x ERR) and more than `threshold` below: at
        # low signal a 5 % dip alone is noise
        new_fleck = good & (sci < (1 - threshold) * model) & \
            (model - sci > sigma * err)
        if grow > 0 and new_fleck.any():
            new_fleck = ndimage.binary_dilation(new_fleck, iterations=int(grow))
        bkg = good & ~new_fleck
        if bkg.sum() < max(10, 3 * design.shape[-1]):
            raise AcsFlecksError(
                f'only {int(bkg.sum())} background pixels left in the '
                f'{nx}x{ny} cutout; use a larger box')
        # iterative clipped least squares (numpy): we need the parameter
        # covariance to propagate the model uncertainty to every pixel
        use = bkg.copy()
        for _clip in range(5):
            a = design[use]
            b = sci[use]
            if order == 0:
                coef = np.array([np.median(b)])
            else:
                coef, *_ = np.linalg.lstsq(a, b, rcond=None)
            resid = sci - design @ coef
            scatter = 1.4826 * np.median(np.abs(resid[use] - np.median(resid[use])))
            scatter = max(scatter, 1e-12)
            new_use = bkg & (np.abs(resid) < sigma * scatter)
            if np.array_equal(new_use, use):
                break
            use = new_use
        model = design @ coef
        if np.any(model[good] <= 0):
            raise AcsFlecksError('the background model is not positive in the '
                                 'cutout; not an illuminated image?')
        n = int(use.sum())
        s2 = float(np.var(resid[use], ddof=min(design.shape[-1], n - 1)))
        if order == 0:
            # error of the median: sqrt(pi/2) sigma / sqrt(n)
            cov = np.array([[np.pi / 2 * s2 / n]])
        else:
            a = design[use]
            cov = s2 * np.linalg.inv(a.T @ a)
        if np.array_equal(new_fleck, fleck):
            break
        fleck = new_fleck
    if order == 0:
        model_var = np.full(sci.shape, cov[0, 0])
    else:
        model_var = np.einsum('...i,ij,...j->...', design, cov, design)
    norm = sci / model
    norm_err = err / model
    rel = np.sqrt(np.clip(model_var, 0, None)) / model
    # scatter of the normalized background beyond ERR: PRNU, flat structure
    resid_n = norm[use] - 1.0
    var_tot = float(np.var(resid_n))
    var_err = float(np.mean(norm_err[use] ** 2))
    excess = float(np.sqrt(max(var_tot - var_err, 0.0)))
    log.debug('background %s: %d pixels, level %.1f, rel err %.2g, excess %.3g',
              method, int(use.sum()), float(np.median(model)), float(rel.mean()),
              excess)
    return Normalization(image=norm, err=norm_err, background=model,
                         background_rel_err=rel, background_mask=use,
                         excess_scatter=excess, method=method)


def cutout_header(ccdchip, origin):
    """
    FITS header of a cutout product: ``CCDCHIP`` and ``LTV1``/``LTV2``.

    The LTV keywords follow the ACS (IRAF) convention, chip = image - LTV,
    so DS9 and `acs_flecks.coords.image_to_chip` give chip pixels.

    Parameters
    ----------
    ccdchip : int
        1 (WFC1) or 2 (WFC2).
    origin : tuple of int
        1-indexed chip (x, y) of the cutout's [0, 0] pixel.

    Returns
    -------
    `~astropy.io.fits.Header`
    """
    h = fits.Header()
    h['CCDCHIP'] = (int(ccdchip), 'chip (1 = WFC1, 2 = WFC2)')
    h['LTV1'] = (-(origin[0] - 1), 'chip x = image x - LTV1')
    h['LTV2'] = (-(origin[1] - 1), 'chip y = image y - LTV2')
    return h


def output_prefix(fleck_id, ccdchip, x, y):
    """File prefix of a fleck's products: its id, else ``WFC2_1521_1773``."""
    if fleck_id:
        return str(fleck_id)
    return f'WFC{int(ccdchip)}_{int(round(x))}_{int(round(y))}'
