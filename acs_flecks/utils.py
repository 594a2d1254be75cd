"""
Small shared helpers: the output-path guard and atomic output files.

Every file this package writes goes to a temporary file in the destination
directory and is renamed into place only when complete, so a crash never
leaves a half-written catalog or bad-pixel table.  The temporary file has a
hidden name that cannot be mistaken for an output::

    .<output name>.acs_flecks-<pid>-<random>.part

and a later write of the same output removes such files left by a process
that no longer runs (a ``kill -9``); nothing else is ever removed.

`check_output_path` (one file) and `OutputGuard` (every output of one run)
refuse, before any work, an output that is an input, the history database,
a reference or another output of the same run, a directory, a name longer
than the file system allows, or a file in a missing or unwritable
directory.
"""

import contextlib
import errno
import os
import re
import secrets

from .exceptions import AcsFlecksError

__all__ = ['atomic_output', 'check_output_path', 'write_ecsv',
           'OutputGuard', 'check_output_directory', 'temporary_name',
           'remove_stale_temporaries', 'TEMP_TAG', 'TEMP_SUFFIX']

#: Marker in the name of every temporary file (see `temporary_name`).
TEMP_TAG = '.acs_flecks-'

#: Suffix of every temporary file: never ``.fits``/``.ecsv``/``.png``.
TEMP_SUFFIX = '.part'

#: Errors of the file system while writing that a user can fix (full disk,
#: read-only, permissions, name too long): one line instead of a traceback.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS,
                 errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.EIO,
                 errno.ENOENT, errno.ENOTDIR, errno.EISDIR}

#: Temporary files of this process being written now (not stale).
_ACTIVE = set()


def _name_max(directory):
    try:
        return os.pathconf(directory, 'PC_NAME_MAX')
    except (OSError, ValueError, AttributeError):
        return 255


def _fspath(p):
    """A path from a path-like or an object with a ``path`` (an
    `~acs_flecks.io.ACSImage`)."""
    return os.fspath(getattr(p, 'path', p))


def _same(a, b):
    """Whether two paths name the same file (links resolved)."""
    a, b = os.fspath(a), os.fspath(b)
    if os.path.exists(a) and os.path.exists(b):
        with contextlib.suppress(OSError):
            return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def _nearest_existing(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _writable_dir(directory):
    return os.access(directory, os.W_OK | os.X_OK)


def check_output_directory(path, *, option=None, create=False):
    """
    Check (and optionally create) an output directory.

    A missing directory is fine when it can be created: its nearest
    existing ancestor is a writable directory.

    Parameters
    ----------
    path : str or path-like
        The directory.
    option : str, optional
        The option that names it (for the message).
    create : bool, optional
        Create it (with its missing parents) now.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        An existing file, an unwritable directory or one that cannot be
        created.
    """
    path = os.fspath(path)
    what = f'{option}: ' if option else ''
    if not path.strip():
        raise AcsFlecksError(f'{what}empty output directory name')
    if os.path.exists(path) and not os.path.isdir(path):
        raise AcsFlecksError(f'{what}output directory exists and is not a '
                             'directory', path=path)
    for part in os.path.abspath(path).split(os.sep):
        if len(os.fsencode(part)) > 255:
            raise AcsFlecksError(f'{what}directory name longer than 255 '
                                 'bytes', path=path)
    base = _nearest_existing(path)
    if not os.path.isdir(base):
        raise AcsFlecksError(f'{what}{base} is not a directory', path=path)
    if not _writable_dir(base):
        raise AcsFlecksError(f'{what}directory {base} is not writable',
                             path=path)
    if create:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise AcsFlecksError(f'{what}cannot create the output directory '
                                 f'({exc.strerror})', path=path) from None
    return path


def check_output_path(path, *, inputs=(), protected=(), overwrite=True,
                      option=None, extensions=None, create_parent=False,
                      overwrite_hint='use --overwrite'):
    """
    Refuse an output path that would clobber an input or is unwritable.

    Parameters
    ----------
    path : str or path-like
        The output file.
    inputs : iterable of path-like
        Input files that must never be overwritten.
    protected : iterable of (path-like, str)
        Other files that must never be overwritten, with what they are
        (``(db, 'the history database')``).
    overwrite : bool
        If `False`, an existing ``path`` is an error.
    option : str, optional
        The option naming the output, for the message (``'-o'``).
    extensions : iterable of str, optional
        Accepted file-name endings (``('.fits',)``), case-insensitive.
    create_parent : bool, optional
        A missing parent directory is accepted when it can be created
        (it is not created here).
    overwrite_hint : str or None, optional
        Advice when the file exists and ``overwrite`` is false.

    Returns
    -------
    str
        ``path``.
    """
    path = os.fspath(path)
    what = f'{option}: ' if option else ''
    if not path.strip():
        raise AcsFlecksError(f'{what}empty output file name')
    if path.endswith(('/', os.sep)) or os.path.isdir(path):
        raise AcsFlecksError(f'{what}output path is a directory, not a file',
                             path=path)
    name = os.path.basename(path)
    if name in ('.', '..'):
        raise AcsFlecksError(f'{what}output path is a directory, not a file',
                             path=path)
    parent = os.path.dirname(os.path.abspath(path))
    limit = _name_max(parent) if os.path.isdir(parent) else 255
    if len(os.fsencode(name)) > limit:
        raise AcsFlecksError(f'{what}file name longer than {limit} bytes '
                             f'({len(os.fsencode(name))})', path=path[:80] + '...')
    if extensions:
        exts = tuple(e.lower() for e in extensions)
        if not name.lower().endswith(exts):
            raise AcsFlecksError(
                f'{what}output must be a {" or ".join(exts)} file', path=path)
    for inp in inputs:
        if inp is None or not _fspath(inp):
            continue
        inp = _fspath(inp)
        if _same(inp, path):
            raise AcsFlecksError(f'{what}output path is an input file; '
                                 'refusing to overwrite it', path=path)
    for other, desc in protected:
        if other is None or not os.fspath(other):
            continue
        if _same(other, path):
            raise AcsFlecksError(f'{what}output path is {desc}; refusing to '
                                 'overwrite it', path=path)
    if not overwrite and os.path.lexists(path):
        hint = f' ({overwrite_hint})' if overwrite_hint else ''
        raise AcsFlecksError(f'{what}output file exists{hint}', path=path)
    if os.path.isdir(parent):
        if not _writable_dir(parent):
            raise AcsFlecksError(f'{what}output directory {parent} is not '
                                 'writable', path=path)
    elif create_parent:
        check_output_directory(parent, option=option)
    elif os.path.exists(parent):
        raise AcsFlecksError(f'{what}{parent} is not a directory', path=path)
    else:
        raise AcsFlecksError(f'{what}output directory {parent} does not '
                             'exist', path=path)
    return path


class OutputGuard:
    """
    Every output of one run, checked together before any work.

    Each output is refused if it is an input, a protected file (the
    history database, a reference), another output of the same run, a
    directory, too long a name, or in a missing or unwritable directory.

    Parameters
    ----------
    inputs : iterable of path-like
        Every input file of the run.
    protected : iterable of (path-like, str)
        Files that must never be written, with what they are.
    overwrite : bool, optional
        Whether existing outputs may be replaced.
    overwrite_hint : str or None, optional
        Advice when an output exists and ``overwrite`` is false.

    Examples
    --------
    >>> guard = OutputGuard(inputs=['a_dkc.fits'],
    ...                     protected=[('h.sqlite', 'the history database')])
    >>> guard.file('cat.ecsv', option='-o')      # doctest: +SKIP
    'cat.ecsv'
    """

    def __init__(self, *, inputs=(), protected=(), overwrite=True,
                 overwrite_hint='use --overwrite'):
        self.inputs = [_fspath(p) for p in inputs if p is not None
                       and _fspath(p)]
        self.protected = [(os.fspath(p), d) for p, d in protected
                          if p is not None and os.fspath(p)]
        for p, d in list(self.protected):
            if d == 'the history database':
                self.protected += [(p + s, d + f' ({s[1:]} file)')
                                   for s in ('-wal', '-shm', '-journal')]
        self.overwrite = overwrite
        self.overwrite_hint = overwrite_hint
        self.files = []        # (path, option)
        self.directories = []  # (path, option)

    def _others(self):
        return ([(p, f'also the output of {o}' if o else
                  'another output of this run') for p, o in self.files])

    def file(self, path, *, option=None, extensions=None, overwrite=None,
             create_parent=False):
        """Check one output file; returns its path (`None` passes)."""
        if path is None:
            return None
        path = check_output_path(
            path, inputs=self.inputs, protected=self.protected + self._others(),
            overwrite=self.overwrite if overwrite is None else overwrite,
            option=option, extensions=extensions,
            create_parent=create_parent or any(
                _same(os.path.dirname(os.path.abspath(path)), d)
                for d, _ in self.directories),
            overwrite_hint=self.overwrite_hint)
        self.files.append((path, option))
        return path

    def directory(self, path, *, option=None):
        """Check one output directory (created by `create`)."""
        if path is None:
            return None
        path = os.fspath(path)
        for inp in self.inputs:
            if _same(inp, path):
                raise AcsFlecksError(f'{option + ": " if option else ""}'
                                     'output directory is an input file',
                                     path=path)
        for other, desc in self.protected + self._others():
            if _same(other, path):
                raise AcsFlecksError(f'{option + ": " if option else ""}'
                                     f'output directory is {desc}', path=path)
        check_output_directory(path, option=option)
        self.directories.append((path, option))
        return path

    def create(self):
        """Create the output directories (after every check passed)."""
        for path, option in self.directories:
            check_output_directory(path, option=option, create=True)


def _temp_stem(path):
    """'.' + the output's name, cut to 200 bytes (room for the tail)."""
    raw = os.fsencode(os.path.basename(os.fspath(path)))[:200]
    return '.' + raw.decode('utf-8', 'ignore')


def temporary_name(path, *, pid=None):
    """
    The hidden temporary name used while ``path`` is written.

    ``.<name>.acs_flecks-<pid>-<random>.part`` in the same directory (the
    name is cut to 200 bytes to fit the file system's 255).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pid = os.getpid() if pid is None else pid
    return os.path.join(directory, f'{_temp_stem(path)}{TEMP_TAG}{pid}-'
                        f'{secrets.token_hex(4)}{TEMP_SUFFIX}')


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temporaries(path):
    """
    Remove temporary files of ``path`` left by a killed acs_flecks.

    Only files named as `temporary_name` makes them for this very output,
    by a process that no longer runs (or by this process but no longer in
    use), are removed.  Process ids are those of this host: on a directory
    shared between hosts a file of a live process elsewhere may look
    stale, so do not write one output from two hosts at once.

    Returns
    -------
    list of str
        The files removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    head = _temp_stem(path) + TEMP_TAG
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for entry in names:
        if not (entry.startswith(head) and entry.endswith(TEMP_SUFFIX)):
            continue
        m = re.fullmatch(r'(\d+)-[0-9a-f]{8}', entry[len(head):-len(TEMP_SUFFIX)])
        if m is None:
            continue
        full = os.path.join(directory, entry)
        pid = int(m.group(1))
        if full in _ACTIVE or (pid != os.getpid() and _pid_alive(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(full)
            removed.append(full)
    return removed


def _write_error(exc, path):
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = 'no space left on the device'
    return AcsFlecksError(f'cannot write the output ({reason}); nothing was '
                          'written', path=path)


@contextlib.contextmanager
def atomic_output(path, *, suffix=None):
    """
    Context manager yielding a temporary path that is renamed to ``path``.

    The temporary file (see `temporary_name`) lives in the same directory,
    so the rename is atomic, and is removed if the block raises.  Writers
    that guess the format from the file name must be told the format
    (``format='ascii.ecsv'``, ``savefig(format=...)``): the temporary name
    ends in ``.part``.  A full disk or an unwritable directory while
    writing raises `~acs_flecks.exceptions.AcsFlecksError` naming ``path``.

    >>> from acs_flecks.utils import atomic_output
    >>> with atomic_output('out.ecsv') as tmp:        # doctest: +SKIP
    ...     table.write(tmp, format='ascii.ecsv')

    Parameters
    ----------
    path : str or path-like
        The output file.
    suffix : str, optional
        Ignored (kept for compatibility): every temporary name ends in
        ``.part``.
    """
    path = os.fspath(path)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    _ACTIVE.add(tmp)
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS:
                raise _write_error(exc, path) from None
            raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _ACTIVE.discard(tmp)


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
