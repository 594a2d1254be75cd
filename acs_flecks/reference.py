"""
Find a reference file: an explicit path, ``jref$name``, a CRDS cache, or
the CRDS server.

Order of lookup (CONVENTIONS §4):

1. an existing path;
2. ``jref$name`` through the ``jref`` environment variable
   (`acstools.utils_calib.from_irafpath`);
3. ``crds.locate_file(name, 'hst')`` if that file exists in the CRDS cache
   (``CRDS_PATH``);
4. ``crds.getreferences`` on the image header, which downloads into
   ``CRDS_PATH``.  With no server reachable CRDS logs a FATAL line and
   raises `SystemExit`; that becomes a
   `~acs_flecks.exceptions.CRDSLookupError`.

``auto`` means the ``BPIXTAB`` named in an input image's primary header.

>>> from acs_flecks.reference import resolve_reference       # doctest: +SKIP
>>> resolve_reference('auto', image='jbt122x8q_flc.fits')    # doctest: +SKIP
PosixPath('/grp/crds/cache/references/hst/25g1256nj_bpx.fits')
"""

import contextlib
import io
import logging
import os
import pathlib
import warnings

from astropy.io import fits

from .exceptions import AcsFlecksError, CRDSLookupError, ReferenceFileError

__all__ = ['resolve_reference', 'reference_name_from_image', 'split_iraf_path',
           'image_in_force']

log = logging.getLogger(__name__)


def split_iraf_path(name):
    """
    Split ``'jref$x_bpx.fits'`` into ``('jref', 'x_bpx.fits')``.

    Returns ``(None, name)`` when ``name`` has no IRAF prefix.

    >>> split_iraf_path('jref$25g1256nj_bpx.fits')
    ('jref', '25g1256nj_bpx.fits')
    >>> split_iraf_path('/data/x_bpx.fits')
    (None, '/data/x_bpx.fits')
    """
    name = str(name).strip()
    prefix, sep, rest = name.partition('$')
    if sep and prefix and '/' not in prefix and rest:
        return prefix, rest
    return None, name


def _from_irafpath(name):
    """acstools' resolver, or the same rule if acstools is unusable."""
    # Importing acstools calls logging.basicConfig(), which would send every
    # library's INFO records (Dask's included) to stderr: undo it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with warnings.catch_warnings():
            # acstools warns at import about optional dependencies
            warnings.simplefilter('ignore')
            from acstools.utils_calib import from_irafpath
    except Exception:  # pragma: no cover - acstools is a dependency
        from_irafpath = None
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    if from_irafpath is not None:
        try:
            return from_irafpath(name)
        except ValueError as exc:
            raise CRDSLookupError(str(exc)) from None
    prefix, rest = split_iraf_path(name)  # pragma: no cover
    if prefix not in os.environ:  # pragma: no cover
        raise CRDSLookupError(f'{prefix} environment variable undefined')
    return os.path.join(os.environ[prefix], rest)  # pragma: no cover


def reference_name_from_image(image, keyword='BPIXTAB', *,
                              option='--reference'):
    """
    The reference file an image names in its primary header.

    Parameters
    ----------
    image : str or path-like
        An ACS FITS file.
    keyword : str, optional
        The header keyword (``BPIXTAB``).

    Returns
    -------
    name : str
        E.g. ``'jref$25g1256nj_bpx.fits'``.
    header : `~astropy.io.fits.Header`
        The primary header (for a CRDS lookup).
    """
    image = os.fspath(image)
    if not os.path.isfile(image):
        raise AcsFlecksError('no such image to take the reference from',
                             path=image)
    try:
        header = fits.getheader(image, 0)
    except (OSError, ValueError) as exc:
        raise AcsFlecksError(f'not a readable FITS file ({exc})',
                             path=image) from None
    name = str(header.get(keyword, '')).strip()
    if not name or name.upper() in ('N/A', 'NONE'):
        raise AcsFlecksError(f'the header has no {keyword} to use with '
                             f'{option} auto', path=image)
    return name, header


def _crds_locate(basename):
    """Path of ``basename`` in the CRDS cache, or None."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import crds
            path = crds.locate_file(basename, 'hst')
    except (Exception, SystemExit) as exc:  # crds raises many error types
        log.debug('crds.locate_file(%r) failed: %s', basename, exc)
        return None
    return path if path and os.path.isfile(path) else None


def _crds_getreferences(header, reftype, option='--reference'):
    """Download the best reference for ``header`` through CRDS."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import crds
    except Exception as exc:  # pragma: no cover - crds is a dependency
        raise CRDSLookupError(f'crds is not usable: {exc}') from None
    hdr = {k: v for k, v in header.items()
           if k and k not in ('HISTORY', 'COMMENT')}
    server = os.environ.get('CRDS_SERVER_URL', 'the default CRDS server')
    crds_log = logging.getLogger('CRDS')
    level = crds_log.level
    try:
        crds_log.setLevel(logging.CRITICAL + 1)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            refs = crds.getreferences(hdr, reftypes=[reftype],
                                      observatory='hst')
    except SystemExit:
        # crds logs FATAL and exits when no server is reachable
        raise CRDSLookupError(
            f'CRDS could not provide the {reftype.upper()}: no CRDS server '
            f'reachable at {server} and the file is not in the CRDS cache '
            f'(CRDS_PATH={os.environ.get("CRDS_PATH", "unset")}); give '
            f'{option} PATH or set jref') from None
    except Exception as exc:  # crds.CrdsError and friends
        raise CRDSLookupError(f'CRDS lookup of {reftype.upper()} failed: '
                              f'{str(exc).splitlines()[0] if str(exc) else exc}'
                              ) from None
    finally:
        crds_log.setLevel(level)
    path = refs.get(reftype) or refs.get(reftype.lower())
    if not path or not os.path.isfile(path) or path.upper().startswith(
            'NOT FOUND'):
        raise CRDSLookupError(f'CRDS returned no {reftype.upper()} '
                              f'({path!r})')
    return path


def image_in_force(images, *, date_of_origin=None):
    """
    The input whose header names the reference in force for ``--reference
    auto``: the first image observed at or after ``date_of_origin`` (by
    observation time, not file name), else the latest image.

    Parameters
    ----------
    images : list of str, path-like or `~acs_flecks.io.ACSImage`
    date_of_origin : str or `~astropy.time.Time`, optional

    Returns
    -------
    image : str
        Its path.
    why : str
        One line saying which and why (for the output).
    """
    from astropy.time import Time

    from .io import ACSImage
    imgs = sorted((im if isinstance(im, ACSImage) else ACSImage(
        im, require_arrays=False) for im in images),
        key=lambda im: (im.obs_time.mjd, im.path))
    if not imgs:
        raise AcsFlecksError('--reference auto needs an input image')
    if date_of_origin is not None:
        t0 = (date_of_origin if isinstance(date_of_origin, Time)
              else Time(str(date_of_origin)))
        after = [im for im in imgs if im.obs_time.mjd >= t0.mjd]
        if after:
            im = after[0]
            return im.path, (f'{im.name} (observed {im.obs_time.isot[:10]}, '
                             f'the first input at/after the date of origin '
                             f'{t0.isot[:10]})')
    im = imgs[-1]
    return im.path, (f'{im.name} (observed {im.obs_time.isot[:10]}, the '
                     'latest input)')


def resolve_reference(spec, *, image=None, reftype='bpixtab',
                      option='--reference'):
    """
    Resolve a reference file to a local path.

    Parameters
    ----------
    spec : str or path-like
        A path, ``'jref$name'``, a bare file name (looked up in the CRDS
        cache), or ``'auto'`` (the ``reftype`` keyword of ``image``).
    image : str or path-like, optional
        An input image: needed for ``'auto'``; its header also lets CRDS
        choose the file when it is not cached.
    reftype : str, optional
        The reference type keyword (``'bpixtab'``).
    option : str, optional
        How the caller names the parameter in its messages (the command
        line's ``'--reference'``, the TEAL key ``'reference'``).

    Returns
    -------
    pathlib.Path
        An existing file.

    Raises
    ------
    acs_flecks.exceptions.CRDSLookupError
        Not found anywhere, or no CRDS server (never `SystemExit`).
    acs_flecks.exceptions.AcsFlecksError
        ``'auto'`` without an image or with an image naming no file.
    """
    spec = os.fspath(spec) if not isinstance(spec, str) else spec.strip()
    header = None
    if spec.lower() == 'auto':
        if image is None:
            raise AcsFlecksError(f'{option} auto needs an input image whose '
                                 f'header names the {reftype.upper()}')
        spec, header = reference_name_from_image(image, reftype.upper(),
                                                 option=option)
        log.info('%s names %s = %s', os.path.basename(os.fspath(image)),
                 reftype.upper(), spec)
    elif image is not None:
        try:
            header = fits.getheader(os.fspath(image), 0)
        except (OSError, ValueError):
            header = None
    if os.path.isfile(spec):
        return pathlib.Path(spec)
    prefix, basename = split_iraf_path(spec)
    tried = []
    if prefix is not None:
        if prefix in os.environ:
            path = _from_irafpath(spec)
            if os.path.isfile(path):
                return pathlib.Path(path)
            tried.append(f'${prefix} -> {path} (no such file)')
        else:
            tried.append(f'${prefix} is not set')
    elif os.sep in spec:
        raise ReferenceFileError('no such reference file', path=spec)
    cached = _crds_locate(os.path.basename(basename))
    if cached:
        return pathlib.Path(cached)
    tried.append('not in the CRDS cache '
                 f'(CRDS_PATH={os.environ.get("CRDS_PATH", "unset")})')
    if header is None:
        raise CRDSLookupError(f'cannot find {spec}: ' + '; '.join(tried)
                              + '; give an input image for a CRDS lookup or a'
                              ' path')
    path = _crds_getreferences(header, reftype.lower(), option)
    return pathlib.Path(path)
