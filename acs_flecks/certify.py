"""
Certify a bad-pixel table before delivery (report §8).

Runs, offline, what CRDS checks and what CALACS does not:

* the CRDS validators for ACS ``bpx`` (``crds.certify.validators``): header
  keywords (INSTRUME, DETECTOR, FILETYPE, USEAFTER, PEDIGREE) and column
  values (CCDCHIP, CCDAMP, CCDGAIN);
* astropy's FITS verification (``verify('exception')``);
* the package's own checks: required columns (and CCDAMP/CCDGAIN, without
  which CALACS 10.5 crashes), CCDCHIP values, AXIS in {1, 2}, LENGTH > 0,
  every run inside the chip, no duplicate rows, the DETECTOR of the flecks;
* with a reference table: every reference row kept, and a **pixel-level
  difference** after expanding both tables as CALACS does
  (`~acs_flecks.bpixtab.expand_bpixtab`): per chip and flag, the pixels
  that gain or lose it.  It fails when a pixel loses a flag, when a flag
  other than the requested one is gained, when pixels are flagged far from
  every fleck, or when an implausible number of pixels changes (the 2017
  delivery of the flecks used VALUE 1024 instead of 4, hstcal #373; CRDS
  then added a check for massive pixel changes).

>>> from acs_flecks.certify import certify_bpixtab           # doctest: +SKIP
>>> result = certify_bpixtab('new_bpx.fits', reference='old_bpx.fits',
...                          flecks=flecks)                 # doctest: +SKIP
>>> result.passed                                            # doctest: +SKIP
True
>>> print(result.report())                                   # doctest: +SKIP
"""

import contextlib
import io
import logging
import os
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from scipy.spatial import cKDTree

from .bpixtab import (DQ_BAD_PIXEL, REQUIRED_COLUMNS, BpixtabFile,
                      bpixtab_row_warnings, check_bpixtab_rows, check_new_rows,
                      expand_bpixtab, read_bpixtab)
from .bpixtab.table import _check_readable
from .coords import CHIP_SHAPES, DETECTOR_CHIPS
from .exceptions import AcsFlecksError, CertificationError

__all__ = ['Check', 'CertificationResult', 'certify_bpixtab',
           'crds_validate', 'pixel_difference']

log = logging.getLogger(__name__)

PASS, FAIL, SKIP, WARN = 'pass', 'FAIL', 'not run', 'warn'


@dataclass
class Check:
    """One certification check: ``name``, ``status`` ('pass', 'FAIL',
    'warn' -- valid but worth a look, 'not run' -- the check needs input
    that was not given) and a one-line ``message``."""

    name: str
    status: str
    message: str

    @property
    def passed(self):
        """`True` unless the check failed."""
        return self.status != FAIL


@dataclass
class CertificationResult:
    """
    The outcome of `certify_bpixtab`.

    Attributes
    ----------
    path : str
        The certified file.
    checks : list of `Check`
        Every check, in order.
    difference : `~astropy.table.QTable` or None
        Per chip and flag: ``n_gained``, ``n_lost`` pixels against the
        reference (`None` without a reference).
    gained_pixels : `~astropy.table.QTable` or None
        ``ccdchip``, ``x``, ``y``, ``flag`` of every pixel gaining a flag,
        and ``distance`` to the nearest fleck (NaN without flecks).
    """

    path: str
    checks: list = field(default_factory=list)
    difference: QTable = None
    gained_pixels: QTable = None

    @property
    def passed(self):
        """`True` if no check failed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self):
        """The failed checks."""
        return [c for c in self.checks if not c.passed]

    def add(self, name, ok, message):
        """Add a check: ``ok`` `True` (pass), `False` (FAIL), `None` (not
        run) or ``'warn'``."""
        status = SKIP if ok is None else WARN if ok == WARN else \
            (PASS if ok else FAIL)
        self.checks.append(Check(name, status, message))

    def to_table(self):
        """The checks as a `~astropy.table.QTable` (name, status, message)."""
        return QTable(rows=[(c.name, c.status, c.message) for c in self.checks],
                      names=('check', 'status', 'message'),
                      dtype=(str, str, str))

    def raise_if_failed(self):
        """Raise `~acs_flecks.exceptions.CertificationError` on failure."""
        if not self.passed:
            raise CertificationError(
                'failed certification: ' + '; '.join(
                    f'{c.name}: {c.message}' for c in self.failures),
                path=self.path)

    def report(self):
        """Human-readable text: each check, then the pixel difference."""
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        lines = [f'certify {self.path}']
        for c in self.checks:
            lines.append(f'  [{c.status:7s}] {c.name:{width}s}  {c.message}')
        if self.difference is not None:
            lines.append('  pixel difference against the reference '
                         '(expanded as CALACS does):')
            if len(self.difference) == 0:
                lines.append('    no pixel changes')
            for row in self.difference:
                lines.append(f'    CCDCHIP={row["ccdchip"]:>4d} flag '
                             f'{row["flag"]:>5d}: +{row["n_gained"]} gained, '
                             f'-{row["n_lost"]} lost')
        lines.append('PASSED' if self.passed else
                     f'FAILED ({len(self.failures)} check(s))')
        return '\n'.join(lines)


@contextlib.contextmanager
def _without_crds_gc():
    """Skip CRDS's gc.collect() around each file access: in a process with
    many live objects (pytest, a pipeline) it costs far more than the
    validation of a bad-pixel table."""
    key = 'CRDS_EXPLICIT_GARBAGE_COLLECTION'
    old = os.environ.get(key)
    os.environ[key] = 'false'
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def crds_validate(path, *, expect=('acs', 'bpixtab')):
    """
    Run the CRDS certify validators for the file's instrument and type.

    Parameters
    ----------
    path : str or path-like
        The reference file.
    expect : tuple of str, optional
        The (instrument, reference type) the file must be, as CRDS reads
        them from its header.

    Returns
    -------
    list of str
        One message per failed validator (empty if all pass).
    """
    # crds logs through its own logger at import and use; keep it quiet
    with contextlib.redirect_stdout(io.StringIO()):
        import crds.data_file
        from crds.certify import validators
    from crds.hst import locate
    path = os.fspath(path)
    with _without_crds_gc(), _uncompressed(path) as plain:
        return _crds_validate(plain, expect, validators, locate)


_MAGIC = {b'\x1f\x8b': 'gzip', b'BZh': 'bzip2', b'PK\x03\x04': 'zip'}


def _compression(path):
    """'gzip', 'bzip2', 'zip' (the compressions astropy reads) or `None`."""
    with open(path, 'rb') as f:
        head = f.read(4)
    return next((kind for magic, kind in _MAGIC.items()
                 if head.startswith(magic)), None)


@contextlib.contextmanager
def _uncompressed(path):
    """
    Yield ``path``, or for a compressed FITS file (``.fits.gz``, ...) the
    path of a decompressed copy in a temporary directory, removed after.

    astropy reads compressed files transparently; the CRDS validators read
    the bytes as text and fail on them ('utf-8' codec can't decode...).
    """
    kind = _compression(path)
    if kind is None:
        yield path
        return
    import bz2
    import gzip
    import shutil
    import tempfile
    import zipfile
    name = os.path.basename(path)
    for suffix in ('.gz', '.bz2', '.zip'):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    with tempfile.TemporaryDirectory(prefix='acs_flecks_certify_') as tmp:
        plain = os.path.join(tmp, name)
        if kind == 'zip':
            with zipfile.ZipFile(path) as zf, \
                    zf.open(zf.infolist()[0]) as src, open(plain, 'wb') as dst:
                shutil.copyfileobj(src, dst)
        else:
            opener = gzip.open if kind == 'gzip' else bz2.open
            with opener(path, 'rb') as src, open(plain, 'wb') as dst:
                shutil.copyfileobj(src, dst)
        yield plain


def _crds_validate(path, expect, validators, locate):
    import crds.data_file
    errors = []
    try:
        header = crds.data_file.get_header(path)
        vals = validators.get_validators('hst', path)
        # CRDS guesses the instrument from legacy-style names first (a file
        # named 'zero_bpx.fits' is taken for STIS); the header decides here
        instrument, filekind = locate.ref_properties_from_header(path)[2:4]
        if (instrument, filekind) != locate.get_file_properties(path):
            vals = [validators.validator(info) for info in
                    locate.get_all_tpninfos(instrument, filekind, 'tpn')]
    except Exception as exc:  # crds raises many types; report them all
        return [f'CRDS could not read the file: {exc}']
    if expect and (instrument, filekind) != tuple(expect):
        errors.append(f'INSTRUME/FILETYPE: CRDS reads the header as '
                      f'{instrument} {filekind}, not {" ".join(expect)}')
    if not vals:
        return ['CRDS has no validators for this file (not an ACS bpx?)']
    for v in vals:
        try:
            v.check(path, header)
        except Exception as exc:  # each validator raises its own errors
            errors.append(f'{v.name}: {exc}')
    return errors


def _expand(table, chip, shape):
    return expand_bpixtab(table, ccdchip=chip, shape=shape)


def _fleck_positions(flecks):
    """{ccdchip: (x array, y array)} of fleck or pixel positions."""
    if flecks is None:
        return None
    names = {n.lower(): n for n in flecks.colnames}
    for xk, yk in (('x', 'y'), ('x_centroid', 'y_centroid'),
                   ('xcentroid', 'ycentroid')):
        if xk in names and yk in names and 'ccdchip' in names:
            break
    else:
        raise AcsFlecksError('fleck table needs columns ccdchip and x, y '
                             f'(has {", ".join(flecks.colnames)})')

    def values(name):
        col = flecks[names[name]]
        return np.asarray(getattr(col, 'value', col), float)
    chips = values('ccdchip').astype(int)
    x, y = values(xk), values(yk)
    return {int(c): (x[chips == c], y[chips == c]) for c in np.unique(chips)}


def pixel_difference(new, reference, *, detector='WFC', flecks=None):
    """
    Pixels that gain or lose each DQ flag between two bad-pixel tables.

    Both tables are expanded per chip as CALACS does (the union over
    amplifiers and gains).

    Parameters
    ----------
    new, reference : `~astropy.table.Table` or `~acs_flecks.bpixtab.BpixtabFile`
        The tables.
    detector : str, optional
        Detector (chips and shape).
    flecks : `~astropy.table.Table`, optional
        ``ccdchip``, ``x``, ``y`` of the flecks (or their pixels): the
        distance of each gained pixel to the nearest is reported.

    Returns
    -------
    difference : `~astropy.table.QTable`
        ``ccdchip``, ``flag``, ``n_gained``, ``n_lost`` (rows with changes).
    gained : `~astropy.table.QTable`
        ``ccdchip``, ``x``, ``y`` (1-indexed), ``flag``, ``distance`` (pix).
    """
    shape = CHIP_SHAPES[detector]
    positions = _fleck_positions(flecks)
    diff_rows = []
    gained_cols = {k: [] for k in ('ccdchip', 'x', 'y', 'flag', 'distance')}
    for chip in DETECTOR_CHIPS[detector]:
        old = _expand(reference, chip, shape)
        cur = _expand(new, chip, shape)
        gained = cur & ~old
        lost = old & ~cur
        # which bits change at all (one pass), then count only those
        present = int(np.bitwise_or.reduce(gained.ravel())
                      | np.bitwise_or.reduce(lost.ravel()))
        for bit in range(16):
            flag = np.uint16(1 << bit)
            if not present & int(flag):
                continue
            g = (gained & flag) != 0
            lo = (lost & flag) != 0
            ng, nl = int(g.sum()), int(lo.sum())
            if ng or nl:
                diff_rows.append((chip, int(flag), ng, nl))
            if ng:
                rows, cols = np.nonzero(g)
                x, y = cols + 1, rows + 1   # inverse of coords.pixel_to_index
                dist = np.full(x.size, np.nan)
                if positions is not None:
                    fx, fy = positions.get(chip, (np.zeros(0), np.zeros(0)))
                    if fx.size:
                        tree = cKDTree(np.column_stack([fx, fy]))
                        dist, _ = tree.query(np.column_stack([x, y]))
                    else:
                        dist = np.full(x.size, np.inf)
                gained_cols['ccdchip'].append(np.full(x.size, chip))
                gained_cols['x'].append(x)
                gained_cols['y'].append(y)
                gained_cols['flag'].append(np.full(x.size, int(flag)))
                gained_cols['distance'].append(dist)
    difference = QTable(rows=diff_rows or None,
                        names=('ccdchip', 'flag', 'n_gained', 'n_lost'),
                        dtype=(int, int, int, int))
    gained = QTable({k: (np.concatenate(v) if v else np.zeros(0))
                     for k, v in gained_cols.items()})
    for k in ('ccdchip', 'x', 'y', 'flag'):
        gained[k] = np.asarray(gained[k], int)
    gained['distance'] = np.asarray(gained['distance'], float) * u.pix
    return difference, gained


def _check_options(*, value, max_distance, max_new_pixels):
    """Refuse limits that would make a check pass by construction (NaN
    distances compare False) or fail by construction."""
    try:
        d = float(max_distance)
    except (TypeError, ValueError):
        d = float('nan')
    if not (np.isfinite(d) and d > 0):
        raise AcsFlecksError(f'max_distance (--max-distance) must be a '
                             f'positive number of pixels, got {max_distance!r}')
    if isinstance(max_new_pixels, bool) or not isinstance(
            max_new_pixels, (int, np.integer)) or max_new_pixels < 0:
        raise AcsFlecksError(f'max_new_pixels (--max-new-pixels) must be a '
                             f'whole number >= 0, got {max_new_pixels!r}')
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 < int(value) <= 32767:
        raise AcsFlecksError(f'value (--value) must be a DQ flag in 1..32767 '
                             f'(e.g. 4), got {value!r}')


def certify_bpixtab(path, *, reference=None, flecks=None, value=DQ_BAD_PIXEL,
                    detector=None, max_distance=30.0, max_new_pixels=10000):
    """
    Certify a bad-pixel table.

    Parameters
    ----------
    path : str or path-like
        The table to certify.
    reference : str, path-like or `~acs_flecks.bpixtab.BpixtabFile`, optional
        The table it replaces: enables the row and pixel-level comparisons.
    flecks : `~astropy.table.Table`, optional
        ``ccdchip``, ``x``, ``y`` of the flecks or of their bad pixels;
        enables the distance check.
    value : int, optional
        The only flag the new table may add (4).
    detector : str, optional
        Expected DETECTOR (that of the flecks, 'WFC').
    max_distance : float, optional
        Largest distance (pixels) of a newly flagged pixel from the
        nearest fleck position.
    max_new_pixels : int, optional
        More newly flagged pixels than this fails (massive change).

    Returns
    -------
    CertificationResult
        Use ``.passed``, ``.report()`` or ``.raise_if_failed()``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        The file (or the reference) does not exist, is not FITS or is
        truncated.
    """
    _check_options(value=value, max_distance=max_distance,
                   max_new_pixels=max_new_pixels)
    if detector is not None and str(detector).upper() not in CHIP_SHAPES:
        raise AcsFlecksError(f'detector (--detector) must be one of '
                             f'{", ".join(CHIP_SHAPES)}, got {detector!r}')
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AcsFlecksError('no such file to certify', path=path)
    # a file that is not FITS at all, or is truncated, is bad input (one
    # line, exit 2), not a certification result
    _check_readable(path, AcsFlecksError)
    result = CertificationResult(path=path)

    # 1. FITS standard
    try:
        with fits.open(path, memmap=False) as hdul:
            hdul.verify('exception')
        result.add('fits_verify', True, 'astropy verify("exception") passed')
    except Exception as exc:  # astropy raises VerifyError, OSError, ...
        result.add('fits_verify', False, f'astropy verify: {exc}')
        return result

    # 2. CRDS validators (offline)
    errors = crds_validate(path)
    result.add('crds_validators', not errors,
               '; '.join(errors) if errors else 'CRDS ACS bpx validators passed')

    # 3. own checks
    try:
        new = read_bpixtab(path, check=False)
    except AcsFlecksError as exc:
        result.add('columns', False, exc.problem)
        return result
    table = new.table
    optional = [c for c in ('CCDAMP', 'CCDGAIN') if c not in table.colnames]
    result.add('columns', not optional,
               f'missing {", ".join(optional)} (CALACS 10.5 crashes without '
               'CCDGAIN)' if optional else
               f'{", ".join(REQUIRED_COLUMNS)}, CCDAMP, CCDGAIN present')
    det = new.detector
    if detector is not None:
        result.add('detector', det == detector.upper(),
                   f'DETECTOR={det}, flecks on {detector.upper()}')
    else:
        detector = det
    ref = None
    if reference is not None:
        ref = reference if isinstance(reference, BpixtabFile) else \
            read_bpixtab(reference, check=False)
    # Rows CALACS cannot apply as written fail.  Rows it clips or ignores
    # are valid in a reference (kept as they are: a warning), but rows this
    # table adds to its reference must lie on the chip.
    problems = check_bpixtab_rows(table, detector=det)
    n_ref = len(ref.table) if ref is not None and ref.detector == det and \
        len(table) >= len(ref.table) else len(table)
    warn = bpixtab_row_warnings(table[:n_ref], detector=det)
    added = check_new_rows(table[n_ref:], detector=det, offset=n_ref) \
        if n_ref < len(table) else []
    for name in ('axis', 'length', 'value', 'ccdchip', 'on_chip'):
        fail = problems.of(name) + (added.of(name) if added else [])
        soft = warn.of(name)
        if fail:
            result.add(name, False, '; '.join(fail))
        elif soft:
            what = 'reference row(s)' if ref is not None else 'row(s)'
            result.add(name, WARN, f'{what} CALACS accepts: '
                       + '; '.join(soft))
        else:
            result.add(name, True, 'ok')
    ndup = _n_duplicates(table)
    if ndup and ref is not None and len(table) >= len(ref.table):
        # duplicates the reference already had are kept on purpose (every
        # original row is kept); only duplicates the new rows add count
        inherited = _n_duplicates(ref.table)
        extra = ndup - inherited
        result.add('duplicates', extra <= 0,
                   f'{extra} duplicate row(s) added' if extra > 0 else
                   f'{ndup} duplicate row(s), all inherited from the '
                   'reference')
    else:
        result.add('duplicates', ndup == 0,
                   f'{ndup} duplicate row(s)' if ndup else
                   'no duplicate rows')
    if problems or added:
        # rows CALACS rejects cannot be expanded: stop before the difference
        return result

    # 4. against the reference
    if ref is None:
        result.add('reference_rows', None, 'no reference given')
        return result
    result.add('reference_detector', ref.detector == det,
               f'reference DETECTOR={ref.detector}, new DETECTOR={det}')
    if ref.detector != det:
        return result
    kept = _rows_kept(ref.table, table)
    result.add('reference_rows', kept is True,
               f'all {len(ref.table)} reference rows kept unchanged'
               if kept is True else kept)
    try:
        difference, gained = pixel_difference(table, ref.table, detector=det,
                                              flecks=flecks)
    except AcsFlecksError as exc:
        result.add('pixel_difference', False, exc.problem)
        return result
    result.difference = difference
    result.gained_pixels = gained
    n_lost = int(difference['n_lost'].sum()) if len(difference) else 0
    result.add('no_lost_flags', n_lost == 0,
               f'{n_lost} pixel flag(s) lost' if n_lost else
               'no pixel loses a flag')
    other = sorted(set(int(f) for f in gained['flag']) - {
        1 << b for b in range(16) if int(value) & (1 << b)})
    result.add('only_requested_value', not other,
               f'flags {other} gained, only {value} requested' if other else
               f'only flag {value} gained')
    n_new = len(set(zip(gained['ccdchip'].tolist(), gained['x'].tolist(),
                        gained['y'].tolist())))
    result.add('massive_change', n_new <= max_new_pixels,
               f'{n_new} pixel(s) newly flagged (limit {max_new_pixels})')
    if flecks is None:
        result.add('near_flecks', None, 'not run: no fleck positions given '
                   '(--flecks); new flags were not checked against them')
    else:
        dist = gained['distance'].to_value(u.pix)
        far = dist > max_distance
        if far.any():
            i = np.flatnonzero(far)[0]
            result.add('near_flecks', False,
                       f'{int(far.sum())} newly flagged pixel(s) farther than '
                       f'{max_distance:g} pix from every fleck (first: '
                       f'CCDCHIP={gained["ccdchip"][i]} (x, y) = '
                       f'({gained["x"][i]}, {gained["y"][i]}))')
        else:
            result.add('near_flecks', True,
                       f'every new pixel within {max_distance:g} pix of a '
                       'fleck')
    return result


def _n_duplicates(table):
    """Number of rows identical to an earlier row."""
    if len(table) == 0:
        return 0
    _, counts = np.unique(np.asarray(table.as_array()), return_counts=True)
    return int((counts - 1).sum())


def _rows_kept(ref, new):
    """`True` if the first rows of ``new`` equal ``ref`` row by row, else a
    message naming the first difference."""
    if len(new) < len(ref):
        return f'{len(ref) - len(new)} reference row(s) missing'
    for name in ref.colnames:
        if name not in new.colnames:
            return f'reference column {name} missing'
        a = np.asarray(ref[name])
        b = np.asarray(new[name][:len(ref)])
        if a.dtype.kind in 'SU' or b.dtype.kind in 'SU':
            a = np.char.rstrip(a.astype(str))
            b = np.char.rstrip(b.astype(str))
        neq = np.flatnonzero(a != b)
        if neq.size:
            return (f'reference row {neq[0] + 1} changed in column {name} '
                    f'({a[neq[0]]!r} -> {b[neq[0]]!r})')
    return True
