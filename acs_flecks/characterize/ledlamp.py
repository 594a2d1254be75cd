"""
LED post-flash vs Tungsten lamp apertures (report §6.2, Figure 17).

The same analysis as for the flats (cutout, background normalization,
blocking > 5 %) is run on a post-flashed dark (the DKC combined short
flashed dark or the post-flash reference).  Its aperture is compared with
the master aperture of the flats: the difference image (+1 = only in the
LED aperture, -1 = only in the lamp aperture) and the offset between the
two shadows, measured by fitting the lamp blocking image (mean over the
filters) shifted, linearly distorted and scaled to the LED blocking image
(`~acs_flecks.characterize.shifts.measure_shift`), with the blocking-weighted
centroid difference as a cross-check.

Hot and warm pixels of the dark (DQ 16, 64, and any pixel more than 5 sigma
*above* the background, which a shadow cannot produce) are excluded, and
so are sink pixels and their trails (DQ 1024), which mimic blocking
(`acs_flecks.dq.DARK_DQ_MASK`).
"""

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from astropy.table import QTable
from scipy import ndimage

from ..dq import DARK_DQ_MASK
from ..exceptions import AcsFlecksError, NotFlashedWarning
from ..utils import atomic_output, write_ecsv
from .cutouts import (cutout_header, extract_cutout,
                      normalize_cutout, output_prefix)
from .shifts import centroid_offset, measure_shift
from .transmissivity import select_aperture

__all__ = ['LedLampComparison', 'compare_led_lamp', 'DARK_DQ_MASK']


@dataclass
class LedLampComparison:
    """
    LED vs lamp apertures of one fleck.

    Attributes
    ----------
    lamp_aperture, led_aperture : `~numpy.ndarray` of bool
    lamp_blocking, led_blocking : `~numpy.ndarray`
        1 - normalized image (lamp: mean over the filters).
    led_good : `~numpy.ndarray` of bool
    shift : `~acs_flecks.characterize.shifts.ShiftResult`
        LED shadow relative to the lamp shadow.
    centroid_dx, centroid_dy : float
        Blocking-weighted centroid offset, LED minus lamp.
    led_transmissivity, led_transmissivity_err : float
        Mean normalized LED flux in the lamp master aperture.
    origin : tuple of int
    ccdchip : int
    dkc_path : str
    """

    lamp_aperture: np.ndarray
    led_aperture: np.ndarray
    lamp_blocking: np.ndarray
    led_blocking: np.ndarray
    led_good: np.ndarray
    shift: object
    centroid_dx: float
    centroid_dy: float
    led_transmissivity: float
    led_transmissivity_err: float
    origin: tuple
    ccdchip: int
    x: float
    y: float
    dkc_path: str = ''
    fleck_id: str = ''
    meta: dict = field(default_factory=dict)

    @property
    def difference(self):
        """LED aperture minus lamp aperture (+1 only LED, -1 only lamp)."""
        return self.led_aperture.astype(np.int16) - self.lamp_aperture.astype(np.int16)

    def to_table(self):
        """One-row `~astropy.table.QTable` of the comparison."""
        s = self.shift
        t = QTable()
        t['fleck_id'] = [self.fleck_id or '']
        t['ccdchip'] = [self.ccdchip]
        t['x'] = [float(self.x)]
        t['y'] = [float(self.y)]
        t['lamp_npix'] = [int(self.lamp_aperture.sum())]
        t['led_npix'] = [int(self.led_aperture.sum())]
        t['only_led_npix'] = [int((self.difference > 0).sum())]
        t['only_lamp_npix'] = [int((self.difference < 0).sum())]
        t['dx'] = [s.dx]
        t['dx_err'] = [s.dx_err]
        t['dy'] = [s.dy]
        t['dy_err'] = [s.dy_err]
        t['scale'] = [s.scale]
        t['scale_err'] = [s.scale_err]
        t['stretch'] = [s.stretch]
        t['chi2_reduced'] = [s.chi2_reduced]
        t['centroid_dx'] = [self.centroid_dx]
        t['centroid_dy'] = [self.centroid_dy]
        t['led_transmissivity'] = [self.led_transmissivity]
        t['led_transmissivity_err'] = [self.led_transmissivity_err]
        t['dkc'] = [os.path.basename(self.dkc_path)]
        t.meta.update(self.meta)
        t.meta['shift_convention'] = ('LED shadow = scale * lamp shadow shifted '
                                      'by (dx, dy) pixels')
        return t

    def write(self, outdir, *, prefix=None):
        """Write ``<prefix>_ledlamp.ecsv`` and ``<prefix>_ledlamp.fits``
        (LAMP_AP, LED_AP, DIFF, LED_BLOCK, LAMP_BLOCK); returns kind -> path."""
        prefix = prefix or output_prefix(self.fleck_id, self.ccdchip,
                                         self.x, self.y)
        os.makedirs(outdir, exist_ok=True)
        paths = {}
        p = os.path.join(outdir, f'{prefix}_ledlamp.ecsv')
        write_ecsv(self.to_table(), p)
        paths['table'] = p
        h = cutout_header(self.ccdchip, self.origin)
        hdus = [fits.PrimaryHDU(header=h.copy())]
        for name, arr in (('LAMP_AP', self.lamp_aperture.astype(np.uint8)),
                          ('LED_AP', self.led_aperture.astype(np.uint8)),
                          ('DIFF', self.difference),
                          ('LED_BLOCK', self.led_blocking.astype(np.float32)),
                          ('LAMP_BLOCK', self.lamp_blocking.astype(np.float32))):
            hdus.append(fits.ImageHDU(arr, h.copy(), name=name))
        p = os.path.join(outdir, f'{prefix}_ledlamp.fits')
        with atomic_output(p) as tmp:
            fits.HDUList(hdus).writeto(tmp)
        paths['fits'] = p
        return paths


def compare_led_lamp(dkc, lamp, *, aperture_threshold=None, background='plane',
                     dq_mask=DARK_DQ_MASK, hot_sigma=5.0, smooth='auto',
                     affine=True):
    """
    Compare the LED post-flash aperture with the lamp master aperture.

    Parameters
    ----------
    dkc : str, path-like or `~acs_flecks.io.ACSImage`
        A post-flashed combined dark (DKC) or post-flash reference.
    lamp : `~acs_flecks.characterize.TransmissivityResult`
        The flat measurement of the same fleck (its chip, position and box
        are used).
    aperture_threshold : float, optional
        Default: the lamp result's threshold (5 %).
    background : str
        Background model (`~acs_flecks.characterize.normalize_cutout`).
    dq_mask : int
        DQ flags excluded (default: `DARK_DQ_MASK`).
    hot_sigma : float
        Pixels this many sigma above the background are excluded too.
    smooth : int, 'auto' or None, optional
        Median-filter size applied to the LED blocking image before the
        aperture is selected (for noisy darks); the shift fit always uses
        the unsmoothed image.  ``'auto'`` (default) uses 3 when the
        per-pixel noise of the normalized dark exceeds a third of the
        aperture threshold (a combined short dark has ~4 % noise per pixel
        against the 5 % threshold, so unsmoothed the aperture would follow
        the noise), and no smoothing otherwise.

    Returns
    -------
    LedLampComparison
    """
    thr = lamp.aperture_threshold if aperture_threshold is None else float(aperture_threshold)
    cut = extract_cutout(dkc, ccdchip=lamp.ccdchip, x=lamp.x, y=lamp.y, box=lamp.box)
    if cut.image is not None and not cut.image.flashed:
        warnings.warn(f'{os.path.basename(cut.path)} is not post-flashed '
                      f'(FLASHDUR={cut.image.flashdur}, FLASHSTA='
                      f'{cut.image.flashsta}): particles are invisible',
                      NotFlashedWarning)
    good = cut.good(dq_mask)
    norm = normalize_cutout(cut.sci, cut.err, good=good, method=background,
                            threshold=thr)
    sig = np.sqrt(norm.err ** 2 + norm.excess_scatter ** 2)
    good &= ~(norm.image > 1 + hot_sigma * sig)
    norm = normalize_cutout(cut.sci, cut.err, good=good, method=background,
                            threshold=thr)
    led_block = 1.0 - norm.image
    sel_img = led_block
    if smooth == 'auto':
        noise = float(np.nanmedian(sig[good])) if good.any() else 0.0
        smooth = 3 if noise > thr / 3 else None
    if smooth:
        sel_img = ndimage.median_filter(np.where(good, led_block, 0.0), size=int(smooth))
    led_ap = select_aperture(sel_img, threshold=thr, good=good)
    lamp_block = np.nanmean(1.0 - lamp.transmissivity_maps, axis=0)
    lamp_err = np.sqrt(np.nanmean(lamp.transmissivity_err_maps ** 2, axis=0)
                       / max(len(lamp.filters), 1))
    lamp_good = np.isfinite(lamp_block)
    led_err = np.sqrt(norm.err ** 2 + (norm.image * norm.excess_scatter) ** 2)
    if not led_ap.any():
        raise AcsFlecksError(
            f'no pixel blocks more than {thr:.0%} of the post-flash near '
            f'({lamp.x}, {lamp.y}) on CCDCHIP={lamp.ccdchip}: fleck absent in '
            'this dark (taken before it appeared?)', path=cut.path)
    shift = measure_shift(np.where(lamp_good, lamp_block, 0.0), led_block,
                          reference_err=np.where(lamp_good, lamp_err, np.inf),
                          image_err=led_err, good=good & lamp_good,
                          affine=affine)
    cdx, cdy = centroid_offset(lamp_block, led_block, lamp.master_aperture, led_ap)
    ap = lamp.master_aperture & good
    n = max(int(ap.sum()), 1)
    t = float(np.mean(norm.image[ap])) if ap.any() else np.nan
    terr = float(np.sqrt(np.sum(led_err[ap] ** 2) / n ** 2
                         + (t * np.mean(norm.background_rel_err[ap])) ** 2)) \
        if ap.any() else np.nan
    return LedLampComparison(
        lamp_aperture=lamp.master_aperture.copy(), led_aperture=led_ap,
        lamp_blocking=lamp_block, led_blocking=np.where(good, led_block, np.nan),
        led_good=good, shift=shift, centroid_dx=cdx, centroid_dy=cdy,
        led_transmissivity=t, led_transmissivity_err=terr, origin=cut.origin,
        ccdchip=lamp.ccdchip, x=lamp.x, y=lamp.y, dkc_path=cut.path,
        fleck_id=lamp.fleck_id,
        meta={'aperture_threshold': thr, 'background_method': background,
              'dq_mask': int(dq_mask), 'n_excluded': int((~good).sum())})
