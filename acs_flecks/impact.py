"""
Which science exposures and sources the flecks touch.

The report (§8) ends by pointing observers to their Program Coordinator; this
module answers their question from the new bad-pixel table and, when given,
the transmissivity maps of the characterization (§6.1).  For every
calibrated ACS/WFC exposure (flt/flc, full frame or subarray) and every
source (`acs_flecks.sources.read_sources`):

* the source is placed on the exposure through **its own WCS with its
  distortion**: the SIP polynomial and the ``D2IMARR``/``WCSDVARR`` lookup
  tables real flt/flc files carry (`astropy.wcs.WCS` reads them from the
  HDU list; ``all_world2pix`` inverts the whole chain), on the chip whose
  footprint contains it; a subarray's pixels go to the chip frame through
  ``LTV1``/``LTV2`` (`acs_flecks.coords.image_to_chip`);
* ``flagged``: the pixel under the source carries the table's fleck flag
  (DQ 4), expanded onto this exposure as CALACS ``dodqi.c`` does
  (`acs_flecks.science.DeliveredTable`), **and** the exposure was taken on
  or after the table's ``USEAFTER`` (the flecks' date of origin: before it
  there was no fleck);
* ``distance``: from the source to the centre of the nearest fleck pixel
  of the table on this image (pixels);
* ``flux_loss`` (with the transmissivity maps): the expected fractional
  flux lost in the exposure's filter within an aperture of radius
  ``radius`` around the source, for a source of uniform surface brightness
  over the aperture: ``sum(w (1 - T)) / sum(w)`` with ``w`` the exact
  aperture overlap of each pixel and ``T`` the fleck's transmissivity map
  (1 outside its master aperture);
* ``affected``: taken on/after USEAFTER and flagged, or a fleck pixel within
  the aperture, or a flux loss above ``max_loss``.

A summary per source counts how many of a set of (dithered) exposures cover
it unaffected: the report's advice is a dither pattern (such as
ACS-WFC-DITHER-LINE) large enough to move a source off the flecks.

>>> from acs_flecks.impact import exposure_impact              # doctest: +SKIP
>>> res = exposure_impact(glob('*_flc.fits'), bpixtab='new_bpx.fits',
...                       sources='targets.ecsv', flecks='flecks_2017/')  # doctest: +SKIP
>>> res.summary['id', 'n_on_chip', 'n_unaffected']              # doctest: +SKIP
"""

import glob
import logging
import os
import re
import warnings
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales, wcs_to_celestial_frame

from .coords import image_to_chip, index_to_pixel, pixel_to_index
from .exceptions import AcsFlecksError, InputFileError
from .science import DeliveredTable, open_science
from .sources import read_sources
from .utils import check_output_path, write_ecsv

__all__ = ['exposure_impact', 'ImpactResult', 'FleckMap', 'read_fleck_maps',
           'chip_wcs', 'locate_sources', 'summarize_impact']

log = logging.getLogger(__name__)

#: How far (pixels) outside a chip the undistorted position of a source may
#: fall and the source still land on the chip once the distortion is
#: applied (the WFC SIP terms reach ~40 px at the corners).
_SCREEN_MARGIN = 300.0

#: Largest round-trip error (arcsec) accepted from ``all_world2pix``.
_ROUND_TRIP = 1e-3

#: Plausible WFC pixel scales (arcsec; the WFC pixel is ~0.05 arcsec).
_WFC_SCALE = (0.03, 0.08)


# --------------------------------------------------------------- the WCS --
def chip_wcs(img, ccdchip, hdul):
    """
    The WCS of one chip of an exposure, with its distortion.

    Parameters
    ----------
    img : `~acs_flecks.io.ACSImage`
        The exposure.
    ccdchip : int
        The chip.
    hdul : `~astropy.io.fits.HDUList`
        The open file: the ``D2IMARR`` and ``WCSDVARR`` lookup tables the
        header points to are read from it.

    Returns
    -------
    `~astropy.wcs.WCS`

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        No celestial WCS, or one that cannot be built or evaluated (a
        missing lookup-table extension, a singular CD matrix, ...).
    """
    header = img.chip_header(ccdchip)
    where = f'WCS of chip CCDCHIP={ccdchip}'
    if not any(k in header for k in ('CTYPE1', 'CTYPE2')) or \
            not any(k in header for k in ('CRVAL1', 'CRVAL2')):
        raise InputFileError(f'chip CCDCHIP={ccdchip} has no WCS (no '
                             'CTYPE/CRVAL keywords)', path=img.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FITSFixedWarning)
            w = WCS(header, hdul)
            if not w.has_celestial or w.naxis != 2:
                raise InputFileError(f'{where} is not a 2-D celestial WCS '
                                     f'(CTYPE {list(w.wcs.ctype)})',
                                     path=img.path)
            ny, nx = img.shape
            test = np.array([[1.0, 1.0], [nx / 2, ny / 2], [nx, ny]])
            world = w.all_pix2world(test, 1)
            back = w.all_world2pix(world, 1, tolerance=1e-8, maxiter=50)
    except InputFileError:
        raise
    except Exception as exc:  # astropy.wcs raises many kinds of errors
        raise InputFileError(f'{where} cannot be evaluated '
                             f'({_wcs_message(exc)})', path=img.path) from None
    if not (np.isfinite(world).all() and np.isfinite(back).all()) or \
            np.abs(back - test).max() > 0.01:
        raise InputFileError(f'{where} cannot be evaluated (no finite, '
                             'invertible sky position on the chip)',
                             path=img.path)
    scale = np.sqrt(np.prod(proj_plane_pixel_scales(w.celestial))) * 3600
    if not _WFC_SCALE[0] <= scale <= _WFC_SCALE[1]:
        # wcslib turns an all-zero CD matrix into 1 deg/pixel ('cdfix')
        raise InputFileError(
            f'{where} cannot be evaluated: its pixel scale is {scale:.4g} '
            f'arcsec, not that of WFC (~0.05)', path=img.path)
    return w


def _wcs_message(exc):
    """One line from a wcslib error ('ERROR 4 in wcs_types() at line ...
    of file ...: Inconsistent projection types ...')."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    text = re.sub(r'ERROR \d+ in \S+ at line \d+ of file \S+:\s*', '', text)
    return text[:200]


def locate_sources(img, sources, *, hdul=None, wcs=None):
    """
    Find the chip and image pixel of every source on one exposure.

    Parameters
    ----------
    img : `~acs_flecks.io.ACSImage`
        The exposure.
    sources : `~astropy.table.QTable`
        From `acs_flecks.sources.read_sources` (a ``coord`` column).
    hdul : `~astropy.io.fits.HDUList`, optional
        The open file (opened here if not given).
    wcs : dict, optional
        ccdchip -> `~astropy.wcs.WCS` already built by `chip_wcs`.

    Returns
    -------
    ccdchip : `~numpy.ndarray` of int
        0 for a source on no chip.
    x_image, y_image : `~numpy.ndarray` of float
        1-indexed image pixel (x = column); NaN off every chip.
    scale : `~numpy.ndarray` of float
        Pixel scale at the source (arcsec/pixel); NaN off every chip.
    """
    if hdul is None:
        with fits.open(img.path, memmap=False) as h:
            return locate_sources(img, sources, hdul=h, wcs=wcs)
    wcs = dict(wcs or {})
    n = len(sources)
    chip_of = np.zeros(n, int)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    scales = np.full(n, np.nan)
    ny, nx = img.shape
    coord = sources['coord']
    for chip in img.chips:
        w = wcs[chip] if chip in wcs else chip_wcs(img, chip, hdul)
        frame = wcs_to_celestial_frame(w)
        c = coord.transform_to(frame)
        lon = c.spherical.lon.deg
        lat = c.spherical.lat.deg
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            lx, ly = w.wcs_world2pix(lon, lat, 1)
        near = (np.isfinite(lx) & np.isfinite(ly)
                & (lx > 0.5 - _SCREEN_MARGIN) & (lx < nx + 0.5 + _SCREEN_MARGIN)
                & (ly > 0.5 - _SCREEN_MARGIN) & (ly < ny + 0.5 + _SCREEN_MARGIN)
                & (chip_of == 0))
        idx = np.flatnonzero(near)
        if idx.size == 0:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)
                px, py = w.all_world2pix(lon[idx], lat[idx], 1,
                                         tolerance=1e-8, maxiter=100,
                                         quiet=True)
                blon, blat = w.all_pix2world(px, py, 1)
        except Exception as exc:  # astropy.wcs errors
            raise InputFileError(f'WCS of chip CCDCHIP={chip} cannot be '
                                 f'inverted ({_wcs_message(exc)})',
                                 path=img.path) from None
        sep = SkyCoord(blon * u.deg, blat * u.deg, frame=frame).separation(
            c[idx]).to_value(u.arcsec)
        good = np.isfinite(px) & np.isfinite(py) & (sep < _ROUND_TRIP)
        inside = ((px >= 0.5) & (px < nx + 0.5) & (py >= 0.5)
                  & (py < ny + 0.5))
        lin_inside = ((lx[idx] >= 0.5) & (lx[idx] < nx + 0.5)
                      & (ly[idx] >= 0.5) & (ly[idx] < ny + 0.5))
        failed = ~good & lin_inside
        if failed.any():
            k = idx[np.flatnonzero(failed)[0]]
            raise InputFileError(
                f'WCS of chip CCDCHIP={chip} cannot be inverted at source '
                f'{sources["id"][k]!r} (ra, dec = {lon[k]:.6f}, {lat[k]:.6f})',
                path=img.path)
        on = good & inside
        sel = idx[on]
        chip_of[sel] = chip
        xs[sel] = px[on]
        ys[sel] = py[on]
        scale = proj_plane_pixel_scales(w.celestial) * 3600.0
        scales[sel] = float(np.sqrt(scale[0] * scale[1]))
    return chip_of, xs, ys, scales


# ------------------------------------------------- transmissivity maps --
@dataclass
class FleckMap:
    """
    The per-filter transmissivity map of one fleck
    (`acs_flecks.characterize.TransmissivityResult.write`, ``*_maps.fits``).

    Attributes
    ----------
    path : str
        The ``_maps.fits`` file.
    ccdchip : int
    origin : tuple of int
        1-indexed chip (x, y) of the map's [0, 0] pixel.
    filters : list of str
        Filter of each plane.
    trans : `~numpy.ndarray`
        (n_filter, ny, nx) transmissivity, 1 outside the master aperture
        when it is known.
    has_aperture : bool
        Whether the master aperture (``*_aperture.fits``) was found.
    """

    path: str
    ccdchip: int
    origin: tuple
    filters: list
    trans: np.ndarray = field(repr=False)
    has_aperture: bool = False

    @property
    def name(self):
        """Base name of the file."""
        return os.path.basename(self.path)

    def plane(self, filter_name):
        """
        (plane, filter used) for an exposure's filter: the same filter, else
        the measured one nearest in pivot wavelength.

        Returns
        -------
        plane : `~numpy.ndarray` or None
            None when no wavelength is known for ``filter_name``.
        used : str
        """
        name = str(filter_name).strip().upper()
        if name in self.filters:
            return self.trans[self.filters.index(name)], name
        from .characterize.wavelengths import effective_wavelength
        try:
            lam = effective_wavelength(name).value
        except AcsFlecksError:
            return None, ''
        waves = [effective_wavelength(f).value for f in self.filters]
        k = int(np.argmin(np.abs(np.asarray(waves) - lam)))
        return self.trans[k], self.filters[k]


def _read_one_map(path):
    try:
        with fits.open(path, memmap=False) as hdul:
            if 'TRANS' not in hdul:
                raise InputFileError('no TRANS extension: not a transmissivity'
                                     ' map file (*_maps.fits)', path=path)
            h = hdul['TRANS'].header
            cube = np.asarray(hdul['TRANS'].data, dtype=float)
    except InputFileError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputFileError(f'not a readable map file ({exc})',
                             path=path) from None
    if cube.ndim != 3:
        raise InputFileError(f'TRANS is {cube.ndim}-D, expected (filter, y, x)',
                             path=path)
    filters = [str(h.get(f'FILTER{i}', '')).strip().upper()
               for i in range(1, cube.shape[0] + 1)]
    if not all(filters):
        raise InputFileError('TRANS planes lack FILTERn keywords', path=path)
    for key in ('CCDCHIP', 'LTV1', 'LTV2'):
        if key not in h:
            raise InputFileError(f'TRANS header lacks {key}', path=path)
    origin = (int(round(1 - float(h['LTV1']))), int(round(1 - float(h['LTV2']))))
    ap_path = path[:-len('_maps.fits')] + '_aperture.fits' \
        if path.endswith('_maps.fits') else None
    has_ap = False
    if ap_path and os.path.isfile(ap_path):
        try:
            with fits.open(ap_path, memmap=False) as ap:
                master = np.asarray(ap['MASTER'].data) > 0
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InputFileError(f'unreadable master aperture ({exc})',
                                 path=ap_path) from None
        if master.shape != cube.shape[1:]:
            raise InputFileError(f'MASTER shape {master.shape} differs from '
                                 f'the maps {cube.shape[1:]}', path=ap_path)
        has_ap = True
        # Only the fleck's own pixels count: noise of the normalized flat
        # around it would add a random ~0.1% "loss" to every aperture.
        for k in range(cube.shape[0]):
            plane = cube[k]
            mean = np.nanmean(plane[master]) if np.isfinite(
                plane[master]).any() else 1.0
            plane = np.where(master & ~np.isfinite(plane), mean, plane)
            cube[k] = np.where(master, plane, 1.0)
    else:
        log.warning('%s: no master aperture beside it: the whole map is used',
                    path)
    cube = np.where(np.isfinite(cube), cube, 1.0)
    return FleckMap(path=path, ccdchip=int(h['CCDCHIP']), origin=origin,
                    filters=filters, trans=cube, has_aperture=has_ap)


def read_fleck_maps(spec):
    """
    Read the transmissivity maps the characterization wrote.

    Parameters
    ----------
    spec : str, path-like or list of them
        ``*_maps.fits`` files, or directories searched recursively for them
        (the output directory of ``acs_flecks run``/``demo``/
        ``transmissivity``).

    Returns
    -------
    list of `FleckMap`

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        A missing path, no map found, or an unreadable map.
    """
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    paths = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            found = sorted(glob.glob(os.path.join(item, '**', '*_maps.fits'),
                                     recursive=True))
            if not found:
                raise InputFileError('no transmissivity maps (*_maps.fits) '
                                     'under this directory', path=item)
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise InputFileError('no such file or directory', path=item)
    return [_read_one_map(p) for p in dict.fromkeys(paths)]


def _flux_loss(maps, ccdchip, filter_name, x, y, radius):
    """Fractional loss in a circular aperture at chip (x, y) (1-indexed)."""
    from photutils.aperture import CircularAperture

    on_chip = [m for m in maps if m.ccdchip == ccdchip]
    if not on_chip:
        return 0.0, ''
    r = float(radius)
    x0 = int(np.floor(x - r - 1))
    y0 = int(np.floor(y - r - 1))
    nx = int(np.ceil(x + r + 1)) - x0 + 1
    ny = int(np.ceil(y + r + 1)) - y0 + 1
    trans = np.ones((ny, nx))
    used = set()
    for m in on_chip:
        plane, name = m.plane(filter_name)
        if plane is None:
            return np.nan, ''
        mx0, my0 = m.origin
        # overlap of the box (chip x0.., y0..) and the map (mx0.., my0..)
        ox0, oy0 = max(x0, mx0), max(y0, my0)
        ox1 = min(x0 + nx, mx0 + plane.shape[1])
        oy1 = min(y0 + ny, my0 + plane.shape[0])
        if ox1 <= ox0 or oy1 <= oy0:
            continue
        trans[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] *= \
            plane[oy0 - my0:oy1 - my0, ox0 - mx0:ox1 - mx0]
        used.add(name)
    # photutils puts pixel centres on integers (0-indexed): the box's pixel
    # [0, 0] is chip pixel (x0, y0)
    ap = CircularAperture((x - x0, y - y0), r=r)
    weights = ap.to_mask(method='exact').to_image((ny, nx))
    total = float(weights.sum())
    if total <= 0:
        return np.nan, ''
    loss = float(np.sum(weights * (1.0 - trans)) / total)
    return loss, ','.join(sorted(used))


# ------------------------------------------------------------ the result --
@dataclass
class ImpactResult:
    """
    What `exposure_impact` found.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        One row per exposure and source (see `exposure_impact`).
    summary : `~astropy.table.QTable`
        One row per source (`summarize_impact`).
    table_name : str
        The bad-pixel table.
    notes : list of str
        What the user should know (exposures before USEAFTER, ...).
    """

    table: QTable
    summary: QTable
    table_name: str = ''
    notes: list = field(default_factory=list)

    def write(self, path, *, summary=None, overwrite=True, inputs=()):
        """
        Write the rows (ECSV) and the summary (``<path>_summary.ecsv``).

        Returns
        -------
        dict
            ``'impact'`` and ``'summary'`` -> path.
        """
        path = os.fspath(path)
        if summary is None:
            stem = path[:-5] if path.endswith('.ecsv') else path
            summary = stem + '_summary.ecsv'
        for p in (path, summary):
            check_output_path(p, inputs=inputs, overwrite=overwrite)
        if os.path.realpath(path) == os.path.realpath(summary):
            raise AcsFlecksError('impact and summary outputs are the same '
                                 'file', path=path)
        write_ecsv(self.table, path)
        write_ecsv(self.summary, summary)
        return {'impact': path, 'summary': summary}


def summarize_impact(table, sources):
    """
    Per-source summary of an impact table.

    Returns
    -------
    `~astropy.table.QTable`
        ``id``, ``ra``, ``dec``, ``n_exposures``, ``n_on_chip`` (exposures
        covering it), ``n_flagged``, ``n_affected``, ``n_unaffected``
        (covering it and not affected), ``min_distance`` (pixels, over the
        exposures on/after USEAFTER), ``max_flux_loss`` and ``affected_in``
        (the affected exposures).
    """
    exposures = list(dict.fromkeys(np.asarray(table['exposure']).tolist()))
    rows = []
    ids = np.asarray(table['id']).astype(str)
    for src in sources:
        sel = ids == str(src['id'])
        sub = table[sel]
        on = np.asarray(sub['on_chip'], bool)
        aff = np.asarray(sub['affected'], bool)
        dist = np.asarray(getattr(sub['distance'], 'value', sub['distance']),
                          float)
        dist = dist[on & np.asarray(sub['applies'], bool)]
        dist = dist[np.isfinite(dist)]
        loss = np.asarray(sub['flux_loss'], float)
        loss = loss[on & np.isfinite(loss)]
        rows.append((str(src['id']), src['ra'].to_value(u.deg),
                     src['dec'].to_value(u.deg), len(exposures),
                     int(on.sum()), int(np.sum(np.asarray(sub['flagged']))),
                     int(aff.sum()), int(np.sum(on & ~aff)),
                     float(dist.min()) if dist.size else np.nan,
                     float(loss.max()) if loss.size else np.nan,
                     ','.join(np.asarray(sub['exposure'])[aff].tolist())))
    out = QTable(rows=rows, names=(
        'id', 'ra', 'dec', 'n_exposures', 'n_on_chip', 'n_flagged',
        'n_affected', 'n_unaffected', 'min_distance', 'max_flux_loss',
        'affected_in'))
    if not rows:
        out = QTable(names=out.colnames)
    out['ra'].unit = u.deg
    out['dec'].unit = u.deg
    out['min_distance'].unit = u.pix
    return out


# ------------------------------------------------------------ the driver --
def exposure_impact(exposures, *, bpixtab, sources, flecks=None, radius=4.0,
                    max_loss=0.01, reference=None):
    """
    Which exposures and sources the flecks touch (see the module docstring).

    Parameters
    ----------
    exposures : list of str or path-like
        Calibrated ACS/WFC exposures (flt/flc, full frame or subarray).
    bpixtab : str, path-like or `~acs_flecks.science.DeliveredTable`
        The new bad-pixel table (with USEAFTER = the date of origin).
    sources : str, path-like or `~astropy.table.QTable`
        Source list file (`acs_flecks.sources.read_sources`) or its table.
    flecks : str, path-like, list or list of `FleckMap`, optional
        Transmissivity maps (files or directories) for the flux loss.
    radius : float, optional
        Aperture radius in pixels for sources without their own (a circle
        region or a ``radius`` column) (default 4, 0.2 arcsec).
    max_loss : float, optional
        A flux loss above this makes a source affected (default 0.01).
    reference : str or path-like, optional
        The table the new one replaced: tells the fleck pixels apart.

    Returns
    -------
    ImpactResult
        ``table`` columns: ``exposure``, ``obs_date``, ``filter``, ``id``,
        ``ra``, ``dec``, ``on_chip``, ``ccdchip`` (0 off every chip), ``x``,
        ``y`` (1-indexed chip frame), ``x_image``, ``y_image`` (1-indexed,
        the file's own frame: differs for subarrays), ``applies`` (taken
        on/after USEAFTER), ``flagged``, ``exposure_dq`` (the DQ the file
        has at that pixel; -1 off chip), ``distance`` (pixels to the
        nearest fleck pixel of the table on this image), ``radius``
        (pixels), ``flux_loss``, ``loss_filter`` (the measured filter
        used), ``affected``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad input: nothing is computed (every exposure, its WCS, the table
        and the sources are checked first).
    """
    # the same file given twice is assessed once
    paths = list({os.path.realpath(os.fspath(p)): os.fspath(p)
                  for p in exposures}.values())
    if not paths:
        raise AcsFlecksError('no exposures given')
    if radius is None or not np.isfinite(radius) or radius <= 0:
        raise AcsFlecksError(f'radius must be a positive number of pixels, '
                             f'got {radius!r}')
    if max_loss is None or not 0 <= max_loss < 1:
        raise AcsFlecksError(f'max_loss must be in [0, 1), got {max_loss!r}')
    table = bpixtab if isinstance(bpixtab, DeliveredTable) else \
        DeliveredTable.read(bpixtab, reference=reference)
    src = sources if isinstance(sources, QTable) else read_sources(sources)
    if flecks is None:
        maps = None
    elif isinstance(flecks, (list, tuple)) and flecks and \
            all(isinstance(m, FleckMap) for m in flecks):
        maps = list(flecks)
    else:
        maps = read_fleck_maps(flecks)

    # Open every exposure and evaluate every chip's WCS before any work.
    opened = []
    for path in paths:
        img = open_science(path, operation='impact')
        table.check_detector(img)
        with fits.open(img.path, memmap=False) as hdul:
            wcs = {chip: chip_wcs(img, chip, hdul) for chip in img.chips}
            located = locate_sources(img, src, hdul=hdul, wcs=wcs)
        opened.append((img, located))

    rows = []
    notes = []
    for img, (chip_of, xi, yi, scale) in opened:
        applies = table.applies_to(img)
        if not applies:
            notes.append(f'{img.name}: taken {img.obs_time.isot[:19]}, before '
                         f'USEAFTER {table.useafter.isot[:10]} of '
                         f'{table.name}: the flecks were not there yet')
        cache = {}
        for k, s in enumerate(src):
            base = dict(exposure=img.name, obs_date=img.obs_time.isot[:19],
                        filter=img.filter, id=str(s['id']),
                        ra=s['ra'].to_value(u.deg),
                        dec=s['dec'].to_value(u.deg), applies=applies)
            chip = int(chip_of[k])
            if chip == 0:
                rows.append(dict(base, on_chip=False, ccdchip=0, x=np.nan,
                                 y=np.nan, x_image=np.nan, y_image=np.nan,
                                 flagged=False, exposure_dq=-1,
                                 distance=np.nan, radius=np.nan,
                                 flux_loss=np.nan, loss_filter='',
                                 affected=False))
                continue
            if chip not in cache:
                fm = table.fleck_mask(img, chip)
                r_idx, c_idx = np.nonzero(fm)
                px, py = index_to_pixel(r_idx, c_idx)
                dq_chip = img.chip(chip, arrays=('DQ',)).dq
                cache[chip] = (fm, np.asarray(px, float), np.asarray(py, float),
                               dq_chip)
            fm, px, py, dq_chip = cache[chip]
            x_img, y_img = float(xi[k]), float(yi[k])
            x_chip, y_chip = image_to_chip(x_img, y_img, img.ltv(chip))
            # the pixel (x, y) spans x - 0.5 ... x + 0.5
            ix, iy = int(np.floor(x_img + 0.5)), int(np.floor(y_img + 0.5))
            row, col = pixel_to_index(ix, iy)
            under = bool(fm[row, col])
            dist = float(np.min(np.hypot(px - x_img, py - y_img))) \
                if px.size else np.nan
            rad = float(s['radius'].to_value(u.arcsec) / scale[k]) \
                if np.isfinite(s['radius'].value) else float(radius)
            loss, used = np.nan, ''
            if maps is not None:
                if applies:
                    loss, used = _flux_loss(maps, chip, img.filter, x_chip,
                                            y_chip, rad)
                else:
                    loss = 0.0
            flagged = applies and under
            affected = applies and (under or (np.isfinite(dist) and dist <= rad)
                                    or (np.isfinite(loss) and loss > max_loss))
            rows.append(dict(base, on_chip=True, ccdchip=chip, x=x_chip,
                             y=y_chip, x_image=x_img, y_image=y_img,
                             flagged=bool(flagged),
                             exposure_dq=int(dq_chip[row, col]),
                             distance=dist, radius=rad, flux_loss=loss,
                             loss_filter=used, affected=bool(affected)))
    names = ('exposure', 'obs_date', 'filter', 'id', 'ra', 'dec', 'on_chip',
             'ccdchip', 'x', 'y', 'x_image', 'y_image', 'applies', 'flagged',
             'exposure_dq', 'distance', 'radius', 'flux_loss', 'loss_filter',
             'affected')
    out = QTable(rows=[[r[n] for n in names] for r in rows], names=names)
    out['ra'].unit = u.deg
    out['dec'].unit = u.deg
    out['distance'].unit = u.pix
    out['radius'].unit = u.pix
    out.meta.update({
        'bpixtab': table.name, 'useafter': table.useafter.isot[:19],
        'fleck_pixels': table.selection, 'flag_value': table.value,
        'default_radius_pix': float(radius), 'max_loss': float(max_loss),
        'flecks': [m.name for m in maps] if maps else [],
        'pixel_convention': '1-indexed, x = column; x, y in the full-chip '
                            'frame, x_image, y_image in the file',
        'flux_loss_model': 'uniform surface brightness over the aperture, '
                           'exact pixel overlap, fleck transmissivity '
                           'maps (1 outside their master apertures)',
        'notes': notes})
    summary = summarize_impact(out, src)
    summary.meta.update({k: out.meta[k] for k in ('bpixtab', 'useafter',
                                                  'max_loss')})
    n_aff = int(np.sum(np.asarray(out['affected'])))
    log.info('%d exposure(s) x %d source(s): %d affected, %d flagged',
             len(opened), len(src), n_aff,
             int(np.sum(np.asarray(out['flagged']))))
    return ImpactResult(table=out, summary=summary, table_name=table.name,
                        notes=notes)
