"""
Timelines with particles appearing at random epochs, for the sensitivity of
the new-artifact searches (issue #15).

`appearing_flecks_scenario` builds a `~acs_flecks.simulate.scenarios.Scenario`
of monthly anneal cycles with stable freckles from the first epoch and random
flecks (area and depth drawn uniformly in log area and in depth) that appear
at random later epochs, **without LED penumbra** (an independent simulation
has none, and without it the §7 search cannot see the smallest flecks);
`no_penumbra` strips the penumbra from any scenario (e.g. the report's
'discovery' timeline).  `write_dkc_timeline` writes the scenario's combined
short flashed darks (DKC), optionally with a change of the LED flash level
and a tilt of its pattern per epoch (the whole-chip changes the search must
not call new).

>>> from acs_flecks.simulate.injection import (appearing_flecks_scenario,
...                                            write_dkc_timeline)
>>> sc = appearing_flecks_scenario(seed=3, window=512)      # doctest: +SKIP
>>> files = write_dkc_timeline(sc, 'sim', window=512)       # doctest: +SKIP
"""

import os
from dataclasses import replace

import numpy as np
from astropy.time import Time, TimeDelta

from ..coords import WFC_CHIP_SHAPE
from .artifacts import Artifact
from .core import _file_meta, _file_name
from .detector import Detector, Region
from .files import write_acs_file
from .images import render_chip
from .scenarios import (FilePlan, Scenario, _freckles, anneal_cycles,
                        get_scenario)

__all__ = ['appearing_flecks_scenario', 'no_penumbra', 'write_dkc_timeline',
           'monthly_starts']


def monthly_starts(n, start='2017-01-04'):
    """ISO start dates of ``n`` anneal cycles, about a month apart."""
    t0 = Time(start)
    return [(t0 + TimeDelta(round(30.4 * i), format='jd')).iso[:10]
            for i in range(int(n))]


def no_penumbra(scenario):
    """The scenario with every LED penumbra removed (in place; returned)."""
    scenario.artifacts = [replace(a, led_halo=0.0, led_halo_a=0.0,
                                  led_halo_b=0.0, led_halo_theta=None)
                          for a in scenario.artifacts]
    return scenario


def _random_fleck(rng, ident, chip, x, y, appear, area_range, depth_range):
    peak = float(rng.uniform(*depth_range))
    index = float(rng.uniform(2.0, 4.0))
    area = float(np.exp(rng.uniform(np.log(area_range[0]),
                                    np.log(area_range[1]))))
    # area of the contour of 5% blocking (of half the peak for flecks
    # shallower than 10%) of the super-Gaussian profile
    thr = min(0.05, peak / 2)
    rho = np.log2(peak / thr) ** (1.0 / index)
    ab = area / (np.pi * rho ** 2)
    ratio = float(rng.uniform(1.0, 2.0))
    a = float(np.sqrt(ab * ratio))
    return Artifact(ident, 'fleck', chip, x, y, a=a, b=ab / a,
                    theta=float(rng.uniform(0, np.pi)), peak=peak, index=index,
                    lobes=((3, float(rng.uniform(0, 0.08)),
                            float(rng.uniform(0, 6.3))),),
                    appear=appear)


def appearing_flecks_scenario(*, seed=0, n_epochs=6, n_flecks=40,
                              n_freckles=100, area_range=(10.0, 240.0),
                              depth_range=(0.10, 1.0), window=None,
                              centers=None, first_epoch=1):
    """
    Stable freckles and flecks appearing at random epochs.

    Parameters
    ----------
    seed : int
    n_epochs : int
        Monthly anneal cycles (one DKC each) from 2017-01-04.
    n_flecks : int
        Flecks, each appearing at a random epoch from ``first_epoch``
        (0-based; default 1, the second) to the last.
    n_freckles : int
        Stable freckles present from the first epoch.
    area_range : tuple of float
        Area (pixels blocking > 5%, or > half the peak for flecks shallower
        than 10%), drawn uniformly in log.
    depth_range : tuple of float
        Peak blocking (0-1), uniform.
    window : int, optional
        Place everything inside ``window`` x ``window`` windows (one per
        chip, centred as `~acs_flecks.simulate.scenarios.get_scenario`'s).
    centers : dict, optional
        ccdchip -> (x, y) window centres.
    first_epoch : int
        Earliest epoch index at which a fleck may appear.

    Returns
    -------
    `~acs_flecks.simulate.scenarios.Scenario`
        ``'appearing'``, with ``plans`` for the DKC of each epoch.
    """
    rng = np.random.default_rng([int(seed), 1515])
    base = get_scenario('blank', seed=seed, kinds=('dkc',))
    centers = {**base.centers, **(centers or {})}
    starts = monthly_starts(n_epochs)
    if window:
        boxes = {}
        for chip in (1, 2):
            reg = Region.window(chip, *centers[chip], window)
            boxes[chip] = (reg.col0 + 25, reg.col0 + reg.nx - 24,
                           reg.row0 + 25, reg.row0 + reg.ny - 24)
    else:
        boxes = {c: (40, WFC_CHIP_SHAPE[1] - 40, 40, WFC_CHIP_SHAPE[0] - 40)
                 for c in (1, 2)}
    placed = []

    def place(min_sep):
        for _ in range(100000):
            chip = int(rng.integers(1, 3))
            xlo, xhi, ylo, yhi = boxes[chip]
            x = round(float(rng.uniform(xlo, xhi)), 2)
            y = round(float(rng.uniform(ylo, yhi)), 2)
            if all(c != chip or np.hypot(px - x, py - y) >= min_sep
                   for c, px, py in placed):
                placed.append((chip, x, y))
                return chip, x, y
        raise RuntimeError('no room for another particle; use a larger '
                           'window or fewer particles')

    fixed = [place(40) for _ in range(int(n_freckles))]
    freckles = _freckles(rng, len(fixed), [], fixed=fixed)
    flecks = []
    for i in range(int(n_flecks)):
        chip, x, y = place(45)
        k = int(rng.integers(first_epoch, n_epochs))
        flecks.append(_random_fleck(rng, f'fleck{i + 1:03d}', chip, x, y,
                                    starts[k], area_range, depth_range))
    last_end = (Time(starts[-1]) + TimeDelta(28, format='jd')).iso[:10]
    cycles = anneal_cycles(starts, last_end=last_end)
    plans = []
    for start, end in zip(cycles['start'], cycles['end']):
        days = int(round(Time(end).mjd - Time(start).mjd)) + 1
        date = (Time(start) + TimeDelta(0.1, format='jd')).isot[:19]
        plans.append(FilePlan('dkc', date, str(start), 'CLEAR', 0.0, 0.5,
                              ncombine=max(2, days)))
    sc = Scenario('appearing', int(seed), freckles + flecks, cycles, plans,
                  None, centers)
    return no_penumbra(sc)


def write_dkc_timeline(scenario, outdir, *, window=None, flash_scale=None,
                       flash_tilt=None, kinds=('dkc',)):
    """
    Write a scenario's DKC (and optionally un-flashed dark) files.

    Parameters
    ----------
    scenario : `~acs_flecks.simulate.scenarios.Scenario`
    outdir : str or path-like
    window : int, optional
        Sub-array windows around ``scenario.centers``.
    flash_scale : dict, optional
        Epoch start date -> factor of the LED flash level (1.02 = 2% more).
    flash_tilt : dict, optional
        Epoch start date -> (tx, ty): the illumination is multiplied by
        ``1 + tx * u + ty * v`` with (u, v) the chip position in [-0.5, 0.5]
        (0.01 = a 1% tilt across the chip).
    kinds : tuple of str
        Plans to write ('dkc', 'dark').

    Returns
    -------
    list of str
        Paths in time order.
    """
    outdir = os.path.abspath(os.fspath(outdir))
    os.makedirs(outdir, exist_ok=True)
    if window is None:
        regions = {2: Region(2), 1: Region(1)}
    else:
        regions = {c: Region.window(c, *scenario.centers[c], window)
                   for c in (2, 1)}
    detector = Detector(scenario.seed)
    paths = []
    for plan in scenario.plans:
        if plan.kind not in kinds:
            continue
        root, fname = _file_name(plan)
        path = os.path.join(outdir, fname)
        meta = _file_meta(plan, fname=fname, root=root,
                          subarray=window is not None, scenario=scenario.name,
                          seed=scenario.seed)
        chips = {}
        for c, reg in regions.items():
            sci, err, dq = render_chip(plan, reg, detector, scenario, None)
            if plan.kind == 'dkc':
                f = np.float32((flash_scale or {}).get(plan.epoch, 1.0))
                tx, ty = (flash_tilt or {}).get(plan.epoch, (0.0, 0.0))
                if f != 1 or tx or ty:
                    uu = (reg.col0 + np.arange(reg.nx)) / \
                        (WFC_CHIP_SHAPE[1] - 1) - 0.5
                    vv = (reg.row0 + np.arange(reg.ny)) / \
                        (WFC_CHIP_SHAPE[0] - 1) - 0.5
                    gain = f * (1 + tx * uu[None, :] + ty * vv[:, None])
                    sci = (sci * gain).astype(np.float32)
                    err = (err * gain).astype(np.float32)
            chips[c] = dict(sci=sci, err=err, dq=dq, ltv=reg.ltv)
        write_acs_file(path, chips, meta)
        paths.append(path)
    return paths

