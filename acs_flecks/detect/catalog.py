"""
The artifact catalog: per-source measurements, ECSV and DS9 output,
matching against a list of known artifacts.

One row per artifact, in the **full-chip frame, 1-indexed, x = column**
(as the report: "WFC2 at (1521, 1773)"); see `CATALOG_COLUMNS`.  The
catalog is an `~astropy.table.QTable` with units; its ``meta`` holds the
source file, observation time, detector and the search parameters.

>>> from acs_flecks.detect import find_artifacts, write_catalog  # doctest: +SKIP
>>> cat = find_artifacts('dkc_2017-05-05.fits')                  # doctest: +SKIP
>>> write_catalog(cat, 'artifacts.ecsv')                          # doctest: +SKIP
>>> write_ds9_regions(cat, 'artifacts.reg')                       # doctest: +SKIP
"""

import os

import numpy as np

# astropy.table (0.15 s to import with its ECSV writer) is imported where it is
# used: the search (`acs_flecks.detect.finder`) preloads it while the
# median filter runs
from ..coords import chip_name, chip_to_image, image_to_chip, index_to_pixel
from ..exceptions import AcsFlecksError
from ..utils import atomic_output, write_ecsv
from .footprint import segment_footprints

__all__ = ['CATALOG_COLUMNS', 'measure_sources', 'empty_catalog',
           'stack_catalogs', 'write_catalog', 'read_catalog',
           'write_ds9_regions', 'match_known']

#: Columns of the artifact catalog, in order, with their units (as
#: `astropy.units.Unit` strings; `None`: no unit).
CATALOG_COLUMNS = (
    ('file', None), ('ccdchip', None), ('label', None),
    ('x', 'pix'), ('y', 'pix'), ('area', 'pix2'),
    ('bbox_xmin', None), ('bbox_xmax', None),
    ('bbox_ymin', None), ('bbox_ymax', None),
    ('semimajor_sigma', 'pix'), ('semiminor_sigma', 'pix'),
    ('ellipticity', ''), ('orientation', 'deg'),
    ('peak_deficit', '%'), ('mean_deficit', '%'),
    ('isophotal_sum', '% pix2'), ('noise', '%'),
    ('footprint', None),
)

_DTYPES = {'file': 'U64', 'ccdchip': int, 'label': int, 'bbox_xmin': int,
           'bbox_xmax': int, 'bbox_ymin': int, 'bbox_ymax': int,
           'footprint': 'U1'}


def empty_catalog():
    """A catalog with the standard columns and no rows."""
    import astropy.units as u
    from astropy.table import QTable
    cols = []
    names = []
    for name, unit in CATALOG_COLUMNS:
        arr = np.zeros(0, dtype=_DTYPES.get(name, float))
        cols.append(arr if unit is None else arr * u.Unit(unit))
        names.append(name)
    return QTable(cols, names=names)


def measure_sources(data, segm, *, ccdchip, ltv=(0.0, 0.0), noise=None,
                    file=''):
    """
    Measure the detected artifacts of one chip.

    The measurements are those of `photutils.segmentation.SourceCatalog`
    (no local background, no convolved image), computed by
    `_source_properties` with photutils' own operations in its order, so
    that the values are the same to the last bit (a test compares them);
    see `_source_properties` for why photutils is not called.

    Parameters
    ----------
    data : 2-D array
        The background-subtracted inverted image, ``100 x (1 - image)``
        (percent deficit).
    segm : `~acs_flecks.detect.segmentation.Segments` or `None`
        The detections (`None`: nothing detected; a photutils
        `~photutils.segmentation.SegmentationImage` also works).
    ccdchip : int
        CCDCHIP of the chip.
    ltv : tuple of float
        (``LTV1``, ``LTV2``) of the chip, to express positions in the
        full-chip frame.
    noise : 2-D array, optional
        Noise map (percent); its value at each centroid is reported.
    file : str
        Base name of the source file.

    Returns
    -------
    `~astropy.table.QTable`
        Columns `CATALOG_COLUMNS` (``footprint``: the segment's pixels,
        see `acs_flecks.detect.footprint`).
    """
    if segm is None or segm.n_labels == 0:
        return empty_catalog()
    cat = _source_properties(data, segm)
    # 0-indexed positions, pixel centres at integers (photutils' convention)
    xi, yi = index_to_pixel(cat['y_centroid'], cat['x_centroid'])
    x, y = image_to_chip(xi, yi, ltv)
    bx0, by0 = image_to_chip(*index_to_pixel(cat['bbox_ymin'],
                                             cat['bbox_xmin']), ltv)
    bx1, by1 = image_to_chip(*index_to_pixel(cat['bbox_ymax'],
                                             cat['bbox_xmax']), ltv)
    area = np.asarray(cat['area'], dtype=float)
    flux = np.asarray(cat['segment_flux'], dtype=float)
    if noise is not None:
        rows = np.clip(np.round(cat['y_centroid']).astype(int), 0,
                       data.shape[0] - 1)
        cols = np.clip(np.round(cat['x_centroid']).astype(int), 0,
                       data.shape[1] - 1)
        nval = np.asarray(noise)[rows, cols].astype(float)
    else:
        nval = np.full(len(x), np.nan)
    import astropy.units as u
    from astropy.table import QTable
    n = len(x)
    table = QTable()
    table['file'] = np.array([file] * n, dtype=f'U{max(len(file), 1)}')
    table['ccdchip'] = np.full(n, int(ccdchip))
    table['label'] = np.asarray(cat['labels'], dtype=int)
    table['x'] = np.asarray(x, float) * u.pix
    table['y'] = np.asarray(y, float) * u.pix
    table['area'] = area * u.pix ** 2
    table['bbox_xmin'] = np.round(bx0).astype(int)
    table['bbox_xmax'] = np.round(bx1).astype(int)
    table['bbox_ymin'] = np.round(by0).astype(int)
    table['bbox_ymax'] = np.round(by1).astype(int)
    table['semimajor_sigma'] = cat['semimajor_axis'] * u.pix
    table['semiminor_sigma'] = cat['semiminor_axis'] * u.pix
    table['ellipticity'] = cat['ellipticity'] * u.dimensionless_unscaled
    table['orientation'] = cat['orientation'] * u.deg
    table['peak_deficit'] = np.asarray(cat['max_value'], float) * u.percent
    table['mean_deficit'] = flux / area * u.percent
    table['isophotal_sum'] = flux * u.percent * u.pix ** 2
    table['noise'] = nval * u.percent
    # the segment's pixels (full-chip frame): what the monitor associates
    # between epochs (see acs_flecks.detect.footprint)
    table['footprint'] = np.array(segment_footprints(segm, ltv), dtype=str)
    return table


# photutils.segmentation.SourceCatalog's measurements, written out because
# importing photutils.segmentation costs ~1 CPU s (scipy.signal and
# scipy.stats; about as much as the whole search of a chip), and its
# SourceCatalog also imports matplotlib and scikit-image to record their
# versions.  Every line follows photutils 3.0 (segmentation/catalog.py:
# _data_values, _moment_data_cutouts, moments, moments_central, _covariance,
# covariance_eigvals, orientation), with the same numpy operations in the
# same order, so the numbers are identical bit for bit
# (tests/test_detect.py::TestMeasureSources compares all of them).
def _source_properties(data, segm):
    """The properties of `measure_sources` (0-indexed, photutils' names):
    a dict of 1-D arrays in the order of ``segm.labels``."""
    data = np.asanyarray(data)
    labels = segm.labels
    slices = segm.slices
    seg = segm.data
    values = []
    moments = []
    all_masked = []
    for label, slc in zip(labels, slices):
        cut = data[slc]
        segmask = seg[slc] != label
        total = segmask | ~np.isfinite(cut)
        all_masked.append(bool(np.all(total)))
        vals = np.ma.masked_array(cut.astype(float, copy=True),
                                  mask=total).compressed()
        values.append(vals if len(vals) > 0 else np.array([np.nan]))
        arr = cut.copy()
        arr[~np.isfinite(cut) | (cut < 0) | segmask] = 0.0
        moments.append(arr)
    bbox_xmin = np.array([slc[1].start for slc in slices])
    bbox_ymin = np.array([slc[0].start for slc in slices])
    all_masked = np.array(all_masked, bool)
    sizes = np.array([len(v) for v in values])
    splits = np.concatenate(([0], np.cumsum(sizes[:-1])))
    concat = np.concatenate(values)
    localbkg = np.zeros(len(labels))
    area = sizes.astype(float)
    area[all_masked] = np.nan
    flux = np.add.reduceat(concat, splits)
    flux -= area * localbkg
    peak = np.maximum.reduceat(concat, splits)
    peak -= localbkg
    raw = []
    for arr in moments:
        ny, nx = arr.shape
        y = np.arange(ny, dtype=float)
        x = np.arange(nx, dtype=float)
        yp = np.column_stack([np.ones(ny), y, y * y, y ** 3])
        xp = np.column_stack([np.ones(nx), x, x * x, x ** 3])
        raw.append(yp.T @ arr @ xp)
    raw = np.array(raw)
    with np.errstate(divide='ignore', invalid='ignore'):
        ycen = raw[:, 1, 0] / raw[:, 0, 0]
        xcen = raw[:, 0, 1] / raw[:, 0, 0]
    cutout_centroid = np.transpose((xcen, ycen))
    centroid = cutout_centroid + np.transpose((bbox_xmin, bbox_ymin))
    central = []
    for arr, xc0, yc0 in zip(moments, cutout_centroid[:, 0],
                             cutout_centroid[:, 1]):
        ny, nx = arr.shape
        yc = np.arange(ny, dtype=float) - yc0
        xc = np.arange(nx, dtype=float) - xc0
        yp = np.column_stack([np.ones(ny), yc, yc * yc, yc ** 3])
        xp = np.column_stack([np.ones(nx), xc, xc * xc, xc ** 3])
        central.append(yp.T @ arr @ xp)
    central = np.array(central)
    with np.errstate(divide='ignore', invalid='ignore'):
        mu_norm = central / central[:, 0, 0][:, np.newaxis, np.newaxis]
    covar = np.array([mu_norm[:, 0, 2], mu_norm[:, 1, 1],
                      mu_norm[:, 1, 1], mu_norm[:, 2, 0]]).swapaxes(0, 1)
    covar = covar.reshape((covar.shape[0], 2, 2))
    # SExtractor's prescription for "infinitely" thin detections
    delta = 1.0 / 12
    delta2 = delta ** 2
    with np.errstate(invalid='ignore'):
        covar_det = np.linalg.det(covar)
        idx = np.where(covar_det < 0)[0]
        covar[idx] = np.array([[np.nan, np.nan], [np.nan, np.nan]])
        idx = np.where(covar_det < delta2)[0]
        while idx.size > 0:
            covar[idx, 0, 0] += delta
            covar[idx, 1, 1] += delta
            covar_det = np.linalg.det(covar)
            idx = np.where(covar_det < delta2)[0]
    eigvals = np.empty((len(labels), 2))
    eigvals.fill(np.nan)
    idx = np.unique(np.where(np.isfinite(covar))[0])
    eigvals[idx] = np.linalg.eigvalsh(covar[idx])
    idx2 = np.unique(np.where(eigvals < 0)[0])
    eigvals[idx2] = (np.nan, np.nan)
    eigvals = np.fliplr(eigvals)
    with np.errstate(invalid='ignore'):
        semimajor = np.sqrt(eigvals[:, 0])
        semiminor = np.sqrt(eigvals[:, 1])
    with np.errstate(divide='ignore', invalid='ignore'):
        ellipticity = 1.0 - (semiminor / semimajor)
    orient = 0.5 * np.arctan2(2.0 * covar[:, 0, 1],
                              (covar[:, 0, 0] - covar[:, 1, 1]))
    return {'labels': np.asarray(labels),
            'x_centroid': centroid[:, 0], 'y_centroid': centroid[:, 1],
            'bbox_xmin': bbox_xmin,
            'bbox_xmax': np.array([slc[1].stop - 1 for slc in slices]),
            'bbox_ymin': bbox_ymin,
            'bbox_ymax': np.array([slc[0].stop - 1 for slc in slices]),
            'area': area, 'segment_flux': flux, 'max_value': peak,
            'semimajor_axis': semimajor, 'semiminor_axis': semiminor,
            'ellipticity': ellipticity,
            'orientation': np.rad2deg(orient) % 360}


def stack_catalogs(tables, meta=None):
    """Stack per-chip (or per-file) catalogs, keeping the standard columns
    even when every table is empty."""
    from astropy.table import vstack
    tables = [t for t in tables if len(t)]
    out = vstack(tables) if tables else empty_catalog()
    if meta:
        out.meta.update(meta)
    return out


def write_catalog(table, path, *, overwrite=True):
    """
    Write a catalog as ECSV (atomically: nothing is left on error).

    Parameters
    ----------
    table : `~astropy.table.QTable`
    path : str or path-like
    overwrite : bool
        Replace an existing file (default).
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise AcsFlecksError('catalog exists (overwrite=False)', path=path)
    write_ecsv(table, path)
    return path


def read_catalog(path):
    """Read an artifact catalog (ECSV) written by `write_catalog`; needs at
    least ``ccdchip``, ``x`` and ``y``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AcsFlecksError('no such catalog', path=path)
    from astropy.table import QTable
    try:
        table = QTable.read(path, format='ascii.ecsv')
    except Exception as exc:  # astropy raises many types on bad ECSV
        raise AcsFlecksError(f'not a readable ECSV catalog ({exc})',
                             path=path) from None
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in table.colnames]
    if missing:
        raise AcsFlecksError(f'catalog lacks column(s) {missing}', path=path)
    return table


def _plain(col):
    return np.asarray(getattr(col, 'value', col), dtype=float)


def match_known(catalog, known, *, radius=5.0):
    """
    Which artifacts of ``catalog`` are in ``known`` (same chip, centroids
    within ``radius`` pixels).

    Returns
    -------
    `~numpy.ndarray` of bool
        True for known artifacts, False for new ones.
    """
    result = np.zeros(len(catalog), dtype=bool)
    if len(catalog) == 0 or known is None or len(known) == 0:
        return result
    cx, cy = _plain(catalog['x']), _plain(catalog['y'])
    kx, ky = _plain(known['x']), _plain(known['y'])
    kchip = np.asarray(known['ccdchip'], dtype=int)
    for i, chip in enumerate(np.asarray(catalog['ccdchip'], dtype=int)):
        sel = kchip == chip
        if sel.any():
            d2 = (kx[sel] - cx[i]) ** 2 + (ky[sel] - cy[i]) ** 2
            result[i] = d2.min() <= radius ** 2
    return result


def write_ds9_regions(catalog, path, *, ltv=None):
    """
    Write a DS9 region file: one ellipse per artifact in *image*
    coordinates (DS9's 1-indexed convention, the same as the catalog's),
    labelled with the chip and row number and tagged with the chip name.

    DS9 shows one extension at a time: load the file on ``[SCI,1]``
    (WFC2) or ``[SCI,2]`` (WFC1) and select the tag of that chip.

    Parameters
    ----------
    catalog : `~astropy.table.QTable`
    path : str or path-like
    ltv : dict, optional
        CCDCHIP -> (LTV1, LTV2) of the displayed image (default:
        ``catalog.meta['ltv']`` or zero, i.e. full-frame data).
    """
    if ltv is None:
        ltv = catalog.meta.get('ltv', {}) if hasattr(catalog, 'meta') else {}
    lines = ['# Region file format: DS9 version 4.1',
             f'# acs_flecks find: {catalog.meta.get("source_file", "")}',
             'global color=red width=2 font="helvetica 10 normal"',
             'image']
    known = catalog['known'] if 'known' in catalog.colnames else None
    for i, row in enumerate(catalog):
        chip = int(row['ccdchip'])
        off = ltv.get(chip, ltv.get(str(chip), (0.0, 0.0)))
        x, y = chip_to_image(_plain(row['x']), _plain(row['y']), off)
        a = max(float(_plain(row['semimajor_sigma'])) * 2.0, 1.0)
        b = max(float(_plain(row['semiminor_sigma'])) * 2.0, 1.0)
        theta = float(_plain(row['orientation']))
        color = ''
        if known is not None:
            color = ' color=green' if known[i] else ' color=red'
        lines.append(f'ellipse({x:.2f},{y:.2f},{a:.2f},{b:.2f},{theta:.1f})'
                     f' # text={{{chip_name(chip)} #{i + 1}}} '
                     f'tag={{{chip_name(chip)}}}{color}')
    with atomic_output(path) as tmp:
        with open(tmp, 'w') as fh:
            fh.write('\n'.join(lines) + '\n')
    return os.fspath(path)
