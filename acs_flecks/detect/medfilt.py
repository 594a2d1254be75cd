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

The kernel is compiled with numba (``nogil``), so rows are processed by
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
from ..jit import njit

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


@njit(nogil=True)
def _float_key(b):
    """Order-preserving 32-bit integer key of float32 bits ``b``: negative
    floats have all bits flipped, positive ones the sign bit set."""
    b = np.int64(b)
    if b & 0x80000000:
        return (~b) & 0xFFFFFFFF
    return b | 0x80000000


@njit(nogil=True)
def _key_bits(key):
    """float32 bits of a `_float_key`."""
    if key & 0x80000000:
        return np.uint32(key & 0x7FFFFFFF)
    return np.uint32((~key) & 0xFFFFFFFF)


@njit(nogil=True)
def _code(v, lo, scale, top):
    """The monotone bin code of value ``v``: ``clip(floor((v - lo) *
    scale), 0, top)`` (non-decreasing in ``v``, so it commutes with the
    median)."""
    x = (np.float64(v) - lo) * scale
    if x <= 0.0:
        return 0
    if x >= top:
        return top
    return int(x)


@njit(nogil=True)
def _median_rows(packed, single, size, nbins, row0, row1, out):
    """Huang sliding median on output rows [row0, row1).

    ``packed`` is the *transposed* padded image (``[column, row]``, so
    that the ``size`` pixels of one window column are contiguous), each
    pixel as ``key << 16 | code`` (32-bit order-preserving key of the
    float, bin code < 2**16).  Each histogram bin holds ``count << 48 |
    sum of keys`` (225 keys < 2**40), so adding or removing a pixel is one
    integer addition.  Bins are also counted in blocks of 16: the median
    pointer moves over blocks (``belowb`` = values in the blocks below
    ``mb``), then the bin is found by a short scan inside the block.
    """
    kth = (size * size) // 2          # 0-based index of the median
    ncol = out.shape[1]
    one = np.int64(1) << 48
    low = one - 1
    hist = np.zeros(nbins, np.int64)
    blk = np.zeros(nbins // 16 + 1, np.int64)
    buf = np.empty(size * size, np.int64)
    mb = 0
    for i in range(row0, row1):
        for c in range(size):
            for r in range(i, i + size):
                v = np.int64(packed[c, r])
                q = v & 0xFFFF
                hist[q] += one + (v >> 16)
                blk[q >> 4] += 1
        belowb = 0
        for c in range(size):
            for r in range(i, i + size):
                belowb += ((np.int64(packed[c, r]) & 0xFFFF) >> 4) < mb
        for j in range(ncol):
            if j > 0:
                cout = j - 1
                cin = j + size - 1
                for r in range(i, i + size):
                    v = np.int64(packed[cout, r])
                    q = v & 0xFFFF
                    hist[q] -= one + (v >> 16)
                    blk[q >> 4] -= 1
                    belowb -= (q >> 4) < mb
                    v = np.int64(packed[cin, r])
                    q = v & 0xFFFF
                    hist[q] += one + (v >> 16)
                    blk[q >> 4] += 1
                    belowb += (q >> 4) < mb
            # the block holding the median: belowb <= kth < belowb + blk[mb]
            while belowb > kth:
                mb -= 1
                belowb -= blk[mb]
            while belowb + blk[mb] <= kth:
                belowb += blk[mb]
                mb += 1
            # the bin inside the block
            below = belowb
            m = mb << 4
            while below + (hist[m] >> 48) <= kth:
                below += hist[m] >> 48
                m += 1
            n = hist[m] >> 48
            if n == 1:
                key = hist[m] & low
            elif single[m]:
                # every pixel of the image in this bin has the same value
                key = (hist[m] & low) // n
            else:
                t = kth - below
                k = 0
                for c in range(j, j + size):
                    for r in range(i, i + size):
                        v = np.int64(packed[c, r])
                        if (v & 0xFFFF) == m:
                            buf[k] = v >> 16
                            k += 1
                # insertion sort of the few values of bin m (no allocation)
                for a in range(1, k):
                    v = buf[a]
                    b = a - 1
                    while b >= 0 and buf[b] > v:
                        buf[b + 1] = buf[b]
                        b -= 1
                    buf[b + 1] = v
                key = buf[t]
            out[i - row0, j] = _key_bits(key)
        # empty the histogram for the next row
        for c in range(ncol - 1, ncol - 1 + size):
            for r in range(i, i + size):
                v = np.int64(packed[c, r])
                q = v & 0xFFFF
                hist[q] -= one + (v >> 16)
                blk[q >> 4] -= 1
    return out


@njit(nogil=True)
def _encode_keys(padded, bits, lo, scale, nbins):
    """Transposed ``key << 16 | code`` of the padded image (codes < 2**16,
    32-bit order-preserving keys), and the smallest and largest key of each
    bin.

    ``bits`` is ``padded.view(np.uint32)``.  Keys: negative floats have all
    bits flipped, positive ones the sign bit set, so that integer order is
    float order.  Codes: ``clip(floor((v - lo) * scale), 0, nbins - 1)``,
    non-decreasing in ``v``.
    """
    nr, nc = padded.shape
    packed = np.empty((nc, nr), np.uint64)
    kmin = np.full(nbins, 0xFFFFFFFF, np.int64)
    kmax = np.full(nbins, -1, np.int64)
    top = nbins - 1
    # blocks of 64 rows: contiguous writes of the transposed array while
    # the rows being read stay in cache
    for r0 in range(0, nr, 64):
        r1 = min(r0 + 64, nr)
        for c in range(nc):
            for r in range(r0, r1):
                q = _code(padded[r, c], lo, scale, top)
                k = _float_key(bits[r, c])
                packed[c, r] = (np.uint64(k) << np.uint64(16)) | np.uint64(q)
                if k < kmin[q]:
                    kmin[q] = k
                if k > kmax[q]:
                    kmax[q] = k
    return packed, kmin, kmax


@njit(nogil=True)
def _encode(padded, bits, lo, scale, nbins):
    """Transposed ``key << 16 | code`` of the padded image and which bins
    hold a single distinct value (see `_encode_keys`)."""
    packed, kmin, kmax = _encode_keys(padded, bits, lo, scale, nbins)
    return packed, kmin == kmax


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
    nrow, ncol = padded.shape[0] - 2 * half, padded.shape[1] - 2 * half
    lo, scale = _quantizer(padded[half:half + nrow, half:half + ncol])
    packed, single = _encode(padded, padded.view(np.uint32), lo, scale,
                             _NBINS)
    out = np.empty((nrow, ncol), np.uint32)
    if threads is None:
        threads = min(4, len(os.sched_getaffinity(0))
                      if hasattr(os, 'sched_getaffinity') else os.cpu_count())
    threads = max(1, min(int(threads), nrow))
    if threads == 1:
        _median_rows(packed, single, size, _NBINS, 0, nrow, out)
    else:
        # many small bands handed out dynamically: a thread slowed down by
        # other processes on a shared machine does not hold up the others
        band = max(8, min(64, nrow // (4 * threads) or 1))
        starts = range(0, nrow, band)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda a: _median_rows(
                packed, single, size, _NBINS, a, min(a + band, nrow),
                out[a:a + band]), starts))
    return out.view(np.float32)


@njit(nogil=True)
def _source_index(i, n, reflect):
    """Index of the pixel that padding puts at (possibly outside) index
    ``i`` of an axis of length ``n``: numpy's 'symmetric' (scipy's
    'reflect', repeated for pads longer than the axis) or 'edge'."""
    if not reflect:
        return min(max(i, 0), n - 1)
    while i < 0 or i >= n:
        if i < 0:
            i = -i - 1
        else:
            i = 2 * n - i - 1
    return i


@njit(nogil=True)
def _fill_and_pad(sci, dq, flags, level, half, reflect, padded, mask):
    nr, nc = sci.shape
    n = 0
    for r in range(nr):
        for c in range(nc):
            v = sci[r, c]
            bad = (dq[r, c] & flags) != 0 or not np.isfinite(v)
            mask[r, c] = bad
            if bad:
                padded[r + half, c + half] = level[r, c]
                n += 1
            else:
                padded[r + half, c + half] = v
    # borders: copies of interior pixels
    for p in range(nr + 2 * half):
        sr = _source_index(p - half, nr, reflect) + half
        inner = half <= p < half + nr
        for q in range(nc + 2 * half):
            if inner and half <= q < half + nc:
                continue
            padded[p, q] = padded[sr, _source_index(q - half, nc, reflect)
                                  + half]
    return padded, mask, n


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
    nr, nc = sci.shape
    # the big outputs are allocated by numpy, which asks for transparent
    # huge pages (numba's allocator does not: 16x more page faults)
    padded = np.empty((nr + 2 * half, nc + 2 * half), np.float32)
    mask = np.empty((nr, nc), np.bool_)
    return _fill_and_pad(sci, dq, np.uint16(flags), level, half,
                         mode == 'reflect', padded, mask)


# --------------------------------------------------------------------------
# Bracketed median: the median's coarse bin everywhere, exact values only
# where asked (see `median_brackets`; used by the §7 search).

#: Coarse bins of `median_brackets` (6 bits of the 14-bit codes).
_COARSE_SHIFT = 8
_NCOARSE = _NBINS >> _COARSE_SHIFT


@njit(nogil=True)
def _coarse_codes(padded, bits, lo, scale, nbins, codes):
    """The coarse code (``code >> 8`` of the 14-bit monotone code of
    `_encode_keys`, one byte) of every pixel of the padded image, in its
    own layout (into ``codes``), and the smallest key of each coarse bin."""
    nr, nc = padded.shape
    kmin = np.full(_NCOARSE, 0xFFFFFFFF, np.int64)
    top = nbins - 1
    for r in range(nr):
        for c in range(nc):
            m = _code(padded[r, c], lo, scale, top) >> _COARSE_SHIFT
            codes[r, c] = m
            k = _float_key(bits[r, c])
            if k < kmin[m]:
                kmin[m] = k
    return codes, kmin


@njit(nogil=True)
def _coarse_rows(codes, size, row0, row1, ncol, coarse, below):
    """Perreault & Hebert sliding histogram of the coarse codes (64 bins)
    for output rows [row0, row1): the coarse bin of each window's median
    and the number of window values in lower bins.

    Counts have the type of ``below``: bytes up to 15x15 (a window holds
    at most 225 values), so the 64-bin vector additions compile to a few
    SIMD instructions; the median bin is followed along the row as in
    Huang's method: the count below it is updated with the entering and
    leaving columns' counts below it, then the bin moves by the few steps
    the median moved."""
    nb = _NCOARSE
    kth = (size * size) // 2
    ncolp = codes.shape[1]
    colh = np.zeros((ncolp, nb), below.dtype)
    kern = np.zeros(nb, below.dtype)
    lanes = np.arange(nb)
    for r in range(row0, row0 + size):
        for c in range(ncolp):
            colh[c, codes[r, c]] += 1
    for i in range(row0, row1):
        if i > row0:
            for c in range(ncolp):
                colh[c, codes[i - 1, c]] -= 1
                colh[c, codes[i + size - 1, c]] += 1
        for b in range(nb):
            kern[b] = 0
        for c in range(size):
            for b in range(nb):
                kern[b] += colh[c, b]
        m = 0
        acc = 0
        for j in range(ncol):
            if j > 0:
                cin = j + size - 1
                cout = j - 1
                d = 0
                for b in range(nb):
                    kern[b] += colh[cin, b] - colh[cout, b]
                    d += (np.int32(colh[cin, b]) - np.int32(colh[cout, b])) \
                        * (lanes[b] < m)
                acc += d
            while acc > kth:
                m -= 1
                acc -= kern[m]
            while acc + kern[m] <= kth:
                acc += kern[m]
                m += 1
            coarse[i - row0, j] = m
            below[i - row0, j] = acc


@njit(nogil=True)
def _exact_at(codes, bits, size, i, j, m, below, buf):
    """The exact median (float32 bits) of the window of output pixel
    (i, j) whose median is in coarse bin ``m`` above ``below`` values:
    the window's values of that bin, sorted, and the wanted one."""
    kth = (size * size) // 2
    k = 0
    mm = np.uint8(m)
    for r in range(i, i + size):
        for c in range(j, j + size):
            if codes[r, c] == mm:
                buf[k] = _float_key(bits[r, c])
                k += 1
    # insertion sort of the few values of bin m (no allocation)
    for a in range(1, k):
        v = buf[a]
        b = a - 1
        while b >= 0 and buf[b] > v:
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v
    return _key_bits(buf[kth - below])


@njit(nogil=True)
def _exact_grid(codes, bits, size, coarse, below, step, out):
    """Exact medians at every ``step``-th row and column."""
    buf = np.empty(size * size, np.int64)
    for a in range(out.shape[0]):
        for b in range(out.shape[1]):
            i = a * step
            j = b * step
            out[a, b] = _exact_at(codes, bits, size, i, j,
                                  np.int64(coarse[i, j]),
                                  np.int64(below[i, j]), buf)
    return out


@njit(nogil=True)
def _coarse_minimum(kmin):
    """The smallest value of each coarse bin (the bin's lower bound on the
    median) from its smallest key, as float32 bits; empty bins get +inf."""
    out = np.empty(_NCOARSE, np.uint32)
    for m in range(_NCOARSE):
        if kmin[m] == 0xFFFFFFFF:
            out[m] = np.uint32(0x7F800000)       # +inf: never reached
        else:
            out[m] = _key_bits(kmin[m])
    return out


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
        return _exact_grid(self._codes, self._bits, self.size, self.coarse,
                           self.below, step, out).view(np.float32)

    def exact_args(self):
        """What `exact_median_at` needs inside a numba loop."""
        return self._codes, self._bits, self.size, self.coarse, self.below


@njit(nogil=True)
def exact_median_at(codes, bits, size, coarse, below, i, j, buf):
    """Exact median (float32) of output pixel (i, j) of `MedianBrackets`
    (arguments from `MedianBrackets.exact_args`; ``buf``: int64 work array
    of ``size**2``)."""
    b = _exact_at(codes, bits, size, i, j, np.int64(coarse[i, j]),
                  np.int64(below[i, j]), buf)
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
    nrow, ncol = padded.shape[0] - 2 * half, padded.shape[1] - 2 * half
    lo, scale = _quantizer(padded[half:half + nrow, half:half + ncol])
    codes, kmin = _coarse_codes(padded, padded.view(np.uint32), lo, scale,
                                _NBINS, np.empty(padded.shape, np.uint8))
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
        _coarse_rows(codes, size, a, b, ncol, coarse[a:b], below[a:b])
    if threads == 1:
        for a in starts:
            work(a)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, starts))
    lower = _coarse_minimum(kmin).view(np.float32)
    return MedianBrackets(codes, padded, size, coarse, below, lower)
