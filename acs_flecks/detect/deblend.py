"""
Deblending of artifacts that touch above the detection threshold, with
SExtractor's algorithm (the report ran SExtractor with its default
``DEBLEND_NTHRESH 32``, ``DEBLEND_MINCONT 0.005``).

For every segment (SExtractor ``refine.c``, ``parcelout``):

1. sub-thresholds ``t_k = t0 (peak / t0) ** (k / nlevels)``, k = 1 ...
   nlevels - 1, between the segment's detection threshold ``t0`` (the
   lowest ``nsigma x noise`` over its pixels) and its peak;
2. at each level, the 8-connected groups of at least ``branch_area``
   pixels above ``t_k`` form a tree (each group inside one group of the
   level below);
3. top down, a node with at least two children whose flux *above their
   level* (``sum(data) - t_k x npix``) exceeds ``contrast`` x the
   segment's flux is split; the children that pass and did not split
   further become artifacts;
4. the remaining pixels of the segment go to the branches by watershed
   (scikit-image, as photutils) -- SExtractor draws them at random from
   the branches' Gaussian profiles, so centroids of split artifacts differ
   from SExtractor's by up to ~1.5 pixel while the splits are the same.

Why not `photutils.segmentation.deblend_sources`: it applies the contrast
to the flux of the whole watershed region of a branch and uses
``n_pixels`` for branches, while SExtractor uses the flux above the split
level and ``min(DETECT_MINAREA, 3)`` pixels (``MAXDEBAREA``).  On a
simulated full chip with 33 segments SExtractor (with the acs_flecks noise
map) returns 38 artifacts, this module with 3-pixel branches 38 (the same
splits), photutils 52 (``n_pixels=3``) or 33 (``n_pixels=25``).

Branch area: SExtractor's 3 pixels split single freckles whose
median-filtered shadow has two bumps (seen in the simulations: one
particle, two catalog entries, differently from epoch to epoch), so by
default branches need ``min_area`` pixels, like any detection
(``FindParameters.deblend_min_area``; 3 reproduces SExtractor).

>>> from acs_flecks.detect.deblend import deblend_segments       # doctest: +SKIP
>>> segm = deblend_segments(data, segm, noise=noise, nsigma=5)   # doctest: +SKIP
"""

import logging

import numpy as np

from ..exceptions import AcsFlecksError
from ..parameters import DETECTION
from .segmentation import Segments, label8

__all__ = ['DEBLEND_NLEVELS', 'DEBLEND_CONTRAST', 'SEXTRACTOR_BRANCH_AREA',
           'check_deblend_parameters', 'deblend_segments']

log = logging.getLogger(__name__)

#: SExtractor's default ``DEBLEND_NTHRESH`` (declared with the detection
#: stage's parameters, `acs_flecks.parameters.DETECTION`).
DEBLEND_NLEVELS = DETECTION.defaults.deblend_nlevels
#: SExtractor's default ``DEBLEND_MINCONT``.
DEBLEND_CONTRAST = DETECTION.defaults.deblend_contrast
#: SExtractor's minimum branch area, ``min(DETECT_MINAREA, MAXDEBAREA)``
#: with ``MAXDEBAREA = 3`` (``define.h``, ``prefs.c``).
SEXTRACTOR_BRANCH_AREA = 3


def check_deblend_parameters(nlevels, contrast):
    """
    Check the deblending parameters.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        ``nlevels`` not an integer >= 1 or ``contrast`` not in [0, 1].
    """
    if isinstance(nlevels, bool) or \
            not isinstance(nlevels, (int, np.integer)) or nlevels < 1:
        raise AcsFlecksError(f'deblend_nlevels must be an integer >= 1, got '
                             f'{nlevels!r}')
    if isinstance(contrast, bool) or not np.isscalar(contrast) or \
            not np.isfinite(contrast) or not 0 <= contrast <= 1:
        raise AcsFlecksError(f'deblend_contrast must be a number in [0, 1], '
                             f'got {contrast!r}')


def deblend_segments(data, segm, *, noise, nsigma, nlevels=DEBLEND_NLEVELS,
                     contrast=DEBLEND_CONTRAST,
                     branch_area=SEXTRACTOR_BRANCH_AREA, copy=True):
    """
    Split blended segments as SExtractor does (``refine.c``).

    Parameters
    ----------
    data : 2-D array
        The image the segments were detected on (background subtracted).
    segm : `~acs_flecks.detect.segmentation.Segments` or `None`
        Detections (8-connected; a photutils
        `~photutils.segmentation.SegmentationImage` also works).
    noise : 2-D array or float
        Noise map of ``data``.
    nsigma : float
        Detection threshold in noise units: the lowest level of a segment
        is the minimum of ``nsigma x noise`` over its pixels (SExtractor's
        ``dthresh``).
    nlevels : int
        ``DEBLEND_NTHRESH``: sub-thresholds ``t0 (peak / t0) ** (k /
        nlevels)``, k = 1 ... nlevels - 1.
    contrast : float
        ``DEBLEND_MINCONT``: a branch counts if its flux above its level
        exceeds ``contrast`` x the segment's flux; 1 disables deblending.
    branch_area : int
        Minimum pixels of a branch at a sub-threshold (SExtractor:
        ``min(DETECT_MINAREA, 3)``, the default here; `find_artifacts`
        passes ``min_area`` unless told otherwise).
    copy : bool
        If `False`, split segments are relabelled in ``segm`` itself (no
        full-size copy; `find_artifacts_in_chip` owns its segmentation).

    Returns
    -------
    same type as ``segm``, or `None`
        ``segm`` itself if nothing was split, else a new segmentation
        (``segm``, updated, with ``copy=False``): a
        split segment keeps its label for its first branch, the other
        branches get new labels above ``segm.max_label``.
    """
    check_deblend_parameters(nlevels, contrast)
    if segm is None or segm.n_labels == 0 or contrast >= 1 or nlevels < 2:
        return segm
    noise = np.broadcast_to(np.asarray(noise, np.float32), data.shape)
    nsigma = np.float32(nsigma)
    out = None
    next_label = segm.max_label + 1
    for label, slc, area in zip(segm.labels, segm.slices, segm.areas):
        if area < 2 * branch_area:
            continue
        inside = segm.data[slc] == label
        parts = _split_segment(np.asarray(data[slc], np.float64), inside,
                               float((nsigma * noise[slc][inside]).min()),
                               nlevels, contrast, branch_area)
        if parts is None:
            continue
        if out is None:
            out = segm.data.copy() if copy else segm.data
        view = out[slc]
        for k in range(2, int(parts.max()) + 1):
            view[parts == k] = next_label
            next_label += 1
        log.debug('segment %d split into %d', label, int(parts.max()))
    if out is None:
        return segm
    if not copy:
        # the data setter (photutils' and Segments'): new labels, cached
        # slices/areas reset
        segm.data = out
        return segm
    if isinstance(segm, Segments):
        return Segments(out)
    from photutils.segmentation import SegmentationImage
    return SegmentationImage(out)


# SExtractor's multi-threshold tree, written by hand because photutils'
# deblend_sources applies the contrast to the whole watershed region of a
# branch (SExtractor: to its flux above the level where it separates) and
# takes n_pixels for branches (SExtractor: min(DETECT_MINAREA, 3)): on a
# simulated full chip photutils then splits 0 or 19 blends where SExtractor
# splits 5 (see the module docstring).  Only the assignment of the pixels
# below the split levels differs: watershed (as photutils) instead of
# SExtractor's random draw from the branches' Gaussian profiles.
def _split_segment(data, inside, t0, nlevels, contrast, branch_area):
    """Labels 1..n of the branches of one segment (cut-out), or None if it
    does not split."""
    vals = data[inside]
    peak = float(vals.max())
    if not peak > t0 or t0 <= 0:
        return None
    value0 = float(vals.sum()) * contrast
    levels = [np.ones(data.shape, np.int32) * inside]   # level 0: the root
    parents = [np.zeros(1, int)]
    passes = [np.zeros(1, bool)]
    nobj = [1]
    for k in range(1, nlevels):
        t = t0 * (peak / t0) ** (k / nlevels)
        sel = inside & (data > t)
        if np.count_nonzero(sel) < 2 * branch_area:
            # at most one branch here and above: no node can split any
            # more (this and the higher levels change nothing)
            break
        lab, n, _ = label8(sel)
        if n == 0:
            break
        flat = lab.ravel()
        npix = np.bincount(flat, minlength=n + 1)
        keep = npix >= branch_area
        keep[0] = False
        if not keep.any():
            break
        flux = np.bincount(flat, weights=data.ravel(), minlength=n + 1)
        # renumber the kept components 1..m (0 elsewhere)
        newid = np.zeros(n + 1, np.int32)
        newid[keep] = np.arange(1, keep.sum() + 1)
        lab = newid[lab]
        # parent: the previous-level object holding a pixel of each one
        first = np.zeros(n + 1, int)
        ids, idx = np.unique(flat, return_index=True)
        first[ids] = idx
        prev = levels[-1].ravel()[first[keep]] - 1
        levels.append(lab)
        parents.append(prev)
        passes.append(flux[keep] - t * npix[keep] > value0)
        nobj.append(int(keep.sum()))
    # cut the branches, top down
    ok = [np.ones(n, bool) for n in nobj]
    chosen = []
    for k in range(len(levels) - 2, -1, -1):
        sons_parent = parents[k + 1]
        for i in range(nobj[k]):
            sons = np.flatnonzero(sons_parent == i)
            if len(sons) == 0:
                continue
            m = int(passes[k + 1][sons].sum())
            ok[k][i] &= bool(ok[k + 1][sons].all())
            if m > 1:
                for j in sons:
                    if ok[k + 1][j] and passes[k + 1][j]:
                        chosen.append((k + 1, j + 1))
                ok[k][i] = False
    if ok[0][0] or len(chosen) < 2:
        return None
    # imported only when a segment does split: scikit-image costs ~0.5 CPU
    # s to import, and most files have no blend to split
    from skimage.segmentation import watershed

    markers = np.zeros(data.shape, np.int32)
    for n, (k, j) in enumerate(chosen, start=1):
        markers[levels[k] == j] = n
    parts = watershed(-data, markers, mask=inside, connectivity=2)
    # the branch holding the segment's peak first (keeps the label)
    order = np.zeros(len(chosen) + 1, np.int32)
    top = int(parts[np.unravel_index(np.argmax(np.where(inside, data,
                                                         -np.inf)),
                                     data.shape)])
    rest = [n for n in range(1, len(chosen) + 1) if n != top]
    order[top] = 1
    order[rest] = np.arange(2, len(chosen) + 1)
    return order[parts]
