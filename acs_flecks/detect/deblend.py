"""
Deblending of artifacts that touch above the detection threshold, as
SExtractor does by default (the report ran SExtractor with its default
``DEBLEND_NTHRESH 32``, ``DEBLEND_MINCONT 0.005``).

Without it, a small fleck next to a freckle (the report's tiny fleck at
WFC1 (1850, 1755) lies 17 pixels from a freckle) is merged with it in some
epochs and its centroid is pulled by several pixels.

The work is done by `photutils.segmentation.deblend_sources`
(multi-thresholding + watershed, needs scikit-image), called on the
cut-out of each segment that *can* split -- at least ``2 x min_area``
pixels, since every branch needs ``min_area`` pixels above its own level
-- so that a full chip costs no full-size copy or relabelling; the other
segments are untouched.

Mapping to SExtractor
---------------------
``nlevels`` = ``DEBLEND_NTHRESH`` (32), ``contrast`` = ``DEBLEND_MINCONT``
(0.005), photutils' ``mode='exponential'`` = SExtractor's exponentially
spaced thresholds, ``n_pixels`` = ``DETECT_MINAREA`` for each branch.
Remaining differences: photutils spaces the levels between the segment's
minimum and maximum (SExtractor: between the detection threshold and the
peak; the segment minimum is just above the threshold); photutils tests
the contrast on the flux of the final watershed regions (SExtractor: on
the flux of the branch above the level where it separates); and photutils
gives the pixels below the separation level to the branches by watershed
(SExtractor: by the branches' fitted Gaussian profiles).  Well separated
blends split identically; the split line and faint branches near the
contrast limit can differ.

>>> from acs_flecks.detect.deblend import deblend_segments  # doctest: +SKIP
>>> segm = deblend_segments(data, segm, min_area=25)          # doctest: +SKIP
"""

import logging
import warnings

import numpy as np

from ..exceptions import AcsFlecksError

__all__ = ['DEBLEND_NLEVELS', 'DEBLEND_CONTRAST', 'check_deblend_parameters',
           'deblend_segments']

log = logging.getLogger(__name__)

#: SExtractor's default ``DEBLEND_NTHRESH``.
DEBLEND_NLEVELS = 32
#: SExtractor's default ``DEBLEND_MINCONT``.
DEBLEND_CONTRAST = 0.005


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


def deblend_segments(data, segm, *, min_area, nlevels=DEBLEND_NLEVELS,
            contrast=DEBLEND_CONTRAST):
    """
    Split blended segments (SExtractor-style multi-thresholding).

    Parameters
    ----------
    data : 2-D array
        The image the segments were detected on (background subtracted,
        positive inside every segment).
    segm : `~photutils.segmentation.SegmentationImage`
        Detections (8-connected).
    min_area : int
        Minimum pixels of a branch (``DETECT_MINAREA``).
    nlevels : int
        Thresholds between a segment's minimum and maximum
        (``DEBLEND_NTHRESH``).
    contrast : float
        Minimum fraction of the segment's flux for a branch to stay
        separate (``DEBLEND_MINCONT``); 1 disables deblending.

    Returns
    -------
    `~photutils.segmentation.SegmentationImage`
        ``segm`` itself if nothing was split, else a new segmentation: a
        split segment keeps its label for its first branch, the other
        branches get new labels above ``segm.max_label``.
    """
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.segmentation import SegmentationImage, deblend_sources

    check_deblend_parameters(nlevels, contrast)
    if segm is None or segm.n_labels == 0 or contrast >= 1:
        return segm
    labels = segm.labels
    candidates = labels[segm.areas >= 2 * min_area]
    if len(candidates) == 0:
        return segm
    out = None
    next_label = segm.max_label + 1
    for label in candidates:
        slc = segm.slices[segm.get_index(label)]
        inside = segm.data[slc] == label
        cut = SegmentationImage(inside.astype(np.int32))
        with warnings.catch_warnings():
            # "mode changed to linear" (too many markers): logged below
            warnings.simplefilter('ignore', AstropyUserWarning)
            res = deblend_sources(data[slc], cut, min_area,
                                  n_levels=nlevels, contrast=contrast,
                                  mode='exponential', connectivity=8,
                                  relabel=True, progress_bar=False)
        if res.n_labels < 2:
            continue
        if getattr(res, 'info', None):
            log.debug('deblending of segment %d: %s', label, res.info)
        if out is None:
            out = segm.data.copy()
        view = out[slc]
        for k in res.labels:
            sel = res.data == k
            if k == res.labels[0]:
                view[sel] = label
            else:
                view[sel] = next_label
                next_label += 1
        log.debug('segment %d split into %d', label, res.n_labels)
    if out is None:
        return segm
    return SegmentationImage(out)
