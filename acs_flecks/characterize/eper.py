"""
Two epochs of EPER lamp images: ratios and motion of a fleck (report §4,
Figures 5-7).

The EPER lamp images of two epochs (the report: 2017-05-10 and 2017-11-13,
six signal levels from 180 to 42,000 e-) are paired by signal level
(`pair_eper`).  For every pair, both cutouts are divided by their own local
background (`~acs_flecks.characterize.normalize_cutout`; this removes the
difference in exposure level between the epochs) and the later one is
divided by the earlier one.  In a box around the fleck this gives

* ``mean_ratio``: the mean of the ratio image, the report's number
  (0.97-1.04), with the standard error of the mean from the pixel scatter;
* ``flux_ratio``: the ratio of the summed normalized fluxes, with the error
  propagated from ERR, which stays finite where the fleck blocks all light;
* the **motion**: the sub-pixel shift of the later blocking image relative
  to the earlier one (`~acs_flecks.characterize.shifts.measure_shift`),
  combined over the pairs by inverse-variance weighting.

Inputs must be bias-subtracted (calibrated flt/flc, or raw frames after the
prescan bias level is removed as in the report); files without an ERR array
get ERR = sqrt(signal + read noise^2).
"""

import logging
import os
import warnings
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable

from ..exceptions import AcsFlecksError, SkippedFileWarning
from ..io import open_image
from ..parameters import CHARACTERIZATION
from ..utils import atomic_output, write_ecsv
from ..coords import chip_to_image, cutout_slices
from ..dq import DEFAULT_DQ_MASK
from .cutouts import (cutout_header, extract_cutout,
                      normalize_cutout, output_prefix, parse_box)
from .shifts import measure_shift, weighted_mean_shift
from .transmissivity import select_aperture

__all__ = ['EperPair', 'EperResult', 'pair_eper', 'eper_ratio',
           'signal_level', 'covers']

log = logging.getLogger(__name__)

# defaults: the characterization stage of acs_flecks.parameters
_C = CHARACTERIZATION.defaults


@dataclass
class EperPair:
    """Two EPER images of similar signal level from two epochs."""

    early: object
    late: object
    level_early: float
    level_late: float


def _open(f):
    return open_image(f, operation='eper', require_arrays=False)


def signal_level(image, *, ccdchip=None):
    """Median SCI (e-) of a chip (default: the first), the EPER level."""
    img = _open(image)
    chip = img.chip(img.chips[0] if ccdchip is None else ccdchip, arrays=('SCI',))
    return float(np.nanmedian(chip.sci))


def covers(image, *, ccdchip, x, y, box=(40, 40)):
    """
    True if ``image`` holds chip ``ccdchip`` and a ``box`` (ny, nx) centred
    on the 1-indexed chip pixel (x, y) lies inside it (from the headers:
    ``LTV1``/``LTV2`` and the array shape).
    """
    img = _open(image)
    if int(ccdchip) not in img.chips:
        return False
    ny, nx = parse_box(box, min_size=1)
    xi, yi = chip_to_image(x, y, img.ltv(ccdchip))
    try:
        cutout_slices(xi, yi, (ny, nx), chip_shape=img.shape)
    except AcsFlecksError:
        return False
    return True


def pair_eper(images, *, ccdchip=None, x=None, y=None, box=(40, 40),
              epoch_gap=30 * u.day, max_level_ratio=1.5):
    """
    Split EPER images into two epochs and pair them by signal level.

    Parameters
    ----------
    images : list of str, path-like or `~acs_flecks.io.ACSImage`
    ccdchip : int, optional
        Chip whose median sets the level (default: the first chip).
        Images without this chip are left out.
    x, y : float, optional
        1-indexed chip position of a fleck (with ``ccdchip``): only the
        images whose chip holds the ``box`` around it are paired, so that
        sub-array windows around different flecks (one set per fleck) can
        be given together.
    box : tuple of int or str, optional
        Cutout (ny, nx) that must lie in the image (with ``x``, ``y``).
    epoch_gap : `~astropy.units.Quantity`
        Images separated by more than this are different epochs.
    max_level_ratio : float
        Largest ratio of levels accepted in a pair.

    Returns
    -------
    list of EperPair
        Sorted by level.  Unpaired images raise a `SkippedFileWarning`.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Not exactly two epochs, or no pair.
    """
    imgs = sorted((_open(f) for f in images), key=lambda im: im.obs_time.mjd)
    if (x is None) != (y is None):
        raise AcsFlecksError('give both x and y, or neither')
    if x is not None and ccdchip is None:
        raise AcsFlecksError('a position (x, y) needs its ccdchip')
    if ccdchip is not None:
        n_all = len(imgs)
        if x is not None:
            imgs = [im for im in imgs
                    if covers(im, ccdchip=ccdchip, x=x, y=y, box=box)]
            where = f'a {box} box around ({x:g}, {y:g}) on CCDCHIP={ccdchip}'
        else:
            imgs = [im for im in imgs if int(ccdchip) in im.chips]
            where = f'CCDCHIP={ccdchip}'
        if len(imgs) < n_all:
            log.debug('%d of %d EPER image(s) do not hold %s: not paired',
                      n_all - len(imgs), n_all, where)
        if n_all and not imgs:
            raise AcsFlecksError(f'none of the {n_all} EPER image(s) holds '
                                 f'{where}')
    if len(imgs) < 2:
        raise AcsFlecksError(f'need EPER images of two epochs, got {len(imgs)} file(s)')
    gap = u.Quantity(epoch_gap, u.day).value
    epochs = [[imgs[0]]]
    for im in imgs[1:]:
        if im.obs_time.mjd - epochs[-1][-1].obs_time.mjd > gap:
            epochs.append([])
        epochs[-1].append(im)
    if len(epochs) != 2:
        dates = [e[0].obs_time.isot[:10] for e in epochs]
        raise AcsFlecksError(f'EPER images must come from exactly two epochs '
                             f'(separated by > {gap:g} days); found {len(epochs)}: '
                             f'{dates}', path=imgs[0].path)
    levels = [[(signal_level(im, ccdchip=ccdchip), im) for im in ep] for ep in epochs]
    pairs, used = [], set()
    for lev, im in sorted(levels[0], key=lambda t: t[0]):
        cands = [(abs(np.log(max(l2, 1e-3) / max(lev, 1e-3))), l2, j, im2)
                 for j, (l2, im2) in enumerate(levels[1]) if j not in used]
        if not cands:
            warnings.warn(f'{im.name}: no EPER image left to pair with',
                          SkippedFileWarning)
            continue
        d, l2, j, im2 = min(cands, key=lambda t: t[0])
        if d > np.log(max_level_ratio):
            warnings.warn(f'{im.name} (level {lev:.0f} e-): no image of the '
                          f'other epoch within a factor {max_level_ratio} '
                          f'(nearest {im2.name}, {l2:.0f} e-)', SkippedFileWarning)
            continue
        used.add(j)
        pairs.append(EperPair(early=im, late=im2, level_early=lev, level_late=l2))
    for j, (l2, im2) in enumerate(levels[1]):
        if j not in used:
            warnings.warn(f'{im2.name} (level {l2:.0f} e-): not paired',
                          SkippedFileWarning)
    if not pairs:
        raise AcsFlecksError('no EPER images of the two epochs have similar '
                             'signal levels', path=imgs[0].path)
    return pairs


@dataclass
class _PairMeasurement:
    pair: EperPair
    early_norm: object
    late_norm: object
    good: np.ndarray
    ratio: np.ndarray
    ratio_err: np.ndarray
    shift: object


class EperResult:
    """
    EPER ratios and motion of one fleck.

    Attributes
    ----------
    measurements : list
        One per pair (``.pair``, ``.ratio``, ``.ratio_err``, ``.shift``).
    box_mask : `~numpy.ndarray` of bool
        The box in which the ratios are averaged.
    origin : tuple of int
        1-indexed chip (x, y) of the cutouts' [0, 0].
    """

    def __init__(self, measurements, *, box_mask, origin, ccdchip, x, y, box,
                 fleck_id=''):
        self.measurements = measurements
        self.box_mask = box_mask
        self.origin = origin
        self.ccdchip = ccdchip
        self.x, self.y = x, y
        self.box = box
        self.fleck_id = fleck_id

    @cached_property
    def shift(self):
        """Combined motion (dx, dx_err, dy, dy_err), pixels, late - early."""
        return weighted_mean_shift([m.shift for m in self.measurements
                                    if m.shift is not None])

    def to_table(self):
        """One row per pair: levels, files, ratios and shifts (`QTable`)."""
        t = QTable()
        ms = self.measurements
        t['level_early'] = u.Quantity([m.pair.level_early for m in ms], u.electron)
        t['level_late'] = u.Quantity([m.pair.level_late for m in ms], u.electron)
        t['date_early'] = [m.pair.early.obs_time.isot[:10] for m in ms]
        t['date_late'] = [m.pair.late.obs_time.isot[:10] for m in ms]
        bm = self.box_mask
        mr, mre, fr, fre = [], [], [], []
        for m in ms:
            use = bm & m.good & np.isfinite(m.ratio)
            r = m.ratio[use]
            mr.append(float(np.mean(r)) if r.size else np.nan)
            mre.append(float(np.std(r, ddof=1) / np.sqrt(r.size)) if r.size > 1 else np.nan)
            e, la = m.early_norm, m.late_norm
            s1, s2 = np.sum(e.image[use]), np.sum(la.image[use])
            v1, v2 = np.sum(e.err[use] ** 2), np.sum(la.err[use] ** 2)
            f = s2 / s1 if s1 > 0 else np.nan
            fr.append(float(f))
            fre.append(float(abs(f) * np.sqrt(v1 / s1 ** 2 + v2 / s2 ** 2))
                       if s1 > 0 and s2 > 0 else np.nan)
        t['mean_ratio'] = mr
        t['mean_ratio_err'] = mre
        t['flux_ratio'] = fr
        t['flux_ratio_err'] = fre
        t['box_npix'] = [int((bm & m.good).sum()) for m in ms]
        for k in ('dx', 'dx_err', 'dy', 'dy_err'):
            t[k] = [getattr(m.shift, k) if m.shift is not None else np.nan for m in ms]
        # a shift fit that did not converge is not a measurement
        t['shift_converged'] = [bool(m.shift.converged) if m.shift is not None
                                else False for m in ms]
        t['file_early'] = [m.pair.early.name for m in ms]
        t['file_late'] = [m.pair.late.name for m in ms]
        dx, dxe, dy, dye = self.shift
        t.meta.update({'fleck_id': self.fleck_id, 'ccdchip': self.ccdchip,
                       'x': float(self.x), 'y': float(self.y),
                       'origin_x': int(self.origin[0]), 'origin_y': int(self.origin[1]),
                       'motion_dx': dx, 'motion_dx_err': dxe,
                       'motion_dy': dy, 'motion_dy_err': dye,
                       'motion_convention': 'late fleck = early fleck shifted '
                                            'by (dx, dy) pixels'})
        return t

    def write(self, outdir, *, prefix=None):
        """Write ``<prefix>_eper.ecsv`` and ``<prefix>_eper_ratio.fits``
        (one RATIO plane per pair, the BOX mask); returns kind -> path."""
        prefix = prefix or output_prefix(self.fleck_id, self.ccdchip,
                                         self.x, self.y)
        os.makedirs(outdir, exist_ok=True)
        paths = {}
        p = os.path.join(outdir, f'{prefix}_eper.ecsv')
        write_ecsv(self.to_table(), p)
        paths['table'] = p
        h = cutout_header(self.ccdchip, self.origin)
        cube = np.array([m.ratio for m in self.measurements], dtype=np.float32)
        rh = h.copy()
        for i, m in enumerate(self.measurements, 1):
            rh[f'LEVEL{i}'] = (round(m.pair.level_early, 1), 'early level (e-)')
        hdus = [fits.PrimaryHDU(header=h.copy()),
                fits.ImageHDU(cube, rh, name='RATIO'),
                fits.ImageHDU(self.box_mask.astype(np.uint8), h.copy(), name='BOX')]
        p = os.path.join(outdir, f'{prefix}_eper_ratio.fits')
        with atomic_output(p) as tmp:
            fits.HDUList(hdus).writeto(tmp)
        paths['fits'] = p
        return paths


def eper_ratio(pairs, *, ccdchip, x, y, box=(40, 40), ratio_box=None,
               aperture_threshold=_C.aperture_threshold,
               background=_C.background, dq_mask=DEFAULT_DQ_MASK,
               fleck_id=''):
    """
    Ratio images, mean ratios and motion of a fleck between EPER epochs.

    Parameters
    ----------
    pairs : list of `EperPair`
        From `pair_eper`.
    ccdchip : int
    x, y : float
        1-indexed chip-frame position of the fleck.
    box : tuple of int or str
        Cutout (ny, nx) or ``'NXxNY'`` (report: 40x40).
    ratio_box : tuple of int or str, optional
        Box (ny, nx) centred on (x, y) in which ratios are averaged.
        Default: the bounding box of the fleck (pixels blocking more than
        ``aperture_threshold`` in either epoch of the highest-level pair),
        grown by 1 pixel.
    aperture_threshold : float
    background : str
    dq_mask : int
    fleck_id : str

    Returns
    -------
    EperResult
    """
    box = parse_box(box)
    if not pairs:
        raise AcsFlecksError('no EPER pairs given')
    meas, origin, norms = [], None, []
    for pair in pairs:
        ce = extract_cutout(pair.early, ccdchip=ccdchip, x=x, y=y, box=box)
        cl = extract_cutout(pair.late, ccdchip=ccdchip, x=x, y=y, box=box)
        origin = ce.origin
        good = ce.good(dq_mask) & cl.good(dq_mask)
        ne = normalize_cutout(ce.sci, ce.err, good=good, method=background,
                              threshold=aperture_threshold)
        nl = normalize_cutout(cl.sci, cl.err, good=good, method=background,
                              threshold=aperture_threshold)
        norms.append((pair, good, ne, nl))
    # The pixel-response texture is the detector's: the same in every image
    # of both epochs, so it pulls a direct registration towards zero shift.
    # Where no image sees the fleck it is measured (the weighted mean of all
    # normalized images) and divided out; under the fleck it cannot be, and
    # its rms (the background scatter beyond ERR, best at high levels)
    # enters the shift fit as a static texture (`measure_shift`).
    texture = max(max(ne.excess_scatter, nl.excess_scatter)
                  for _, _, ne, nl in norms)
    bkg = np.logical_and.reduce([g & ne.background_mask & nl.background_mask
                                 for _, g, ne, nl in norms])
    num = np.zeros(box)
    den = np.zeros(box)
    for _, g, ne, nl in norms:
        for n in (ne, nl):
            w = np.where(bkg & (n.err > 0), 1.0 / np.where(n.err > 0, n.err, 1) ** 2, 0.0)
            num += w * np.where(bkg, n.image - 1.0, 0.0)
            den += w
    with np.errstate(divide='ignore', invalid='ignore'):
        tex_map = np.where(den > 0, num / den, 0.0)
        tex_err = np.where(den > 0, 1.0 / np.sqrt(den), texture)
    flat = 1.0 + tex_map
    static = np.where(bkg, np.minimum(tex_err, texture), texture)
    for pair, good, ne, nl in norms:
        with np.errstate(divide='ignore', invalid='ignore'):
            ratio = nl.image / ne.image
            rerr = np.abs(ratio) * np.sqrt((ne.err / ne.image) ** 2
                                           + (nl.err / nl.image) ** 2)
        ratio = np.where(good, ratio, np.nan)
        try:
            # statistical errors only; the static texture (identical in
            # both epochs) is modelled, not added as independent noise
            fe, fl = ne.image / flat, nl.image / flat
            shift = measure_shift(1 - fe, 1 - fl,
                                  reference_err=ne.err / flat,
                                  image_err=nl.err / flat,
                                  good=good, static_texture=static,
                                  static_flux=np.where(good, fe, 0.0))
        except AcsFlecksError as exc:
            log.warning('level %.0f e-: no shift measured (%s)', pair.level_early, exc)
            shift = None
        meas.append(_PairMeasurement(pair=pair, early_norm=ne, late_norm=nl,
                                     good=good, ratio=ratio, ratio_err=rerr,
                                     shift=shift))
    ny, nx = box
    if ratio_box is not None:
        rb = parse_box(ratio_box)
        mask = np.zeros(box, bool)
        r0, c0 = ny // 2 - rb[0] // 2, nx // 2 - rb[1] // 2
        mask[max(r0, 0):r0 + rb[0], max(c0, 0):c0 + rb[1]] = True
    else:
        best = max(meas, key=lambda m: m.pair.level_early)
        ap = (select_aperture(1 - best.early_norm.image, threshold=aperture_threshold,
                              good=best.good)
              | select_aperture(1 - best.late_norm.image, threshold=aperture_threshold,
                                good=best.good))
        if not ap.any():
            raise AcsFlecksError(
                f'no fleck (blocking > {aperture_threshold:.0%}) near ({x}, {y}) '
                f'on CCDCHIP={ccdchip} in the EPER images; give ratio_box')
        rows, cols = np.nonzero(ap)
        mask = np.zeros(box, bool)
        mask[max(rows.min() - 1, 0):rows.max() + 2,
             max(cols.min() - 1, 0):cols.max() + 2] = True
    return EperResult(meas, box_mask=mask, origin=origin, ccdchip=int(ccdchip),
                      x=x, y=y, box=box, fleck_id=fleck_id)
