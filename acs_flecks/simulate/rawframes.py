"""
Simulated raw WFC frames (``_raw``) in the layout hstcal ``acsccd`` reads.

A raw chip is uint16 DN (written as int16 with ``BZERO = 32768``,
``BUNIT = 'COUNTS'``): the electrons of the calibrated twin divided by the
gain plus a per-amplifier bias level (2000-2300 DN, drawn per file), with 24
physical prescan columns at each end of the row (``LTV1 = 24``) and 20 rows
of virtual overscan, at low y on ``CCDCHIP 1`` (``LTV2 = 20``) and at high
y on ``CCDCHIP 2`` (``LTV2 = 0``).  The prescan holds the bias, read noise
in DN, the quasi-exponential decay of the first prescan columns after each
row shift, and a few cosmic-ray hits.  ERR and DQ are null extensions
(``NAXIS = 0``, ``PIXVALUE = 0``, ``NPIX1``/``NPIX2``), and ``ATODGNA-D``,
``READNSEA-D`` and ``BIASLEVA-D`` are zero placeholders, as in a real raw
file.

A sub-array window cannot carry a prescan unless it reaches the chip edge
of its amplifier, so windowed raw frames (`raw_region`) extend the window
to the chip edge on the side of the amplifier that reads its centre, as
real amplifier-corner sub-arrays do.
"""

import numpy as np

from ..coords import WFC_CHIP_SHAPE
from .detector import CHIP_AMPS, READ_NOISE, Region

__all__ = ['raw_region', 'raw_frame', 'RAW_GAIN', 'BIAS_RANGE',
           'PRESCAN', 'VIRTUAL_OVERSCAN']

#: Gain (e-/DN) of the simulated raw frames: the nominal CCDGAIN.
RAW_GAIN = 2.0

#: Range of the per-amplifier bias level (DN).
BIAS_RANGE = (2000.0, 2300.0)

#: Physical prescan columns per row end.
PRESCAN = 24

#: Virtual overscan rows.
VIRTUAL_OVERSCAN = 20

#: Amplitude (DN) and e-folding length (columns) of the bias decay in the
#: first prescan columns read after a row shift.
_DECAY = (40.0, 3.0)


def _right_amp(region):
    """True if the amplifier reading the region's centre is the right one."""
    return region.col0 + region.nx / 2 > WFC_CHIP_SHAPE[1] / 2


def raw_region(region, *, width=None):
    """
    The chip region a raw frame of ``region`` covers: the full chip, or a
    window extended to the chip edge of its amplifier (so that the
    amplifier's prescan columns are contiguous with it), at least ``width``
    columns wide (chips of one file must have the same shape).
    """
    if region.is_full:
        return region
    nx_chip = WFC_CHIP_SHAPE[1]
    if _right_amp(region):
        nx = max(nx_chip - region.col0, int(width or 0))
        return Region(region.ccdchip, region.row0, nx_chip - nx, region.ny,
                      nx)
    nx = max(region.col0 + region.nx, int(width or 0))
    return Region(region.ccdchip, region.row0, 0, region.ny, nx)


def raw_frame(electrons, region, rng, *, gains=None):
    """
    Raw DN frame of a chip region.

    Parameters
    ----------
    electrons : `~numpy.ndarray`
        Calibrated electrons of ``region`` (noise included).
    region : `~acs_flecks.simulate.detector.Region`
        From `raw_region`: the full chip or a window reaching the chip edge.
    rng : `numpy.random.Generator`
    gains : dict, optional
        amp -> e-/DN (default `RAW_GAIN` for every amplifier).

    Returns
    -------
    dn : `~numpy.ndarray` (uint16)
    ltv : tuple of float
        (LTV1, LTV2) of the raw frame.
    bias : dict
        amp -> bias level (DN) simulated.
    """
    left, right = CHIP_AMPS[region.ccdchip]
    gains = gains or {}
    nx_chip = WFC_CHIP_SHAPE[1]
    has_left = region.col0 == 0
    has_right = region.col0 + region.nx == nx_chip
    ncol = region.nx + PRESCAN * (has_left + has_right)
    full = region.is_full
    nrow = region.ny + (VIRTUAL_OVERSCAN if full else 0)
    # virtual overscan at low y on CCDCHIP 1, high y on CCDCHIP 2
    r_img = VIRTUAL_OVERSCAN if (full and region.ccdchip == 1) else 0
    c_img = PRESCAN if has_left else 0
    bias = {a: float(rng.uniform(*BIAS_RANGE)) for a in (left, right)}
    dn = np.empty((nrow, ncol), dtype=np.float64)
    chip_cols = np.arange(ncol) - c_img + region.col0     # 0-indexed chip x
    amp_right = chip_cols >= nx_chip // 2
    for amp, sel in ((left, ~amp_right), (right, amp_right)):
        if not sel.any():
            continue
        g = float(gains.get(amp, RAW_GAIN))
        rn = READ_NOISE[amp] / g
        block = bias[amp] + rn * rng.standard_normal((nrow, int(sel.sum())))
        # columns read first after each row shift: the prescan end
        dist = (chip_cols[sel] + PRESCAN if amp == left
                else nx_chip + PRESCAN - 1 - chip_cols[sel])
        block += _DECAY[0] * np.exp(-dist / _DECAY[1])[None, :]
        dn[:, sel] = block
    img_cols = np.arange(c_img, c_img + region.nx)
    img_rows = slice(r_img, r_img + region.ny)
    cols_amp = amp_right[img_cols]
    sig = np.asarray(electrons, dtype=np.float64)
    for amp, sel in ((left, ~cols_amp), (right, cols_amp)):
        if sel.any():
            g = float(gains.get(amp, RAW_GAIN))
            # the read noise is already in the electrons: the signal replaces
            # the bias-only noise drawn above
            dn[img_rows, img_cols[sel]] = bias[amp] + sig[:, sel] / g
    # cosmic rays in the prescan: the bias level must be robust to them
    pre = np.nonzero((chip_cols < 0) | (chip_cols >= nx_chip))[0]
    if pre.size:
        n = max(1, int(1e-3 * pre.size * nrow))
        rr = rng.integers(0, nrow, n)
        cc = pre[rng.integers(0, pre.size, n)]
        dn[rr, cc] += rng.uniform(300, 5000, n)
    dn = np.clip(np.rint(dn), 0, 65535).astype(np.uint16)
    ltv = (float(c_img - region.col0), float(r_img - region.row0))
    return dn, ltv, bias
