"""
Shapes and transmissivity of simulated particles (flecks and freckles).

A particle on the CCD casts a shadow whose *blocking* (1 - transmissivity)
is a smooth super-Gaussian profile on an elliptical, slightly lobed footprint:

.. math::

    B(x, y) = B_\\mathrm{peak}\\; 2^{-\\rho^n},\\qquad
    \\rho = \\frac{r_\\mathrm{ell}(x, y)}{1 + \\sum_m a_m \\cos(m\\phi - \\phi_m)}

so ``B = B_peak / 2`` on the ellipse of semi-axes (``a``, ``b``) and the
blocking falls to 0 outside; with ``B_peak = 1`` the transmissivity drops to
0 at the centre, as for the large fleck of the report (§6.1).  Maps are
integrated over each pixel (5 x 5 sub-samples).

Filter dependence (report §6.1, Fig. 14 and 16): the blocking is scaled by
`OPACITY_SCALE`, nearly flat from F435W to F775W and lower in F814W and
F850LP, so that the mean transmissivity in the master aperture rises by ~7%
from F775W to F850LP.  The LED post-flash (§6.2) sees the shadow shifted by
(``led_dx``, ``led_dy``) and stretched by ``led_stretch`` along that shift
(the light path differs, so the shift is the same for every particle),
and through a faint, extended **LED penumbra**: a Gaussian halo of peak
blocking ``led_halo`` and widths (``led_halo_a``, ``led_halo_b``) along the
particle's axes, centred on the LED shadow and combined with it as
``1 - (1 - B_core) (1 - B_halo)``.  The lamp path has no penumbra.
Motion between the EPER epochs (§4) is a linear drift of
(``eper_dx``, ``eper_dy``) from 2017-05-10 to 2017-11-13; the table position
(``x``, ``y``) is the final (Nov/Dec 2017) position.
"""

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from astropy.time import Time

from ..filters import BROADBAND_FILTERS, PIVOT_WAVELENGTHS

__all__ = ['Artifact', 'OPACITY_SCALE', 'LED_OPACITY_SCALE', 'opacity_scale',
           'EPER_EPOCHS', 'LED_SHIFT', 'LED_STRETCH', 'LIGHT_PATHS',
           'supersampled_grid', 'mjd_of']

#: Blocking scale per filter relative to F435W ("opacity falls toward red",
#: report §6.1: the SED is flat in the blue and rises in F814W and F850LP).
OPACITY_SCALE = {
    'F435W': 1.000, 'F475W': 0.998, 'F555W': 0.996, 'F606W': 0.994,
    'F625W': 0.992, 'F775W': 0.985, 'F814W': 0.935, 'F850LP': 0.835,
}

#: Blocking scale seen by the LED post-flash (a blue LED: as opaque as F435W).
LED_OPACITY_SCALE = 1.0

#: Shift (dx, dy) in pixels of every LED shadow relative to the lamp shadow.
LED_SHIFT = (0.9, 0.6)

#: Stretch of the LED shadow along the shift direction.
LED_STRETCH = 1.15

#: The two EPER epochs of the report (§4) between which particles may move.
EPER_EPOCHS = ('2017-05-10', '2017-11-13')

#: Light paths of `Artifact.blocking_map`: the lamp, the LED post-flash
#: (core shadow and penumbra) and the LED core shadow alone.
LIGHT_PATHS = ('lamp', 'led', 'led_core')

_SUB = 5  # sub-samples per pixel axis


@lru_cache(maxsize=1024)
def _mjd(date):
    return Time(date).mjd


def mjd_of(date):
    """MJD of an ISO string (cached) or a `~astropy.time.Time`."""
    return _mjd(date) if isinstance(date, str) else Time(date).mjd


@lru_cache(maxsize=4096)
def _cached_blocking(artifact, light, offset, box):
    # the same maps are needed by every file of a run and by the truth
    return artifact._compute_blocking(light, offset, box)


def opacity_scale(filter_name):
    """
    Blocking scale of a filter (1 for F435W), or of ``'LED'``.

    Narrowband filters are interpolated in pivot wavelength between the
    broadband values.

    Parameters
    ----------
    filter_name : str
        A WFC filter name or ``'LED'``.

    Returns
    -------
    float
    """
    name = str(filter_name).strip().upper()
    if name == 'LED':
        return LED_OPACITY_SCALE
    if name in OPACITY_SCALE:
        return OPACITY_SCALE[name]
    if name in PIVOT_WAVELENGTHS:
        wl = [PIVOT_WAVELENGTHS[f].value for f in BROADBAND_FILTERS]
        sc = [OPACITY_SCALE[f] for f in BROADBAND_FILTERS]
        return float(np.interp(PIVOT_WAVELENGTHS[name].value, wl, sc))
    from ..exceptions import AcsFlecksError
    raise AcsFlecksError(f'no opacity model for filter {filter_name!r} '
                         f'(known: {", ".join(OPACITY_SCALE)}, LED, and the '
                         'narrowband filters)')


def supersampled_grid(x0, y0, ny, nx, sub=_SUB):
    """1-indexed chip coordinates of ``sub`` x ``sub`` sub-samples in each
    pixel of the box whose first pixel is (x0, y0); shape (ny*sub, nx*sub)."""
    off = (np.arange(sub) + 0.5) / sub - 0.5
    xs = (x0 + np.arange(nx)[:, None] + off[None, :]).ravel()
    ys = (y0 + np.arange(ny)[:, None] + off[None, :]).ravel()
    return np.meshgrid(xs, ys)


@dataclass(frozen=True)
class Artifact:
    """
    One particle shadow with its geometry and timeline.

    Parameters
    ----------
    id : str
        'fleck1', 'freckle001', ...
    kind : str
        'fleck' or 'freckle'.
    ccdchip : int
        1 (WFC1) or 2 (WFC2).
    x, y : float
        1-indexed chip position (x = column) of the lamp shadow's centre at
        its final position.
    a, b : float
        Semi-axes (pixels) of the half-blocking contour before lobes.
    theta : float
        Angle of ``a`` from +x, radians.
    peak : float
        Blocking at the centre in F435W (0-1).
    index : float
        Super-Gaussian index ``n`` (2 = Gaussian; larger = flatter core).
    lobes : tuple of (m, amplitude, phase)
        Harmonic perturbations of the contour (irregular outline).
    appear : str
        ISO date the particle appears ('' = always present).
    eper_dx, eper_dy : float
        Drift between the two EPER epochs (pixels).
    led_dx, led_dy, led_stretch : float
        LED shadow shift (pixels) and stretch along the shift.
    led_halo : float
        Peak blocking of the LED penumbra (0 = none; lamp path never).
    led_halo_a, led_halo_b : float
        Gaussian sigmas (pixels) of the penumbra along its own axes
        (before the LED stretch).
    led_halo_theta : float or None
        Angle of the ``led_halo_a`` axis from +x (radians); None = ``theta``.
    fade : tuple of str
        ``(start, end)`` ISO dates: the blocking falls linearly from full
        at ``start`` to nothing at ``end``, after which the particle is gone
        (``()`` = never fades).
    move : tuple
        ``(start, end, dx, dy)``: the shadow drifts linearly by (``dx``,
        ``dy``) pixels between the ISO dates ``start`` and ``end``, ending at
        (``x``, ``y``) (``()`` = does not move; see `offset_at`).
    """

    id: str
    kind: str
    ccdchip: int
    x: float
    y: float
    a: float
    b: float
    theta: float = 0.0
    peak: float = 0.3
    index: float = 2.0
    lobes: tuple = field(default_factory=tuple)
    appear: str = ''
    eper_dx: float = 0.0
    eper_dy: float = 0.0
    led_dx: float = LED_SHIFT[0]
    led_dy: float = LED_SHIFT[1]
    led_stretch: float = LED_STRETCH
    led_halo: float = 0.0
    led_halo_a: float = 0.0
    led_halo_b: float = 0.0
    led_halo_theta: float = None
    fade: tuple = ()
    move: tuple = ()

    # -- geometry ----------------------------------------------------------
    @property
    def half_size(self):
        """Half width of the box (pixels) beyond which blocking < 1e-4."""
        lobe = 1 + sum(abs(amp) for _, amp, _ in self.lobes)
        if self.peak <= 1e-4:
            rho = 1.0
        else:
            rho = np.log2(self.peak / 1e-4) ** (1.0 / self.index)
        reach = max(self.a, self.b) * lobe * rho * self.led_stretch
        if self.led_halo > 1e-4:
            # the penumbra's 1e-4 contour (one box for every light path,
            # so that all maps of a particle share their grid)
            q = np.sqrt(2 * np.log(self.led_halo / 1e-4))
            reach = max(reach, q * max(self.led_halo_a, self.led_halo_b)
                        * self.led_stretch)
        reach += np.hypot(self.led_dx, self.led_dy)
        reach += np.hypot(self.eper_dx, self.eper_dy)
        if self.move:
            reach += np.hypot(self.move[2], self.move[3])
        return int(np.ceil(reach)) + 2

    def box(self, offset=(0.0, 0.0)):
        """(x0, y0, ny, nx): 1-indexed first pixel and shape of the map box."""
        h = self.half_size
        xc = int(round(self.x + offset[0]))
        yc = int(round(self.y + offset[1]))
        return xc - h, yc - h, 2 * h + 1, 2 * h + 1

    def offset_at(self, date):
        """Position offset (dx, dy) of the lamp shadow at ``date`` relative to
        (x, y): -(eper_dx, eper_dy) up to the first EPER epoch, drifting
        linearly to (0, 0) at the second; plus, for a particle that
        ``move`` set, -(dx, dy) up to its start, drifting linearly to (0, 0)
        at its end."""
        if date is None:
            return 0.0, 0.0
        ox = oy = 0.0
        if self.eper_dx != 0 or self.eper_dy != 0:
            t = mjd_of(date)
            t1, t2 = mjd_of(EPER_EPOCHS[0]), mjd_of(EPER_EPOCHS[1])
            frac = float(np.clip((t - t1) / (t2 - t1), 0.0, 1.0))
            ox, oy = (frac - 1.0) * self.eper_dx, (frac - 1.0) * self.eper_dy
        if self.move:
            start, end, dx, dy = self.move
            t = mjd_of(date)
            t1, t2 = mjd_of(start), mjd_of(end)
            frac = float(np.clip((t - t1) / (t2 - t1), 0.0, 1.0))
            # rounded: the cached maps of nearby epochs are shared
            ox = round(ox + (frac - 1.0) * dx, 3)
            oy = round(oy + (frac - 1.0) * dy, 3)
        return ox, oy

    def strength_at(self, date):
        """Factor (0-1) of the blocking at ``date``: 1 unless the particle
        ``fade`` set (linearly from its start to its end)."""
        if not self.fade or date is None:
            return 1.0
        t = mjd_of(date)
        t1, t2 = mjd_of(self.fade[0]), mjd_of(self.fade[1])
        return float(np.clip((t2 - t) / (t2 - t1), 0.0, 1.0))

    def present(self, date):
        """True if the particle exists at ``date`` (ISO string or Time):
        after it appears and before the end of its fading."""
        if self.fade and mjd_of(date) >= mjd_of(self.fade[1]):
            return False
        if not self.appear:
            return True
        return mjd_of(date) >= mjd_of(self.appear)

    def _profile(self, xx, yy, *, light='lamp', offset=(0.0, 0.0)):
        """Unscaled blocking (peak at centre) at chip coordinates xx, yy."""
        dx = xx - (self.x + offset[0])
        dy = yy - (self.y + offset[1])
        if light in ('led', 'led_core'):
            dx = dx - self.led_dx
            dy = dy - self.led_dy
            shift = np.hypot(self.led_dx, self.led_dy)
            if shift > 0 and self.led_stretch != 1:
                ex, ey = self.led_dx / shift, self.led_dy / shift
                along = dx * ex + dy * ey
                dx = dx - along * ex * (1 - 1 / self.led_stretch)
                dy = dy - along * ey * (1 - 1 / self.led_stretch)
        c, s = np.cos(self.theta), np.sin(self.theta)
        u = dx * c + dy * s
        v = -dx * s + dy * c
        r = np.sqrt((u / self.a) ** 2 + (v / self.b) ** 2)
        phi = np.arctan2(v, u)
        scale = np.ones_like(r)
        for m, amp, phase in self.lobes:
            scale += amp * np.cos(m * phi - phase)
        rho = r / scale
        block = self.peak * np.exp2(-rho ** self.index)
        if light == 'led' and self.led_halo > 0:
            if self.led_halo_theta is not None:
                c, s = np.cos(self.led_halo_theta), np.sin(self.led_halo_theta)
                u, v = dx * c + dy * s, -dx * s + dy * c
            q2 = (u / self.led_halo_a) ** 2 + (v / self.led_halo_b) ** 2
            halo = self.led_halo * np.exp(-0.5 * q2)
            block = 1.0 - (1.0 - block) * (1.0 - halo)
        return block

    def blocking_map(self, light='lamp', *, offset=(0.0, 0.0), box=None):
        """
        Pixel-integrated unscaled blocking in a box.

        Parameters
        ----------
        light : {'lamp', 'led', 'led_core'}
            Light path: lamp (flats, EPER), LED post-flash (core shadow and
            penumbra), or the LED core shadow without the penumbra.
        offset : tuple of float
            Position offset (dx, dy), e.g. from `offset_at`.
        box : tuple, optional
            (x0, y0, ny, nx); default `box` of this offset.

        Returns
        -------
        blocking : ndarray (float64)
        origin : tuple of int
            1-indexed (x0, y0) of ``blocking[0, 0]``.
        """
        if light not in LIGHT_PATHS:
            raise ValueError(f'light must be one of {LIGHT_PATHS}, got '
                             f'{light!r}')
        if box is None:
            box = self.box(offset)
        offset = (float(offset[0]), float(offset[1]))
        box = tuple(int(v) for v in box)
        block = _cached_blocking(self, light, offset, box)
        return block.copy(), (box[0], box[1])

    def transmissivity_map(self, filter_name, *, offset=(0.0, 0.0), box=None,
                           penumbra=True):
        """Transmissivity map ``1 - scale(filter) * blocking``; 'LED' uses
        the LED light path, with its penumbra unless ``penumbra=False``.
        Returns (map, (x0, y0))."""
        light = 'lamp'
        if str(filter_name).upper() == 'LED':
            light = 'led' if penumbra else 'led_core'
        block, origin = self.blocking_map(light, offset=offset, box=box)
        return 1.0 - opacity_scale(filter_name) * block, origin

    def _compute_blocking(self, light, offset, box):
        x0, y0, ny, nx = box
        xx, yy = supersampled_grid(x0, y0, ny, nx)
        prof = self._profile(xx, yy, light=light, offset=offset)
        return prof.reshape(ny, _SUB, nx, _SUB).mean(axis=(1, 3))

    def with_position(self, x, y):
        """A copy at another position."""
        return replace(self, x=float(x), y=float(y))
