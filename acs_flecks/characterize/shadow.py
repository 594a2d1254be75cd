"""
The low-level "shadow" trail in +y of a fleck in short flashed darks
(report §5, Figures 8 and 9).

The total signal in an 11x3 box (11 columns, 3 rows) just above (+y) the
fleck is compared with the total signal in an empty box of the same size to
the right (+x) of the fleck, in every short dark; the error of each total is
Poisson, from the electrons actually counted (as in the report): ``sqrt(S)``
for a single exposure or an ACSREJ sum S, ``sqrt(S / N)`` for an average of
N exposures (`acs_flecks.combined.combination` decides from the header and
the decision is written in the table).  Flagged pixels (hot, warm,
saturated, ACSREJ-rejected, sink pixels and their trails, which lie along
the readout direction like the shadow itself: `acs_flecks.dq.DARK_DQ_MASK`;
``ERR <= 0``, which includes ACSREJ's
``ERR[0, 0] = -1`` sentinel and its rejected pixels with ERR 0) are left out
and the sum of the others is scaled to the box area; the number left out
is in the table.  Before the fleck appears both agree; after, the shadow box
is lower (~200 e- in the report).

Box geometry: by default it is derived once from the fleck itself (the
aperture of pixels blocking > 5 % in the latest dark of the series): the
shadow box is centred on the fleck's blocking-weighted centroid column and
starts on the first row above the aperture; the empty box is on the same
rows, starting ``gap`` columns right of the aperture.  Both can be given
explicitly as (xmin, xmax, ymin, ymax), 1-indexed inclusive chip pixels.
The footprint must be one that the noise of a short dark (~5 % per pixel)
cannot widen and that the trail itself (which blocks well over 5 %) does not
extend: the lamp footprint when flats are given (``lamp``, ``acs_flecks
shadow --flats``); otherwise a model footprint from the dark: the blocking
image smoothed over 3x3 pixels, the fleck's connected aperture in it, and
its top edge mirrored from the bottom edge about the centre of the fleck's
core (pixels blocking > 50 %), since the trail is only on the +y side.
"""

import logging
import os
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable
from astropy.time import Time
from scipy import ndimage

from ..combined import combination
from ..dq import DARK_DQ_MASK
from ..exceptions import AcsFlecksError, InputFileError
from ..io import open_image
from ..parameters import CHARACTERIZATION
from ..utils import write_ecsv
from .cutouts import extract_cutout, normalize_cutout, output_prefix
from .ledlamp import compare_led_lamp
from .shifts import transform_image
from .transmissivity import select_aperture

__all__ = ['shadow_boxes', 'shadow_time_series', 'ShadowSeries',
           'box_signal', 'check_flashed_darks']

log = logging.getLogger(__name__)

# defaults: the characterization stage of acs_flecks.parameters
_C = CHARACTERIZATION.defaults


def _open(f):
    return open_image(f, operation='shadow', require_arrays=False)


def _open_flashed_dark(f):
    """Open a dark for the shadow analysis, refusing anything that is not
    a post-flashed dark: the trail is a deficit of post-flash signal
    (report §5), so an un-flashed image or a lamp flat gives a meaningless
    "significance"."""
    im = _open(f)
    if im.imagetyp and im.imagetyp.upper() != 'DARK':
        raise InputFileError(
            f'IMAGETYP={im.imagetyp!r}, not a dark: the shadow analysis '
            '(report §5) needs short post-flashed darks (DKC)', path=im.path)
    if not im.flashed:
        raise InputFileError(
            f'not post-flashed (FLASHDUR={im.flashdur.value:g} s, '
            f'FLASHSTA={im.flashsta!r}): the shadow analysis (report §5) '
            'needs short post-flashed darks (DKC)', path=im.path)
    return im


def check_flashed_darks(darks):
    """
    Open the darks of a shadow analysis, refusing any that is not a
    post-flashed dark (IMAGETYP 'DARK', post-flashed successfully).

    Parameters
    ----------
    darks : list of str, path-like or `~acs_flecks.io.ACSImage`

    Returns
    -------
    list of `~acs_flecks.io.ACSImage`

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        The first input that is not a post-flashed WFC dark.
    """
    return [_open_flashed_dark(d) for d in darks]


def _check_box(b, name):
    try:
        x0, x1, y0, y1 = (int(v) for v in b)
    except (TypeError, ValueError):
        raise AcsFlecksError(f'{name} must be (xmin, xmax, ymin, ymax), got {b!r}') from None
    if x1 < x0 or y1 < y0:
        raise AcsFlecksError(f'{name} {b!r}: max must be >= min')
    return x0, x1, y0, y1


def shadow_boxes(image, *, ccdchip, x, y, size=(3, 11), box=(40, 40), gap=3,
                 aperture_threshold=_C.aperture_threshold, lamp=None):
    """
    Shadow and empty boxes of a fleck, from its aperture in a flashed dark.

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        A flashed dark in which the fleck is visible.
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck.
    size : tuple of int
        (ny, nx) of the boxes (report: 3 rows x 11 columns).
    box : tuple of int
        Cutout used to find the fleck's aperture.
    gap : int
        Columns between the aperture and the empty box.
    aperture_threshold : float
    lamp : `~acs_flecks.characterize.TransmissivityResult`, optional
        The fleck measured in flats.  If given, the footprint is the lamp
        blocking image fitted (shift and scale) to the dark, so that the
        trail itself, which blocks well over 5 % of the post-flash in an
        average dark, does not widen the footprint and push the box up.
        Without it a model footprint from the dark (module docstring).

    Returns
    -------
    shadow, empty : tuple of int
        (xmin, xmax, ymin, ymax), 1-indexed inclusive chip pixels.
    """
    image = _open_flashed_dark(image)
    if lamp is not None:
        # the fleck's LED footprint without the trail: the lamp blocking
        # image moved and scaled onto the dark (the fit clips the trail)
        comp = compare_led_lamp(image, lamp)
        s = comp.shift
        model = transform_image(comp.lamp_blocking, s)
        block = model
        ap = select_aperture(model, threshold=aperture_threshold)
        origin = comp.origin
        path = comp.dkc_path
    else:
        cut = extract_cutout(image, ccdchip=ccdchip, x=x, y=y, box=box)
        good = cut.good(DARK_DQ_MASK) & (cut.err > 0)
        norm = normalize_cutout(cut.sci, cut.err, good=good,
                                threshold=aperture_threshold)
        raw_block = np.where(good, 1 - norm.image, 0.0)
        # 3x3 mean of the good pixels: the per-pixel noise (~5 % in a short
        # dark) drops to ~1.7 %, so it no longer widens the 5 % aperture
        wsum = ndimage.uniform_filter(good.astype(float), 3, mode='nearest')
        with np.errstate(invalid='ignore', divide='ignore'):
            block = np.where(wsum > 0, ndimage.uniform_filter(
                raw_block, 3, mode='nearest') / wsum, 0.0)
        ctr = (x - cut.origin[0], y - cut.origin[1])
        ap = select_aperture(block, threshold=aperture_threshold, good=good,
                             center=ctr)
        origin, path = cut.origin, cut.path
        core = ap & (block > 0.5)
        if ap.any() and core.any():
            # the trail is on the +y side only: mirror the bottom edge
            rows_c, _ = np.nonzero(core)
            w = block[core]
            yc = float(np.sum(w * rows_c) / np.sum(w))
            bottom = int(np.nonzero(ap.any(axis=1))[0].min())
            top_row = int(np.floor(2 * yc - bottom + 0.5))
            keep = np.arange(ap.shape[0])[:, None] <= top_row
            ap = ap & keep
    if not ap.any():
        raise AcsFlecksError(f'no fleck near ({x}, {y}) on CCDCHIP={ccdchip} to '
                             'place the shadow box on; give shadow_box and '
                             'empty_box', path=path)
    rows, cols = np.nonzero(ap)
    w = np.clip(block[rows, cols], 0, None)
    xc = float(np.sum(w * cols) / np.sum(w)) + origin[0]
    ny, nx = size
    top = rows.max() + origin[1]
    right = cols.max() + origin[0]
    sx0 = int(round(xc)) - nx // 2
    shadow = (sx0, sx0 + nx - 1, top + 1, top + ny)
    ex0 = right + 1 + gap
    empty = (ex0, ex0 + nx - 1, top + 1, top + ny)
    return shadow, empty


def box_signal(image, box, *, ccdchip, dq_mask=DARK_DQ_MASK, combo=None):
    """
    Total SCI in a box and its errors, flagged pixels left out.

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
    box : tuple of int
        (xmin, xmax, ymin, ymax), 1-indexed inclusive.
    ccdchip : int
    dq_mask : int
        DQ flags left out of the sum (default `acs_flecks.dq.DARK_DQ_MASK`:
        hot, warm, saturated, ACSREJ-rejected, sink pixels, ...).  Pixels
        with ``ERR <= 0`` are left out too.
    combo : `~acs_flecks.combined.Combination`, optional
        Default: `~acs_flecks.combined.combination` of the image.

    Returns
    -------
    total : float
        Sum of SCI over the good pixels, scaled to the box area (SCI units).
    poisson_err : float
        Poisson error of ``total`` from the electrons counted in the good
        pixels, scaled likewise.
    err_array : float
        sqrt(sum ERR^2) over the good pixels, scaled (NaN without ERR).
    npix_excluded : int
        Pixels left out.
    """
    x0, x1, y0, y1 = _check_box(box, 'box')
    nx, ny = x1 - x0 + 1, y1 - y0 + 1
    # extract_cutout centres on (x, y) with ny//2 rows below
    cx, cy = x0 + nx // 2, y0 + ny // 2
    img = _open(image)
    cut = extract_cutout(img, ccdchip=ccdchip, x=cx, y=cy, box=(ny, nx))
    combo = combo or combination(img, ccdchip=ccdchip)
    has_err = 'ERR' in img._entry(ccdchip)
    good = np.isfinite(cut.sci) & ((cut.dq & np.uint16(dq_mask)) == 0)
    if has_err:
        good &= np.isfinite(cut.err) & (cut.err > 0)
    n_bad = int(good.size - good.sum())
    if not good.any():
        return np.nan, np.nan, np.nan, n_bad
    scale = good.size / good.sum()
    raw_total = float(np.sum(cut.sci[good]))
    total = raw_total * scale
    perr = combo.poisson_error(raw_total) * scale
    err = float(np.sqrt(np.sum(cut.err[good] ** 2)) * scale) if has_err else np.nan
    return total, perr, err, n_bad


@dataclass
class ShadowSeries:
    """The shadow time series of one fleck (Figure 9).

    Attributes
    ----------
    table : `~astropy.table.QTable`
        One row per dark, time-ordered.
    shadow_box, empty_box : tuple of int
        (xmin, xmax, ymin, ymax), 1-indexed chip pixels.
    """

    table: QTable
    shadow_box: tuple
    empty_box: tuple
    ccdchip: int
    x: float
    y: float
    fleck_id: str = ''

    def to_table(self):
        """The time series (`~astropy.table.QTable`)."""
        return self.table

    def write(self, outdir, *, prefix=None):
        """Write ``<prefix>_shadow.ecsv``; returns kind -> path."""
        prefix = prefix or output_prefix(self.fleck_id, self.ccdchip,
                                         self.x, self.y)
        os.makedirs(outdir, exist_ok=True)
        p = os.path.join(outdir, f'{prefix}_shadow.ecsv')
        t = self.table.copy()
        t['time'] = t['time'].isot
        write_ecsv(t, p)
        return {'table': p}


def shadow_time_series(darks, *, ccdchip, x, y, shadow_box=None, empty_box=None,
                       size=(3, 11), gap=3, reference=None, lamp=None,
                       fleck_id=''):
    """
    Shadow-box vs empty-box signal over a series of short flashed darks.

    Parameters
    ----------
    darks : list of str, path-like or `~acs_flecks.io.ACSImage`
        Average short flashed darks (DKC), any order.
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck.
    shadow_box, empty_box : tuple of int, optional
        (xmin, xmax, ymin, ymax) 1-indexed inclusive; default from
        `shadow_boxes` on ``reference``.
    size : tuple of int
        (ny, nx) of the default boxes (3 rows x 11 columns).
    gap : int
        See `shadow_boxes`.
    reference : str or `~acs_flecks.io.ACSImage`, optional
        Dark used to place the default boxes (default: the latest dark).
    lamp : `~acs_flecks.characterize.TransmissivityResult`, optional
        Flat measurement of the fleck, to place the boxes on its footprint
        (recommended, see `shadow_boxes`).
    fleck_id : str

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        A dark that is not a post-flashed dark (IMAGETYP not 'DARK', or
        not post-flashed): the trail is a deficit of post-flash signal.

    Returns
    -------
    ShadowSeries
        Table columns: ``time``, ``file``, ``shadow_signal``,
        ``shadow_err``, ``empty_signal``, ``empty_err`` (e-, Poisson from
        the electrons counted), ``difference`` (shadow - empty) and
        ``difference_err``, ``significance`` (difference / error),
        ``shadow_err_array`` and ``empty_err_array`` (from ERR),
        ``ncombine``, ``combination`` ('single', 'sum' or 'average'),
        ``shadow_npix_excluded`` and ``empty_npix_excluded`` (flagged pixels
        left out, sums scaled to the box area).
    """
    imgs = sorted(check_flashed_darks(darks), key=lambda im: im.obs_time.mjd)
    if not imgs:
        raise AcsFlecksError('no darks given')
    if (shadow_box is None) != (empty_box is None):
        raise AcsFlecksError('give both shadow_box and empty_box, or neither')
    if shadow_box is None:
        ref = _open_flashed_dark(reference) if reference is not None \
            else imgs[-1]
        shadow_box, empty_box = shadow_boxes(ref, ccdchip=ccdchip, x=x, y=y,
                                             size=size, gap=gap, lamp=lamp)
        log.debug('shadow box x %d-%d y %d-%d, empty box x %d-%d y %d-%d',
                 *shadow_box, *empty_box)
    shadow_box = _check_box(shadow_box, 'shadow_box')
    empty_box = _check_box(empty_box, 'empty_box')
    sb, eb = shadow_box, empty_box
    if (sb[1] - sb[0], sb[3] - sb[2]) != (eb[1] - eb[0], eb[3] - eb[2]):
        raise AcsFlecksError(f'shadow box {sb} and empty box {eb} differ in size')
    rows, kinds = [], {}
    for im in imgs:
        combo = combination(im, ccdchip=ccdchip)
        # one unit for the whole series: an average is electrons per
        # exposure, a sum total electrons; never mixed in one series
        kinds.setdefault(combo.kind == 'average', im.name)
        if len(kinds) > 1:
            raise AcsFlecksError(
                f'averaged and summed darks mixed in one series '
                f'({kinds[True]} is an average, {kinds[False]} a sum or '
                'single exposure): their box sums are in different units',
                path=im.path)
        s, sp, se, ns = box_signal(im, sb, ccdchip=ccdchip, combo=combo)
        e, ep, ee, ne = box_signal(im, eb, ccdchip=ccdchip, combo=combo)
        if ns or ne:
            # said in the table (shadow/empty_npix_excluded), not warned:
            # hot pixels come and go from dark to dark
            log.info('%s: %d shadow-box and %d empty-box pixel(s) flagged '
                     '(DQ or ERR <= 0) left out; sums scaled to the box area',
                     im.name, ns, ne)
        d = s - e
        derr = float(np.hypot(sp, ep))
        rows.append((im.obs_time.mjd, im.name, s, sp, e, ep, d, derr,
                     d / derr if derr > 0 else np.nan, se, ee,
                     combo.ncombine, combo.kind, ns, ne))
    t = QTable(rows=rows, names=('mjd', 'file', 'shadow_signal', 'shadow_err',
                                 'empty_signal', 'empty_err', 'difference',
                                 'difference_err', 'significance',
                                 'shadow_err_array', 'empty_err_array',
                                 'ncombine', 'combination',
                                 'shadow_npix_excluded', 'empty_npix_excluded'))
    t.add_column(Time(t['mjd'], format='mjd', scale='utc'), name='time', index=0)
    t.remove_column('mjd')
    for c in ('shadow_signal', 'shadow_err', 'empty_signal', 'empty_err',
              'difference', 'difference_err', 'shadow_err_array', 'empty_err_array'):
        t[c] = t[c] * u.electron
    t.meta.update({'fleck_id': fleck_id, 'ccdchip': int(ccdchip), 'x': float(x),
                   'y': float(y), 'shadow_box': list(sb), 'empty_box': list(eb),
                   'box_convention': '(xmin, xmax, ymin, ymax) 1-indexed inclusive',
                   'error': 'Poisson, from the electrons counted: sqrt(S) for a '
                            'single exposure or a sum S, sqrt(S/N) for an '
                            'average of N (column combination)',
                   'excluded': 'pixels with DQ flags or ERR <= 0 left out, '
                               'sums scaled to the box area'})
    return ShadowSeries(table=t, shadow_box=sb, empty_box=eb, ccdchip=int(ccdchip),
                        x=x, y=y, fleck_id=fleck_id)
