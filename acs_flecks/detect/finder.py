"""
The report's §7 search for dark artifacts (flecks, freckles) in a combined
short flashed dark (DKC) of each anneal cycle.

Steps, per chip (`prepare_chip`, then `find_artifacts_in_chip`):

1. pixels with DQ flags in ``mask_flags`` (hot, warm, saturated, sink, ...,
   by default every flag **except 4**) and non-finite pixels are replaced
   by the smooth local level, so they cannot create artifacts; DQ 4 is kept
   because the flecks themselves carry it once the new bad-pixel table is in
   use;
2. the smooth large-scale level of the chip (LED illumination) is measured
   (`~acs_flecks.detect.normalize.smooth_background`);
3. the chip is median filtered (15x15, exact,
   `~acs_flecks.detect.medfilt.median_of_padded`, scipy's ``reflect``
   edges);
4. divided by the level (normalized to ~1), subtracted from unity and
   multiplied by 100: artifacts become positive deficits in percent;
5. background (median) and noise (MAD, 3x3-smoothed grid) of that image
   on a 128-pixel box grid;
6. the segments of `photutils.segmentation.detect_sources` above
   ``nsigma`` x noise with at least ``min_area`` 8-connected pixels (as
   SExtractor's DETECT_THRESH and DETECT_MINAREA; computed by
   `~acs_flecks.detect.segmentation.segment_above` on the few pixels above
   the threshold, identical, without importing photutils), then deblending
   with SExtractor's algorithm
   (`~acs_flecks.detect.deblend.deblend_segments`: 32 levels, contrast
   0.005; branches of ``min_area`` pixels unless ``deblend_min_area``);
7. `photutils.segmentation.SourceCatalog` measurements
   (`~acs_flecks.detect.catalog.measure_sources`, the same numbers computed
   without photutils).

`find_artifacts_in_chip` does not build the full-size inverted and
background images (`prepare_chip` does, for figures and SExtractor):
see `_search_images`.  The two paths share every step but the median
(exact everywhere for the figures, `~acs_flecks.detect.medfilt.median_brackets`
with exact values only where the catalogue depends on them for the search)
and the thresholding pass that follows it: the mask, level and padding
(`_filtered_and_level`), the box grids, the noise map (`_noise_map`), the
segmentation, deblending and measurements are the same functions, and
``tests/test_detect.py`` and ``tests/test_detect_fastpath.py`` check that
the two give the same images where the catalogue uses them and the same
catalogue bytes.  Both chips are searched at once in threads (the
compiled kernels of `acs_flecks.detect._kernels` and most numpy work
release the GIL); with fewer chips
than CPUs, the median filter of a chip also runs in bands of rows on
several threads.
`find_chip` takes (path, ccdchip, params) and is what a Dask worker runs.

>>> from acs_flecks.detect import find_artifacts            # doctest: +SKIP
>>> cat = find_artifacts('sim/dkc_2017-05-05.fits')         # doctest: +SKIP
>>> cat['ccdchip', 'x', 'y', 'area'][:3]                    # doctest: +SKIP
"""

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ..exceptions import AcsFlecksError, NotFlashedWarning
from ..io import open_image
from ..preload import preload_once
from . import _kernels
from .catalog import measure_sources, stack_catalogs
from .deblend import check_deblend_parameters, deblend_segments
from .medfilt import (check_median_size, fill_and_pad,
                      median_brackets, median_of_padded)
from .normalize import (background_noise_grids, expand_grid, expand_taps,
                        smooth_background)
from .segmentation import segment_above

__all__ = ['DEFAULT_MASK_FLAGS', 'FindParameters', 'PreparedChip',
           'prepare_chip', 'find_artifacts_in_chip', 'find_chip',
           'find_artifacts', 'edge_noise_factors']

log = logging.getLogger(__name__)

#: What the catalogue of a chip and its ECSV output import (0.15 s), started
#: in the background once the median filter runs (`acs_flecks.preload`).
CATALOGUE_MODULES = ('astropy.table', 'astropy.io.ascii',
                     'astropy.io.misc.yaml')

# DQ flags masked by default: every ACS flag (1 ... 8192) except 4 (bad
# detector pixel, what this package writes for fleck pixels); defined in
# acs_flecks.dq (light, for the command line's --help).
from ..dq import DEFAULT_MASK_FLAGS  # noqa: E402
# The defaults of every search parameter: the detection stage of
# acs_flecks.parameters (their one definition).
from ..parameters import DETECTION  # noqa: E402

_D = DETECTION.defaults


@dataclass(frozen=True)
class FindParameters:
    """
    Parameters of the search (validated on creation; picklable).

    Attributes
    ----------
    median_size : int
        Side of the median filter (odd, >= 3); report: 15.
    nsigma : float
        Detection threshold in units of the noise (> 0); report: 5.
    min_area : int
        Minimum number of connected pixels (>= 1); report: 25.
    mask_flags : int
        DQ bits whose pixels are ignored (default `DEFAULT_MASK_FLAGS`).
    box : int
        Box size (pixels) of the large-scale level and of the noise grid.
    median_mode : str
        Edge mode of the median filter ('reflect' as scipy's default).
    deblend : bool
        Split blended artifacts (multi-thresholding + watershed,
        `~acs_flecks.detect.deblend.deblend_segments`), as SExtractor does by
        default.
    deblend_nlevels : int
        Thresholds of the deblending (SExtractor ``DEBLEND_NTHRESH``, 32).
    deblend_contrast : float
        Minimum fraction of the blend's flux for a branch to be a separate
        artifact (SExtractor ``DEBLEND_MINCONT``, 0.005).
    deblend_min_area : int or None
        Minimum pixels of a branch above its sub-threshold; `None` (default)
        means ``min_area``, 3 is SExtractor's hard-coded value (see
        `~acs_flecks.detect.deblend`).
    """

    median_size: int = _D.median_size
    nsigma: float = _D.nsigma
    min_area: int = _D.min_area
    mask_flags: int = _D.mask_flags
    box: int = _D.box
    median_mode: str = _D.median_mode
    deblend: bool = _D.deblend
    deblend_nlevels: int = _D.deblend_nlevels
    deblend_contrast: float = _D.deblend_contrast
    deblend_min_area: int = _D.deblend_min_area

    def __post_init__(self):
        check_median_size(self.median_size)
        if isinstance(self.nsigma, bool) or not np.isscalar(self.nsigma) \
                or not np.isfinite(self.nsigma) or self.nsigma <= 0:
            raise AcsFlecksError(f'nsigma must be a positive number, got '
                                 f'{self.nsigma!r}')
        if isinstance(self.min_area, bool) or \
                not isinstance(self.min_area, (int, np.integer)) or \
                self.min_area < 1:
            raise AcsFlecksError(f'min_area must be an integer >= 1, got '
                                 f'{self.min_area!r}')
        if isinstance(self.mask_flags, bool) or \
                not isinstance(self.mask_flags, (int, np.integer)) or \
                not 0 <= self.mask_flags < 65536:
            raise AcsFlecksError(f'mask_flags must be an integer 0-65535, got '
                                 f'{self.mask_flags!r}')
        if not isinstance(self.box, (int, np.integer)) or self.box < 16:
            raise AcsFlecksError(f'box must be an integer >= 16, got '
                                 f'{self.box!r}')
        if not isinstance(self.deblend, (bool, np.bool_)):
            raise AcsFlecksError(f'deblend must be True or False, got '
                                 f'{self.deblend!r}')
        check_deblend_parameters(self.deblend_nlevels, self.deblend_contrast)
        if self.deblend_min_area is not None and (
                isinstance(self.deblend_min_area, bool)
                or not isinstance(self.deblend_min_area, (int, np.integer))
                or self.deblend_min_area < 1):
            raise AcsFlecksError(f'deblend_min_area must be None or an '
                                 f'integer >= 1, got '
                                 f'{self.deblend_min_area!r}')

    def as_meta(self):
        """The parameters as a plain dict (catalog metadata)."""
        def plain(v):
            if v is None or isinstance(v, (str, bool)):
                return v
            if isinstance(v, np.bool_):
                return bool(v)
            return float(v) if isinstance(v, (float, np.floating)) \
                else int(v)
        return {k: plain(v) for k, v in asdict(self).items()}


def _params(params=None, **kwargs):
    if params is None:
        return FindParameters(**kwargs)
    if isinstance(params, dict):
        return FindParameters(**{**params, **kwargs})
    if kwargs:
        return FindParameters(**{**asdict(params), **kwargs})
    return params


class PreparedChip(NamedTuple):
    """Intermediate images of the search on one chip (all float32)."""

    #: the median-filtered chip (same units as SCI)
    filtered: np.ndarray
    #: the smooth large-scale level the chip is divided by
    level: np.ndarray
    #: ``100 x (1 - filtered / level)``: the deficit in percent
    inverted: np.ndarray
    #: background and noise maps of ``inverted`` (percent)
    background: np.ndarray
    noise: np.ndarray
    #: True where a DQ flag or a non-finite value masked the pixel
    mask: np.ndarray


def prepare_chip(sci, dq=None, *, params=None, threads=None, path=None,
                 ccdchip=None):
    """
    Steps 1-5 of the search: mask, normalize, median filter, invert,
    background and noise.

    Parameters
    ----------
    sci : 2-D array
        Science array (e.g. electrons).
    dq : 2-D int array, optional
        Data-quality array.
    params : `FindParameters` or dict, optional
    threads : int, optional
        Threads for the median filter.
    path, ccdchip : optional
        Named in error messages.

    Returns
    -------
    PreparedChip

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        All pixels masked, or no positive illumination level.
    """
    p = _params(params)
    filtered, level, mask = _filtered_and_level(
        sci, dq, p, threads=threads, path=path, ccdchip=ccdchip,
        return_mask=True)
    inverted = _deficit(filtered, level)
    bkg_grid, rms_grid = background_noise_grids(inverted, box=p.box)
    background = expand_grid(bkg_grid, inverted.shape, box=p.box,
                             extrapolate=False)
    noise = _noise_map(rms_grid, inverted.shape, p)
    return PreparedChip(filtered, level, inverted, background, noise, mask)


def _noise_map(rms_grid, shape, p, *, out=None):
    """The noise map of the search from its box grid (both paths):
    interpolated, held constant beyond the outer box centres (an
    extrapolated noise could fall towards zero at the edges), floored, and
    widened near the edges (`edge_noise_factors`)."""
    noise = expand_grid(rms_grid, shape, box=p.box, extrapolate=False,
                        out=out)
    np.maximum(noise, _noise_floor(noise), out=noise)
    _widen_edge_noise(noise, p.median_size, p.median_mode)
    return noise


def _filtered_and_level(sci, dq, p, *, threads=None, path=None,
                        ccdchip=None, return_mask=False, brackets=False):
    """Steps 1-3: the median-filtered chip and its smooth level (and the
    mask, free for reuse); with
    ``brackets``, the `~acs_flecks.detect.medfilt.MedianBrackets` of the
    median instead of the filtered chip."""
    where = '' if ccdchip is None else f'chip CCDCHIP={ccdchip}: '
    sci = np.asarray(sci, dtype=np.float32)
    if sci.ndim != 2:
        raise AcsFlecksError(f'{where}SCI must be 2-D, got shape {sci.shape}',
                             path=path)
    if dq is None:
        dq = np.zeros(sci.shape, np.uint16)
    dq = np.asarray(dq)
    if dq.shape != sci.shape:
        raise AcsFlecksError(f'{where}DQ shape {dq.shape} differs from '
                             f'SCI shape {sci.shape}', path=path)
    dq = dq.astype(np.uint16, copy=False)
    flags = np.uint16(p.mask_flags)
    level = smooth_background(sci, box=p.box, dq=dq, mask_flags=flags)
    # masked pixels take the level, written straight into the padded
    # input of the median (no separate filled image and np.pad copy)
    padded, mask, nmask = fill_and_pad(sci, dq, flags, level,
                                       size=p.median_size,
                                       mode=p.median_mode)
    if nmask == sci.size:
        raise AcsFlecksError(
            f'{where}every pixel is masked (DQ & {p.mask_flags} or not '
            'finite): nothing to search', path=path)
    med_level = float(np.nanmedian(level[::16, ::16]))
    min_level = level.min()
    if not np.isfinite(med_level) or med_level <= 0 or \
            not np.isfinite(min_level) or min_level <= 0:
        raise AcsFlecksError(
            f'{where}no positive illumination level (median level '
            f'{med_level:.4g}): cannot normalize to 1 (not a flashed image?)',
            path=path)
    # the catalogue of this chip will need astropy.table (and a command
    # its ECSV writer): imported now, while the median keeps the CPUs busy
    # without the GIL, not before it (where it would delay the start-up)
    preload_once(*CATALOGUE_MODULES)
    if brackets:
        filtered = median_brackets(padded, size=p.median_size,
                                   threads=threads)
    else:
        filtered = median_of_padded(padded, size=p.median_size,
                                    threads=threads)
    del padded
    if return_mask:
        return filtered, level, mask
    return filtered, level


def edge_noise_factors(n, size, mode='reflect'):
    """
    How much noisier the median-filtered image is near an edge, per axis.

    Within ``size // 2`` pixels of an edge the median window runs off the
    image and the edge mode repeats pixels (``'reflect'``: each of the
    rows next to the edge counts twice), so the median of a window of
    ``size`` rows is that of fewer independent rows and its noise is
    higher, by ``sqrt(size / n_eff)`` with ``n_eff = (sum w)**2 / sum w**2``
    for the multiplicities *w* of the rows in the window (the variance of a
    weighted median of independent values).  At a corner the factors of both
    axes multiply: 1.39 x 1.39 = 1.93 for the report's 15x15 'reflect'
    median.  The noise map of the search is measured on 128-pixel boxes,
    i.e. mostly on interior pixels, so without this factor the threshold
    near edges is too low and a blank chip gives "artifacts" in its
    corners.

    Parameters
    ----------
    n : int
        Length of the axis.
    size : int
        Median size.
    mode : {'reflect', 'nearest'}
        Edge mode of the median.

    Returns
    -------
    `~numpy.ndarray` of float32, shape (n,)
        1 in the interior.
    """
    from .medfilt import _NUMPY_PAD
    half = int(size) // 2
    out = np.ones(int(n), np.float32)
    if half == 0 or n == 0:
        return out
    index = np.pad(np.arange(n), half, mode=_NUMPY_PAD[mode])
    edge = sorted(set(range(min(half, n))) | set(range(max(n - half, 0), n)))
    for i in edge:
        w = np.bincount(index[i:i + 2 * half + 1])
        w = w[w > 0].astype(float)
        n_eff = w.sum() ** 2 / np.sum(w ** 2)
        out[i] = np.float32(np.sqrt((2 * half + 1) / n_eff))
    return out


def _widen_edge_noise(noise, size, mode):
    """Multiply the noise map (in place) by `edge_noise_factors` along
    both axes: only the edge strips are touched."""
    ny, nx = noise.shape
    fy = edge_noise_factors(ny, size, mode)
    fx = edge_noise_factors(nx, size, mode)
    rows = np.flatnonzero(fy != 1)
    cols = np.flatnonzero(fx != 1)
    noise[rows] *= fy[rows, None]
    noise[:, cols] *= fx[cols]
    return noise


def _noise_floor(noise):
    """A perfectly flat (noise-free) box would give a zero threshold."""
    return np.float32(max(float(np.median(noise[::16, ::16])) * 1e-3, 1e-6))


def _search_images(sci, dq, p, *, threads=None, path=None, ccdchip=None):
    """
    Steps 1-5 and the thresholding without the full-size ``inverted`` and
    ``background`` images of `prepare_chip` (what `find_artifacts_in_chip`
    needs; the same values, pixel for pixel).

    The background and noise grids only sample every 4th pixel of the
    inverted image, so the inverted image is computed on those samples
    only; the background is interpolated on the fly in the fused loop
    `_data_and_above_bracketed` (fewer full-chip passes and page faults).

    The median itself is not computed everywhere: the catalogue depends on
    it only at those samples, and where the deficit may exceed the
    threshold (the segments are made of such pixels).
    `~acs_flecks.detect.medfilt.median_brackets` gives every pixel a
    proven lower bound of its median (hence an upper bound of its
    deficit) and the exact value on request: exact at the grid samples,
    and exact wherever the bound does not rule out the threshold.  Where
    it does, ``data`` holds the bound (those pixels are in no segment).

    Returns
    -------
    data : float32 array
        ``inverted - background``.
    above : bool array
        ``data > nsigma x noise`` (float32 comparison, as photutils).
    n_above : int
    noise : float32 array
        The noise map (with its floor).
    """
    if p.box % 4:
        prep = prepare_chip(sci, dq, params=p, threads=threads, path=path,
                            ccdchip=ccdchip)
        data = prep.inverted - prep.background
        above = data > np.float32(p.nsigma) * prep.noise
        return data, above, int(np.count_nonzero(above)), prep.noise
    # (the exact medians are read from the padded input the brackets keep:
    # it stays intact until the fused pass is done)
    brackets, level, mask = _filtered_and_level(
        sci, dq, p, threads=threads, path=path, ccdchip=ccdchip,
        return_mask=True, brackets=True)
    sub = _deficit(brackets.grid(4), level[::4, ::4])
    bkg_grid, rms_grid = background_noise_grids(sub, box=p.box // 4, step=1)
    del sub
    noise = _noise_map(rms_grid, brackets.shape, p)
    rows, i0, w0, w1 = expand_taps(bkg_grid, brackets.shape, box=p.box,
                                   extrapolate=False)
    codes, bits, size, coarse, below = brackets.exact_args()
    # data goes into the level's memory (the fused pass reads each pixel's
    # level before it writes that pixel's data) and above into the mask's,
    # both of this function's own making: 40 MB less fresh memory per chip,
    # which a first touch makes costly
    data, above, n_above = _data_and_above_bracketed(
        level, rows, i0, w0, w1, noise, np.float32(p.nsigma), codes, bits,
        size, coarse, below, brackets.lower, level, mask)
    return data, above, n_above, noise


# Fused one-pass loops (compiled, acs_flecks/detect/_kernels.c): the numpy
# equivalents need several full-chip temporaries, and these run on every
# chip.
def _deficit(filtered, level):
    """``100 x (1 - filtered / level)`` (float32)."""
    out = np.empty(np.shape(filtered), np.float32)
    _kernels.deficit(np.ascontiguousarray(filtered, np.float32),
                     np.ascontiguousarray(level, np.float32), out)
    return out


def _data_and_above_bracketed(level, rows, i0, w0, w1, noise, nsigma,
                              codes, bits, size, coarse, below, lower, data,
                              above):
    """``data = 100 x (1 - filtered / level) - background`` with the
    background interpolated on the fly (`expand_taps`: the same float32
    operations as `_deficit` and `expand_grid`), and where ``data > nsigma
    x noise``, in one pass, from the median's brackets: the deficit of each
    pixel from the lower bound of its median (``lower[coarse]``) is an upper
    bound of the true deficit (every float32 operation is monotone); only
    where that bound exceeds ``nsigma x noise`` is the exact median taken
    (as `~acs_flecks.detect.medfilt.exact_median_at`), so ``above`` is exact
    everywhere and ``data`` exact wherever ``above`` may be true (into
    ``data`` and ``above``: new arrays, or ``level`` itself and a bool
    array of its shape, as each pixel's level is read before its data is
    written).

    Returns
    -------
    data, above, n : float32 array, bool array, int
        ``n``: pixels above.
    """
    n = _kernels.data_and_above_bracketed(
        level, rows, np.ascontiguousarray(i0, np.int64), w0, w1, noise,
        float(nsigma), codes, bits, int(size), coarse, below, lower, data,
        above)
    return data, above, n


def _data_and_below(inverted, background, noise, nsigma):
    """``inverted - background``, and where it is *not* above ``nsigma x
    noise`` (float32, the comparison photutils makes), in one pass."""
    inverted = np.ascontiguousarray(inverted, np.float32)
    data = np.empty_like(inverted)
    below = np.empty(inverted.shape, np.bool_)
    n = _kernels.data_and_below(
        inverted, np.ascontiguousarray(background, np.float32),
        np.ascontiguousarray(noise, np.float32), float(nsigma), data, below)
    return data, below, n


def find_artifacts_in_chip(sci, dq=None, *, median_size=_D.median_size,
                           nsigma=_D.nsigma, min_area=_D.min_area,
                           mask_flags=_D.mask_flags, box=_D.box,
                           median_mode=_D.median_mode, deblend=_D.deblend,
                           deblend_nlevels=_D.deblend_nlevels,
                           deblend_contrast=_D.deblend_contrast,
                           deblend_min_area=_D.deblend_min_area, ccdchip=1,
                           ltv=(0.0, 0.0), file='', path=None, threads=None,
                           return_prepared=False):
    """
    Find dark artifacts in one chip given as arrays.

    Parameters
    ----------
    sci : 2-D array
        Science array of a flashed dark (electrons).
    dq : 2-D int array, optional
        Its data-quality array.
    median_size, nsigma, min_area, mask_flags, box, median_mode
        See `FindParameters`.
    deblend, deblend_nlevels, deblend_contrast, deblend_min_area
        See `FindParameters` (SExtractor's default deblending).
    ccdchip : int
        Reported in the ``ccdchip`` column.
    ltv : tuple of float
        (``LTV1``, ``LTV2``): positions are reported in the full-chip frame.
    file : str
        Value of the ``file`` column.
    path : str, optional
        Named in error messages.
    threads : int, optional
        Threads of the median filter.
    return_prepared : bool
        Also return the `PreparedChip` (for figures, SExtractor).

    Returns
    -------
    catalog : `~astropy.table.QTable`
        One row per artifact (`~acs_flecks.detect.catalog.CATALOG_COLUMNS`).
    prepared : `PreparedChip`
        Only with ``return_prepared=True``.
    """
    p = FindParameters(median_size=median_size, nsigma=nsigma,
                       min_area=min_area, mask_flags=mask_flags, box=box,
                       median_mode=median_mode, deblend=deblend,
                       deblend_nlevels=deblend_nlevels,
                       deblend_contrast=deblend_contrast,
                       deblend_min_area=deblend_min_area)
    if return_prepared:
        prep = prepare_chip(sci, dq, params=p, threads=threads, path=path,
                            ccdchip=ccdchip)
        data, below, n_above = _data_and_below(
            prep.inverted, prep.background, prep.noise, np.float32(p.nsigma))
        noise = prep.noise
    else:
        data, above, n_above, noise = _search_images(
            sci, dq, p, threads=threads, path=path, ccdchip=ccdchip)
    # one segmentation for both paths (see acs_flecks.detect.segmentation:
    # photutils' detect_sources, on the few pixels above the threshold)
    segm = None
    if n_above:
        segm = segment_above(~below if return_prepared else above,
                             p.min_area)
    if p.deblend and segm is not None:
        segm = deblend_segments(data, segm, noise=noise,
                                nsigma=p.nsigma, nlevels=p.deblend_nlevels,
                                contrast=p.deblend_contrast,
                                branch_area=(p.min_area
                                             if p.deblend_min_area is None
                                             else p.deblend_min_area),
                                copy=False)
    table = measure_sources(data, segm, ccdchip=ccdchip, ltv=ltv,
                            noise=noise, file=file)
    log.debug('%s chip %s: %d artifact(s)', file or 'array', ccdchip,
              len(table))
    if return_prepared:
        return table, prep
    return table


def find_chip(path, ccdchip, params=None, *, threads=1):
    """
    Search one chip of one file: the unit of work of a Dask worker.

    Parameters
    ----------
    path : str
        The FITS file (a flashed dark).
    ccdchip : int
        CCDCHIP of the chip.
    params : `FindParameters` or dict, optional
        Search parameters (default: the report's).
    threads : int
        Threads of the median filter (1 on a worker that runs one task per
        core).

    Returns
    -------
    `~astropy.table.QTable`
        The chip's catalog (no file metadata; see `find_artifacts`).
    """
    p = _params(params)
    image = open_image(path, operation='find')
    chip = image.chip(ccdchip, arrays=('SCI', 'DQ'), allow_nan=True)
    return find_artifacts_in_chip(
        chip.sci, chip.dq, ccdchip=chip.ccdchip, ltv=chip.ltv,
        file=image.name, path=image.path, threads=threads, **_kw(p))


def _kw(p):
    return dict(median_size=p.median_size, nsigma=p.nsigma,
                min_area=p.min_area, mask_flags=p.mask_flags, box=p.box,
                median_mode=p.median_mode, deblend=p.deblend,
                deblend_nlevels=p.deblend_nlevels,
                deblend_contrast=p.deblend_contrast,
                deblend_min_area=p.deblend_min_area)


def _check_flashed(image):
    if not image.flashed:
        warnings.warn(NotFlashedWarning(
            f'{image.path}: not a post-flashed image (FLASHDUR='
            f'{image.flashdur.value:g} s, FLASHSTA={image.flashsta!r}): '
            'particles are invisible without the LED post-flash, so no '
            'artifacts are expected'))


def find_artifacts(image, *, median_size=_D.median_size, nsigma=_D.nsigma,
                   min_area=_D.min_area, chips=None,
                   mask_flags=_D.mask_flags, box=_D.box,
                   median_mode=_D.median_mode, deblend=_D.deblend,
                   deblend_nlevels=_D.deblend_nlevels,
                   deblend_contrast=_D.deblend_contrast,
                   deblend_min_area=_D.deblend_min_area, workers=None):
    """
    Find dark artifacts (flecks, freckles) in a flashed dark (report §7).

    Parameters
    ----------
    image : str, path-like or `~acs_flecks.io.ACSImage`
        Combined short flashed dark (DKC) or any post-flashed image.
    median_size : int, optional
        Median filter size (odd, >= 3).  Report: 15.
    nsigma : float, optional
        Detection threshold in noise units (> 0).  Report: 5.0.
    min_area : int, optional
        Minimum connected pixels (>= 1).  Report: 25.
    chips : iterable of int, optional
        CCDCHIP values to search (default: all chips of the file).
    mask_flags : int, optional
        DQ bits to ignore (default: all except 4, see
        `DEFAULT_MASK_FLAGS`).
    box : int, optional
        Box of the large-scale level and noise grids (pixels).
    median_mode : {'reflect', 'nearest'}, optional
        Edge mode of the median filter (scipy's meaning).
    deblend : bool, optional
        Split blended artifacts as SExtractor does by default (default
        True; False: every connected group of pixels is one artifact).
    deblend_nlevels : int, optional
        Deblending thresholds (SExtractor ``DEBLEND_NTHRESH``), default 32.
    deblend_contrast : float, optional
        Minimum flux fraction of a separate branch (SExtractor
        ``DEBLEND_MINCONT``), default 0.005.
    deblend_min_area : int, optional
        Minimum pixels of a branch (default: ``min_area``; SExtractor: 3).
    workers : int, optional
        Chips searched at once in threads (default: as many as CPUs, at
        most the number of chips); the CPUs left go to each chip's median
        filter (bands of rows).  ``workers=1`` searches the chips one after
        the other with every CPU on the median filter and half the memory.

    Returns
    -------
    `~astropy.table.QTable`
        One row per artifact, sorted by chip, y, x, with an ``id`` column
        (1 ... N).  ``meta``: ``source_file``, ``obs_time`` (ISO),
        ``detector``, ``chips``, ``ltv`` and the parameters.

    Warns
    -----
    acs_flecks.exceptions.NotFlashedWarning
        The image is not post-flashed (particles are invisible).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad parameters, unreadable file, unknown chip, a chip with every
        pixel masked.
    """
    p = FindParameters(median_size=median_size, nsigma=nsigma,
                       min_area=min_area, mask_flags=mask_flags, box=box,
                       median_mode=median_mode, deblend=deblend,
                       deblend_nlevels=deblend_nlevels,
                       deblend_contrast=deblend_contrast,
                       deblend_min_area=deblend_min_area)
    img = open_image(image, operation='find')
    chips = img.chips if chips is None else tuple(int(c) for c in chips)
    for c in chips:
        img.chip_header(c)  # raises for an unknown chip
    _check_flashed(img)
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
        else (os.cpu_count() or 1)
    if workers is None:
        workers = ncpu
    workers = max(1, min(int(workers), len(chips)))
    threads = max(1, ncpu // workers)
    if workers == 1 or len(chips) == 1:
        tables = [find_chip(img, c, p, threads=threads) for c in chips]
    else:
        with ThreadPoolExecutor(workers) as pool:
            tables = list(pool.map(
                lambda c: find_chip(img, c, p, threads=threads), chips))
    meta = {'source_file': img.path, 'obs_time': img.obs_time.isot,
            'detector': img.detector, 'rootname': img.rootname,
            'chips': [int(c) for c in chips],
            'ltv': {int(c): list(img.ltv(c)) for c in chips}}
    meta.update(p.as_meta())
    table = stack_catalogs(tables, meta)
    if len(table):
        table.sort(['ccdchip', 'y', 'x'])
    table.add_column(np.arange(1, len(table) + 1), name='id', index=0)
    log.debug('%s: %d artifact(s) on chip(s) %s', img.name, len(table),
             ', '.join(map(str, chips)))
    return table
