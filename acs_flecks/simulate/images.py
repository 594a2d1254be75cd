"""
Rendering the pixels of each simulated file kind.

``dkc``
    Combined CTE-corrected short flashed dark: the mean of ``NCOMBINE``
    0.5 s darks, each post-flashed for 4.6 s (`FLASH_LEVEL` e- on average,
    LED gradient, PRNU), times the LED transmissivity of every particle
    present, minus the shadow trail of the large fleck, plus dark current,
    hot pixels and warm columns; noise of the average,
    ``sqrt((signal + rn**2) / NCOMBINE)``.
``daily``
    Daily dark of the CCD Daily Monitor (report §2): the CTE-corrected
    ACSREJ combination (totals) of four 1000.5 s darks, each post-flashed
    for 4.6 s: the post-flash with the particles' LED shadows and the
    shadow trail as in ``dkc``, plus 1000.5 s of dark current, hot pixels
    and warm columns per exposure; noise ``sqrt(signal + 4 rn**2)``.
``dark``
    ACSREJ ``crj`` of four un-flashed 1040 s darks (totals): dark current,
    hot pixels with their readout (CTE) trails away from the serial
    register; particles are invisible (no illumination).
``flat``
    ``crc``-like lamp flat of three exposures: median level of report
    Table 1, lamp pattern x PRNU x transmissivity in the filter.
``eper``
    Single lamp image at a given mean level; particles drift between the
    two EPER epochs.
"""

import zlib

import numpy as np

from .artifacts import mjd_of, opacity_scale
from ..dq import FLECK_FLAG
from .detector import (DQ_SATURATED, FULL_WELL, Region, lamp_pattern,
                       led_pattern)

__all__ = ['FLASH_LEVEL', 'SHORT_DARKTIME', 'DQ_BAD_PIXEL', 'render_chip',
           'apply_shadows', 'trail_deficit', 'plan_rng', 'flag_bad_pixels']

#: DQ flag of bad detector pixels (what a new bpixtab gives fleck pixels,
#: `acs_flecks.dq.FLECK_FLAG`).
DQ_BAD_PIXEL = FLECK_FLAG

#: Mean post-flash signal (e-) of one 0.5 s short dark with a 4.6 s flash.
FLASH_LEVEL = 40.0

#: Dark time (s) of a 0.5 s short dark (exposure + flash + overheads).
SHORT_DARKTIME = 6.0

#: Fraction of a hot pixel's charge trailed into the next pixels (k = 1..5)
#: in un-CTE-corrected darks.
_CTE_TRAIL = 0.02 * np.exp(-np.arange(5) / 2.0)


def plan_rng(seed, plan, ccdchip):
    """Noise generator of one file and chip: depends on the seed and on
    what the file is, not on which other files are written."""
    key = f'{plan.kind}|{plan.date}|{plan.filter}|{plan.level}'
    return np.random.default_rng([int(seed), 31337, zlib.crc32(key.encode()),
                                  int(ccdchip)])


def apply_shadows(image, region, artifacts, date, filter_name):
    """
    Multiply ``image`` (in place) by the transmissivity of every particle
    present at ``date`` on this region's chip.

    Parameters
    ----------
    image : ndarray
        Illumination of ``region``.
    region : Region
        Part of the chip ``image`` covers.
    artifacts : list of Artifact
        Particles.
    date : str
        Observation date (presence and drift).
    filter_name : str
        Filter, or 'LED' for the post-flash light path.
    """
    light = 'led' if filter_name == 'LED' else 'lamp'
    scale = opacity_scale(filter_name)
    for art in artifacts:
        if art.ccdchip != region.ccdchip or not art.present(date):
            continue
        offset = art.offset_at(date)
        x0, y0, ny, nx = art.box(offset)
        r0, c0 = y0 - 1 - region.row0, x0 - 1 - region.col0
        rs0, cs0 = max(r0, 0), max(c0, 0)
        rs1, cs1 = min(r0 + ny, region.ny), min(c0 + nx, region.nx)
        if rs1 <= rs0 or cs1 <= cs0:
            continue
        block, _ = art.blocking_map(light, offset=offset,
                                    box=(x0, y0, ny, nx))
        trans = (1.0 - scale * art.strength_at(date) * block
                 ).astype(np.float32)
        image[rs0:rs1, cs0:cs1] *= trans[rs0 - r0:rs1 - r0, cs0 - c0:cs1 - c0]


def trail_deficit(trail, region):
    """Deficit image (e-, positive) of the shadow trail on ``region``, or
    `None`.  ``trail`` has 1-indexed inclusive ``x_min``, ``x_max``,
    ``y_min``, ``y_max``, ``deficit`` and ``row_weights``."""
    if not trail or trail['ccdchip'] != region.ccdchip:
        return None
    out = np.zeros(region.shape, dtype=np.float32)
    ncol = trail['x_max'] - trail['x_min'] + 1
    hit = False
    for k, w in enumerate(trail['row_weights']):
        r = trail['y_min'] - 1 + k - region.row0
        if not 0 <= r < region.ny:
            continue
        c0 = max(trail['x_min'] - 1 - region.col0, 0)
        c1 = min(trail['x_max'] - region.col0, region.nx)
        if c1 > c0:
            out[r, c0:c1] = trail['deficit'] * w / ncol
            hit = True
    return out if hit else None


def flag_bad_pixels(dq, region, artifacts, date, *, flag=DQ_BAD_PIXEL):
    """
    OR ``flag`` into ``dq`` on the pixels a new bad-pixel table would flag:
    F435W transmissivity < 0.5 of every fleck present at ``date`` (report
    §8), at the flecks' table positions.
    """
    for art in artifacts:
        if art.kind != 'fleck' or art.ccdchip != region.ccdchip or \
                not art.present(date):
            continue
        tmap, (x0, y0) = art.transmissivity_map('F435W')
        rows, cols = np.nonzero(tmap < 0.5)
        rows = rows + y0 - 1 - region.row0
        cols = cols + x0 - 1 - region.col0
        ok = (rows >= 0) & (rows < region.ny) & (cols >= 0) & \
            (cols < region.nx)
        dq[rows[ok], cols[ok]] |= np.int16(flag)


def _lamp_norm():
    """Median of the lamp pattern over both chips (coarse grid), so that a
    window has the same levels as the full frame."""
    vals = [lamp_pattern(Region(c))[::16, ::16] for c in (1, 2)]
    return float(np.median(np.concatenate([v.ravel() for v in vals])))


_LAMP_NORM = None


def _flash_signal(region, detector, scenario, date, trail):
    """The LED post-flash of a dark: pattern x level x pixel response, the
    particles' LED shadows and the §5 trail (once it exists)."""
    signal = led_pattern(region)
    signal *= np.float32(FLASH_LEVEL)
    signal *= detector.prnu(region)
    apply_shadows(signal, region, scenario.artifacts, date, 'LED')
    if trail and _present(trail, date):
        deficit = trail_deficit(trail, region)
        if deficit is not None:
            signal -= deficit
    return signal


def render_chip(plan, region, detector, scenario, trail=None):
    """
    Pixels of one chip of one planned file.

    Returns
    -------
    sci, err : ndarray (float32)
    dq : ndarray (int16)
    """
    global _LAMP_NORM
    rng = plan_rng(scenario.seed, plan, region.ccdchip)
    dq = detector.dq(region).copy()
    if scenario.dq4_after and mjd_of(plan.date) >= mjd_of(scenario.dq4_after):
        flag_bad_pixels(dq, region, scenario.artifacts, plan.date)
    dark_rate = detector.dark_rate(region)
    rn = detector.read_noise(region)
    if plan.kind == 'dkc':
        signal = _flash_signal(region, detector, scenario, plan.date, trail)
        signal += dark_rate * np.float32(SHORT_DARKTIME)
        var = (np.maximum(signal, 0) + rn ** 2) / np.float32(plan.ncombine)
    elif plan.kind == 'daily':
        n = np.float32(plan.ncombine)
        signal = _flash_signal(region, detector, scenario, plan.date, trail)
        signal += dark_rate * np.float32(plan.exptime / plan.ncombine)
        sat = signal > FULL_WELL
        if sat.any():
            dq[sat] |= DQ_SATURATED
            signal[sat] = FULL_WELL
        signal *= n
        var = np.maximum(signal, 0) + n * rn ** 2
    elif plan.kind == 'dark':
        signal = dark_rate * np.float32(plan.exptime)
        hot = detector.hot_rate(region) * np.float32(plan.exptime)
        step = 1 if region.ccdchip == 2 else -1  # away from the register
        for k, f in enumerate(_CTE_TRAIL, start=1):
            if step > 0:
                signal[k:] += np.float32(f) * hot[:-k]
            else:
                signal[:-k] += np.float32(f) * hot[k:]
        per_exp = signal / np.float32(plan.ncombine)
        sat = per_exp > FULL_WELL
        if sat.any():
            dq[sat] |= DQ_SATURATED
            signal[sat] = FULL_WELL * plan.ncombine
        var = np.maximum(signal, 0) + np.float32(plan.ncombine) * rn ** 2
    elif plan.kind in ('flat', 'eper'):
        if _LAMP_NORM is None:
            _LAMP_NORM = _lamp_norm()
        signal = lamp_pattern(region, plan.filter)
        signal *= np.float32(plan.level / _LAMP_NORM)
        signal *= detector.prnu(region)
        apply_shadows(signal, region, scenario.artifacts, plan.date,
                      plan.filter)
        signal += dark_rate * np.float32(plan.exptime)
        per_exp = signal / np.float32(plan.ncombine)
        sat = per_exp > FULL_WELL
        if sat.any():
            dq[sat] |= DQ_SATURATED
        var = np.maximum(signal, 0) + np.float32(plan.ncombine) * rn ** 2
    else:  # pragma: no cover - kinds are validated upstream
        raise ValueError(plan.kind)
    err = np.sqrt(var, dtype=np.float32)
    noise = rng.standard_normal(region.shape, dtype=np.float32)
    noise *= err
    signal += noise
    return signal.astype(np.float32, copy=False), err, dq


def _present(trail, date):
    return mjd_of(date) >= mjd_of(trail['appear'])
