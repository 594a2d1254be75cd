"""
Per-filter transmissivity of a fleck from lamp flats (report §6.1).

For every broadband flat: cut a box around the fleck, divide by the local
background (`~acs_flecks.characterize.cutouts.normalize_cutout`), invert
(blocking = 1 - normalized image), and select the pixels blocking more than
``aperture_threshold`` (5 %) that belong to the fleck: that filter's
aperture.  The union over the filters is the master aperture; the number of
filters that selected each pixel is the selection count (Figure 13).  The
transmissivity in a filter is the mean normalized flux in the master
aperture, with errors from the ERR array (Poisson + read noise), from the
background normalization, and from the pixel-response scatter of the
normalized background beyond ERR.

>>> from acs_flecks.characterize import measure_transmissivity   # doctest: +SKIP
>>> res = measure_transmissivity(flats, ccdchip=2, x=1521, y=1773)  # doctest: +SKIP
>>> res.to_table()['filter', 'transmissivity', 'transmissivity_err']  # doctest: +SKIP
"""

import logging
import os
import warnings
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time
from photutils.segmentation import detect_sources
from photutils.utils.exceptions import NoDetectionsWarning
from scipy import ndimage

from ..dq import DEFAULT_DQ_MASK, flag_values
from ..exceptions import (AcsFlecksError, ExcludedPixelsWarning,
                          InputFileError, SkippedFileWarning)
from ..filters import BROADBAND_FILTERS, is_broadband
from ..io import open_image
from ..parameters import CHARACTERIZATION
from ..utils import atomic_output, write_ecsv
from .cutouts import (cutout_header, extract_cutout,
                      normalize_cutout, output_prefix, parse_box)
from .wavelengths import WAVELENGTH_SOURCE, effective_wavelength

__all__ = ['measure_transmissivity', 'TransmissivityResult',
           'FilterMeasurement', 'select_aperture', 'FlatSet', 'group_flats',
           'choose_flat_set']

log = logging.getLogger(__name__)

# defaults: the characterization stage of acs_flecks.parameters
_C = CHARACTERIZATION.defaults


def select_aperture(blocking, *, threshold=0.05, good=None, center=None,
                    join=2, core_radius=None):
    """
    Pixels blocking more than ``threshold`` that belong to the fleck.

    Connected groups (8-connectivity, `photutils.segmentation.detect_sources`)
    of pixels with ``blocking > threshold`` are found; the group with the
    largest total blocking within ``core_radius`` of ``center`` is the fleck,
    and groups within ``join`` pixels of it are added (a fleck's faint edge
    can be broken by noise).  Isolated noise pixels and unrelated artifacts
    elsewhere in the box are left out.

    Parameters
    ----------
    blocking : `~numpy.ndarray`
        1 - normalized image.
    threshold : float
        Blocking fraction (the report: 5 %).
    good : `~numpy.ndarray` of bool, optional
        Usable pixels; others are never selected.
    center : tuple of float, optional
        0-indexed (row, col) of the fleck; default the box centre.
    join : int
        Distance (pixels) within which other groups join the fleck.
    core_radius : float, optional
        Radius around ``center`` in which the fleck must have a pixel;
        default a quarter of the smaller box side (at least 3).

    Returns
    -------
    `~numpy.ndarray` of bool
        The aperture (all False if nothing blocks more than ``threshold``).
    """
    blocking = np.asarray(blocking, dtype=float)
    ny, nx = blocking.shape
    if good is None:
        good = np.isfinite(blocking)
    data = np.where(good, blocking, 0.0)
    with warnings.catch_warnings():
        # "no sources found" is an answer here (no fleck), not a problem
        warnings.simplefilter('ignore', NoDetectionsWarning)
        segm = detect_sources(data, threshold, n_pixels=1, connectivity=8)
    if segm is None:
        return np.zeros(blocking.shape, bool)
    labels = segm.data
    if center is None:
        center = ((ny - 1) / 2, (nx - 1) / 2)
    if core_radius is None:
        core_radius = max(3.0, min(ny, nx) / 4)
    yy, xx = np.mgrid[0:ny, 0:nx]
    near = (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= core_radius ** 2
    cand = np.unique(labels[near & (labels > 0)])
    if cand.size == 0:
        return np.zeros(blocking.shape, bool)
    sums = ndimage.sum(data, labels, cand)
    main = labels == cand[int(np.argmax(sums))]
    for _ in range(10):
        zone = ndimage.binary_dilation(main, iterations=int(join)) if join else main
        touch = np.unique(labels[zone & (labels > 0)])
        new = np.isin(labels, touch)
        if np.array_equal(new, main):
            break
        main = new
    return main


@dataclass
class FilterMeasurement:
    """
    The measurement of one flat.

    Attributes
    ----------
    filter : str
    path : str
    obs_time : `~astropy.time.Time`
    cutout : `~acs_flecks.characterize.cutouts.Cutout`
    normalization : `~acs_flecks.characterize.cutouts.Normalization`
    good : `~numpy.ndarray` of bool
        Pixels usable (finite, not DQ-flagged by ``dq_mask``).
    aperture : `~numpy.ndarray` of bool
        Pixels of this filter blocking more than the threshold.
    """

    filter: str
    path: str
    obs_time: object
    cutout: object
    normalization: object
    good: np.ndarray
    aperture: np.ndarray

    @property
    def blocking(self):
        """1 - normalized image."""
        return 1.0 - self.normalization.image


def _flag_names(dq):
    return ', '.join(str(f) for f in flag_values(dq))


class TransmissivityResult:
    """
    Transmissivity of one fleck in several filters (report §6.1).

    Built by `measure_transmissivity`; the derived quantities are computed
    on first access (`functools.cached_property`), as in photutils'
    ``SourceCatalog``.

    Attributes
    ----------
    measurements : list of `FilterMeasurement`
        Blue to red.
    ccdchip : int
    x, y : float
        1-indexed chip-frame position of the fleck.
    box : tuple of int
        (ny, nx) of the cutouts.
    aperture_threshold, badpix_threshold : float
    skipped : list of (str, str)
        (file, reason) of the flats that were not used.
    wavelength_method : str
    """

    def __init__(self, measurements, *, ccdchip, x, y, box, aperture_threshold,
                 badpix_threshold, skipped, wavelength_method='pivot',
                 dq_mask=DEFAULT_DQ_MASK, fleck_id=''):
        self.measurements = measurements
        self.ccdchip = int(ccdchip)
        self.x, self.y = x, y
        self.box = box
        self.aperture_threshold = aperture_threshold
        self.badpix_threshold = badpix_threshold
        self.skipped = list(skipped)
        self.wavelength_method = wavelength_method
        self.dq_mask = dq_mask
        self.fleck_id = fleck_id
        #: ISO date of the flats measured, and every set (`measure_transmissivity`)
        self.flat_set = measurements[0].obs_time.isot[:10] if measurements else ''
        self.flat_sets = {'used': (self.flat_set,
                                   [os.path.basename(m.path) for m in measurements]),
                          'before': [], 'after': []}
        #: (date, TransmissivityResult or reason) of earlier / later sets
        self.before = []
        self.stability = []

    def __repr__(self):
        return (f'<TransmissivityResult CCDCHIP={self.ccdchip} '
                f'({self.x}, {self.y}) filters={self.filters} '
                f'master_npix={self.master_npix}>')

    @property
    def filters(self):
        """Filters measured, blue to red."""
        return [m.filter for m in self.measurements]

    @property
    def origin(self):
        """1-indexed chip-frame (x, y) of the cutouts' [0, 0] pixel."""
        return self.measurements[0].cutout.origin

    @cached_property
    def selection_count(self):
        """Number of filters whose aperture contains each pixel (Figure 13)."""
        return np.sum([m.aperture for m in self.measurements], axis=0).astype(int)

    @cached_property
    def master_aperture(self):
        """Union of the filter apertures (bool array, cutout frame)."""
        return self.selection_count > 0

    @property
    def master_npix(self):
        """Number of pixels in the master aperture."""
        return int(self.master_aperture.sum())

    @cached_property
    def transmissivity_maps(self):
        """Normalized cutouts (per-pixel transmissivity), (n_filter, ny, nx)."""
        return np.array([np.where(m.good, m.normalization.image, np.nan)
                         for m in self.measurements])

    @cached_property
    def transmissivity_err_maps(self):
        """1-sigma errors of `transmissivity_maps`: ERR, normalization and
        the excess pixel scatter added in quadrature."""
        out = []
        for m in self.measurements:
            n = m.normalization
            e = np.sqrt(n.err ** 2 + (n.image * n.background_rel_err) ** 2
                        + (n.image * n.excess_scatter) ** 2)
            out.append(np.where(m.good, e, np.nan))
        return np.array(out)

    @cached_property
    def _photometry(self):
        rows = []
        ap = self.master_aperture
        for m in self.measurements:
            n = m.normalization
            use = ap & m.good
            nbad = int((ap & ~m.good).sum())
            if nbad:
                flags = np.bitwise_or.reduce(m.cutout.dq[ap & ~m.good]) \
                    if m.cutout.dq is not None else 0
                warnings.warn(
                    f'{m.filter} ({os.path.basename(m.path)}): {nbad} of '
                    f'{int(ap.sum())} master-aperture pixels excluded (DQ '
                    f'flags {_flag_names(int(flags)) or "none"} or non-finite)',
                    ExcludedPixelsWarning)
            npix = int(use.sum())
            if npix == 0:
                rows.append((np.nan, np.nan, np.nan, np.nan, np.nan, 0, nbad))
                continue
            t = float(np.mean(n.image[use]))
            stat = float(np.sqrt(np.sum(n.err[use] ** 2)) / npix)
            # the background model error is correlated between pixels
            norm = float(abs(t) * np.mean(n.background_rel_err[use]))
            flat = float(abs(t) * n.excess_scatter / np.sqrt(npix))
            tot = float(np.sqrt(stat ** 2 + norm ** 2 + flat ** 2))
            rows.append((t, tot, stat, norm, flat, npix, nbad))
        return rows

    @cached_property
    def wavelengths(self):
        """Effective wavelength of each filter (Quantity, Angstrom)."""
        return u.Quantity([effective_wavelength(f, method=self.wavelength_method)
                           for f in self.filters])

    def to_table(self):
        """
        One row per filter, blue to red.

        Returns
        -------
        `~astropy.table.QTable`
            Columns ``filter``, ``wavelength`` (Angstrom), ``transmissivity``,
            ``transmissivity_err`` (total), ``err_stat`` (ERR array),
            ``err_norm`` (background normalization), ``err_flat`` (pixel
            scatter beyond ERR), ``aperture_npix`` (master-aperture pixels
            used), ``filter_npix`` (pixels of this filter's own aperture),
            ``n_excluded`` (master-aperture pixels excluded), ``n_below_badpix``
            (pixels of the master aperture under ``badpix_threshold``),
            ``background`` (median background, e-), ``obs_date``, ``file``.
            The metadata give the chip, position, box, thresholds and the
            source of the wavelengths.
        """
        phot = self._photometry
        maps = self.transmissivity_maps
        t = QTable()
        t['filter'] = self.filters
        t['wavelength'] = self.wavelengths
        for i, name in enumerate(['transmissivity', 'transmissivity_err',
                                  'err_stat', 'err_norm', 'err_flat']):
            t[name] = np.array([r[i] for r in phot])
        t['aperture_npix'] = np.array([r[5] for r in phot], dtype=int)
        t['filter_npix'] = np.array([int(m.aperture.sum())
                                     for m in self.measurements], dtype=int)
        t['n_excluded'] = np.array([r[6] for r in phot], dtype=int)
        t['n_below_badpix'] = np.array(
            [int(np.sum(self.master_aperture & (mp < self.badpix_threshold)))
             for mp in maps], dtype=int)
        t['background'] = u.Quantity([np.median(m.normalization.background)
                                      for m in self.measurements], u.electron)
        t['obs_date'] = [m.obs_time.isot[:19] for m in self.measurements]
        t['file'] = [os.path.basename(m.path) for m in self.measurements]
        t.meta.update(self.meta)
        return t

    @property
    def meta(self):
        """Metadata for tables and FITS headers."""
        return {
            'fleck_id': self.fleck_id, 'ccdchip': self.ccdchip,
            'x': float(self.x), 'y': float(self.y),
            'box_nx': int(self.box[1]), 'box_ny': int(self.box[0]),
            'origin_x': int(self.origin[0]), 'origin_y': int(self.origin[1]),
            'aperture_threshold': float(self.aperture_threshold),
            'badpix_threshold': float(self.badpix_threshold),
            'background_method': self.measurements[0].normalization.method,
            'dq_mask': int(self.dq_mask),
            'master_npix': self.master_npix,
            'wavelength_method': self.wavelength_method,
            'wavelength_source': (WAVELENGTH_SOURCE if self.wavelength_method
                                  == 'pivot' else 'lamp-weighted'),
            'skipped': [f'{os.path.basename(p)}: {r}' for p, r in self.skipped],
            'flat_set': self.flat_set,
            'flat_sets_before': [d for d, _ in self.flat_sets['before']],
            'flat_sets_after': [d for d, _ in self.flat_sets['after']],
            'stability_master_npix': [
                [d, r.master_npix if isinstance(r, TransmissivityResult) else r]
                for d, r in self.stability],
            'before_master_npix': [
                [d, r.master_npix if isinstance(r, TransmissivityResult) else r]
                for d, r in self.before],
        }

    def _header(self):
        h = cutout_header(self.ccdchip, self.origin)
        h['FLECK_X'] = (float(self.x), '1-indexed chip x of the fleck')
        h['FLECK_Y'] = (float(self.y), '1-indexed chip y of the fleck')
        h['APTHRESH'] = (self.aperture_threshold, 'aperture blocking threshold')
        h['BGMETHOD'] = (self.measurements[0].normalization.method,
                         'background model')
        return h

    def write(self, outdir, *, prefix=None, overwrite=True):
        """
        Write the table (ECSV) and the apertures and maps (FITS).

        Files: ``<prefix>_transmissivity.ecsv``, ``<prefix>_aperture.fits``
        (MASTER mask, COUNT selection count, one mask per filter) and
        ``<prefix>_maps.fits`` (TRANS and TRANS_ERR cubes, one plane per
        filter, FILTERn keywords).

        Returns
        -------
        dict
            kind -> path.
        """
        prefix = prefix or self.default_prefix
        os.makedirs(outdir, exist_ok=True)
        paths = {}
        table = self.to_table()
        p = os.path.join(outdir, f'{prefix}_transmissivity.ecsv')
        write_ecsv(table, p)
        paths['table'] = p
        hdr = self._header()
        hdus = [fits.PrimaryHDU(header=hdr.copy()),
                fits.ImageHDU(self.master_aperture.astype(np.uint8), hdr.copy(),
                              name='MASTER'),
                fits.ImageHDU(self.selection_count.astype(np.int16), hdr.copy(),
                              name='COUNT')]
        for m in self.measurements:
            hdus.append(fits.ImageHDU(m.aperture.astype(np.uint8), hdr.copy(),
                                      name=f'AP_{m.filter}'))
        p = os.path.join(outdir, f'{prefix}_aperture.fits')
        with atomic_output(p) as tmp:
            fits.HDUList(hdus).writeto(tmp)
        paths['aperture'] = p
        mh = hdr.copy()
        for i, f in enumerate(self.filters, 1):
            mh[f'FILTER{i}'] = (f, f'filter of plane {i}')
        hdus = [fits.PrimaryHDU(header=hdr.copy()),
                fits.ImageHDU(self.transmissivity_maps.astype(np.float32), mh,
                              name='TRANS'),
                fits.ImageHDU(self.transmissivity_err_maps.astype(np.float32),
                              mh.copy(), name='TRANS_ERR')]
        p = os.path.join(outdir, f'{prefix}_maps.fits')
        with atomic_output(p) as tmp:
            fits.HDUList(hdus).writeto(tmp)
        paths['maps'] = p
        return paths

    @property
    def default_prefix(self):
        """File prefix, e.g. ``fleck1`` or ``WFC2_1521_1773``."""
        return output_prefix(self.fleck_id, self.ccdchip, self.x, self.y)


def _open(f):
    return open_image(f, operation='transmissivity')


@dataclass
class FlatSet:
    """
    Lamp flats of one date: at most one per broadband filter.

    Attributes
    ----------
    date : str
        ISO date of the first flat.
    images : list of `~acs_flecks.io.ACSImage`
        Blue to red.
    """

    date: str
    images: list

    @property
    def filters(self):
        """Filters of the set, blue to red."""
        return [im.filter for im in self.images]

    @property
    def names(self):
        """File names of the set."""
        return [im.name for im in self.images]


def group_flats(flats, *, max_span=30 * u.day):
    """
    Group lamp flats by date (report §6.1 uses one date; users pass all).

    Flats are sorted by observation time; a new set starts when a flat is
    more than ``max_span`` after the first flat of the current set.
    Narrowband flats are skipped with a `SkippedFileWarning`, as in the
    report.

    Returns
    -------
    sets : list of `FlatSet`
        Earliest first.
    skipped : list of (str, str)
        (file, reason) of the flats not used.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        No flat, flats of different detectors, no broadband flat, or two
        flats of one filter on one date.
    """
    images = [_open(f) for f in flats]
    if not images:
        raise AcsFlecksError('no flats given')
    dets = {im.detector for im in images}
    if len(dets) > 1:
        raise AcsFlecksError(f'flats from different detectors mixed: {sorted(dets)}',
                             path=images[0].path)
    span = u.Quantity(max_span, u.day).value
    broad, skipped = [], []
    for im in images:
        f = im.filter
        if not is_broadband(f):
            reason = (f'filter {f} is not one of the broadband filters '
                      f'{", ".join(BROADBAND_FILTERS)} (skipped, as in the report)')
            skipped.append((im.path, reason))
            warnings.warn(f'{im.name}: {reason}', SkippedFileWarning)
            continue
        broad.append(im)
    if not broad:
        raise AcsFlecksError(
            'no broadband flat among the inputs (need at least one of '
            f'{", ".join(BROADBAND_FILTERS)})', path=images[0].path)
    broad.sort(key=lambda im: (im.obs_time.mjd, im.path))
    groups = []
    for im in broad:
        if groups and im.obs_time.mjd - groups[-1][0].obs_time.mjd <= span:
            groups[-1].append(im)
        else:
            groups.append([im])
    sets = []
    for g in groups:
        used = {}
        for im in g:
            if im.filter in used:
                raise AcsFlecksError(
                    f'two flats in {im.filter} on {g[0].obs_time.isot[:10]} '
                    f'({used[im.filter].name} and {im.name}): give one flat '
                    'per filter and date', path=im.path)
            used[im.filter] = im
        order = [f for f in BROADBAND_FILTERS if f in used]
        sets.append(FlatSet(date=g[0].obs_time.isot[:10],
                            images=[used[f] for f in order]))
    return sets, skipped


def choose_flat_set(sets, *, date_of_origin=None):
    """
    The set of flats to characterize a fleck with.

    With a date of origin: the first **complete** set (every filter any set
    after the origin has) observed on or after it; the sets before it (the
    fleck is not there: the report's Figures 10-11 check) and the later
    sets (stability) are returned too.  Without one: the latest complete
    set.

    Returns
    -------
    chosen : `FlatSet`
    before, after : list of `FlatSet`

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Every flat is from before the date of origin.
    """
    if date_of_origin is not None:
        t0 = (date_of_origin if isinstance(date_of_origin, Time)
              else Time(str(date_of_origin))).mjd
        post = [s for s in sets if s.images[0].obs_time.mjd >= t0]
        if not post:
            raise AcsFlecksError(
                f'all {sum(len(s.images) for s in sets)} flat(s) are from '
                f'before the date of origin {Time(t0, format="mjd").isot[:10]} '
                f'(latest {sets[-1].date}): the fleck is not in them')
        want = set().union(*(s.filters for s in post))
        complete = [s for s in post if set(s.filters) == want]
        chosen = complete[0] if complete else max(post, key=lambda s: len(s.images))
    else:
        want = set().union(*(s.filters for s in sets))
        complete = [s for s in sets if set(s.filters) == want]
        chosen = complete[-1] if complete else max(
            reversed(sets), key=lambda s: len(s.images))
    i = sets.index(chosen)
    before = [s for s in sets[:i]
              if date_of_origin is None or s.images[-1].obs_time.mjd < t0]
    after = [s for s in sets if s is not chosen and s not in before]
    return chosen, before, after


def measure_transmissivity(flats, *, ccdchip, x, y, box=(40, 40),
                           aperture_threshold=_C.aperture_threshold,
                           badpix_threshold=_C.badpix_threshold,
                           background=_C.background, dq_mask=DEFAULT_DQ_MASK,
                           max_span=30 * u.day, wavelength_method='pivot',
                           fleck_id='', date_of_origin=None):
    """
    Measure a fleck's transmissivity in lamp flats (report §6.1).

    Parameters
    ----------
    flats : list of str, path-like or `~acs_flecks.io.ACSImage`
        Lamp flats (crc/crj, electrons) of one date, one per filter.
        Narrowband filters are skipped with a `SkippedFileWarning`.
    ccdchip : int
        1 (WFC1) or 2 (WFC2).
    x, y : float
        1-indexed chip-frame position of the fleck.
    box : tuple of int or str
        Cutout (ny, nx), or ``'NXxNY'`` (report: 40x40, 20x30 for the
        elongated fleck).
    aperture_threshold : float
        Blocking fraction above which a pixel belongs to a filter's
        aperture (report: 0.05).
    badpix_threshold : float
        Transmissivity under which a pixel is bad (report: 0.5); only
        counted here (see `~acs_flecks.characterize.bad_pixels`).
    background : {'plane', 'poly2', 'median'}
        Background model of `~acs_flecks.characterize.normalize_cutout`.
    dq_mask : int
        DQ flags that exclude a pixel.
    max_span : `~astropy.units.Quantity`
        Largest allowed spread of the flats' observation dates.
    wavelength_method : str
        See `~acs_flecks.characterize.effective_wavelength`.
    fleck_id : str
        Name used in tables and file names.
    date_of_origin : str or `~astropy.time.Time`, optional
        When the fleck appeared.  Flats of several dates are grouped
        (`group_flats`) and the first complete set on or after this date is
        measured (`choose_flat_set`); earlier sets are measured as the
        check that the fleck is absent (``result.before``), later ones as
        its stability (``result.stability``).  Without it, flats of several
        dates are measured with the latest complete set.

    Returns
    -------
    TransmissivityResult
        ``flat_set`` is the date of the set used; ``flat_sets`` describes
        every set.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        No broadband flat, two flats of one filter, dates too far apart,
        the position off the chip or too close to the edge, a missing chip.
    """
    box = parse_box(box)
    if not 0 < aperture_threshold < 1:
        raise AcsFlecksError(f'aperture_threshold must be in (0, 1), got '
                             f'{aperture_threshold!r}')
    if not 0 < badpix_threshold < 1:
        raise AcsFlecksError(f'badpix_threshold must be in (0, 1), got '
                             f'{badpix_threshold!r}')
    if int(ccdchip) not in (1, 2):
        raise AcsFlecksError(f'ccdchip must be 1 (WFC1) or 2 (WFC2), got {ccdchip!r}')
    sets, skipped = group_flats(flats, max_span=max_span)
    if len(sets) > 1 or date_of_origin is not None:
        chosen, before, after = choose_flat_set(sets, date_of_origin=date_of_origin)
        kw = dict(ccdchip=ccdchip, x=x, y=y, box=box,
                  aperture_threshold=aperture_threshold,
                  badpix_threshold=badpix_threshold, background=background,
                  dq_mask=dq_mask, max_span=max_span,
                  wavelength_method=wavelength_method, fleck_id=fleck_id)
        result = measure_transmissivity(chosen.images, **kw)
        result.skipped = list(skipped) + result.skipped
        result.flat_set = chosen.date
        result.flat_sets = {'used': (chosen.date, chosen.names),
                            'before': [(s.date, s.names) for s in before],
                            'after': [(s.date, s.names) for s in after]}
        log.info('fleck %s: flats of %s used (%d filters); %d earlier set(s) '
                 '(check), %d later set(s) (stability)', fleck_id or (x, y),
                 chosen.date, len(chosen.images), len(before), len(after))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            result.before = []
            for st in before:
                try:
                    result.before.append((st.date, measure_transmissivity(st.images, **kw)))
                except AcsFlecksError as exc:
                    result.before.append((st.date, str(exc)))
            result.stability = []
            for st in after:
                try:
                    result.stability.append((st.date, measure_transmissivity(st.images, **kw)))
                except AcsFlecksError as exc:
                    result.stability.append((st.date, str(exc)))
        return result
    images = sets[0].images
    measurements = []
    origin = None
    for im in images:
        cut = extract_cutout(im, ccdchip=ccdchip, x=x, y=y, box=box)
        if origin is None:
            origin = cut.origin
        elif cut.origin != origin:  # pragma: no cover - same box, same frame
            raise InputFileError('cutout origin differs between flats', path=im.path)
        good = cut.good(dq_mask)
        norm = normalize_cutout(cut.sci, cut.err, good=good, method=background,
                                threshold=aperture_threshold)
        blocking = 1.0 - norm.image
        ap = select_aperture(blocking, threshold=aperture_threshold, good=good)
        # unusable (DQ-flagged, non-finite) pixels touching the fleck are
        # part of its footprint: keep them in the aperture so that they are
        # excluded from the photometry *and counted*, not silently dropped
        for _ in range(3):
            grown = ap | (ndimage.binary_dilation(ap) & ~good)
            if np.array_equal(grown, ap):
                break
            ap = grown
        log.debug('%s %s: background %.0f e-, %d pixels block > %.0f%%',
                 im.name, im.filter, float(np.median(norm.background)),
                 int(ap.sum()), 100 * aperture_threshold)
        measurements.append(FilterMeasurement(
            filter=im.filter, path=im.path, obs_time=im.obs_time, cutout=cut,
            normalization=norm, good=good, aperture=ap))
    result = TransmissivityResult(
        measurements, ccdchip=ccdchip, x=x, y=y, box=box,
        aperture_threshold=aperture_threshold, badpix_threshold=badpix_threshold,
        skipped=skipped, wavelength_method=wavelength_method, dq_mask=dq_mask,
        fleck_id=fleck_id)
    if result.master_npix == 0:
        warnings.warn(f'no pixel blocks more than {aperture_threshold:.0%} near '
                      f'({x}, {y}) on CCDCHIP={ccdchip} in any filter: no fleck '
                      'there?', ExcludedPixelsWarning)
    return result
