"""
`simulate_scenario`: write a scenario's files and its truth.
"""

import logging
import os
import time

import numpy as np
from astropy.table import QTable
from astropy.time import Time

from ..coords import WFC_CHIP_SHAPE
from ..exceptions import AcsFlecksError
from ..utils import write_ecsv
from .detector import Detector, Region
from .files import write_acs_file, write_raw_file
from .images import SHORT_DARKTIME, render_chip
from .rawframes import RAW_GAIN, raw_frame, raw_region
from .scenarios import KINDS, get_scenario
from .truth import SimulationResult, SimulationTruth

__all__ = ['simulate_scenario', 'check_kinds']

log = logging.getLogger(__name__)

_META = {
    'dkc': dict(imagetyp='DARK', targname='DARK', proposid=14946,
                flashdur=4.6, cte_corrected=True, suffix='dkc'),
    'dark': dict(imagetyp='DARK', targname='DARK', proposid=14951,
                 flashdur=0.0, cte_corrected=False, suffix='crj'),
    # the daily dark: ACSREJ + CTE correction of four flashed long darks
    # (totals; FLASHDUR, EXPTIME and DARKTIME cumulative as ACSREJ writes)
    'daily': dict(imagetyp='DARK', targname='DARK', proposid=14946,
                  flashdur=4 * 4.6, cte_corrected=True, suffix='crc'),
    'flat': dict(imagetyp='FLAT', targname='TUNGSTEN', proposid=14954,
                 sclamp='TUNGSTEN', cte_corrected=True, suffix='crc'),
    'eper': dict(imagetyp='FLAT', targname='TUNGSTEN', proposid=14508,
                 sclamp='TUNGSTEN', cteimage='EPER', cte_corrected=False,
                 suffix='flt'),
}


def check_kinds(kinds):
    """Validate ``kinds`` (None, a comma-separated string or a sequence);
    return a tuple in `~acs_flecks.simulate.scenarios.KINDS` order."""
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(',') if k.strip()]
    kinds = [str(k).strip().lower() for k in kinds]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise AcsFlecksError(f'unknown file kind(s) {bad or kinds!r}; choose '
                             f'from {", ".join(KINDS)}')
    return tuple(k for k in KINDS if k in kinds)


def _check_window(window):
    if window is None:
        return None
    try:
        w = int(window)
    except (TypeError, ValueError):
        raise AcsFlecksError(f'window must be an integer, got {window!r}') \
            from None
    if w != window or not 16 <= w <= 2048:
        raise AcsFlecksError('window must be an integer from 16 to 2048 '
                             f'pixels, got {window!r}')
    return w


def _check_centers(window_centers):
    if not window_centers:
        return None
    out = {}
    try:
        items = dict(window_centers).items()
    except (TypeError, ValueError):
        raise AcsFlecksError('window_centers must be a dict ccdchip -> (x, y),'
                             f' got {window_centers!r}') from None
    for chip, xy in items:
        try:
            chip = int(chip)
            x, y = (float(v) for v in xy)
        except (TypeError, ValueError):
            raise AcsFlecksError(
                f'window_centers: bad entry {chip!r}: {xy!r} (need ccdchip '
                '-> (x, y))') from None
        if chip not in (1, 2) or not (1 <= x <= WFC_CHIP_SHAPE[1]
                                      and 1 <= y <= WFC_CHIP_SHAPE[0]):
            raise AcsFlecksError(
                f'window_centers: ({x}, {y}) on CCDCHIP={chip} is not a WFC '
                'chip pixel')
        out[chip] = (x, y)
    return out


def _eper_windows(scenario, regions, window):
    """(tag, Region) of the extra EPER windows: one ``window``-sized
    single-chip window around every fleck whose 40 x 40 box the
    scenario's windows (``regions``) do not cover."""
    half = 20
    out = []
    for art in scenario.artifacts:
        if art.kind != 'fleck':
            continue
        covered = [regions.get(art.ccdchip)] + [r for _, r in out]
        if any(r is not None and r.ccdchip == art.ccdchip and
               r.contains(art.x, art.y, margin=half) for r in covered):
            continue
        reg = Region.window(art.ccdchip, art.x, art.y, window)
        # short: ROOTNAME and its header comment must fit in one card
        tag = f'x{int(round(art.x))}y{int(round(art.y))}'
        if any(t == tag for t, _ in out):
            tag += f'c{art.ccdchip}'
        out.append((tag, reg))
    return out


def _file_meta(plan, *, fname, root, subarray, scenario, seed):
    """The header values of one simulated file (`write_acs_file` ``meta``):
    its kind's defaults plus what the plan says."""
    meta = dict(_META[plan.kind])
    meta.update(
        date=plan.date, exptime=plan.exptime, filter=plan.filter,
        filename=fname, rootname=root, ncombine=plan.ncombine,
        texptime=plan.exptime * (plan.ncombine if plan.kind == 'dkc' else 1),
        darktime=SHORT_DARKTIME if plan.kind == 'dkc' else plan.exptime,
        subarray=subarray, scenario=scenario, seed=seed, kind=plan.kind)
    return meta


def _file_name(plan, tag=''):
    day = plan.date[:10].replace('-', '')
    if plan.kind == 'dkc':
        root = f'sim_dkc_{day}'
    elif plan.kind == 'dark':
        root = f'sim_dark_{day}_{plan.name or "x"}'
    elif plan.kind == 'daily':
        root = f'sim_daily_{day}'
    elif plan.kind == 'flat':
        root = f'sim_flat_{day}_{plan.filter.lower()}'
    else:
        root = f'sim_eper_{day}_{int(plan.level):05d}'
    if tag:
        root = f'{root}_{tag}'
    return root, f'{root}_{_META[plan.kind]["suffix"]}.fits'


def _trail_truth(scenario, truth):
    """Place the shadow trail just above (+y) the LED shadow of its fleck."""
    spec = scenario.trail
    if not spec or spec['artifact'] not in truth:
        return None
    art = truth.artifact(spec['artifact'])
    # the core LED shadow: the faint penumbra (< 5%) must not move the box
    t, (x0, y0) = art.transmissivity_map('LED', penumbra=False)
    ncol, nrow = spec['box']
    xc = int(round(art.x + art.led_dx))
    cols = slice(xc - ncol // 2 - x0, xc - ncol // 2 - x0 + ncol)
    rows = np.nonzero(((1 - t[:, cols]) > 0.05).any(axis=1))[0]
    y_top = int(rows.max()) + y0
    trail = {
        'artifact': art.id, 'ccdchip': art.ccdchip,
        'x_min': xc - ncol // 2, 'x_max': xc - ncol // 2 + ncol - 1,
        'y_min': y_top + 1, 'y_max': y_top + nrow,
        'deficit': float(spec['deficit']), 'appear': spec['appear'],
        'row_weights': [0.5, 0.3, 0.2][:nrow],
        # the empty comparison box of §5, to the right (+x) of the fleck
        'empty_x_min': xc - ncol // 2 + 20,
        'empty_x_max': xc - ncol // 2 + 20 + ncol - 1,
    }
    return trail


def simulate_scenario(scenario='discovery', outdir='.', *, seed=0,
                      window=None, kinds=None, window_centers=None,
                      epochs=None, dq4_after=None,
                      eper_fleck_windows=False, eper_raw=False):
    """
    Simulate ACS/WFC calibration files with known truth.

    Parameters
    ----------
    scenario : {'discovery', 'population', 'blank', 'lifetime'}
        The timeline and particles (see `acs_flecks.simulate.scenarios`).
    outdir : str or path-like
        Output directory (created if needed).
    seed : int, optional
        Random seed: the same seed gives identical files and truth.
    window : int, optional
        Write ``window`` x ``window`` sub-arrays (one per chip, ``LTV1`` /
        ``LTV2`` set) instead of full 2048 x 4096 chips.  The windows are
        centred on the report's large fleck (WFC2) and elongated fleck
        (WFC1), unless ``window_centers`` says otherwise.
    kinds : sequence of str or str, optional
        File kinds to write among 'dkc', 'dark', 'daily', 'flat', 'eper'
        (default all).
    window_centers : dict, optional
        ccdchip -> 1-indexed (x, y) centre of the window on that chip.
    epochs : sequence of str, optional
        Only write the files of these anneal cycles (ISO start dates, as
        in the manifest's ``epoch`` column); default all.
    dq4_after : str, optional
        ISO date: files observed on or after it carry DQ flag 4 on the
        pixels of each present fleck with F435W transmissivity < 0.5, as
        calibrated data do once a new bad-pixel table is in use (to test
        that monitoring still sees flagged flecks).  Default: no DQ 4.
    eper_fleck_windows : bool, optional
        With ``window``: also write, for every EPER epoch and level, one
        single-chip window file around every fleck the windows miss (e.g.
        the report's tiny fleck, Figure 7), named
        ``sim_eper_<date>_<level>_x<x>y<y>_flt.fits``, so that
        every fleck has its two EPER epochs.  Pair such sets per fleck
        (`acs_flecks.characterize.pair_eper` with the fleck's position).
    eper_raw : bool, optional
        Also write every EPER image as a raw frame (``*_raw.fits``, kind
        ``'eper_raw'`` in the manifest) in the real WFC raw layout
        (`acs_flecks.simulate.rawframes`): uint16 DN with ``BZERO``,
        prescan columns, virtual overscan rows, a bias level per
        amplifier, null ERR/DQ and zero ``ATODGN*`` placeholders.  The
        ``_flt`` twin holds the same exposure's electrons.  A windowed raw
        frame reaches the chip edge of its amplifier (where the prescan
        is).

    Returns
    -------
    SimulationResult

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Unknown scenario or kind, bad window, output directory unusable.
        Nothing is written then.

    Examples
    --------
    >>> from acs_flecks.simulate import simulate_scenario
    >>> res = simulate_scenario('discovery', 'sim', window=200,
    ...                         kinds=['dkc'])            # doctest: +SKIP
    >>> res.truth.artifacts['id', 'x', 'y', 'area'][:3]  # doctest: +SKIP
    """
    kinds = check_kinds(kinds)
    window = _check_window(window)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise AcsFlecksError(f'seed must be an integer, got {seed!r}') \
            from None
    centers = _check_centers(window_centers)
    sc = get_scenario(scenario, seed=seed, kinds=kinds, window=window,
                      centers=centers)
    if dq4_after is not None:
        try:
            sc.dq4_after = Time(str(dq4_after)).iso[:10]
        except ValueError:
            raise AcsFlecksError(f'dq4_after must be an ISO date, got '
                                 f'{dq4_after!r}') from None
    if epochs is not None:
        epochs = [str(e) for e in ([epochs] if isinstance(epochs, str)
                                   else epochs)]
        unknown = [e for e in epochs if e not in sc.epochs]
        if unknown:
            raise AcsFlecksError(
                f'unknown epoch(s) {unknown!r} for scenario {sc.name!r}; '
                f'anneal cycles start on {", ".join(sc.epochs)}')
        sc.plans = [p for p in sc.plans if p.epoch in epochs]
    outdir = os.path.abspath(os.fspath(outdir))
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise AcsFlecksError('output directory is a file', path=outdir)
    if window is None:
        regions = {2: Region(2), 1: Region(1)}
    else:
        regions = {c: Region.window(c, *sc.centers[c], window)
                   for c in (2, 1)}
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as exc:
        raise AcsFlecksError(f'cannot create the output directory ({exc})',
                             path=outdir) from None

    truth = SimulationTruth(sc.artifacts, regions=regions if window else None,
                            meta={'scenario': sc.name, 'seed': seed,
                                  'window': window or 0,
                                  'dq4_after': sc.dq4_after or ''})
    truth.trail = _trail_truth(sc, truth)
    detector = Detector(seed)
    extra = _eper_windows(sc, regions, window) \
        if window and eper_fleck_windows else []
    jobs = []
    for plan in sc.plans:
        jobs.append((plan, regions, ''))
        if plan.kind == 'eper':
            jobs.extend((plan, {reg.ccdchip: reg}, tag) for tag, reg in extra)
    rows = []
    for plan, file_regions, tag in jobs:
        t0 = time.perf_counter()
        root, fname = _file_name(plan, tag)
        path = os.path.join(outdir, fname)
        meta = _file_meta(plan, fname=fname, root=root,
                          subarray=window is not None, scenario=sc.name,
                          seed=seed)
        if plan.kind == 'eper' and plan.date >= '2017-11':
            meta['proposid'] = 14950
        if plan.kind == 'flat' and plan.date < '2017':
            meta['proposid'] = 14408
        chips, raws = {}, {}
        for c, reg in file_regions.items():
            if eper_raw and plan.kind == 'eper':
                # one exposure: render the raw frame's area, cut the twin
                width = max(raw_region(r).nx for r in file_regions.values())
                rreg = raw_region(reg, width=width)
                sci, err, dq = render_chip(plan, rreg, detector, sc,
                                           truth.trail)
                rng = np.random.default_rng([seed, 4242, int(c)] + [
                    ord(ch) for ch in root])
                dn, ltv, _ = raw_frame(sci, rreg, rng)
                raws[c] = dict(dn=dn, ltv=ltv)
                cut = (slice(reg.row0 - rreg.row0, reg.row0 - rreg.row0
                             + reg.ny),
                       slice(reg.col0 - rreg.col0, reg.col0 - rreg.col0
                             + reg.nx))
                sci, err, dq = sci[cut], err[cut], dq[cut]
            else:
                sci, err, dq = render_chip(plan, reg, detector, sc,
                                           truth.trail)
            chips[c] = dict(sci=sci, err=err, dq=dq, ltv=reg.ltv)
        write_acs_file(path, chips, meta)
        if raws:
            rname = f'{root}_raw.fits'
            rmeta = dict(meta, filename=rname, ccdgain=RAW_GAIN,
                         subarray=window is not None)
            write_raw_file(os.path.join(outdir, rname), raws, rmeta)
            rows.append((os.path.join(outdir, rname), 'eper_raw', plan.date,
                         plan.epoch, plan.filter, float(plan.level)))
        log.debug('wrote %s (%.1f s)', path, time.perf_counter() - t0)
        rows.append((path, plan.kind, plan.date, plan.epoch,
                     plan.filter,
                     float(plan.level) if plan.kind == 'eper' else 0.0))
    names = ('path', 'kind', 'date', 'epoch', 'filter', 'level')
    if rows:
        files = QTable(rows=rows, names=names)
    else:
        files = QTable(names=names, dtype=(str, str, str, str, str, float))
    files['level'].unit = 'electron'
    order = np.argsort(Time(list(files['date'])).mjd, kind='stable') \
        if len(files) else []
    files = files[order] if len(files) else files
    files.meta.update({'scenario': sc.name, 'seed': seed,
                       'window': window or 0, 'epochs': sc.epochs})
    manifest = os.path.join(outdir, 'manifest.ecsv')
    write_ecsv(files, manifest)
    truth_paths = truth.write(outdir)
    log.info('wrote %d %s file(s), the manifest and the truth in %s',
             len(files), sc.name, outdir)
    return SimulationResult(outdir, files, truth, sc.epochs, truth_paths,
                            manifest)
