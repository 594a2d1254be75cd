"""
Source lists for `acs_flecks.impact`: an ECSV table or a DS9 region file.

* ECSV (or any table astropy reads): columns ``id``, ``ra``, ``dec``
  (degrees, angles with units, or text: sexagesimal ra in hours such as
  ``10:00:02.6``, dec in degrees), optionally ``radius`` (an angle: the
  photometric aperture of that source; without a unit, arcsec).  The frame
  is ICRS unless the table's metadata has ``frame`` (e.g. ``fk5``).
* DS9 regions (read with astropy-regions): ``point`` and ``circle`` in a sky
  frame (fk5, icrs, galactic, ...); the circle's radius is the aperture,
  the region's ``text={...}`` its id (else its line number).  Pixel
  regions (``image``, ``physical``) are refused: each exposure has its own
  pixel frame.

>>> from acs_flecks.sources import read_sources               # doctest: +SKIP
>>> src = read_sources('targets.reg')                          # doctest: +SKIP
>>> src['id', 'ra', 'dec', 'radius']                           # doctest: +SKIP
"""

import logging
import os

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table

from .exceptions import InputFileError

__all__ = ['read_sources', 'sources_table']

log = logging.getLogger(__name__)

_REGION_SUFFIXES = ('.reg', '.ds9', '.region', '.regions')


def _is_region_file(path):
    if os.path.splitext(path)[1].lower() in _REGION_SUFFIXES:
        return True
    try:
        with open(path, errors='replace') as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return 'Region file format' in head


def read_sources(path):
    """
    Read a source list.

    Parameters
    ----------
    path : str or path-like
        An ECSV table (``id``, ``ra``, ``dec``) or a DS9 region file of
        points and circles.

    Returns
    -------
    `~astropy.table.QTable`
        ``id`` (str), ``ra``, ``dec`` (deg, ICRS), ``radius`` (arcsec, NaN
        where not given) and ``coord`` (`~astropy.coordinates.SkyCoord`).

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        Missing or unreadable file, no ``ra``/``dec``, non-finite or
        impossible coordinates, pixel regions, other region shapes, no
        sources, duplicate ids.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputFileError('no such source list', path=path)
    if _is_region_file(path):
        ids, coord, radius = _read_regions(path)
    else:
        ids, coord, radius = _read_table(path)
    return sources_table(ids, coord, radius, path=path)


def sources_table(ids, coord, radius=None, *, path=None):
    """
    Build the source table of `read_sources` from ids and coordinates.

    Parameters
    ----------
    ids : sequence
        Source ids (made strings).
    coord : `~astropy.coordinates.SkyCoord`
        Positions (any celestial frame; converted to ICRS).
    radius : `~astropy.units.Quantity`, optional
        Per-source aperture radius (angle); NaN for "not given".
    path : str, optional
        File named in error messages.
    """
    ids = [str(i).strip() for i in ids]
    if not ids:
        raise InputFileError('no sources', path=path)
    if any(not i for i in ids):
        raise InputFileError('a source has an empty id', path=path)
    seen = set()
    for i in ids:
        if i in seen:
            raise InputFileError(f'source id {i!r} appears more than once',
                                 path=path)
        seen.add(i)
    icrs = coord.icrs
    if radius is None:
        radius = np.full(len(ids), np.nan) * u.arcsec
    t = QTable()
    t['id'] = ids
    t['ra'] = icrs.ra.to(u.deg)
    t['dec'] = icrs.dec.to(u.deg)
    t['radius'] = u.Quantity(radius).to(u.arcsec)
    t['coord'] = icrs
    return t


def _angle(col, name, path, default_unit):
    unit = getattr(col, 'unit', None)
    try:
        if unit is None or unit == u.dimensionless_unscaled:
            q = np.asarray(col, dtype=float) * default_unit
        else:
            q = u.Quantity(col).to(default_unit)
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise InputFileError(f'column {name} is not an angle ({exc})',
                             path=path) from None
    return q


def _sexagesimal(ra_col, dec_col, path):
    """ra, dec given as text: '10:00:02.6' / '10h00m02.6s' (hours) or
    decimal degrees, and '+02:12:21' (degrees)."""
    ra_txt = [str(v).strip() for v in ra_col]
    dec_txt = [str(v).strip() for v in dec_col]
    hours = all((':' in v or 'h' in v.lower()) for v in ra_txt)
    try:
        c = SkyCoord(ra_txt, dec_txt,
                     unit=(u.hourangle if hours else u.deg, u.deg))
    except (ValueError, TypeError) as exc:
        raise InputFileError(f'ra, dec are not readable angles ({exc})',
                             path=path) from None
    return c.ra.to(u.deg), c.dec.to(u.deg)


def _read_table(path):
    try:
        table = Table.read(path, format='ascii.ecsv') \
            if path.lower().endswith('.ecsv') else Table.read(path)
    except Exception as exc:  # astropy raises many types for bad files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f'not a readable source table ({msg})',
                             path=path) from None
    names = {c.lower(): c for c in table.colnames}
    missing = [c for c in ('ra', 'dec') if c not in names]
    if missing:
        raise InputFileError(
            f'source table lacks column(s) {", ".join(missing)} (needs id, '
            f'ra, dec in degrees; has {", ".join(table.colnames) or "none"})',
            path=path)
    if len(table) == 0:
        raise InputFileError('no sources', path=path)
    ra_col, dec_col = table[names['ra']], table[names['dec']]
    if ra_col.dtype.kind in 'US' or dec_col.dtype.kind in 'US':
        ra, dec = _sexagesimal(ra_col, dec_col, path)
    else:
        ra = _angle(ra_col, 'ra', path, u.deg)
        dec = _angle(dec_col, 'dec', path, u.deg)
    for q, name in ((ra, 'ra'), (dec, 'dec')):
        bad = ~np.isfinite(q.value)
        if np.ma.is_masked(table[names[name]]):
            bad |= np.ma.getmaskarray(table[names[name]])
        if bad.any():
            raise InputFileError(
                f'{int(bad.sum())} source(s) without a finite {name} (first: '
                f'row {int(np.flatnonzero(bad)[0]) + 1})', path=path)
    if (np.abs(dec.value) > 90).any():
        raise InputFileError('a dec outside -90..90 deg', path=path)
    ids = (list(table[names['id']]) if 'id' in names
           else [str(i + 1) for i in range(len(table))])
    if 'id' not in names:
        log.info('%s: no id column: sources are numbered from 1', path)
    frame = str(table.meta.get('frame', 'icrs')).lower()
    try:
        coord = SkyCoord(ra, dec, frame=frame)
    except ValueError as exc:
        raise InputFileError(f'unknown frame {frame!r} ({exc})',
                             path=path) from None
    radius = None
    if 'radius' in names:
        radius = _angle(table[names['radius']], 'radius', path, u.arcsec)
    return ids, coord, radius


def _read_regions(path):
    try:
        from regions import (CircleSkyRegion, PixelRegion, PointSkyRegion,
                             Regions)
    except ImportError:  # pragma: no cover - regions is a dependency
        raise InputFileError('reading DS9 region files needs the regions '
                             'package (pip install regions)',
                             path=path) from None
    try:
        regs = Regions.read(path, format='ds9')
    except Exception as exc:  # regions raises its own and ValueError
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f'not a readable DS9 region file ({msg})',
                             path=path) from None
    ids, coords, radii = [], [], []
    for n, reg in enumerate(regs, start=1):
        if isinstance(reg, PixelRegion):
            raise InputFileError(
                f'region {n} ({type(reg).__name__}) is in pixel coordinates; '
                'give sources in a sky frame (fk5, icrs)', path=path)
        if isinstance(reg, PointSkyRegion):
            radii.append(np.nan)
        elif isinstance(reg, CircleSkyRegion):
            radii.append(reg.radius.to_value(u.arcsec))
        else:
            raise InputFileError(
                f'region {n} is a {type(reg).__name__}: only points and '
                'circles are sources', path=path)
        text = str(reg.meta.get('text', '') or '').strip()
        ids.append(text or str(n))
        coords.append(reg.center.icrs)
    if not coords:
        raise InputFileError('no regions in the file', path=path)
    coord = SkyCoord(coords)
    return ids, coord, np.asarray(radii) * u.arcsec
