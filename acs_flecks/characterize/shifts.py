"""
Sub-pixel shift of a fleck's shadow between two images (report §4, §6.2).

The report saw "some structure" in EPER ratio images by eye; here the shift
is measured.  `measure_shift` fits ``image(x) = scale * reference(x - d)``
(cubic-spline interpolation of the reference, `scipy.ndimage.shift`) by
weighted least squares (`scipy.optimize.least_squares`), started from the
integer peak of the cross-correlation, and returns the shift with the
1-sigma uncertainty from the fit covariance (scaled by the reduced
chi-square when it exceeds 1).  Both images are *blocking* images
(1 - normalized flux), so the background is 0 and only the fleck carries
signal.

Two effects make a naive fit of noisy, textured images over-confident:

* **interpolating the noisy reference** lowers its noise variance at a
  fractional shift (by ~40% at half a pixel for a cubic spline), so a
  plain chi-square prefers fractional shifts when noise dominates (a faint
  EPER pair registered 0.4 px off a true zero shift).  The reference's
  error is therefore scaled by the exact variance factor of the
  interpolation kernel at the trial shift (`interpolation_variance`).
* a **static texture** (pixel response, identical in both images) does not
  move with the fleck: it pulls a direct registration towards zero shift,
  and it is common to every pair of images, so averaging pairs does not
  reduce it.  With ``static_texture`` (fractional rms) and ``static_flux``
  (the normalized flux it multiplies) the residual variance gets the
  texture term ``(sigma_p F)**2 c(d)``, where ``c(d)`` is the variance of
  ``p(x) - p(x - d)`` for a white texture (`texture_variance`, zero at
  d = 0), and the shift error carries the texture part separately
  (``dx_err_static``), which `weighted_mean_shift` treats as fully
  correlated between pairs.
"""

from functools import lru_cache

from dataclasses import dataclass

import numpy as np
from photutils.centroids import centroid_com
from scipy import ndimage, optimize, signal

from ..exceptions import AcsFlecksError

__all__ = ['ShiftResult', 'measure_shift', 'centroid_offset',
           'weighted_mean_shift', 'transform_image', 'interpolation_variance',
           'texture_variance']


@lru_cache(maxsize=1)
def _kernel_factors():
    """(f grid, v(f), c(f)) of the order-3 spline shift of a 1-D white
    series: v = var(shifted) / var, c = var(x - shifted) / var.  Computed
    once by applying `scipy.ndimage.shift` to unit impulses (exact: the
    shifted value is a linear combination of the inputs)."""
    n = 64
    grid = np.linspace(0.0, 1.0, 101)
    v, c = [], []
    for f in grid:
        # row i of the shifted identity: the spline weights of a shift by f
        w = ndimage.shift(np.eye(n), (0, f), order=3, mode='wrap')[n // 2]
        v.append(float(np.sum(w ** 2)))
        d = -w.copy()
        d[n // 2] += 1.0
        c.append(float(np.sum(d ** 2)))
    return grid, np.array(v), np.array(c)


def _factor(table, shift):
    grid, v, c = _kernel_factors()
    # v is periodic and even; c (|d| < 1 here) is even
    f = np.mod(abs(float(shift)), 1.0) if table == 'v' else min(abs(float(shift)), 1.0)
    return float(np.interp(f, grid, v if table == 'v' else c))


def interpolation_variance(dx, dy):
    """Variance factor of white noise shifted by (dx, dy) with the
    separable cubic spline of `scipy.ndimage` (1 at integer shifts)."""
    return _factor('v', dx) * _factor('v', dy)


def texture_variance(dx, dy):
    """Variance factor of ``p(x) - p(x - d)`` for a white texture ``p`` of
    unit variance, shifted with the cubic spline (0 at d = 0, ~2 for a
    shift of a pixel or more)."""
    if abs(dx) >= 1 or abs(dy) >= 1:
        return 1.0 + interpolation_variance(dx, dy)
    # separable 2-D kernel: 1 + sum w^2 - 2 w_0 with w = wx (x) wy
    vx, vy = _factor('v', dx), _factor('v', dy)
    w0x = (1 + vx - _factor('c', dx)) / 2
    w0y = (1 + vy - _factor('c', dy)) / 2
    return float(1 + vx * vy - 2 * w0x * w0y)


@dataclass
class ShiftResult:
    """
    A measured shift ``image = scale * reference(x - (dx, dy))``.

    Attributes
    ----------
    dx, dy : float
        Shift in pixels (+x = columns, +y = rows).
    dx_err, dy_err : float
        1-sigma uncertainties.
    scale, scale_err : float
        Amplitude ratio.
    chi2_reduced : float
    npix : int
        Pixels used.
    matrix : `~numpy.ndarray`
        2x2 linear part ((row, col) order) of an affine fit; identity for a
        pure shift.
    used : `~numpy.ndarray` of bool
        Pixels used in the final fit (after clipping).
    converged : bool
        False when the least-squares fit did not converge: it stopped on
        its evaluation limit, or it returned its starting point because the
        residuals do not depend on the shift (no fleck signal in the
        pixels used, a flat Jacobian); the shift is then not a measurement.
    message : str
        Why it did not converge ('' otherwise).
    dx_err_static, dy_err_static : float
        The part of ``dx_err``/``dy_err`` due to the static texture (common
        to every pair of images with the same texture); 0 without one.
    """

    dx: float
    dy: float
    dx_err: float
    dy_err: float
    scale: float
    scale_err: float
    chi2_reduced: float
    npix: int
    matrix: np.ndarray = None
    used: np.ndarray = None
    center: tuple = None
    converged: bool = True
    message: str = ''
    dx_err_static: float = 0.0
    dy_err_static: float = 0.0

    @property
    def stretch(self):
        """Area ratio (determinant of ``matrix``)."""
        return float(np.linalg.det(self.matrix)) if self.matrix is not None else 1.0


def _weight_mask(reference, image, fit_mask, pad):
    if fit_mask is not None:
        return np.asarray(fit_mask, bool)
    # pixels near the fleck in either image carry the information
    thr = 0.5 * max(np.nanmax(reference), np.nanmax(image)) * 0.1
    core = (reference > thr) | (image > thr)
    return ndimage.binary_dilation(core, iterations=pad)


def measure_shift(reference, image, *, reference_err=None, image_err=None,
                  fit_mask=None, good=None, pad=3, max_shift=5.0, clip=5.0,
                  clip_iter=2, affine=False, static_texture=0.0,
                  static_flux=None):
    """
    Fit the shift of ``image`` relative to ``reference``.

    Parameters
    ----------
    reference, image : `~numpy.ndarray`
        Blocking images of the same shape (background ~0).
    reference_err, image_err : `~numpy.ndarray`, optional
        1-sigma errors (default: the robust scatter of the outer pixels).
    fit_mask : `~numpy.ndarray` of bool, optional
        Pixels used in the fit (default: pixels within ``pad`` of where
        either image blocks more than 10 % of its peak).
    good : `~numpy.ndarray` of bool, optional
        Usable pixels in both images.
    pad : int
        Growth of the default fit mask.
    max_shift : float
        Largest shift (pixels) searched.
    clip : float or None
        Pixels whose normalized residual exceeds this are dropped and the
        fit repeated (up to ``clip_iter`` times); `None` disables.
    clip_iter : int
    affine : bool
        If `True` the reference is also allowed a linear distortion (stretch,
        shear, rotation) about its blocking-weighted centroid, so the shift
        of a shadow that changes shape (LED vs lamp light path) is that of
        its centre; the 2x2 matrix is returned in ``matrix``.
    static_texture : float or `~numpy.ndarray`, optional
        Fractional rms (per pixel or one value) of a texture common to both
        images (pixel response
        in lamp images, from the background scatter beyond ERR).  Its
        residual after a shift d, ``static_texture * static_flux *
        sqrt(texture_variance(d))``, enters the residual variance and the
        texture part of the error is returned in ``dx_err_static``.
    static_flux : `~numpy.ndarray`, optional
        The normalized flux the texture multiplies (default ``1 -
        image``).

    Returns
    -------
    ShiftResult
    """
    ref = np.asarray(reference, dtype=float)
    img = np.asarray(image, dtype=float)
    if ref.shape != img.shape:
        raise AcsFlecksError(f'images to compare have different shapes '
                             f'{ref.shape} and {img.shape}')
    if good is None:
        good = np.isfinite(ref) & np.isfinite(img)
    ref0 = np.where(good, ref, 0.0)
    img0 = np.where(good, img, 0.0)

    def _noise(a):
        v = a[good]
        return 1.4826 * np.median(np.abs(v - np.median(v))) or 1e-3
    if reference_err is None:
        reference_err = np.full(ref.shape, _noise(ref0))
    if image_err is None:
        image_err = np.full(ref.shape, _noise(img0))
    # unusable pixels get a huge (finite: they are interpolated) error
    reference_err = np.asarray(reference_err, float)
    image_err = np.asarray(image_err, float)
    big = 1e6 * max(np.nanmax(np.where(np.isfinite(reference_err), reference_err, 0)),
                    np.nanmax(np.where(np.isfinite(image_err), image_err, 0)), 1e-6)
    good = good & np.isfinite(reference_err) & np.isfinite(image_err)
    reference_err = np.where(np.isfinite(reference_err), reference_err, big)
    image_err = np.where(np.isfinite(image_err), image_err, big)
    # integer start from the cross-correlation peak
    cc = signal.correlate(img0, ref0, mode='same', method='fft')
    cy, cx = np.unravel_index(np.argmax(cc), cc.shape)
    dy0 = cy - ref.shape[0] // 2
    dx0 = cx - ref.shape[1] // 2
    if abs(dx0) > max_shift or abs(dy0) > max_shift:
        dx0 = dy0 = 0
    s0 = (np.sum(img0 * ref0) / np.sum(ref0 * ref0)) if np.any(ref0) else 1.0
    use = _weight_mask(ref0, img0, fit_mask, pad) & good
    if use.sum() < 5:
        raise AcsFlecksError('no fleck signal to measure a shift on')

    npar = 7 if affine else 3
    if affine:
        # transform about the reference's blocking-weighted centroid
        w = np.clip(ref0, 0, None) * use
        cen = np.array([np.sum(w * np.arange(ref.shape[0])[:, None]),
                        np.sum(w * np.arange(ref.shape[1])[None, :])]) / max(w.sum(), 1e-12)

    def _geometry(p):
        """(matrix, offset) for ndimage.affine_transform: output pixel o
        samples the reference at matrix @ o + offset ((row, col) order)."""
        dx, dy = p[0], p[1]
        d = np.array([dy, dx])
        if not affine:
            return np.eye(2), -d
        m = np.eye(2) + np.array([[p[3], p[4]], [p[5], p[6]]])
        minv = np.linalg.inv(m)
        return minv, cen - minv @ (cen + d)

    def model(p):
        mat, off = _geometry(p)
        return p[2] * ndimage.affine_transform(ref0, mat, offset=off, order=3,
                                               mode='constant', cval=0.0)

    sp = np.nan_to_num(np.asarray(static_texture if static_texture is not None
                                  else 0.0, float))
    if np.any(sp < 0):
        raise AcsFlecksError('static_texture must be >= 0')
    has_tex = bool(np.any(sp > 0))
    flux = (np.clip(1.0 - img0, 0.0, None) if static_flux is None
            else np.nan_to_num(np.asarray(static_flux, float)))

    def _variances(p):
        mat, off = _geometry(p)
        shifted_err = ndimage.affine_transform(reference_err, mat, offset=off,
                                               order=1, mode='nearest')
        # noise of the interpolated reference is reduced by the kernel
        var_ref = (p[2] * shifted_err) ** 2 * interpolation_variance(p[0], p[1])
        var_tex = ((sp * flux) ** 2 * texture_variance(p[0], p[1])
                   if has_tex else 0.0)
        return image_err ** 2 + var_ref + var_tex, var_tex

    def resid(p):
        var, _ = _variances(p)
        return ((img0 - model(p)) / np.sqrt(var))[use]

    p0 = [dx0, dy0, s0 if np.isfinite(s0) and s0 > 0 else 1.0] + [0.0] * (npar - 3)
    lo = [-max_shift, -max_shift, 0.0] + [-0.5] * (npar - 3)
    hi = [max_shift, max_shift, np.inf] + [0.5] * (npar - 3)
    p_start = np.array(p0, dtype=float)
    for _ in range(clip_iter + 1):
        fit = optimize.least_squares(resid, x0=p0, bounds=(lo, hi),
                                     x_scale=[0.1, 0.1, 0.01] + [0.01] * (npar - 3),
                                     diff_step=1e-3)
        p0 = fit.x
        if not clip:
            break
        # drop pixels the model cannot describe (a shadow trail, a hot
        # pixel): |residual| > clip sigma, then refit
        full = np.zeros(use.shape)
        full[use] = fit.fun
        keep = use & (np.abs(full) <= clip)
        if np.array_equal(keep, use) or keep.sum() < 5:
            break
        use = keep
    dof = max(int(use.sum()) - npar, 1)
    chi2r = float(np.sum(fit.fun ** 2) / dof)
    jac = fit.jac
    errs_static = np.zeros(npar)
    try:
        cov0 = np.linalg.inv(jac.T @ jac)
        cov = cov0 * max(chi2r, 1.0)
        errs = np.sqrt(np.diag(cov))
        if has_tex:
            # texture part: sandwich with the texture share of each
            # residual's variance (jac rows are already divided by sigma)
            var, var_tex = _variances(fit.x)
            share = (var_tex / var)[use]
            cov_s = cov0 @ (jac.T * share) @ jac @ cov0
            errs_static = np.sqrt(np.clip(np.diag(cov_s), 0, None))
            errs_static = np.minimum(errs_static, errs)
    except np.linalg.LinAlgError:
        errs = np.full(npar, np.nan)
    converged, message = _converged(fit, p_start)
    dx, dy, sc = fit.x[:3]
    lin = (np.eye(2) + fit.x[3:].reshape(2, 2)) if affine else np.eye(2)
    return ShiftResult(dx=float(dx), dy=float(dy), dx_err=float(errs[0]),
                       dy_err=float(errs[1]), scale=float(sc),
                       scale_err=float(errs[2]), chi2_reduced=chi2r,
                       npix=int(use.sum()), matrix=lin,
                       used=use.copy(),
                       center=tuple(cen) if affine else None,
                       converged=converged, message=message,
                       dx_err_static=float(errs_static[0]),
                       dy_err_static=float(errs_static[1]))


def _converged(fit, p_start):
    """(converged, reason) of a `scipy.optimize.least_squares` result."""
    if not fit.success or fit.status <= 0:
        return False, f'fit did not converge ({fit.message})'
    jac = np.asarray(fit.jac)[:, :2]
    scale = np.sqrt(np.sum(np.asarray(fit.jac) ** 2))
    if not np.all(np.isfinite(jac)) or \
            np.sqrt(np.sum(jac ** 2)) <= 1e-8 * max(scale, 1e-300):
        return False, ('fit did not converge: the residuals do not depend on '
                       'the shift (no signal)')
    # A noisy fit whose 1-sigma is ~0.01 px lands within 1e-6 px of its
    # integer start on both axes with a probability of ~1e-8: such a result
    # is the start returned (e.g. stopped on ftol at the cusp the
    # shift-dependent variances make at integer shifts), not a measurement.
    moved = np.abs(np.asarray(fit.x[:2]) - p_start[:2])
    if np.all(moved < 1e-6):
        return False, ('fit did not converge: it returned its starting point '
                       f'(dx = {fit.x[0]:.2g}, dy = {fit.x[1]:.2g} px)')
    return True, ''


def transform_image(reference, result):
    """
    The model of `measure_shift`: ``scale * reference`` moved by the fitted
    shift (and linear distortion), on the same pixel grid.
    """
    ref = np.nan_to_num(np.asarray(reference, float))
    d = np.array([result.dy, result.dx])
    if result.center is None or result.matrix is None:
        mat, off = np.eye(2), -d
    else:
        cen = np.asarray(result.center)
        mat = np.linalg.inv(result.matrix)
        off = cen - mat @ (cen + d)
    return result.scale * ndimage.affine_transform(ref, mat, offset=off, order=3,
                                                   mode='constant', cval=0.0)


def centroid_offset(reference, image, reference_mask, image_mask):
    """
    Offset (dx, dy) between the blocking-weighted centroids of two apertures
    (`photutils.centroids.centroid_com`), image minus reference, pixels.
    """
    def com(a, m):
        w = np.where(m & np.isfinite(a), np.clip(a, 0, None), 0.0)
        if not w.any():
            return np.array([np.nan, np.nan])
        return np.asarray(centroid_com(w))
    c1 = com(np.asarray(reference, float), np.asarray(reference_mask, bool))
    c2 = com(np.asarray(image, float), np.asarray(image_mask, bool))
    return float(c2[0] - c1[0]), float(c2[1] - c1[1])


def weighted_mean_shift(results):
    """
    Inverse-variance weighted mean of several `ShiftResult` (fits that did
    not converge are left out).

    The independent part of each error averages down; the static-texture
    part (``dx_err_static``, the same texture in every pair) is fully
    correlated between the results and does not:
    ``err**2 = sum(w_i**2 (s_i**2 - t_i**2)) / W**2 + (sum(w_i t_i) / W)**2``
    with ``w_i = 1 / s_i**2`` and ``W = sum(w_i)``.  With three or more
    results whose scatter exceeds their errors (reduced chi-square of the
    values about the mean above 1) the error is scaled by the square root
    of that chi-square (the Particle Data Group's scale factor): pairs at
    different levels see the same fleck, so a larger scatter means the
    per-pair errors are too small.

    Returns
    -------
    dx, dx_err, dy, dy_err : float
    """
    res = [r for r in results if getattr(r, 'converged', True)
           and np.isfinite(r.dx_err) and r.dx_err > 0
           and np.isfinite(r.dy_err) and r.dy_err > 0]
    if not res:
        return (np.nan,) * 4
    out = []
    for v, e in (('dx', 'dx_err'), ('dy', 'dy_err')):
        s = np.array([getattr(r, e) for r in res])
        t = np.array([min(getattr(r, f'{e}_static', 0.0) or 0.0, se)
                      for r, se in zip(res, s)])
        w = 1 / s ** 2
        x = np.array([getattr(r, v) for r in res])
        W = np.sum(w)
        var = np.sum(w ** 2 * (s ** 2 - t ** 2)) / W ** 2 + (np.sum(w * t) / W) ** 2
        mean = float(np.sum(w * x) / W)
        if len(res) >= 3:
            chi2 = float(np.sum(w * (x - mean) ** 2) / (len(res) - 1))
            var *= max(chi2, 1.0)
        out += [mean, float(np.sqrt(var))]
    return tuple(out)
