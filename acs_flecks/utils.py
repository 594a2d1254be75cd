"""
Small shared helpers: atomic output files.

Every file this package writes goes to a temporary file in the destination
directory and is renamed into place only when complete, so a crash never
leaves a half-written catalog or bad-pixel table.
"""

import contextlib
import os
import tempfile

from .exceptions import AcsFlecksError

__all__ = ['atomic_output', 'check_output_path', 'write_ecsv']


def check_output_path(path, *, inputs=(), overwrite=True):
    """
    Refuse an output path that would clobber an input or is unwritable.

    Parameters
    ----------
    path : str or path-like
        The output file.
    inputs : iterable of path-like
        Input files that must never be overwritten.
    overwrite : bool
        If `False`, an existing ``path`` is an error.
    """
    path = os.fspath(path)
    real = os.path.realpath(path)
    for inp in inputs:
        if inp is not None and os.path.exists(os.fspath(inp)) and \
                os.path.realpath(os.fspath(inp)) == real:
            raise AcsFlecksError('output path is an input file; refusing to '
                                 'overwrite it', path=path)
    if not overwrite and os.path.exists(path):
        raise AcsFlecksError('output file exists (use --overwrite)', path=path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise AcsFlecksError(f'output directory {parent} does not exist',
                             path=path)
    return path


@contextlib.contextmanager
def atomic_output(path, *, suffix=None):
    """
    Context manager yielding a temporary path that is renamed to ``path``.

    The temporary file lives in the same directory (so the rename is atomic)
    and is removed if the block raises.

    >>> from acs_flecks.utils import atomic_output
    >>> with atomic_output('out.ecsv') as tmp:        # doctest: +SKIP
    ...     table.write(tmp, format='ascii.ecsv')
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    if suffix is None:
        suffix = ''.join(os.path.basename(path).partition('.')[1:]) or '.tmp'
        suffix = '.' + suffix.lstrip('.') if suffix else '.tmp'
    fd, tmp = tempfile.mkstemp(prefix='.tmp_acs_flecks_', suffix=suffix,
                               dir=directory)
    os.close(fd)
    os.unlink(tmp)  # writers (astropy) refuse to overwrite an existing file
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_ecsv(table, path):
    """
    Write an astropy table as ECSV, atomically (see `atomic_output`).

    Parameters
    ----------
    table : `~astropy.table.Table` or `~astropy.table.QTable`
        The table (units and metadata are kept).
    path : str or path-like
        The output file.

    Returns
    -------
    str
        ``path``.
    """
    with atomic_output(path) as tmp:
        table.write(tmp, format='ascii.ecsv')
    return os.fspath(path)
