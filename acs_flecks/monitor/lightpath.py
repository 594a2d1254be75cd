"""
Flashed vs un-flashed darks: particle in the light path or CCD defect?
(report §3).

A particle on the CCD (or anywhere between the post-flash LED and the CCD)
casts a shadow only when the CCD is illuminated: it shows in post-flashed
darks and **disappears** in un-flashed darks, whose signal (dark current)
is generated in the silicon.  A CCD defect (sink pixels, a low-sensitivity
patch) affects the charge itself and **persists** in both.

For every artifact position the deficit is measured in both images with
photutils apertures:

* the background level *B* is the sigma-clipped median of an annulus
  (inner radius ``max(2 r, r + 5)``, width 10 pixels) and its scatter *s*
  the sigma-clipped standard deviation;
* the artifact level is the mean of the pixels of a circle of radius *r*
  (from the catalog's ``area``: ``r = sqrt(area / pi)``, 1.5-20 pixels;
  3 pixels without one), leaving out DQ-flagged hot, warm, saturated and
  rejected pixels and pixels brighter than ``B + 5 s`` (hot pixels of long
  darks); DQ 4 is *not* masked (it marks the flecks themselves once a new
  bpixtab is in use);
* deficit ``D = B - mean`` (electrons) with error
  ``sqrt(s**2 / n + (1.2533 s)**2 / n_annulus)``, and fractional deficit
  ``f = D / B`` (percent).

Verdict (threshold ``nsigma``, default 5):

``not detected``
    the flashed deficit is below ``nsigma`` (nothing to test);
``CCD defect``
    the un-flashed deficit is significant too (it persists);
``light path``
    the un-flashed deficit is consistent with zero **and** smaller than the
    deficit a CCD defect would give (``f_flashed x B_unflashed``) by at least
    ``nsigma`` combined errors ``disappearance_significance`` -- the
    artifact disappears without illumination: a particle;
``inconclusive``
    the un-flashed image is too noisy to tell.
"""

import logging

import astropy.units as u
import numpy as np
from astropy.stats import SigmaClip
from astropy.table import QTable, Table
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture

from ..coords import chip_to_image, pixel_to_index
from ..dq import LIGHTPATH_DQ_MASK
from ..exceptions import InputFileError
from ..io import open_image
from ..parameters import MONITORING

__all__ = ['lightpath_test', 'measure_deficit', 'VERDICTS',
           'LIGHTPATH_DQ_MASK']

log = logging.getLogger(__name__)

#: Possible verdicts.
VERDICTS = ('light path', 'CCD defect', 'inconclusive', 'not detected',
            'not covered')


def _radius(row):
    area = row.get('area')
    if area is None:
        return 3.0
    area = float(getattr(area, 'value', area))
    if not np.isfinite(area) or area <= 0:
        return 3.0
    return float(np.clip(np.sqrt(area / np.pi), 1.5, 20.0))


def measure_deficit(chip, x, y, radius, *, dq_mask=LIGHTPATH_DQ_MASK):
    """
    Deficit of the mean in a circle vs the surrounding annulus.

    Parameters
    ----------
    chip : `~acs_flecks.io.ChipData`
        The chip's pixels (SCI in electrons, DQ).
    x, y : float
        1-indexed full-chip position of the artifact.
    radius : float
        Radius of the artifact aperture in pixels.
    dq_mask : int, optional
        DQ bits left out.

    Returns
    -------
    dict
        ``level`` (background *B*, e-), ``scatter`` (*s*, e-), ``mean``,
        ``deficit`` (*D*, e-), ``deficit_err`` (e-), ``fraction`` (D / B),
        ``fraction_err``, ``n_pixels``; NaN values when the aperture is off
        the image.
    """
    xi, yi = chip_to_image(float(x), float(y), chip.ltv)
    row, col = pixel_to_index(xi, yi)
    ny, nx = chip.shape
    r_in = max(2.0 * radius, radius + 5.0)
    r_out = r_in + 10.0
    nan = dict(level=np.nan, scatter=np.nan, mean=np.nan, deficit=np.nan,
               deficit_err=np.nan, fraction=np.nan, fraction_err=np.nan,
               n_pixels=0)
    if not (0 <= row < ny and 0 <= col < nx):
        return nan
    # photutils positions are 0-indexed (x, y) = (column, row)
    pos = (float(col), float(row))
    sci = chip.sci
    bad = np.zeros(sci.shape, dtype=bool) if chip.dq is None else \
        (chip.dq & dq_mask) != 0
    bad |= ~np.isfinite(sci)
    ann = ApertureStats(sci, CircularAnnulus(pos, r_in, r_out), mask=bad,
                        sigma_clip=SigmaClip(sigma=3.0, maxiters=10))
    level, scatter = float(ann.median), float(ann.std)
    n_ann = float(ann.center_aper_area.value)
    if not np.isfinite(level) or n_ann < 10:
        return nan
    core_bad = bad | (sci > level + 5.0 * scatter)
    core = ApertureStats(sci, CircularAperture(pos, radius), mask=core_bad)
    n = float(core.center_aper_area.value)
    if n < 1:
        return nan
    mean = float(core.mean)
    deficit = level - mean
    err = float(np.sqrt(scatter ** 2 / n + (1.2533 * scatter) ** 2 / n_ann))
    if level > 0:
        fraction = deficit / level
        fraction_err = float(np.hypot(err / level,
                                      mean * 1.2533 * scatter /
                                      np.sqrt(n_ann) / level ** 2))
    else:
        fraction = fraction_err = np.nan
    return dict(level=level, scatter=scatter, mean=mean, deficit=deficit,
                deficit_err=err, fraction=fraction, fraction_err=fraction_err,
                n_pixels=int(n))


def _positions_table(positions):
    if isinstance(positions, Table):  # QTable is a Table subclass
        table = positions
    else:
        rows = [tuple(p) for p in positions]
        if rows and len(rows[0]) != 3:
            raise ValueError('positions must be (ccdchip, x, y) triples or a '
                             'table with ccdchip, x, y columns')
        table = Table(rows=rows, names=('ccdchip', 'x', 'y')) if rows else \
            Table(names=('ccdchip', 'x', 'y'), dtype=(int, float, float))
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in table.colnames]
    if missing:
        raise ValueError(f'positions table lacks column(s) {missing}')
    return table


def _open(path, role, flashed):
    image = open_image(path, operation='lightpath')
    if flashed and not image.flashed:
        raise InputFileError(
            f'the {role} image is not post-flashed (FLASHDUR='
            f'{image.flashdur.value:g} s, FLASHSTA={image.flashsta!r}); '
            'particles only cast shadows under the LED post-flash',
            path=image.path)
    if not flashed and image.flashed:
        raise InputFileError(
            f'the {role} image is post-flashed (FLASHDUR='
            f'{image.flashdur.value:g} s); the test needs a dark taken '
            'without illumination', path=image.path)
    return image


def lightpath_test(flashed, unflashed, positions, *,
                   nsigma=MONITORING.defaults.lightpath_nsigma,
                   radius=None):
    """
    Tell particles in the light path from CCD defects (report §3).

    Parameters
    ----------
    flashed : str, path-like or `~acs_flecks.io.ACSImage`
        A post-flashed dark (e.g. the cycle's DKC or a flashed long dark).
    unflashed : str, path-like or `~acs_flecks.io.ACSImage`
        An un-flashed dark of the same period (e.g. the anneal program's
        1040 s darks combined by ACSREJ).
    positions : `~astropy.table.Table` or list of (ccdchip, x, y)
        Artifact positions (1-indexed full-chip frame), e.g. a catalog of
        `acs_flecks.detect.find_artifacts` or of the monitor; an ``area``
        column sets the aperture, ``artifact_id`` or ``id`` names rows.
    nsigma : float, optional
        Significance threshold of the verdicts.
    radius : float, optional
        Aperture radius in pixels for every position (default from
        ``area``).

    Returns
    -------
    `~astropy.table.QTable`
        Per position: ``ccdchip``, ``x``, ``y``, ``radius``, for each image
        (``_flashed`` / ``_unflashed``) the ``level``, ``deficit``,
        ``deficit_err`` (e-), ``deficit_frac`` and ``deficit_frac_err``
        (percent) and ``snr``; ``expected_unflashed`` (the un-flashed
        deficit a CCD defect would give), ``disappearance_significance``
        and ``verdict`` (one of `VERDICTS`).
    """
    if not np.isfinite(nsigma) or nsigma <= 0:
        raise ValueError(f'nsigma must be positive, got {nsigma!r}')
    img_f = _open(flashed, 'flashed', True)
    img_u = _open(unflashed, 'un-flashed', False)
    if img_f.detector != img_u.detector:
        raise InputFileError(
            f'detectors differ: flashed {img_f.detector}, un-flashed '
            f'{img_u.detector}', path=img_u.path)
    table = _positions_table(positions)
    chips_f, chips_u = {}, {}
    out = []
    for i, prow in enumerate(table):
        row = {c: prow[c] for c in table.colnames}
        chip = int(row['ccdchip'])
        x = float(getattr(row['x'], 'value', row['x']))
        y = float(getattr(row['y'], 'value', row['y']))
        r = float(radius) if radius is not None else _radius(row)
        name = str(row.get('artifact_id', row.get('id', i + 1)))
        res = {}
        for key, img, cache in (('flashed', img_f, chips_f),
                                ('unflashed', img_u, chips_u)):
            if chip not in img.chips:
                res[key] = None
                continue
            if chip not in cache:
                cache[chip] = img.chip(chip)
            res[key] = measure_deficit(cache[chip], x, y, r)
        out.append(_verdict(name, chip, x, y, r, res, nsigma))
    return _to_table(out, img_f, img_u, nsigma)


def _verdict(name, chip, x, y, r, res, nsigma):
    f, u_ = res.get('flashed'), res.get('unflashed')
    row = dict(artifact_id=name, ccdchip=chip, x=x, y=y, radius=r)
    for key, m in (('flashed', f), ('unflashed', u_)):
        m = m or {}
        row[f'level_{key}'] = m.get('level', np.nan)
        row[f'deficit_{key}'] = m.get('deficit', np.nan)
        row[f'deficit_err_{key}'] = m.get('deficit_err', np.nan)
        row[f'deficit_frac_{key}'] = 100 * m.get('fraction', np.nan)
        row[f'deficit_frac_err_{key}'] = 100 * m.get('fraction_err', np.nan)
        err = m.get('deficit_err', np.nan)
        row[f'snr_{key}'] = (m.get('deficit', np.nan) / err
                             if err and np.isfinite(err) and err > 0
                             else np.nan)
    expected = row['deficit_frac_flashed'] / 100 * row['level_unflashed']
    comb = np.hypot(row['deficit_err_unflashed'],
                    row['deficit_frac_err_flashed'] / 100 *
                    abs(row['level_unflashed']))
    row['expected_unflashed'] = expected
    row['disappearance_significance'] = ((expected - row['deficit_unflashed'])
                                         / comb if comb > 0 else np.nan)
    if not (np.isfinite(row['snr_flashed']) and
            np.isfinite(row['snr_unflashed'])):
        verdict = 'not covered'
    elif row['snr_flashed'] < nsigma:
        verdict = 'not detected'
    elif row['snr_unflashed'] >= nsigma:
        verdict = 'CCD defect'
    elif row['disappearance_significance'] >= nsigma:
        verdict = 'light path'
    else:
        verdict = 'inconclusive'
    row['verdict'] = verdict
    return row


_COLS = ('artifact_id', 'ccdchip', 'x', 'y', 'radius', 'verdict',
         'level_flashed', 'deficit_flashed', 'deficit_err_flashed',
         'deficit_frac_flashed', 'deficit_frac_err_flashed', 'snr_flashed',
         'level_unflashed', 'deficit_unflashed', 'deficit_err_unflashed',
         'deficit_frac_unflashed', 'deficit_frac_err_unflashed',
         'snr_unflashed', 'expected_unflashed', 'disappearance_significance')


def _unit(name):
    if name in ('x', 'y', 'radius'):
        return u.pix
    if name.startswith('deficit_frac'):
        return u.percent
    if name.startswith(('level', 'deficit', 'expected')):
        return u.electron
    return None


def _to_table(rows, img_f, img_u, nsigma):
    table = QTable()
    for c in _COLS:
        values = [r[c] for r in rows]
        if c in ('artifact_id', 'verdict'):
            data = np.array(values, dtype='U32')
        elif c == 'ccdchip':
            data = np.array(values, dtype=int)
        else:
            data = np.array(values, dtype=float)
        unit = _unit(c)
        table[c] = data * unit if unit is not None else data
    table.meta.update({'flashed': img_f.path, 'unflashed': img_u.path,
                       'flashed_obs_time': img_f.obs_time.isot[:19],
                       'unflashed_obs_time': img_u.obs_time.isot[:19],
                       'nsigma': float(nsigma)})
    return table
