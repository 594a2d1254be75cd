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

3. The labelling itself (`label8`) is a compiled two-pass union-find
   that touches only the labelled pixels after its scan of the mask, in
   place of ``scipy.ndimage.label``: the same labels (raster order of each
   group's first pixel, tested against scipy), without importing
   ``scipy.ndimage`` (0.13 s, a tenth of the whole ``acs_flecks find``)
   and without writing a full-chip label image (the labels go into fresh
   zero pages, `sparse_zeros`, of which only those holding segments are
   ever touched).

Tests (``tests/test_detect.py``, ``tests/test_detect_segmentation.py``)
check that `segment_above` gives the labels of ``detect_sources``,
`label8` those of ``scipy.ndimage.label``, and `Segments` the ``labels``,
``slices`` and ``areas`` of a ``SegmentationImage``.

>>> import numpy as np
>>> from acs_flecks.detect.segmentation import segment_above
>>> above = np.zeros((6, 8), bool)
>>> above[1:3, 1:3] = above[4:6, 5:8] = True
>>> segm = segment_above(above, min_area=4)
>>> segm.labels.tolist(), segm.areas.tolist()
([1, 2], [4, 6])
"""

import mmap

import numpy as np

from . import _kernels

__all__ = ['Segments', 'segment_above', 'label8', 'sparse_zeros']


#: Arrays at least this large are allocated by `sparse_zeros` from the
#: operating system (numpy's own threshold for huge pages is 4 MiB).
SPARSE_MIN_BYTES = 1 << 22


def sparse_zeros(shape, dtype):
    """
    A zero array whose memory is taken only where it is written.

    numpy asks the kernel for transparent huge pages for every array of 4
    MiB or more, so the first write anywhere in a 2 MiB stretch zeroes all
    of it: the 69 segments of a full-frame DKC, spread over a chip, made
    the labelling write 32 MB of a 32 MB label image (0.07 CPU s per chip
    in a fresh process, 0.006 once the memory is reused).  An anonymous
    `mmap` of ordinary pages costs only the pages the segments occupy.
    (Where the kernel gives huge pages to every mapping, THP ``always``,
    this is no worse than `numpy.zeros`.)

    Parameters
    ----------
    shape : tuple of int
    dtype : dtype

    Returns
    -------
    `~numpy.ndarray`
        Writable, C-contiguous, zero; small arrays are plain `numpy.zeros`.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < SPARSE_MIN_BYTES:
        return np.zeros(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype).reshape(shape)


def label8(mask, *, out=None):
    """
    The 8-connected groups of a mask, as ``scipy.ndimage.label(mask,
    structure=np.ones((3, 3)))``.

    Parameters
    ----------
    mask : 2-D bool array
    out : 2-D int32 array, optional
        C-contiguous buffer of ``mask``'s shape for the labels; it is
        zeroed first.  Default: fresh zero pages (only the pages holding
        labelled pixels are ever touched).

    Returns
    -------
    labels : 2-D int32 array
        0 outside the groups, 1 ... n in raster order of each group's
        first pixel (scipy's numbering).
    n : int
    pixels : 1-D int64 array
        Flat indices of the labelled pixels, in raster order (as
        ``np.flatnonzero(mask)``).
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f'label8 needs a 2-D mask, got shape {mask.shape}')
    if out is None:
        out = sparse_zeros(mask.shape, np.int32)
    else:
        if out.shape != mask.shape or out.dtype != np.int32 or \
                not out.flags.c_contiguous:
            raise ValueError('label8: out must be a C-contiguous int32 '
                             f'array of shape {mask.shape}')
        out[...] = 0
    # room for every pixel; only the pages of the labelled ones are touched
    where = sparse_zeros(mask.size, np.int64)
    n, npix = _kernels.label8(mask, out, where)
    return out, int(n), where[:npix].copy()


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
        C-contiguous buffer of ``above``'s shape for the labels (zeroed
        first); default: fresh zero pages (see `label8`).

    Returns
    -------
    `Segments` or `None`
        `None` when no group has ``min_area`` pixels.
    """
    labels, n, where = label8(above, out=out)
    if n == 0:
        return None
    # the few labelled pixels only: sizes, then consecutive labels for the
    # groups of at least min_area pixels (same order), 0 for the others
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
