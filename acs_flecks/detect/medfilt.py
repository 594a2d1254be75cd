"""
Exact, fast sliding median filter (the hot spot of the report's §7 search).

`median_filter` returns exactly what ``scipy.ndimage.median_filter(image,
size=size, mode='reflect')`` returns (bit for bit on finite float32 data;
``-0.0`` and ``0.0`` compare equal), 20-40 times faster per core on a
2048x4096 WFC chip (``benchmarks/bench_find.py``).

Why this is written by hand
---------------------------
scipy selects the median of every window from scratch (``O(size**2)`` per
pixel: ~20 s for a 15x15 median of a WFC chip); histogram methods (Huang
1979, Perreault & Hebert 2007; ``skimage.filters.rank.median``) are
``O(size)`` per pixel but work on small integers only, and OpenCV's
``medianBlur`` accepts float data only up to 5x5.  No installed library
provides an exact 15x15 float median in ``O(size)``.

Algorithm (exact for any finite float32 input)
----------------------------------------------
1. Every pixel gets a 14-bit code by a *monotone* quantization
   ``code = clip(floor((v - lo) / step), 0, 16383)`` with ``lo`` and
   ``step`` from robust percentiles of the chip.  A non-decreasing map
   commutes with the median of an odd number of values, so the code of the
   true median is the median of the codes.
2. Huang's sliding histogram over the codes (along each row: remove the
   leaving column, add the entering one, move the median pointer) gives the
   median bin ``m`` and the number of window values below it.
3. The value itself: each bin also keeps the sum of the order-preserving
   32-bit integer keys of the float32 values it holds (an integer sum, so
   adding and removing is exact).  When the median bin holds one value
   that sum *is* its key; when all the image's pixels in bin ``m`` have
   the same value (discrete data), the sum divided by the count is; only
   otherwise are the window values of bin ``m`` gathered and the wanted one
   selected.  The result is therefore one of
   the input values, the same one scipy selects.

Edges follow scipy's default ``mode='reflect'`` (``d c b a | a b c d |
d c b a``, numpy's ``'symmetric'``); ``mode='nearest'`` is also supported.

The kernels are compiled C (``acs_flecks/detect/_kernels.c``, built at
install time) that releases the GIL, so rows are processed by
several threads at once.

`median_brackets` does less: the median's *coarse* bin (top 6 bits of the
codes) for every pixel, by a constant-time sliding histogram of 64 bins
(Perreault & Hebert 2007), which bounds each median from below by a proven
value, and the exact value of any pixel on request (one of the few window
values of that bin).  The §7 search uses it: it needs exact values only at
its noise grid and where the bound does not rule out its threshold.

>>> import numpy as np
>>> from scipy import ndimage
>>> from acs_flecks.detect.medfilt import median_filter
>>> rng = np.random.default_rng(1)
>>> img = rng.normal(30, 3, (64, 80)).astype(np.float32)
>>> bool(np.array_equal(median_filter(img, size=15),
...                     ndimage.median_filter(img, size=15, mode='reflect')))
True
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..exceptions import AcsFlecksError
from . import _kernels

__all__ = ['median_filter', 'median_of_padded', 'fill_and_pad',
           'check_median_size', 'MEDIAN_MODES', 'median_brackets',
           'MedianBrackets', 'exact_median_at']

log = logging.getLogger(__name__)

#: Edge modes supported (scipy.ndimage names).
MEDIAN_MODES = ('reflect', 'nearest')

_NUMPY_PAD = {'reflect': 'symmetric', 'nearest': 'edge'}

#: Bins of the sliding histogram (speed only; the result is exact anyway).
_NBINS = 16384


def check_median_size(size, *, path=None):
    """
    Check a median-filter size: an odd integer >= 3.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        If ``size`` is not an odd integer >= 3.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or size < 3 or size % 2 == 0:
        raise AcsFlecksError(
            f'median size must be an odd integer >= 3, got {size!r}',
            path=path)
    return int(size)



def _c_array(a, dtype):
    """``a`` as the C-contiguous array of ``dtype`` the compiled kernels
    take (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=dtype)


def _quantizer(image):
    """(lo, 1/step) of the monotone quantization of ``image`` into
    ``_NBINS`` bins.

    Only the speed depends on this choice, never the result: the range
    spans the 1-99 percentiles of a subsample (hot pixels excluded),
    widened by 25% on each side; values outside share the end bins."""
    sample = image[::7, ::5].ravel()
    lo, hi = np.percentile(sample, [1.0, 99.0])
    span = float(hi - lo)
    if not np.isfinite(span) or span <= 0:
        span = max(abs(float(lo)), 1.0) * 1e-3
    lo = float(lo) - 0.25 * span
    span *= 1.5
    return lo, (_NBINS - 1) / span


def median_filter(image, *, size=15, mode='reflect', threads=None):
    """
    Exact sliding median of a 2-D image, as ``scipy.ndimage.median_filter``.

    Parameters
    ----------
    image : array-like, 2-D
        Finite values (float32 or anything that converts to float32
        exactly; masked pixels must be filled beforehand).
    size : int, optional
        Side of the square window, odd and >= 3 (the report uses 15).
    mode : {'reflect', 'nearest'}, optional
        Edge handling, with scipy's meaning; ``'reflect'`` (scipy's
        default) mirrors about the edge including the edge pixel.
    threads : int, optional
        Threads working on bands of rows (default: the CPUs available, at
        most 4).  The kernel releases the GIL.

    Returns
    -------
    `~numpy.ndarray` (float32)
        The filtered image, equal to
        ``scipy.ndimage.median_filter(image.astype(np.float32), size=size,
        mode=mode)``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad ``size`` or ``mode``, not 2-D, or non-finite values.
    """
    size = check_median_size(size)
    if mode not in MEDIAN_MODES:
        raise AcsFlecksError(f'median mode must be one of {MEDIAN_MODES}, '
                             f'got {mode!r}')
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise AcsFlecksError(f'median_filter needs a 2-D image, got shape '
                             f'{image.shape}')
    if not np.isfinite(image).all():
        raise AcsFlecksError('median_filter needs finite values (fill masked '
                             'pixels first)')
    half = size // 2
    padded = np.pad(image, half, mode=_NUMPY_PAD[mode])
    return median_of_padded(padded, size=size, threads=threads)


def median_of_padded(padded, *, size=15, threads=None):
    """
    The median filter of an image already padded by ``size // 2`` on each
    side (e.g. by `fill_and_pad`, which saves the copies of a separate
    fill and `numpy.pad`); same result as `median_filter` on the interior.

    Parameters
    ----------
    padded : 2-D float32 array
        Finite values, shape ``(nrow + size - 1, ncol + size - 1)``.
    size : int
    threads : int, optional

    Returns
    -------
    `~numpy.ndarray` (float32), shape ``(nrow, ncol)``
    """
    size = check_median_size(size)
    half = size // 2
    padded = _c_array(padded, np.float32)
    nrow, ncol = padded.shape[0] - 2 * half, padded.shape[1] - 2 * half
    lo, scale = _quantizer(padded[half:half + nrow, half:half + ncol])
    # each pixel as key << 16 | code, transposed (a window column's pixels
    # contiguous), and which bins hold a single distinct value
    packed = np.empty(padded.shape[::-1], np.uint64)
    kmin = np.empty(_NBINS, np.int64)
    kmax = np.empty(_NBINS, np.int64)
    _kernels.encode_keys(padded, lo, scale, _NBINS, packed, kmin, kmax)
    single = kmin == kmax
    out = np.empty((nrow, ncol), np.uint32)
    if threads is None:
        threads = min(4, len(os.sched_getaffinity(0))
                      if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    threads = max(1, min(int(threads), nrow))
    if threads == 1:
        _kernels.median_rows(packed, single, size, _NBINS, 0, nrow, out)
    else:
        # many small bands handed out dynamically: a thread slowed down by
        # other processes on a shared machine does not hold up the others
        band = max(8, min(64, nrow // (4 * threads) or 1))
        starts = range(0, nrow, band)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda a: _kernels.median_rows(
                packed, single, size, _NBINS, a, min(a + band, nrow),
                out[a:a + band]), starts))
    return out.view(np.float32)


def fill_and_pad(sci, dq, flags, level, *, size=15, mode='reflect'):
    """
    Replace masked pixels by ``level`` and pad for `median_of_padded`, in
    one pass.

    Parameters
    ----------
    sci : 2-D float32 array
    dq : 2-D uint16 array
    flags : int
        Pixels with ``dq & flags`` or non-finite values are masked.
    level : 2-D float32 array
        Values given to masked pixels.
    size : int
        Median size (the pad is ``size // 2``).
    mode : {'reflect', 'nearest'}
        Padding, scipy's meaning.

    Returns
    -------
    padded : float32 array
    mask : bool array (True: masked)
    nmask : int
    """
    if mode not in MEDIAN_MODES:
        raise AcsFlecksError(f'median mode must be one of {MEDIAN_MODES}, '
                             f'got {mode!r}')
    half = check_median_size(size) // 2
    sci = _c_array(sci, np.float32)
    nr, nc = sci.shape
    padded = np.empty((nr + 2 * half, nc + 2 * half), np.float32)
    mask = np.empty((nr, nc), np.bool_)
    n = _kernels.fill_and_pad(sci, _c_array(dq, np.uint16), int(flags),
                              _c_array(level, np.float32), half,
                              mode == 'reflect', padded, mask)
    return padded, mask, n


# --------------------------------------------------------------------------
# Bracketed median: the median's coarse bin everywhere, exact values only
# where asked (see `median_brackets`; used by the §7 search).

#: Coarse bins of `median_brackets` (6 bits of the 14-bit codes).
_COARSE_SHIFT = 8
_NCOARSE = _NBINS >> _COARSE_SHIFT


def _coarse_minimum(kmin):
    """The smallest value of each coarse bin (the bin's lower bound on the
    median) from its smallest order-preserving key, as float32 bits (the
    inverse of the key: negative floats had all bits flipped, positive
    ones the sign bit set); empty bins get +inf."""
    k = kmin.astype(np.int64)
    bits = np.where(k & 0x80000000, k & 0x7FFFFFFF,
                    ~k & 0xFFFFFFFF).astype(np.uint32)
    bits[kmin == 0xFFFFFFFF] = 0x7F800000       # +inf: never reached
    return bits


class MedianBrackets:
    """
    The median filter of an image known everywhere to within a proven
    interval, and exactly wherever asked (`median_brackets`).

    Attributes
    ----------
    size : int
    coarse : uint8 array
        Coarse bin of each pixel's median.
    below : uint8 (uint16 above 15x15) array
        Number of window values in lower coarse bins.
    lower : float32 array (64,)
        Lower bound of a median in each coarse bin (the smallest value of
        the image in that bin): ``median >= lower[coarse]``, exactly.
    """

    def __init__(self, codes, padded, size, coarse, below, lower):
        self._codes = codes
        # the padded input itself: the exact values are read from it, so
        # it must not be modified while these brackets are in use
        self._bits = padded.view(np.uint32)
        self.size = size
        self.coarse = coarse
        self.below = below
        self.lower = lower

    @property
    def shape(self):
        return self.coarse.shape

    def grid(self, step):
        """Exact medians at ``[::step, ::step]`` (float32), equal to
        ``median_filter(...)[::step, ::step]``."""
        ny, nx = self.shape
        out = np.empty(((ny + step - 1) // step, (nx + step - 1) // step),
                       np.uint32)
        _kernels.exact_grid(self._codes, self._bits, self.size, self.coarse,
                            self.below, int(step), out)
        return out.view(np.float32)

    def exact_args(self):
        """What `exact_median_at` (and the search's fused pass) needs."""
        return self._codes, self._bits, self.size, self.coarse, self.below


def exact_median_at(codes, bits, size, coarse, below, i, j, buf=None):
    """Exact median (float32) of output pixel (i, j) of `MedianBrackets`
    (arguments from `MedianBrackets.exact_args`; ``buf`` is not needed
    any more and ignored).  The fused pass of the search does the same in
    compiled code, one pixel at a time."""
    b = _kernels.exact_at(codes, bits, int(size), coarse, below, int(i),
                          int(j))
    return np.array([b], np.uint32).view(np.float32)[0]


def median_brackets(padded, *, size=15, threads=None):
    """
    Bracket the median filter of a padded image (as `median_of_padded`)
    without computing it everywhere.

    The 14-bit codes of `median_of_padded` are a monotone quantization, so
    the coarse code (the top 6 bits) of each window's median is the median
    of the window's coarse codes; a constant-time sliding histogram of 64
    bins (Perreault & Hebert 2007: 64-element vector additions per pixel)
    gives it, and the exact value of any pixel is then one of the few
    window values in that bin.  A search whose result depends on the
    filtered value only near a threshold, or at a sparse grid, asks for
    the exact value only there (`MedianBrackets.grid`,
    `exact_median_at`) and gets everything else as a proven lower bound
    (`MedianBrackets.lower`).

    Parameters
    ----------
    padded : 2-D float32 array
        Finite values, padded by ``size // 2`` (`fill_and_pad`).  It is
        kept (not copied) by the result: do not modify it while the result
        is in use.
    size : int
    threads : int, optional

    Returns
    -------
    MedianBrackets
    """
    size = check_median_size(size)
    # window counts in bytes while they fit (up to 15x15), else 16 bits
    counts = np.uint8 if size * size <= 255 else np.uint16
    half = size // 2
    padded = _c_array(padded, np.float32)
    nrow, ncol = padded.shape[0] - 2 * half, padded.shape[1] - 2 * half
    lo, scale = _quantizer(padded[half:half + nrow, half:half + ncol])
    codes = np.empty(padded.shape, np.uint8)
    kmin = np.empty(_NCOARSE, np.int64)
    _kernels.coarse_codes(padded, lo, scale, _NBINS, codes, kmin)
    coarse = np.empty((nrow, ncol), np.uint8)
    below = np.empty((nrow, ncol), counts)
    if threads is None:
        threads = min(4, len(os.sched_getaffinity(0))
                      if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    threads = max(1, min(int(threads), nrow))
    band = max(64, -(-nrow // (2 * threads)))
    starts = range(0, nrow, band)

    def work(a):
        b = min(a + band, nrow)
        _kernels.coarse_rows(codes, size, a, b, ncol, coarse[a:b],
                             below[a:b])
    if threads == 1:
        for a in starts:
            work(a)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, starts))
    lower = _coarse_minimum(kmin).view(np.float32)
    return MedianBrackets(codes, padded, size, coarse, below, lower)
