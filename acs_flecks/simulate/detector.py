"""
The simulated WFC detector: fixed patterns, illumination and noise.

Fixed-pattern features (pixel response non-uniformity, hot pixels, warm
columns) are generated in 256 x 256 tiles, each from its own random stream
seeded by ``(seed, chip, tile)``: a sub-array window holds exactly the same
fixed pattern as the full frame at the same chip pixels, and the features
do not move from file to file ("fixed in position").

Illumination patterns are smooth separable polynomials in focal-plane
coordinates (WFC1 sits above WFC2, so a gradient is continuous across the
two chips): the LED post-flash has a ~20% gradient, the Tungsten lamp a
milder, filter-dependent vignetting.

Noise: the signals simulated are large (flats ~1e5 e-) or averaged over tens
of exposures (DKC), so Poisson noise is drawn as a Gaussian of variance
equal to the expected counts (plus read noise squared), which is both
accurate here and several times faster than `numpy.random.Generator.poisson`
on 8 Mpixel chips.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..coords import WFC_CHIP_SHAPE
from ..dq import HOTPIX, SATPIXEL

__all__ = ['Region', 'Detector', 'READ_NOISE', 'DQ_HOT', 'DQ_SATURATED',
           'HOT_THRESHOLD', 'FULL_WELL']

#: Tile size of the fixed-pattern generator.
TILE = 256

#: Read noise per amplifier (e-), from the CCDTAB values in the real header.
READ_NOISE = {'A': 4.57, 'B': 3.91, 'C': 4.25, 'D': 4.04}

#: Amplifiers of each chip (left half, right half).
CHIP_AMPS = {1: ('A', 'B'), 2: ('C', 'D')}

#: DQ flag of hot pixels (`acs_flecks.dq.HOTPIX`, hstcal acsdq.h).
DQ_HOT = HOTPIX

#: DQ flag of full-well saturation (`acs_flecks.dq.SATPIXEL`).
DQ_SATURATED = SATPIXEL

#: Dark rate (e-/s) above which a pixel is flagged hot (ACS uses 0.08 e-/s).
HOT_THRESHOLD = 0.08

#: Full well per exposure (e-).
FULL_WELL = 84700.0

#: Mean dark current (e-/s).
DARK_CURRENT = 0.0065


@dataclass(frozen=True)
class Region:
    """
    The part of a chip an image covers.

    Parameters
    ----------
    ccdchip : int
        1 or 2.
    row0, col0 : int
        0-indexed first row and column in the full-chip frame.
    ny, nx : int
        Shape.
    """

    ccdchip: int
    row0: int = 0
    col0: int = 0
    ny: int = WFC_CHIP_SHAPE[0]
    nx: int = WFC_CHIP_SHAPE[1]

    @property
    def shape(self):
        return (self.ny, self.nx)

    @property
    def ltv(self):
        """(LTV1, LTV2) so that chip = image - LTV (IRAF convention)."""
        return (-float(self.col0), -float(self.row0))

    @property
    def is_full(self):
        return ((self.row0, self.col0, self.ny, self.nx)
                == (0, 0) + WFC_CHIP_SHAPE)

    def contains(self, x, y, margin=0):
        """True if the 1-indexed chip pixel (x, y) lies in the region."""
        m = margin
        return (self.col0 + 1 + m <= x <= self.col0 + self.nx - m
                and self.row0 + 1 + m <= y <= self.row0 + self.ny - m)

    @classmethod
    def window(cls, ccdchip, x, y, size):
        """A ``size`` x ``size`` region centred on the 1-indexed (x, y),
        moved inside the chip if needed."""
        ny = nx = int(size)
        r0 = int(round(y)) - 1 - ny // 2
        c0 = int(round(x)) - 1 - nx // 2
        r0 = min(max(r0, 0), WFC_CHIP_SHAPE[0] - ny)
        c0 = min(max(c0, 0), WFC_CHIP_SHAPE[1] - nx)
        return cls(int(ccdchip), r0, c0, ny, nx)


def _tiles(region):
    t0r, t1r = region.row0 // TILE, (region.row0 + region.ny - 1) // TILE
    t0c, t1c = region.col0 // TILE, (region.col0 + region.nx - 1) // TILE
    for tr in range(t0r, t1r + 1):
        for tc in range(t0c, t1c + 1):
            yield tr, tc


def _tiled(seed, region, purpose, make_tile):
    """Assemble a region from independently seeded tiles."""
    out = np.empty(region.shape, dtype=np.float32)
    for tr, tc in _tiles(region):
        rng = np.random.default_rng([int(seed), 7211, purpose, region.ccdchip,
                                     tr, tc])
        tile = make_tile(rng)
        r0, c0 = tr * TILE, tc * TILE
        rs = slice(max(region.row0, r0),
                   min(region.row0 + region.ny, r0 + TILE))
        cs = slice(max(region.col0, c0),
                   min(region.col0 + region.nx, c0 + TILE))
        out[rs.start - region.row0:rs.stop - region.row0,
            cs.start - region.col0:cs.stop - region.col0] = \
            tile[rs.start - r0:rs.stop - r0, cs.start - c0:cs.stop - c0]
    return out


class Detector:
    """
    Fixed-pattern features of the two WFC chips for one seed.

    Parameters
    ----------
    seed : int
        Random seed; the same seed gives the same detector.
    prnu_rms : float
        RMS of the pixel response non-uniformity.
    hot_fraction : float
        Fraction of pixels with a hot dark rate.
    n_warm_columns : int
        Warm column segments per chip.
    """

    def __init__(self, seed, *, prnu_rms=0.008, hot_fraction=0.003,
                 n_warm_columns=12):
        self.seed = int(seed)
        self.prnu_rms = prnu_rms
        self.hot_fraction = hot_fraction
        self.n_warm_columns = n_warm_columns
        self._cache = {}

    def _cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def prnu(self, region):
        """Pixel response (mean 1) of the region, float32."""
        rms = self.prnu_rms

        def tile(rng):
            return 1.0 + rms * rng.standard_normal((TILE, TILE),
                                                   dtype=np.float32)
        return self._cached(('prnu', region),
                            lambda: _tiled(self.seed, region, 1, tile))

    def hot_rate(self, region):
        """Dark rate of hot pixels (e-/s, 0 elsewhere), float32."""
        frac = self.hot_fraction

        def tile(rng):
            t = np.zeros((TILE, TILE), dtype=np.float32)
            n = rng.poisson(frac * TILE * TILE)
            idx = rng.integers(0, TILE * TILE, n)
            t.flat[idx] = rng.lognormal(np.log(0.6), 1.4, n).astype(np.float32)
            return t
        return self._cached(('hot', region),
                            lambda: _tiled(self.seed, region, 2, tile))

    @cached_property
    def warm_columns(self):
        """dict ccdchip -> list of (column0, row_start0, row_stop0, rate):
        0-indexed warm column segments running from ``row_start0`` to the
        chip edge away from the serial register."""
        out = {}
        for chip in (1, 2):
            rng = np.random.default_rng([self.seed, 7211, 3, chip])
            cols = rng.choice(WFC_CHIP_SHAPE[1], self.n_warm_columns,
                              replace=False)
            starts = rng.integers(0, WFC_CHIP_SHAPE[0], self.n_warm_columns)
            rates = rng.uniform(0.4, 1.5, self.n_warm_columns)
            segs = []
            for c, s, r in zip(cols, starts, rates):
                # serial register: y = 1 for WFC2, y = 2048 for WFC1
                if chip == 2:
                    segs.append((int(c), int(s), WFC_CHIP_SHAPE[0], float(r)))
                else:
                    segs.append((int(c), 0, int(s) + 1, float(r)))
            out[chip] = segs
        return out

    def dark_rate(self, region):
        """Total dark rate (e-/s): dark current + hot pixels + warm columns."""
        def build():
            rate = self.hot_rate(region) + np.float32(DARK_CURRENT)
            for c, s, e, r in self.warm_columns[region.ccdchip]:
                c -= region.col0
                if not 0 <= c < region.nx:
                    continue
                s = max(s - region.row0, 0)
                e = min(e - region.row0, region.ny)
                if e > s:
                    rate[s:e, c] += np.float32(r)
            return rate
        return self._cached(('dark', region), build)

    def dq(self, region):
        """Data-quality array (int16): hot pixels flagged `DQ_HOT`."""
        def build():
            return np.where(self.hot_rate(region) > HOT_THRESHOLD,
                            np.int16(DQ_HOT), np.int16(0)).astype(np.int16)
        return self._cached(('dq', region), build)

    @staticmethod
    def read_noise(region):
        """Read noise (e-) per column of the region, shape (1, nx)."""
        cols = region.col0 + np.arange(region.nx)
        left, right = CHIP_AMPS[region.ccdchip]
        rn = np.where(cols < WFC_CHIP_SHAPE[1] // 2, READ_NOISE[left],
                      READ_NOISE[right])
        return rn.astype(np.float32)[None, :]


def _focal_plane(region):
    """Normalised focal-plane coordinates (u along x, v along y), 1-D, in
    [-0.5, 0.5]; WFC2 is the lower half, WFC1 the upper half."""
    cols = region.col0 + np.arange(region.nx, dtype=np.float64)
    rows = region.row0 + np.arange(region.ny, dtype=np.float64)
    if region.ccdchip == 1:
        rows = rows + WFC_CHIP_SHAPE[0] + 50  # inter-chip gap
    u = cols / (WFC_CHIP_SHAPE[1] - 1) - 0.5
    v = rows / (2 * WFC_CHIP_SHAPE[0] + 50 - 1) - 0.5
    return u, v


def led_pattern(region):
    """LED post-flash illumination (mean ~1) with its ~20% gradient."""
    u, v = _focal_plane(region)
    fx = 1.0 + 0.10 * u - 0.12 * u ** 2
    fy = 1.0 + 0.16 * v - 0.20 * v ** 2
    return np.outer(fy, fx).astype(np.float32)


def lamp_pattern(region, filter_name=''):
    """Tungsten lamp illumination (median ~1): mild vignetting with a small
    filter-dependent tilt."""
    u, v = _focal_plane(region)
    k = (sum(map(ord, str(filter_name))) % 7 - 3) / 300.0
    fx = 1.0 + k * u - 0.08 * u ** 2
    fy = 1.0 - 0.03 * v - 0.06 * v ** 2
    return np.outer(fy, fx).astype(np.float32)


__all__ += ['led_pattern', 'lamp_pattern', 'CHIP_AMPS', 'DARK_CURRENT']
