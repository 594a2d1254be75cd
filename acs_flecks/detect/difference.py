"""
New artifacts by comparison with earlier epochs: ratio image and
matched-filter search (issue #15).

The report's §7 search (`~acs_flecks.detect.find_artifacts`) looks at one
flashed dark at a time and lists every dark artifact, stable or not; with
its 15x15 median and 25-pixel minimum area it is weakest exactly where a
monitor needs it most: small, faint *new* particles (the report found its
tiny fleck by eye).  This module follows the WFC3 IR blob monitor instead:

1. **Normalize** the epoch and each reference epoch by its own smooth
   large-scale level (`~acs_flecks.detect.normalize.smooth_background`,
   128-pixel boxes): a change of the LED flash level or a tilt of its
   pattern between epochs divides out.
2. **Reference**: the pixel-wise median of the normalized preceding epochs
   (up to ``max_reference``; with one or two it is their mean).
3. **Ratio** = normalized epoch / reference.  Everything static -- the
   freckles, the flecks already there, PRNU, the LED shadows, hot pixels and
   warm columns -- cancels to 1; a particle that arrived since then is a dark
   deficit ``d = 1 - ratio``.
4. **Matched filter**: ``d`` is correlated with circular Gaussian templates of
   sigma ``kernels`` (default 1, 2 and 4 pixels: particles of a few to a few
   hundred pixels), in the weighted form
   ``S = sum(t w d) / sqrt(sum(t**2 w))`` (``t`` the template of peak 1,
   ``w`` = 1 for usable pixels, 0 for masked ones), so that masked pixels
   change neither the level nor the noise of ``S``.
5. **Threshold in noise units of the ratio image**: the per-pixel noise of
   ``d`` is the robust standard deviation (1.4826 MAD) in boxes of ``box``
   pixels (the LED illumination and hence the noise vary over the chip),
   interpolated like the background; the noise of ``S`` is that map times a
   single factor per kernel and chip (the robust std of ``S`` over the
   per-pixel noise, which absorbs noise correlations).  Pixels where the
   largest ``S / noise`` over the kernels reaches ``nsigma`` form candidates.
6. A candidate is kept if at least ``min_pixels`` of its pixels are deeper
   than ``pixel_nsigma`` times the per-pixel noise (a particle's shadow
   covers several pixels; a single deviant pixel is not a particle).  Its
   footprint is the set of pixels where the 1-pixel matched filter exceeds
   ``pixel_nsigma``, connected to the detection.

**Data quality, per flag** (`DIFFERENCE_DQ_MASK`, of the epoch *and* of each
reference -- a pixel masked in one reference is left out of that reference
only, the median takes the others):

* 8192 (ACSREJ-rejected: SCI is the sky value), 4096 (cosmic ray), 2048 /
  256 (saturation), 1024 (sink pixels -- low values that are charge traps,
  not shadows, and new ones appear between epochs), 16 / 64 (hot and warm
  pixels: their dark current differs between epochs), 32 (unstable), 512
  (bad reference pixel), 128 (bias structure), 8 (masked), 2 (fill), 1
  (Reed-Solomon): masked;
* 4 (bad detector pixel) is **kept**: it is what a new bad-pixel table gives
  the fleck pixels, so a stable flagged fleck still cancels in the ratio and a
  flagged pixel is still measured.

>>> import numpy as np
>>> from acs_flecks.detect.difference import search_ratio, DifferenceParameters
>>> rng = np.random.default_rng(1)
>>> ratio = 1 + 0.04 * rng.standard_normal((256, 256)).astype(np.float32)
>>> yy, xx = np.mgrid[:256, :256]
>>> ratio *= 1 - 0.3 * np.exp(-((xx - 100) ** 2 + (yy - 60) ** 2) / 4.0)
>>> cat = search_ratio(ratio, params=DifferenceParameters(box=64))
>>> [(round(float(x)), round(float(y))) for x, y in zip(cat['x'].value,
...                                                     cat['y'].value)]
[(101, 61)]
"""

import logging
from dataclasses import asdict, dataclass, field

import astropy.units as u
import numpy as np
from astropy.table import QTable
from scipy import ndimage

from ..coords import image_to_chip, index_to_pixel
from ..dq import DIFFERENCE_DQ_MASK
from ..exceptions import AcsFlecksError
from ..jit import njit
from ..parameters import MONITORING
from .normalize import box_statistics, expand_grid, smooth_background

__all__ = ['DIFFERENCE_DQ_MASK', 'DifferenceParameters', 'normalize_chip',
           'reference_image', 'ratio_image', 'search_ratio',
           'find_new_in_chip']

log = logging.getLogger(__name__)


#: Smallest value of the weight sum (relative to an unmasked neighbourhood)
#: at which the matched filter is still evaluated.
_MIN_WEIGHT = 0.3


@dataclass(frozen=True)
class DifferenceParameters:
    """
    Parameters of the new-artifact search (validated on creation).

    Attributes
    ----------
    nsigma : float
        Detection threshold of the matched filter, in units of its noise.
        Default 6: a chip has 8 million pixels, so a 5-sigma threshold would
        give about one noise peak per epoch; at 6 sigma the rate is ~1e-3.
    kernels : tuple of float
        Gaussian sigmas (pixels) of the matched filters.
    pixel_nsigma : float
        Per-pixel threshold (noise units) of the footprint and of
        ``min_pixels``.
    min_pixels : int
        Pixels of a candidate deeper than ``pixel_nsigma`` needed to keep it.
    box : int
        Box (pixels) of the smooth level of each epoch and of the noise map.
    min_reference : int
        Preceding epochs needed before an epoch is searched (default 1: the
        second epoch of a history is already compared with the first; the
        threshold in noise units of the ratio keeps the false-alarm rate).
    max_reference : int
        At most this many preceding epochs form the median reference.
    mask_flags : int
        DQ bits masked in the epoch and in the references.
    """

    # defaults: the monitoring stage of acs_flecks.parameters
    nsigma: float = MONITORING.defaults.difference_nsigma
    kernels: tuple = field(default=tuple(
        float(k) for k in MONITORING.defaults.difference_kernels.split(',')))
    pixel_nsigma: float = MONITORING.defaults.difference_pixel_nsigma
    min_pixels: int = MONITORING.defaults.difference_min_pixels
    box: int = MONITORING.defaults.difference_box
    min_reference: int = MONITORING.defaults.min_reference
    max_reference: int = MONITORING.defaults.max_reference
    mask_flags: int = DIFFERENCE_DQ_MASK

    def __post_init__(self):
        for name in ('nsigma', 'pixel_nsigma'):
            v = getattr(self, name)
            if isinstance(v, bool) or not np.isscalar(v) or \
                    not np.isfinite(v) or v <= 0:
                raise AcsFlecksError(f'{name} must be a positive number, got '
                                     f'{v!r}')
        try:
            kernels = tuple(float(k) for k in np.atleast_1d(self.kernels))
        except (TypeError, ValueError):
            kernels = ()
        if not kernels or not all(np.isfinite(k) and 0.3 <= k <= 20
                                  for k in kernels):
            raise AcsFlecksError('kernels must be Gaussian sigmas of 0.3 to '
                                 f'20 pixels, got {self.kernels!r}')
        object.__setattr__(self, 'kernels', tuple(sorted(set(kernels))))
        for name, lo in (('min_pixels', 1), ('box', 16), ('min_reference', 1),
                         ('max_reference', 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) \
                    or v < lo:
                raise AcsFlecksError(f'{name} must be an integer >= {lo}, got '
                                     f'{v!r}')
        if self.max_reference < self.min_reference:
            raise AcsFlecksError(
                f'max_reference ({self.max_reference}) must be >= '
                f'min_reference ({self.min_reference})')
        if isinstance(self.mask_flags, bool) or \
                not isinstance(self.mask_flags, (int, np.integer)) or \
                not 0 <= self.mask_flags < 65536:
            raise AcsFlecksError('mask_flags must be an integer 0-65535, got '
                                 f'{self.mask_flags!r}')

    def as_meta(self):
        """Plain dict (JSON-serializable) of every parameter."""
        d = asdict(self)
        d['kernels'] = [float(k) for k in self.kernels]
        return {k: (v if not isinstance(v, np.generic) else v.item())
                for k, v in d.items()}


def normalize_chip(sci, dq=None, *, box=128, mask_flags=DIFFERENCE_DQ_MASK):
    """
    A chip divided by its own smooth level, NaN where masked.

    Parameters
    ----------
    sci : 2-D array
        Flashed dark (electrons).
    dq : 2-D int array, optional
        Its DQ; pixels with ``dq & mask_flags`` become NaN.
    box : int, optional
        Box of `~acs_flecks.detect.normalize.smooth_background`.
    mask_flags : int, optional

    Returns
    -------
    `~numpy.ndarray` (float32)
    """
    sci = np.asarray(sci, dtype=np.float32)
    bad = ~np.isfinite(sci)
    if dq is not None:
        bad |= (np.asarray(dq).astype(np.uint16) & np.uint16(mask_flags)) != 0
    level = smooth_background(sci, box=box, mask=bad)
    with np.errstate(invalid='ignore', divide='ignore'):
        out = sci / level
    out[bad | ~(level > 0)] = np.nan
    return out


def reference_image(normalized):
    """
    Pixel-wise median of normalized reference epochs (NaN ignored).

    Parameters
    ----------
    normalized : list of 2-D arrays
        `normalize_chip` results of the same shape.

    Returns
    -------
    `~numpy.ndarray` (float32)
    """
    if not normalized:
        raise ValueError('at least one reference epoch is needed')
    if len(normalized) == 1:
        return np.array(normalized[0], dtype=np.float32)
    shape = np.shape(normalized[0])
    stack = np.stack([np.asarray(a, dtype=np.float32).ravel()
                      for a in normalized])
    return _nanmedian_rows(stack).reshape(shape)


@njit(nogil=True)
def _nanmedian_rows(stack):
    """Median over the first axis of a (k, n) array, NaN ignored (NaN if
    every value is NaN); k is a handful of epochs, so an insertion sort per
    pixel is far cheaper than numpy's sort or partition along an axis."""
    k, n = stack.shape
    out = np.empty(n, np.float32)
    buf = np.empty(k, np.float32)
    for j in range(n):
        m = 0
        for i in range(k):
            v = stack[i, j]
            if v == v:                      # not NaN
                p = m
                while p > 0 and buf[p - 1] > v:
                    buf[p] = buf[p - 1]
                    p -= 1
                buf[p] = v
                m += 1
        if m == 0:
            out[j] = np.nan
        elif m % 2:
            out[j] = buf[m // 2]
        else:
            out[j] = 0.5 * (buf[m // 2 - 1] + buf[m // 2])
    return out


def ratio_image(current, references):
    """
    Normalized epoch over the median of the normalized references.

    Parameters
    ----------
    current : 2-D array
        `normalize_chip` of the epoch.
    references : list of 2-D arrays
        `normalize_chip` of the preceding epochs.

    Returns
    -------
    `~numpy.ndarray` (float32)
        ~1 where nothing changed, < 1 where light is newly blocked; NaN
        where either side is masked.
    """
    ref = reference_image(references)
    with np.errstate(invalid='ignore', divide='ignore'):
        ratio = np.asarray(current, dtype=np.float32) / ref
    ratio[~(ref > 0)] = np.nan
    return ratio


def _noise_map(values, box):
    """Robust (MAD) standard deviation in boxes, 3x3-median smoothed over
    the grid, interpolated (held constant beyond the outer centres)."""
    grid = box_statistics(values, box=box, statistic='mad_std', step=2)
    good = np.isfinite(grid) & (grid > 0)
    if not good.any():
        return np.full(values.shape, np.nan, np.float32)
    if not good.all():
        idx = ndimage.distance_transform_edt(~good, return_distances=False,
                                             return_indices=True)
        grid = grid[tuple(idx)]
    if grid.size > 1:
        grid = ndimage.median_filter(grid, size=3, mode='nearest')
    return expand_grid(grid, values.shape, box=box, extrapolate=False)


def _matched(d, w, sigma):
    """``sum(t w d) / sqrt(sum(t**2 w))`` for a Gaussian template ``t`` of
    peak 1 (white noise of std s gives std s); NaN where too few pixels."""
    num = ndimage.gaussian_filter(d, sigma, mode='constant', truncate=3.5)
    den = ndimage.gaussian_filter(w, sigma / np.sqrt(2.0), mode='constant',
                                  truncate=3.5)
    # scipy's filters are normalized to sum 1: sum(t) = 2 pi s^2,
    # sum(t^2) = pi s^2
    return _combine(num, den, np.float32(2.0 * np.sqrt(np.pi) * sigma),
                    np.float32(_MIN_WEIGHT))


@njit(nogil=True)
def _combine(num, den, scale, min_weight):
    """``scale * num / sqrt(den)`` (NaN where ``den < min_weight``), in
    place in ``num`` without full-size temporaries."""
    a = num.ravel()
    b = den.ravel()
    for j in range(a.size):
        if b[j] >= min_weight:
            a[j] = scale * a[j] / np.sqrt(b[j])
        else:
            a[j] = np.nan
    return num


def _significance(ratio, params):
    """Per-pixel deficit, its noise map, and the S/N maps of each kernel."""
    ratio = np.asarray(ratio, dtype=np.float32)
    good = np.isfinite(ratio)
    d = np.where(good, np.float32(1.0) - ratio, np.float32(0.0))
    w = good.astype(np.float32)
    dn = np.where(good, d, np.float32(np.nan))
    pix_noise = _noise_map(dn, params.box)
    snr = []
    for sigma in params.kernels:
        s = _matched(d, w, sigma)
        with np.errstate(invalid='ignore', divide='ignore'):
            rel = s / pix_noise
        # one factor per kernel: the noise of S relative to the pixel noise
        # (1 for white noise; more if the noise is correlated)
        sample = rel[::4, ::4]
        sample = sample[np.isfinite(sample)]
        if sample.size < 100:
            snr.append(np.full(ratio.shape, np.nan, np.float32))
            continue
        med = np.median(sample)
        factor = 1.4826 * float(np.median(np.abs(sample - med)))
        snr.append((rel / np.float32(factor if factor > 0 else 1.0))
                   .astype(np.float32))
    return d, good, pix_noise, snr


_COLUMNS = (
    ('x', u.pix), ('y', u.pix), ('area', u.pix ** 2),
    ('bbox_xmin', u.pix), ('bbox_xmax', u.pix), ('bbox_ymin', u.pix),
    ('bbox_ymax', u.pix), ('semimajor_sigma', u.pix),
    ('semiminor_sigma', u.pix), ('ellipticity', None), ('orientation', u.deg),
    ('peak_deficit', u.percent), ('mean_deficit', u.percent),
    ('isophotal_sum', u.percent * u.pix ** 2), ('noise', u.percent),
    ('snr', None), ('kernel_sigma', u.pix), ('n_deep', None))


def _moments(rows, cols, wts):
    wsum = wts.sum()
    yc, xc = (rows * wts).sum() / wsum, (cols * wts).sum() / wsum
    if len(rows) < 2:
        return yc, xc, 0.0, 0.0, 0.0, 0.0
    dy, dx = rows - yc, cols - xc
    cxx = (wts * dx * dx).sum() / wsum
    cyy = (wts * dy * dy).sum() / wsum
    cxy = (wts * dx * dy).sum() / wsum
    tr, det = cxx + cyy, cxx * cyy - cxy ** 2
    disc = np.sqrt(max(tr * tr / 4 - det, 0.0))
    l1, l2 = tr / 2 + disc, max(tr / 2 - disc, 0.0)
    a, b = np.sqrt(l1), np.sqrt(l2)
    theta = 0.5 * np.degrees(np.arctan2(2 * cxy, cxx - cyy))
    return yc, xc, a, b, (1 - b / a) if a > 0 else 0.0, theta


def search_ratio(ratio, *, params=None, ccdchip=1, ltv=(0.0, 0.0)):
    """
    Search a ratio image for new dark deficits.

    Parameters
    ----------
    ratio : 2-D array
        `ratio_image` (NaN = masked).
    params : `DifferenceParameters`, optional
    ccdchip : int, optional
        Reported in the ``ccdchip`` column.
    ltv : tuple of float, optional
        (``LTV1``, ``LTV2``) of the image: positions are reported in the
        1-indexed full-chip frame.

    Returns
    -------
    `~astropy.table.QTable`
        One row per candidate: ``ccdchip``, ``x``, ``y`` (deficit-weighted
        centroid), ``area`` (footprint pixels), bounding box, second-moment
        shape, ``peak_deficit``, ``mean_deficit``, ``isophotal_sum`` and
        ``noise`` (per-pixel noise of the ratio) in percent, ``snr`` (peak
        matched-filter significance), ``kernel_sigma`` (its kernel),
        ``n_deep`` (pixels deeper than ``pixel_nsigma``) and ``search``
        (``'difference'``); the columns of the §7 catalogs that the history
        stores, so both searches share one detections table.
    """
    p = params or DifferenceParameters()
    d, good, pix_noise, snr = _significance(ratio, p)
    stack = np.stack(snr)
    with np.errstate(invalid='ignore'):
        best = np.nanmax(np.where(np.isfinite(stack), stack, -np.inf), axis=0)
    detect = best >= p.nsigma
    rows_out = []
    if detect.any():
        labels, n = ndimage.label(detect, structure=np.ones((3, 3), bool))
        # footprint: 1-pixel (smallest kernel) filter above pixel_nsigma
        foot = np.nan_to_num(snr[0], nan=0.0) >= p.pixel_nsigma
        flab, _ = ndimage.label(foot | detect, structure=np.ones((3, 3), bool))
        with np.errstate(invalid='ignore', divide='ignore'):
            deep = good & (d >= p.pixel_nsigma * pix_noise)
        fobjs = ndimage.find_objects(flab)       # one pass for all labels
        seen = set()
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            reg = labels[sl] == k
            sub = np.where(reg, best[sl], -np.inf)
            r, c = np.unravel_index(np.argmax(sub), sub.shape)
            r, c = r + sl[0].start, c + sl[1].start
            fl = flab[r, c]
            if fl in seen:
                continue       # same footprint as a candidate already kept
            seen.add(fl)
            fsl = fobjs[fl - 1]
            fmask = (flab[fsl] == fl) & good[fsl]
            rr, cc = np.nonzero(fmask)
            if len(rr) == 0:
                continue
            n_deep = int(np.count_nonzero(deep[fsl][fmask]))
            if n_deep < p.min_pixels:
                continue
            dv = d[fsl][fmask].astype(float)
            rr = rr + fsl[0].start
            cc = cc + fsl[1].start
            wts = np.clip(dv, 0, None)
            if wts.sum() <= 0:
                wts = np.ones_like(dv)
            yc, xc, a, b, ell, theta = _moments(rr.astype(float),
                                                cc.astype(float), wts)
            kbest = int(np.nanargmax(stack[:, r, c]))
            # 1-indexed image pixel -> full-chip frame
            xi, yi = index_to_pixel(yc, xc)
            x, y = image_to_chip(float(xi), float(yi), ltv)
            x0, y0 = image_to_chip(*map(float, index_to_pixel(rr.min(),
                                                              cc.min())), ltv)
            x1, y1 = image_to_chip(*map(float, index_to_pixel(rr.max(),
                                                              cc.max())), ltv)
            d1 = snr[0][r, c] * pix_noise[r, c]
            rows_out.append(dict(
                x=x, y=y, area=float(len(dv)), bbox_xmin=x0, bbox_xmax=x1,
                bbox_ymin=y0, bbox_ymax=y1, semimajor_sigma=a,
                semiminor_sigma=b, ellipticity=ell, orientation=theta,
                peak_deficit=100 * float(max(np.nanmax(dv), d1)),
                mean_deficit=100 * float(dv.mean()),
                isophotal_sum=100 * float(dv.sum()),
                noise=100 * float(np.nanmedian(pix_noise[rr, cc])),
                snr=float(best[r, c]), kernel_sigma=p.kernels[kbest],
                n_deep=float(n_deep)))
    table = QTable()
    table['ccdchip'] = np.full(len(rows_out), int(ccdchip), dtype=int)
    for name, unit in _COLUMNS:
        vals = np.array([r[name] for r in rows_out], dtype=float)
        table[name] = vals * unit if unit is not None else vals
    table['search'] = np.full(len(rows_out), 'difference', dtype='U16')
    order = np.lexsort((table['x'].value, table['y'].value)) if len(table) \
        else []
    table = table[order] if len(table) else table
    table.meta['difference_parameters'] = p.as_meta()
    return table


def find_new_in_chip(current, references, *, params=None):
    """
    New-artifact search of one chip against its preceding epochs.

    Parameters
    ----------
    current : `~acs_flecks.io.ChipData`
        The epoch's chip (SCI, DQ).
    references : list of `~acs_flecks.io.ChipData`
        The same chip of the preceding epochs (same shape and ``ltv``).
    params : `DifferenceParameters`, optional

    Returns
    -------
    `~astropy.table.QTable`
        See `search_ratio`; ``meta['n_reference']`` is the number of
        references used (an empty table if fewer than ``min_reference``).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        A reference of another shape or position on the chip.
    """
    p = params or DifferenceParameters()
    refs = list(references)[-p.max_reference:]
    for ref in refs:
        if ref.shape != current.shape or tuple(ref.ltv) != tuple(current.ltv):
            raise AcsFlecksError(
                f'reference chip CCDCHIP={ref.ccdchip} covers {ref.shape} at '
                f'LTV {ref.ltv}, the epoch {current.shape} at {current.ltv}; '
                'only the same pixels can be compared')
    if len(refs) < p.min_reference:
        table = search_ratio(np.ones((2 * p.box, 2 * p.box), np.float32),
                             params=p, ccdchip=current.ccdchip)[:0]
        table.meta['n_reference'] = len(refs)
        return table
    norm = [normalize_chip(c.sci, c.dq, box=p.box, mask_flags=p.mask_flags)
            for c in [current] + refs]
    ratio = ratio_image(norm[0], norm[1:])
    table = search_ratio(ratio, params=p, ccdchip=current.ccdchip,
                         ltv=current.ltv)
    table.meta['n_reference'] = len(refs)
    return table
