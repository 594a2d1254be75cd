"""
Normalization of a flashed dark to ~1, and cheap background/noise maps.

The report (§7) "subtracts the pixel values from unity" after a 15x15
median filter, which needs an image whose level is 1.  A DKC file is in
electrons, and the LED post-flash is not uniform: its illumination varies
smoothly across each chip by tens of percent.  Dividing by one number
would turn that gradient into large-scale "deficits" (false detections in
the dim corners, hidden flecks in the bright ones), so the median-filtered
image is divided by a *smooth large-scale background*:

1. the chip is cut in boxes of ``box`` x ``box`` pixels (128 by default,
   much larger than any fleck or freckle, ~40 pixels at most);
2. each box gets the median of its unmasked pixels (every 4th pixel in each
   direction: the median of ~1000 pixels is precise enough and 16 times
   cheaper);
3. boxes with no usable pixel take their nearest neighbour's value (no
   median over the grid: at its edges that biases a gradient, and a box
   median is insensitive to an artifact covering a few percent of it);
4. the grid is interpolated bilinearly back to full resolution, and
   extrapolated linearly beyond the outer box centres (a product of two
   small interpolation matrices, no per-pixel Python work).

The same box machinery gives the background and the noise of the inverted
image (median and 3-sigma-clipped standard deviation per box), a cheaper
equivalent of
photutils' `~photutils.background.Background2D` for this smooth image and
the analogue of SExtractor's background mesh.

>>> import numpy as np
>>> from acs_flecks.detect.normalize import smooth_background
>>> yy, xx = np.mgrid[:256, :512]
>>> img = (30 + 0.02 * xx).astype(np.float32)
>>> bkg = smooth_background(img, box=64)
>>> bool(np.allclose(bkg[100:150, 100:400], img[100:150, 100:400], rtol=1e-3))
True
"""

import numpy as np

from . import _kernels

__all__ = ['box_statistics', 'expand_grid', 'expand_taps',
           'smooth_background', 'background_and_noise',
           'background_noise_grids']


def box_statistics(image, *, box=128, mask=None, step=4,
                   statistic='median'):
    """
    Robust statistic of ``image`` in boxes of ``box`` x ``box`` pixels.

    Parameters
    ----------
    image : 2-D array
    box : int
        Box side in pixels.  The last row/column of boxes may be smaller.
    mask : 2-D bool array, optional
        True for pixels to ignore.
    step : int
        Use every ``step``-th pixel in each direction.
    statistic : {'median', 'mad_std', 'clipped_std'}
        ``'mad_std'`` is 1.4826 x the median absolute deviation;
        ``'clipped_std'`` the standard deviation after iterative clipping
        at 3 sigma around the median (as SExtractor's background RMS).

    Returns
    -------
    `~numpy.ndarray`
        Grid ``(ceil(ny / box), ceil(nx / box))``; NaN where a box has no
        unmasked pixel.
    """
    if statistic not in ('median', 'mad_std', 'clipped_std'):
        raise ValueError(f'unknown statistic {statistic!r}')
    blocks, med = _blocks_and_median(image, box, mask, step)
    if statistic == 'median':
        return med
    if statistic == 'mad_std':
        return 1.4826 * _sorted_nanmedian(np.abs(blocks - med[..., None]))
    return _clipped_std(blocks, med)


def _blocks_and_median(image, box, mask, step):
    """The sampled pixels of each box, ``(nby, nbx, n)`` (NaN-padded), and
    their median."""
    ny, nx = image.shape
    nby, nbx = -(-ny // box), -(-nx // box)
    if box % step:
        step = 1
    sbox = box // step
    sub = np.asarray(image, dtype=np.float32)[::step, ::step]
    if mask is not None:
        sub = np.where(mask[::step, ::step], np.float32(np.nan), sub)
    # sub-pixel s is image pixel s * step, in box s // sbox: pad with NaN
    full = np.full((nby * sbox, nbx * sbox), np.nan, np.float32)
    full[:sub.shape[0], :sub.shape[1]] = sub
    blocks = full.reshape(nby, sbox, nbx, sbox).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(nby, nbx, sbox * sbox)
    return blocks, _sorted_nanmedian(blocks)


def _clipped_std(blocks, med, *, nsigma=3.0, iters=10):
    """Standard deviation over the last axis after iterative clipping at
    ``nsigma`` around the median (NaN ignored)."""
    vals = blocks.astype(np.float64)
    finite = np.isfinite(vals)
    good = finite
    # the deviations do not change between iterations
    dev = vals - med[..., None]
    absdev = np.abs(dev)
    std = None
    for _ in range(iters):
        n = good.sum(axis=-1)
        x = np.where(good, dev, 0.0)
        with np.errstate(invalid='ignore', divide='ignore'):
            mean = x.sum(axis=-1) / n
            new = np.sqrt((x ** 2).sum(axis=-1) / n - mean ** 2)
        keep = finite & (absdev <= nsigma * new[..., None])
        if std is not None and np.array_equal(keep, good):
            break
        good, std = keep, new
    return new


def _sorted_nanmedian(blocks):
    """Median over the last axis ignoring NaN (NaN if all NaN).

    Sorting (NaN goes last) and picking the middle of the valid values is
    several times faster than `numpy.nanmedian` along an axis."""
    srt = np.sort(blocks, axis=-1)
    n = np.count_nonzero(~np.isnan(srt), axis=-1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    a = np.take_along_axis(srt, lo[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(srt, hi[..., None], axis=-1)[..., 0]
    med = 0.5 * (a.astype(np.float64) + b)
    med[n == 0] = np.nan
    return med


def _fill_and_smooth(grid):
    """Fill empty (all-masked) boxes from their nearest neighbour.

    No median over the grid: at the grid edges it biases a gradient, and a
    box median is already insensitive to an artifact covering a few
    percent of the box (the largest fleck covers ~5% of a 128-pixel box)."""
    grid = np.array(grid, dtype=np.float64)
    bad = ~np.isfinite(grid)
    if bad.all():
        return grid
    if bad.any():
        from scipy import ndimage
        idx = ndimage.distance_transform_edt(bad, return_distances=False,
                                             return_indices=True)
        grid = grid[tuple(idx)]
    return grid


def _median3_nearest(grid):
    """``scipy.ndimage.median_filter(grid, size=3, mode='nearest')`` of a
    small grid, by numpy (the median of 9 values is one of them, the same
    one): ``acs_flecks find`` then never imports scipy.ndimage (0.13 s)."""
    from numpy.lib.stride_tricks import sliding_window_view
    windows = sliding_window_view(np.pad(grid, 1, mode='edge'), (3, 3))
    return np.median(windows.reshape(grid.shape + (9,)), axis=-1)


def _interp_taps(n, box, nb, extrapolate=True):
    """Linear-interpolation taps (i0, w0, w1) from the box centres to the
    ``n`` pixel positions: value = w0 * g[i0] + w1 * g[i0 + 1].  A
    partial last box has its centre in its middle."""
    starts = np.arange(nb) * box
    stops = np.minimum(starts + box, n)
    centres = (starts + stops - 1) / 2.0
    if nb == 1:
        return (np.zeros(n, int), np.ones(n, np.float32),
                np.zeros(n, np.float32))
    # linear inside, linear extrapolation from the outer two centres
    pos = np.arange(n, dtype=float)
    if not extrapolate:
        pos = np.clip(pos, centres[0], centres[-1])
    i0 = np.clip(np.searchsorted(centres, pos, side='right') - 1, 0, nb - 2)
    w1 = (pos - centres[i0]) / (centres[i0 + 1] - centres[i0])
    return i0, (1 - w1).astype(np.float32), w1.astype(np.float32)


def expand_grid(grid, shape, *, box, extrapolate=True, out=None):
    """
    Linear interpolation of a box grid to a full image.

    Values sit at the box centres (the middle of a partial last box);
    beyond the outer centres the outermost two are extrapolated linearly
    (a gradient continues to the chip edge), or, with
    ``extrapolate=False``, the outer values are held constant.
    Separable: along x on the grid rows, then two taps along y.
    ``out``: optional float32 array of ``shape`` (may be a view) to fill.
    """
    rows, yi0, yw0, yw1 = expand_taps(grid, shape, box=box,
                                      extrapolate=extrapolate)
    if out is None:
        out = np.empty(shape, np.float32)
    return _two_tap_rows(rows, yi0, yw0, yw1, out)


def expand_taps(grid, shape, *, box, extrapolate=True):
    """The grid interpolated along x (float32 rows) and the taps along y
    (``i0, w0, w1``) of `expand_grid`: pixel ``[r, c]`` of the full image
    is ``w0[r] * rows[i0[r], c] + w1[r] * rows[i0[r] + 1, c]`` (float32),
    so a fused loop can evaluate it without the full-size image."""
    grid = np.asarray(grid, dtype=np.float64)
    nby, nbx = grid.shape
    xi0, xw0, xw1 = _interp_taps(shape[1], box, nbx, extrapolate)
    if nbx == 1:
        rows = np.repeat(grid[:, :1], shape[1], axis=1)
    else:
        rows = grid[:, xi0] * xw0 + grid[:, xi0 + 1] * xw1
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    yi0, yw0, yw1 = _interp_taps(shape[0], box, nby, extrapolate)
    if nby == 1:
        rows = np.concatenate([rows, rows])
    return rows, yi0, yw0, yw1


def _two_tap_rows(rows, i0, w0, w1, out):
    """out[r] = w0[r] * rows[i0[r]] + w1[r] * rows[i0[r] + 1] (float32) in
    one compiled pass (numpy would need several full-size temporaries);
    ``out`` may be any float32 view."""
    target = out if out.flags.c_contiguous and out.dtype == np.float32 \
        else np.empty(out.shape, np.float32)
    _kernels.two_tap_rows(np.ascontiguousarray(rows, np.float32),
                          np.ascontiguousarray(i0, np.int64),
                          np.ascontiguousarray(w0, np.float32),
                          np.ascontiguousarray(w1, np.float32), target)
    if target is not out:
        out[...] = target
    return out


def smooth_background(image, *, box=128, mask=None, dq=None, mask_flags=0):
    """
    Smooth large-scale level of an image (box medians, bilinear interpolation).

    Parameters
    ----------
    image : 2-D array
    box : int, optional
        Box side (pixels); must exceed the largest artifact by a wide
        margin.
    mask : 2-D bool array, optional
        Pixels to ignore (DQ-flagged).
    dq : 2-D int array, optional
        Alternatively, a DQ array: pixels with ``dq & mask_flags`` (or not
        finite) are ignored; only the sampled pixels are tested.
    mask_flags : int
        DQ bits to ignore with ``dq``.

    Returns
    -------
    `~numpy.ndarray` (float32)
        Same shape as ``image``; NaN everywhere if no pixel is usable.
    """
    if dq is not None and mask is None and box % 4 == 0:
        # sample first, then test the flags of the sampled pixels only
        sub = image[::4, ::4]
        sub_mask = ((dq[::4, ::4] & mask_flags) != 0) | ~np.isfinite(sub)
        grid = box_statistics(sub, box=box // 4, mask=sub_mask, step=1)
        return expand_grid(_fill_and_smooth(grid), image.shape, box=box)
    if dq is not None:
        mask = ((dq & mask_flags) != 0) | ~np.isfinite(image)
    grid = _fill_and_smooth(box_statistics(image, box=box, mask=mask))
    return expand_grid(grid, image.shape, box=box)


def background_and_noise(image, *, box=128, mask=None, step=4):
    """
    Background (median) and noise (standard deviation after iterative
    3-sigma clipping around the median, SExtractor's estimator) maps of
    the inverted image, on the same box grid as `smooth_background`.

    Every ``step``-th pixel in each direction is used.  The noise grid
    is smoothed by a 3x3 median over the boxes.

    Returns
    -------
    background, noise : `~numpy.ndarray` (float32)
    """
    bkg_grid, rms_grid = background_noise_grids(image, box=box, mask=mask,
                                                step=step)
    # held constant beyond the outer box centres: an extrapolated noise
    # could fall towards zero at the chip edges
    return (expand_grid(bkg_grid, image.shape, box=box, extrapolate=False),
            expand_grid(rms_grid, image.shape, box=box, extrapolate=False))


def background_noise_grids(image, *, box=128, mask=None, step=4):
    """
    The box grids of `background_and_noise` (filled, the noise smoothed),
    before their interpolation to full resolution (`expand_grid` with
    ``extrapolate=False``).

    ``image`` may be given already sampled: ``image[::step, ::step]``
    with ``box // step`` and ``step=1`` gives the same grids (when
    ``box % step == 0``).

    Returns
    -------
    bkg_grid, rms_grid : `~numpy.ndarray` (float64)
    """
    # the boxes are sorted once for both statistics
    blocks, med = _blocks_and_median(image, box, mask, step)
    rms = _clipped_std(blocks, med)
    bkg_grid = _fill_and_smooth(med)
    # the noise varies only with the illumination: a 3x3 median over the
    # grid (as SExtractor's BACK_FILTERSIZE 3) steadies boxes with few
    # independent samples (partial boxes of sub-arrays, large artifacts)
    rms_grid = _fill_and_smooth(rms)
    if rms_grid.size > 1 and np.isfinite(rms_grid).all():
        rms_grid = _median3_nearest(rms_grid)
    return bkg_grid, rms_grid
