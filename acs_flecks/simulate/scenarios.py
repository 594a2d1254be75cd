"""
Scenarios: which particles exist, when, and which files are observed.

``'discovery'``
    The report's timeline: monthly anneal cycles through 2017 (the cycle of
    2017-04-04 to 2017-05-03 is the last without flecks; the one starting
    2017-05-05 the first with them), ~100 stable freckles, the three flecks
    of the report appearing on 2017-05-05, the shadow trail of §5, the
    motion of the elongated fleck between the EPER epochs (§4).
``'population'``
    Random flecks of many sizes (area ~10-300 px) and depths (peak blocking
    10-100%) appearing on 2017-05-05, for completeness curves; three DKC
    epochs around the appearance.
``'blank'``
    No particles at all (hot pixels, warm columns, gradients remain).
``'lifetime'``
    The instrument's life: monthly anneal cycles from April 2002 to October
    2026 (`LIFETIME_CYCLE_STARTS`, 295 epochs; 2017 as in 'discovery'), 40
    stable freckles, the report's three flecks appearing on 2017-05-05, and
    `LIFETIME_EVENTS`: an artifact that appears in 2009 and fades away in
    2020-2022, and one that moves by (8, 5) pixels in 2012-2013.  Meant for
    windowed chips (``window=200``, ~0.8 MB a file) over all epochs, and
    full frames for a few (``epochs=``); used by
    ``benchmarks/bench_lifetime.py``.

Every scenario also plans one flashed long *daily dark* (kind ``'daily'``:
four 1000.5 s darks post-flashed for 4.6 s and combined, as the CCD Daily
Monitor takes them, report §2) in the anneal cycle of the report's
discovery (2017-06-26 to 2017-07-26) or, if the timeline ends before, in its
last cycle: the report's Figures 1 and 2.
"""

from dataclasses import dataclass, field, replace

import numpy as np
from astropy.table import QTable
from astropy.time import Time, TimeDelta

from ..coords import WFC_CHIP_SHAPE
from ..exceptions import AcsFlecksError
from ..filters import BROADBAND_FILTERS, TABLE1_FLATS
from .artifacts import Artifact, EPER_EPOCHS

__all__ = ['SCENARIOS', 'KINDS', 'DATE_OF_ORIGIN', 'ANNEAL_CYCLE_STARTS',
           'REPORT_FLECKS', 'LED_PENUMBRA', 'FRECKLE_PENUMBRA', 'EPER_LEVELS',
           'FLAT_DATES', 'DAILY_DARK_CYCLE', 'DAILY_DARK_EXPTIME', 'Scenario',
           'FilePlan', 'get_scenario', 'anneal_cycles', 'report_flecks',
           'LIFETIME_CYCLE_STARTS', 'LIFETIME_EVENTS', 'lifetime_events']

# Scenario names, file kinds (in the order they are written) and the date
# the three flecks appeared (report §2): defined in acs_flecks.parameters.
from ..parameters import DATE_OF_ORIGIN, KINDS, SCENARIOS  # noqa: E402

#: First day of each anneal cycle of the 'discovery' timeline.  A cycle ends
#: two days before the next starts (the anneal is the day in between), as in
#: the report (§2): 2017-04-04 - 2017-05-03, anneal 2017-05-04,
#: 2017-05-05 - 2017-05-29, ..., 2017-06-26 - 2017-07-26.
ANNEAL_CYCLE_STARTS = ('2017-01-04', '2017-02-02', '2017-03-03', '2017-04-04',
                       '2017-05-05', '2017-05-31', '2017-06-26', '2017-07-28',
                       '2017-08-29', '2017-09-28', '2017-10-27', '2017-11-28')
_LAST_CYCLE_END = '2017-12-27'


def _lifetime_starts():
    # the 4th of every month from 2002-04 to 2026-10, with the report's own
    # cycle starts in 2017 (2017-05-05 is the flecks' date of origin)
    starts = []
    for year in range(2002, 2027):
        if year == 2017:
            starts.extend(ANNEAL_CYCLE_STARTS)
            continue
        first, last = (4 if year == 2002 else 1), (10 if year == 2026 else 12)
        starts.extend(f'{year}-{m:02d}-04' for m in range(first, last + 1))
    return tuple(starts)


#: First day of each anneal cycle of the 'lifetime' timeline (monthly,
#: 2002-04-04 ... 2026-10-04; the 2017 cycles of 'discovery').
LIFETIME_CYCLE_STARTS = _lifetime_starts()
_LIFETIME_END = '2026-11-02'

#: Mean signal (e-) of the EPER lamp images (report §4: 180 ... 42000).
EPER_LEVELS = (180, 1600, 5000, 12000, 24000, 42000)

#: Filter of the EPER lamp images.
EPER_FILTER = 'F606W'

#: Anneal cycle of the flashed long daily dark (report §2, Figures 1-2:
#: the cycle of 2017-06-26 to 2017-07-26, in which the fleck was found).
DAILY_DARK_CYCLE = '2017-06-26'

#: Days after the cycle start of the daily dark's observation.
DAILY_DARK_DAY = 4

#: Exposure time (s) of one long dark of the CCD Daily Monitor (§2); a
#: daily dark combines four of them.
DAILY_DARK_EXPTIME = 1000.5

#: Dates of the two lamp-flat sets (before and after the appearance).
FLAT_DATES = ('2016-12-01', '2017-12-01')

#: Narrowband flat written with the 2017 set (skipped by photometry).
NARROWBAND_FLAT = ('F658N', 50000.0)

#: The report's flecks: id -> (ccdchip, x, y).
REPORT_FLECKS = {'fleck1': (2, 1521, 1773), 'fleck2': (1, 3510, 355),
                 'fleck3': (1, 1850, 1755)}

#: Shadow trail of the large fleck (report §5): box size (columns, rows)
#: and total deficit (e-) in the averaged short dark.
TRAIL_BOX = (11, 3)
TRAIL_DEFICIT = 200.0


#: LED penumbra of the report's flecks: (peak blocking, sigma along the
#: halo's long axis, sigma across it in pixels, angle of the long axis from
#: +x in radians or None for the fleck's own axis).  A faint halo seen only
#: by the post-flash (§6.2), wide enough to survive the 15x15 median of the
#: §7 search (see docs/simulate.rst).  fleck3's halo is long across the
#: direction of freckle001 (17 px away) and narrow toward it, so that the
#: two are merged by the segmentation as rarely as possible.
LED_PENUMBRA = {'fleck1': (0.02, 6.0, 6.0, None),
                'fleck2': (0.05, 8.0, 5.5, None),
                'fleck3': (0.10, 9.0, 3.0, 0.89)}

#: LED penumbra of the freckles: (peak blocking, sigma in pixels).  Zero:
#: with a penumbra, freckle001 merges with the tiny fleck3 in the §7
#: segmentation (no deblending), and ~65 of the 100 freckles are already
#: found by the report's search without one.
FRECKLE_PENUMBRA = (0.0, 0.0)


def report_flecks(appear=DATE_OF_ORIGIN):
    """The three flecks of the report, shaped to its sizes (§3, §8)."""
    flecks = [
        # large fleck: ~144 px blocking > 5%, 67 below 50% transmissivity,
        # transmissivity ~0 at the centre
        Artifact('fleck1', 'fleck', 2, 1521.0, 1773.0, a=4.95, b=4.4,
                 theta=0.5, peak=1.0, index=4.0,
                 lobes=((2, 0.06, 0.3), (3, 0.08, 1.2), (5, 0.04, 2.0)),
                 appear=appear),
        # elongated fleck: ~52 px, 21 below 50%; drifts -0.3 px in y
        # between the EPER epochs (§4)
        Artifact('fleck2', 'fleck', 1, 3510.0, 355.0, a=4.5, b=1.62,
                 theta=0.35, peak=0.95, index=3.7, lobes=((3, 0.05, 0.7),),
                 appear=appear, eper_dy=-0.3),
        # tiny, mostly transmissive fleck
        Artifact('fleck3', 'fleck', 1, 1850.0, 1755.0, a=1.3, b=1.1,
                 theta=0.2, peak=0.32, index=2.0, appear=appear),
    ]
    keys = ('led_halo', 'led_halo_a', 'led_halo_b', 'led_halo_theta')
    return [replace(f, **dict(zip(keys, LED_PENUMBRA[f.id]))) for f in flecks]


#: Events of the 'lifetime' scenario besides the 2017 flecks: id ->
#: (ccdchip, x, y) at the final position.  Both lie in the default windows.
LIFETIME_EVENTS = {'fader': (2, 1480.0, 1740.0), 'mover': (1, 3545.0, 330.0)}


def lifetime_events():
    """
    The particles of the 'lifetime' scenario that change, besides the
    report's flecks.

    Returns
    -------
    list of `~acs_flecks.simulate.artifacts.Artifact`
        ``fader``: appears 2009-06-04, fades linearly from 2020-01-04 and is
        gone from 2022-01-04 on; ``mover``: present throughout, drifts by
        (+8, +5) pixels from 2012-01-04 to 2014-01-04.
    """
    chip, x, y = LIFETIME_EVENTS['fader']
    fader = Artifact('fader', 'freckle', chip, x, y, a=4.0, b=3.4, theta=0.3,
                     peak=0.7, index=2.5, appear='2009-06-04',
                     fade=('2020-01-04', '2022-01-04'))
    chip, x, y = LIFETIME_EVENTS['mover']
    mover = Artifact('mover', 'freckle', chip, x, y, a=4.0, b=3.4, theta=1.0,
                     peak=0.7, index=2.5,
                     move=('2012-01-04', '2014-01-04', 8.0, 5.0))
    return [fader, mover]


def anneal_cycles(starts=ANNEAL_CYCLE_STARTS, last_end=_LAST_CYCLE_END):
    """
    The anneal cycles of a timeline.

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``start``, ``end`` (ISO dates, inclusive) and ``anneal``
        (the anneal day after the cycle).
    """
    t = Time(list(starts))
    ends = [(t[i + 1] - TimeDelta(2, format='jd')).iso[:10]
            for i in range(len(t) - 1)] + [last_end]
    anneal = [(Time(e) + TimeDelta(1, format='jd')).iso[:10] for e in ends]
    return QTable({'start': list(starts), 'end': ends, 'anneal': anneal})


@dataclass
class FilePlan:
    """One file to write."""

    kind: str
    date: str          # ISO date-time of EXPSTART
    epoch: str         # anneal-cycle start ('' if outside the timeline)
    filter: str = 'CLEAR'
    level: float = 0.0
    exptime: float = 0.0
    ncombine: int = 1
    name: str = ''


@dataclass
class Scenario:
    """A scenario's particles, timeline and file plan."""

    name: str
    seed: int
    artifacts: list
    cycles: QTable
    plans: list = field(default_factory=list)
    trail: dict = None
    centers: dict = None  # ccdchip -> (x, y) window centre
    dq4_after: str = None  # files from this date carry DQ 4 on the flecks

    @property
    def epochs(self):
        return list(self.cycles['start'])

    def epoch_of(self, date):
        t = Time(date).mjd
        starts = Time(list(self.cycles['start'])).mjd
        i = int(np.searchsorted(starts, t, side='right')) - 1
        return '' if i < 0 else str(self.cycles['start'][i])


def _freckles(rng, n, avoid, *, fixed=()):
    """``n`` stable freckles: small, mostly < 50% blocking, on both chips,
    at least 60 px from ``avoid`` (list of (chip, x, y)) and 30 px apart."""
    out = []
    placed = list(avoid)
    for i, (chip, x, y) in enumerate(fixed):
        placed.append((chip, x, y))
    specs = list(fixed)
    tries = 0
    while len(specs) < n and tries < 100000:
        tries += 1
        chip = int(rng.integers(1, 3))
        x = round(float(rng.uniform(40, WFC_CHIP_SHAPE[1] - 40)), 2)
        y = round(float(rng.uniform(40, WFC_CHIP_SHAPE[0] - 40)), 2)
        ok = True
        for j, (c, px, py) in enumerate(placed):
            lim = 60 if j < len(avoid) else 30
            if c == chip and np.hypot(px - x, py - y) < lim:
                ok = False
                break
        if ok:
            placed.append((chip, x, y))
            specs.append((chip, x, y))
    for i, (chip, x, y) in enumerate(specs):
        a = float(rng.uniform(2.0, 3.0))
        b = a * float(rng.uniform(0.7, 1.0))
        strong = rng.uniform() < 0.12
        peak = float(rng.uniform(0.5, 0.75) if strong else
                     rng.uniform(0.25, 0.45))
        lobes = ((2, float(rng.uniform(0, 0.1)), float(rng.uniform(0, 6.3))),
                 (3, float(rng.uniform(0, 0.08)), float(rng.uniform(0, 6.3))))
        # the penumbra is not drawn from ``rng``: the lamp truth of a seed
        # stays what it was before penumbrae existed
        halo, sig = FRECKLE_PENUMBRA
        out.append(Artifact(f'freckle{i + 1:03d}', 'freckle', chip, x, y,
                            a=a, b=b, theta=float(rng.uniform(0, np.pi)),
                            peak=peak, index=float(rng.uniform(1.8, 3.0)),
                            lobes=lobes, led_halo=halo, led_halo_a=sig,
                            led_halo_b=sig * b / a))
    return out


def _population(rng, centers, window):
    """Random flecks of many sizes and depths (appearing on the date of
    origin), inside the windows if ``window`` is set."""
    out = []
    for chip in (1, 2):
        if window:
            cx, cy = centers[chip]
            from .detector import Region
            reg = Region.window(chip, cx, cy, window)
            xlo, xhi = reg.col0 + 1 + 22, reg.col0 + reg.nx - 22
            ylo, yhi = reg.row0 + 1 + 22, reg.row0 + reg.ny - 22
            target = max(1, int(reg.nx * reg.ny / 3600))
        else:
            xlo, xhi, ylo, yhi = 40, WFC_CHIP_SHAPE[1] - 40, 40, \
                WFC_CHIP_SHAPE[0] - 40
            target = 60
        placed = []
        tries = 0
        while len(placed) < target and tries < 20000 and xhi > xlo \
                and yhi > ylo:
            tries += 1
            x = round(float(rng.uniform(xlo, xhi)), 2)
            y = round(float(rng.uniform(ylo, yhi)), 2)
            if all(np.hypot(x - px, y - py) >= 45 for px, py in placed):
                placed.append((x, y))
        for x, y in placed:
            peak = float(rng.uniform(0.10, 1.0))
            index = float(rng.uniform(2.0, 4.0))
            area = float(np.exp(rng.uniform(np.log(10), np.log(300))))
            rho5 = np.log2(peak / 0.05) ** (1.0 / index)
            ab = area / (np.pi * rho5 ** 2)
            ratio = float(rng.uniform(1.0, 2.5))
            a = float(np.sqrt(ab * ratio))
            b = ab / a
            out.append((chip, x, y, dict(
                a=a, b=b, theta=float(rng.uniform(0, np.pi)), peak=peak,
                index=index,
                lobes=((3, float(rng.uniform(0, 0.08)),
                        float(rng.uniform(0, 6.3))),))))
    return [Artifact(f'fleck{i + 1:03d}', 'fleck', chip, x, y,
                     appear=DATE_OF_ORIGIN, **kw)
            for i, (chip, x, y, kw) in enumerate(out)]


def _plans_for(cycles, kinds, *, dark_anneals=('2017-05-04', '2017-06-25'),
               flats=True, eper=True):
    plans = []
    t_cycles = Time(list(cycles['start']))
    ends = Time(list(cycles['end']))
    for i, start in enumerate(cycles['start']):
        days = int(round(ends[i].mjd - t_cycles[i].mjd)) + 1
        date = (t_cycles[i] + TimeDelta(0.1, format='jd')).isot[:19]
        plans.append(FilePlan('dkc', date, str(start), 'CLEAR', 0.0, 0.5,
                              ncombine=max(2, days)))
    starts = [str(v) for v in cycles['start']]
    if len(starts):
        cyc = DAILY_DARK_CYCLE if DAILY_DARK_CYCLE in starts else starts[-1]
        date = (Time(cyc) + TimeDelta(DAILY_DARK_DAY + 0.2,
                                      format='jd')).isot[:19]
        plans.append(FilePlan('daily', date, cyc, 'CLEAR', 0.0,
                              4 * DAILY_DARK_EXPTIME, ncombine=4,
                              name='daily'))
    for anneal in dark_anneals:
        t = Time(anneal)
        for when, dt in (('pre', -0.25), ('post', 1.05)):
            date = (t + TimeDelta(dt, format='jd')).isot[:19]
            plans.append(FilePlan('dark', date, '', 'CLEAR', 0.0, 4 * 1040.0,
                                  ncombine=4, name=f'{when}'))
    if flats:
        for d in FLAT_DATES:
            for f in BROADBAND_FILTERS:
                exptime, median = TABLE1_FLATS[f]
                plans.append(FilePlan('flat', f'{d}T12:00:00', '', f,
                                      float(median), round(3 * exptime, 3),
                                      ncombine=3))
        f, level = NARROWBAND_FLAT
        plans.append(FilePlan('flat', f'{FLAT_DATES[1]}T12:00:00', '', f,
                              level, round(3 * TABLE1_FLATS[f][0], 3),
                              ncombine=3))
    if eper:
        for d in EPER_EPOCHS:
            for k, level in enumerate(EPER_LEVELS):
                plans.append(FilePlan('eper', f'{d}T{8 + k:02d}:00:00', '',
                                      EPER_FILTER, float(level),
                                      max(0.5, round(level / 9940.0, 1)),
                                      ncombine=1))
    return [p for p in plans if p.kind in kinds]


def get_scenario(name, *, seed=0, kinds=KINDS, window=None, centers=None):
    """
    Build a scenario.

    Parameters
    ----------
    name : str
        One of `SCENARIOS`.
    seed : int
        Random seed (particles and detector).
    kinds : sequence of str
        File kinds to plan.
    window : int or None
        Window size; the 'population' flecks are placed inside the windows.
    centers : dict, optional
        ccdchip -> (x, y) window centres overriding the defaults (the large
        fleck on WFC2, the elongated fleck on WFC1).

    Returns
    -------
    Scenario

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Unknown scenario.
    """
    if name not in SCENARIOS:
        raise AcsFlecksError(f'unknown scenario {name!r}; choose one of '
                             f'{", ".join(SCENARIOS)}')
    rng = np.random.default_rng([int(seed), 4242, SCENARIOS.index(name)])
    centers = {2: REPORT_FLECKS['fleck1'][1:], 1: REPORT_FLECKS['fleck2'][1:],
               **(centers or {})}
    trail = None
    if name == 'discovery':
        flecks = report_flecks()
        avoid = [(a.ccdchip, a.x, a.y) for a in flecks]
        # freckles that fall in the default windows: one next to the tiny
        # fleck ("close proximity to another artifact", §6.1), one near
        # each of the two large flecks (outside their 40x40 cutouts)
        fixed = [(1, 1864.0, 1745.0), (2, 1583.0, 1716.0),
                 (1, 3452.0, 412.0)]
        artifacts = flecks + _freckles(rng, 100, avoid, fixed=fixed)
        cycles = anneal_cycles()
        trail = {'artifact': 'fleck1', 'box': TRAIL_BOX,
                 'deficit': TRAIL_DEFICIT, 'appear': DATE_OF_ORIGIN}
    elif name == 'lifetime':
        flecks = report_flecks()
        events = lifetime_events()
        avoid = [(a.ccdchip, a.x, a.y) for a in flecks + events]
        fixed = [(1, 1864.0, 1745.0), (2, 1583.0, 1716.0),
                 (1, 3452.0, 412.0)]
        artifacts = flecks + events + _freckles(rng, 40, avoid, fixed=fixed)
        cycles = anneal_cycles(LIFETIME_CYCLE_STARTS, last_end=_LIFETIME_END)
        trail = {'artifact': 'fleck1', 'box': TRAIL_BOX,
                 'deficit': TRAIL_DEFICIT, 'appear': DATE_OF_ORIGIN}
    elif name == 'population':
        artifacts = _population(rng, centers, window)
        cycles = anneal_cycles(ANNEAL_CYCLE_STARTS[3:6],
                               last_end='2017-06-24')
    else:
        artifacts = []
        cycles = anneal_cycles(ANNEAL_CYCLE_STARTS[3:6],
                               last_end='2017-06-24')
    plans = _plans_for(cycles, kinds)
    sc = Scenario(name, int(seed), artifacts, cycles, plans, trail, centers)
    for p in sc.plans:
        if not p.epoch:
            p.epoch = sc.epoch_of(p.date)
    return sc
