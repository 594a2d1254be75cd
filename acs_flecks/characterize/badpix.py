"""
Pixels of a fleck under 50 % transmissivity: the input of the bad-pixel
table (report §8: 67 pixels for the large fleck, 21 for the elongated one).

The report counted the pixels under 50 % in the F435W histogram (Figures 12
and 15), i.e. in the bluest filter, where the flecks are most opaque.  That
is the default rule here (``combine='bluest'``); ``'mean'`` uses the mean
over the measured filters, ``'min'`` the lowest transmissivity of any filter
(the most conservative), and a filter name uses that filter's map.  Only
pixels of the master aperture are considered, so noise far from the fleck
can never be flagged.

>>> from acs_flecks.characterize import bad_pixels   # doctest: +SKIP
>>> bad = bad_pixels(result, fleck_id='fleck1')        # doctest: +SKIP
>>> len(bad)                                           # doctest: +SKIP
67
"""

import numpy as np
from astropy.table import QTable, vstack

from ..exceptions import AcsFlecksError

__all__ = ['bad_pixels', 'combine_maps', 'check_combine', 'COMBINE_RULES']

# Rules for combining the per-filter maps (defined in acs_flecks.parameters).
from ..parameters import COMBINE_RULES  # noqa: E402


def check_combine(combine, *, filters=None, what='combine'):
    """
    Check a combination rule before any work.

    Parameters
    ----------
    combine : str
        One of `COMBINE_RULES` or a WFC filter name.
    filters : iterable of str, optional
        The filters of the flats that will be measured: a named filter must
        be one of them.
    what : str, optional
        Name of the parameter in the message ('combine', '--combine').

    Returns
    -------
    str
        The rule, or the filter name in upper case.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        An unknown rule or filter, or a filter none of the flats has.
    """
    from ..filters import WFC_FILTERS
    rule = str(combine).strip()
    if rule in COMBINE_RULES:
        return rule
    name = rule.upper()
    if name not in WFC_FILTERS:
        raise AcsFlecksError(
            f'{what} must be one of {", ".join(COMBINE_RULES)} or a WFC '
            f'filter name (e.g. F435W), got {combine!r}')
    if filters is not None:
        have = sorted(set(str(f).strip().upper() for f in filters))
        if name not in have:
            raise AcsFlecksError(
                f'{what} = {name}, but no flat is in that filter (flats: '
                f'{", ".join(have) or "none"})')
    return name


def combine_maps(result, combine='bluest'):
    """
    One transmissivity map from the per-filter maps of a result.

    Parameters
    ----------
    result : `~acs_flecks.characterize.TransmissivityResult`
    combine : str
        ``'bluest'``, ``'mean'``, ``'min'`` or a filter name.

    Returns
    -------
    map : `~numpy.ndarray`
    label : str
        What was used (e.g. ``'F435W'``).
    """
    maps = result.transmissivity_maps
    filters = result.filters
    rule = str(combine)
    if rule == 'bluest':
        return maps[0], filters[0]
    if rule == 'mean':
        return np.nanmean(maps, axis=0), 'mean(' + ','.join(filters) + ')'
    if rule == 'min':
        return np.nanmin(maps, axis=0), 'min(' + ','.join(filters) + ')'
    name = rule.upper()
    if name in filters:
        return maps[filters.index(name)], name
    raise AcsFlecksError(
        f'combine must be one of {", ".join(COMBINE_RULES)} or a measured '
        f'filter ({", ".join(filters)}), got {combine!r}')


def bad_pixels(results, *, threshold=None, combine='bluest', fleck_id=None):
    """
    Table of the fleck pixels under ``threshold`` transmissivity.

    Parameters
    ----------
    results : `~acs_flecks.characterize.TransmissivityResult` or list of them
        One per fleck.
    threshold : float, optional
        Transmissivity below which a pixel is bad (default: each result's
        ``badpix_threshold``, 0.5).
    combine : str
        Rule combining the filters, see `combine_maps` (default: the bluest
        measured filter, as the report used F435W).
    fleck_id : str or list of str, optional
        Name(s) of the fleck(s) (default: each result's ``fleck_id`` or
        ``WFC<chip>_<x>_<y>``).

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``ccdchip``, ``x``, ``y`` (1-indexed chip frame),
        ``transmissivity``, ``fleck_id``; sorted by fleck, y, x.  The
        metadata ``counts`` maps fleck id -> number of bad pixels, and
        ``threshold`` and ``combine`` record the rule.
    """
    if not isinstance(results, (list, tuple)):
        results = [results]
    ids = fleck_id if isinstance(fleck_id, (list, tuple)) else [fleck_id] * len(results)
    if len(ids) != len(results):
        raise AcsFlecksError('give one fleck_id per result')
    tables, counts, labels = [], {}, []
    for res, fid in zip(results, ids):
        thr = res.badpix_threshold if threshold is None else float(threshold)
        if not 0 < thr < 1:
            raise AcsFlecksError(f'threshold must be in (0, 1), got {thr!r}')
        tmap, label = combine_maps(res, combine)
        fid = fid or res.default_prefix
        sel = res.master_aperture & np.isfinite(tmap) & (tmap < thr)
        rows, cols = np.nonzero(sel)
        t = QTable()
        t['ccdchip'] = np.full(rows.size, res.ccdchip, dtype=int)
        t['x'] = (cols + res.origin[0]).astype(int)
        t['y'] = (rows + res.origin[1]).astype(int)
        t['transmissivity'] = tmap[rows, cols].astype(float)
        t['fleck_id'] = np.array([str(fid)] * rows.size, dtype=str) \
            if rows.size else np.array([], dtype='U16')
        tables.append(t)
        counts[str(fid)] = int(rows.size)
        labels.append(label)
    out = vstack(tables, metadata_conflicts='silent') if len(tables) > 1 else tables[0]
    out.sort(['fleck_id', 'y', 'x'])
    out.meta['counts'] = counts
    out.meta['threshold'] = (float(threshold) if threshold is not None
                             else float(results[0].badpix_threshold))
    out.meta['combine'] = str(combine)
    out.meta['maps_used'] = labels
    return out
