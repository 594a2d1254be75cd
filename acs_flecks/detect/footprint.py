"""
Footprints of detected artifacts: the pixels of each segment, as text.

A detection is more than its centroid: deblending may split one freckle
into two pieces in one epoch and not in the next, so the monitor
(`acs_flecks.monitor.crossmatch`) associates detections of different epochs
by the pixels they share.  Each catalog row therefore carries its segment's
pixels, run-length encoded along rows, in the **1-indexed full-chip frame**
(x = column, y = row) so that sub-arrays and full frames compare directly:

``"y,x,n;y,x,n;..."``: in row ``y``, the ``n`` pixels ``x ... x + n - 1``.

A 100-pixel freckle takes about 10 runs (~120 characters), which keeps the
catalog (ECSV) and the history database small.

>>> import numpy as np
>>> from acs_flecks.detect.footprint import encode_runs, decode_footprint
>>> mask = np.zeros((4, 5), bool); mask[1, 1:4] = True; mask[2, 2] = True
>>> text = encode_runs(mask, x0=1, y0=1)
>>> text
'2,2,3;3,3,1'
>>> decode_footprint(text)
(array([2, 3, 4, 3]), array([2, 2, 2, 3]))
"""

import numpy as np

from ..exceptions import AcsFlecksError

__all__ = ['encode_runs', 'segment_footprints', 'decode_footprint',
           'footprint_keys', 'footprints_touch']


def encode_runs(mask, *, x0, y0):
    """
    Run-length encode the True pixels of a 2-D mask.

    Parameters
    ----------
    mask : 2-D bool array
        The pixels of one segment (e.g. a cutout of a segmentation image).
    x0, y0 : int
        1-indexed full-chip (x, y) of ``mask[0, 0]``.

    Returns
    -------
    str
        ``"y,x,n;..."`` in row order, then column order ('' for an empty
        mask).
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise AcsFlecksError(f'a footprint mask must be 2-D, got shape '
                             f'{mask.shape}')
    runs = []
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    for r in np.flatnonzero(mask.any(axis=1)):
        starts = np.flatnonzero(edges[r] == 1)
        ends = np.flatnonzero(edges[r] == -1)
        for s, e in zip(starts, ends):
            runs.append(f'{int(y0) + r},{int(x0) + s},{e - s}')
    return ';'.join(runs)


def segment_footprints(segm, ltv=(0.0, 0.0)):
    """
    The footprint text of every segment of a segmentation image.

    Parameters
    ----------
    segm : `~photutils.segmentation.SegmentationImage`
    ltv : tuple of float
        (``LTV1``, ``LTV2``) of the image: the footprints are given in the
        full-chip frame.

    Returns
    -------
    list of str
        In the order of ``segm.labels``.
    """
    from ..coords import image_to_chip, index_to_pixel
    data = segm.data
    out = []
    for label, sl in zip(segm.labels, segm.slices):
        x0, y0 = image_to_chip(*index_to_pixel(sl[0].start, sl[1].start),
                               ltv)
        out.append(encode_runs(data[sl] == label, x0=int(round(float(x0))),
                               y0=int(round(float(y0)))))
    return out


def decode_footprint(text):
    """
    The pixels of a footprint text.

    Parameters
    ----------
    text : str
        As written by `encode_runs` ('' or None: no pixels).

    Returns
    -------
    x, y : `~numpy.ndarray` of int
        1-indexed full-chip positions of every pixel.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Not a footprint text.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        text = ''
    text = str(text).strip()
    xs, ys = [], []
    if not text:
        return np.array([], int), np.array([], int)
    try:
        for run in text.split(';'):
            y, x, n = (int(v) for v in run.split(','))
            if n < 1:
                raise ValueError(f'run length {n}')
            xs.append(np.arange(x, x + n))
            ys.append(np.full(n, y))
    except ValueError as exc:
        raise AcsFlecksError(f'not a footprint ("y,x,n;..."): {text[:40]!r} '
                             f'({exc})') from None
    return np.concatenate(xs), np.concatenate(ys)


def footprint_keys(text):
    """The pixels of a footprint as a set of ``(x, y)`` tuples."""
    x, y = decode_footprint(text)
    return set(zip(x.tolist(), y.tolist()))


def footprints_touch(a, b):
    """True if two pixel sets (`footprint_keys`) share a pixel or are
    8-connected neighbours (pieces of one segment before deblending)."""
    if len(a) > len(b):
        a, b = b, a
    for x, y in a:
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if (x + dx, y + dy) in b:
                    return True
    return False
