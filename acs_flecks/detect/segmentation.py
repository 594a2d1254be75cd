"""
The segmentation of the §7 search: 8-connected groups of at least
``min_area`` pixels above the threshold, as
`photutils.segmentation.detect_sources` finds them, and the light
label image that carries them through deblending and the catalogue.

Why this is written out instead of calling photutils
----------------------------------------------------
1. ``detect_sources(data, 0.0, mask=~above)`` makes four more full-chip
   passes (comparison, inverse mask, two counts), a
   `scipy.ndimage.find_objects` and a full-chip gather to relabel, while
   only a few thousand pixels of a 2048x4096 chip are above the threshold:
   `segment_above` makes the same `scipy.ndimage.label` call as photutils,
   then sizes and new labels on the labelled pixels only (0.03 s instead of
   0.11-0.2 s per chip).
2. Importing `photutils.segmentation` costs ~1 CPU s (it imports
   ``scipy.signal`` and ``scipy.stats``; 2.1 s instead of 1.1 s for
   ``import acs_flecks.detect.finder, photutils.segmentation`` on the
   2-core development machine): more than the whole search of a chip.
   `Segments` offers the attributes of a
   `~photutils.segmentation.SegmentationImage` that the deblending
   (`~acs_flecks.detect.deblend`), the catalogue
   (`~acs_flecks.detect.catalog.measure_sources`) and the footprints use,
   so ``acs_flecks find`` never imports photutils.

Tests (``tests/test_detect.py``) check that `segment_above` gives the
labels of ``detect_sources`` and `Segments` the ``labels``, ``slices``
and ``areas`` of a ``SegmentationImage``.

>>> import numpy as np
>>> from acs_flecks.detect.segmentation import segment_above
>>> above = np.zeros((6, 8), bool)
>>> above[1:3, 1:3] = above[4:6, 5:8] = True
>>> segm = segment_above(above, min_area=4)
>>> segm.labels.tolist(), segm.areas.tolist()
([1, 2], [4, 6])
"""

import numpy as np

__all__ = ['Segments', 'segment_above']


class Segments:
    """
    A label image (0: background, 1 ... n: segments), with the attributes
    of `photutils.segmentation.SegmentationImage` the search uses.

    Parameters
    ----------
    data : 2-D int array
        The labels.
    pixels : 1-D int array, optional
        Flat indices of every labelled pixel (all of them, in any order):
        the labels, boxes and areas are then computed from those pixels only
        instead of from a pass over the whole image.  Relabelling pixels
        (deblending) keeps this valid; unlabelling them does not.
    """

    def __init__(self, data, *, pixels=None):
        self._pixels = pixels
        self.data = data

    @property
    def data(self):
        """The label array; setting it (even the same, modified, array)
        recomputes the labels, slices and areas."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value
        self._stats = None

    @property
    def shape(self):
        return self._data.shape

    def _compute(self):
        if self._stats is not None:
            return self._stats
        if self._pixels is None:
            self._pixels = np.flatnonzero(self._data)
        flat = self._data.reshape(-1)
        lab = flat[self._pixels]
        keep = lab != 0
        pix = self._pixels[keep]
        lab = lab[keep]
        nx = self._data.shape[1]
        order = np.argsort(lab, kind='stable')
        lab = lab[order]
        rows, cols = np.divmod(pix[order], nx)
        if len(lab):
            starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
            labels = lab[starts].astype(self._data.dtype)
            areas = np.diff(np.r_[starts, len(lab)])
            r0 = np.minimum.reduceat(rows, starts)
            r1 = np.maximum.reduceat(rows, starts) + 1
            c0 = np.minimum.reduceat(cols, starts)
            c1 = np.maximum.reduceat(cols, starts) + 1
            slices = [(slice(int(a), int(b)), slice(int(c), int(d)))
                      for a, b, c, d in zip(r0, r1, c0, c1)]
        else:
            labels = np.zeros(0, self._data.dtype)
            areas = np.zeros(0, int)
            slices = []
        self._stats = (labels, slices, areas)
        return self._stats

    @property
    def labels(self):
        """The sorted non-zero labels."""
        return self._compute()[0]

    @property
    def slices(self):
        """The minimal box (row slice, column slice) of each label, in the
        order of `labels`."""
        return self._compute()[1]

    @property
    def areas(self):
        """Pixels of each label, in the order of `labels`."""
        return self._compute()[2]

    @property
    def n_labels(self):
        return len(self.labels)

    @property
    def max_label(self):
        labels = self.labels
        return int(labels[-1]) if len(labels) else 0


def segment_above(above, min_area, *, out=None):
    """
    The segmentation of `photutils.segmentation.detect_sources`: the
    8-connected groups of at least ``min_area`` pixels of ``above``,
    labelled 1 ... n in raster order of their first pixel.

    Parameters
    ----------
    above : 2-D bool array
        The pixels above the detection threshold.
    min_area : int
        Minimum pixels of a segment (SExtractor's ``DETECT_MINAREA``).
    out : 2-D int32 array, optional
        C-contiguous buffer of ``above``'s shape for the labels (fewer
        fresh full-chip pages).

    Returns
    -------
    `Segments` or `None`
        `None` when no group has ``min_area`` pixels.
    """
    from scipy import ndimage

    structure = np.ones((3, 3), bool)
    if out is None:
        labels, n = ndimage.label(above, structure=structure)
    else:
        labels = out
        n = ndimage.label(above, structure=structure, output=labels)
    if n == 0:
        return None
    # the few labelled pixels only: sizes, then consecutive labels for the
    # groups of at least min_area pixels (same order), 0 for the others
    where = np.flatnonzero(above)
    flat = labels.reshape(-1)
    old = flat[where]
    npix = np.bincount(old, minlength=n + 1)
    keep = npix >= min_area
    keep[0] = False
    if not keep.any():
        return None
    new = np.zeros(n + 1, labels.dtype)
    new[keep] = np.arange(1, np.count_nonzero(keep) + 1)
    flat[where] = new[old]
    return Segments(labels, pixels=where[keep[old]])
