"""
Compiled kernels and where their machine code is cached.

The loops of the new-artifact search (`acs_flecks.detect.difference`) that
numpy and scipy cannot express efficiently are compiled with numba (those of
``acs_flecks find``, which a user runs as a short process, are C compiled at
install time: ``acs_flecks/detect/_kernels.c``, so that a search does not pay
numba's start-up).  numba's
own ``cache=True`` writes ``.nbi``/``.nbc`` files into a ``__pycache__``
folder beside the source file, that is inside ``site-packages``.  ``pip``
does not know those files: an uninstall leaves ``acs_flecks/detect/__pycache__``
behind, and the left-over folder then acts as an empty namespace package that
hides a later (editable) install in every new process.

`njit` therefore compiles with a cache of its own, outside the installed tree:

* ``$ACS_FLECKS_CACHE_DIR`` when set;
* otherwise ``$XDG_CACHE_HOME/acs_flecks/numba`` (``~/.cache/acs_flecks/numba``).

Entries are keyed by the source file's path and content hash and by the numba
version, so a reinstall or an upgrade simply compiles again; a cache folder
that cannot be written means compiling in every process, never an error.
Setting ``ACS_FLECKS_CACHE_DIR`` to an empty string disables the cache.

>>> from acs_flecks.jit import cache_directory
>>> cache_directory()                                  # doctest: +SKIP
'/home/user/.cache/acs_flecks/numba'
"""

import logging
import os

import numba
from numba.core import caching

__all__ = ['njit', 'cache_directory']

log = logging.getLogger(__name__)

# The public names changed in numba 0.61 (leading underscores dropped).
_UserProvidedLocator = getattr(caching, 'UserProvidedCacheLocator', None) \
    or getattr(caching, '_UserProvidedCacheLocator')


def cache_directory():
    """
    The folder that holds the compiled kernels, or `None` when disabled.

    Returns
    -------
    str or None
        ``$ACS_FLECKS_CACHE_DIR`` if set (empty: `None`), else
        ``$XDG_CACHE_HOME/acs_flecks/numba`` or ``~/.cache/acs_flecks/numba``.
    """
    env = os.environ.get('ACS_FLECKS_CACHE_DIR')
    if env is not None:
        return env or None
    base = os.environ.get('XDG_CACHE_HOME') or \
        os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'acs_flecks', 'numba')


class _PackageCacheLocator(_UserProvidedLocator):
    """numba's user-directory locator, pointed at `cache_directory`."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(
            cache_directory(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if cache_directory() is None or not os.path.exists(py_file):
            return None
        self = cls(py_func, py_file)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


class _CacheImpl(caching.FunctionCache._impl_class):
    _locator_classes = [_PackageCacheLocator]


class _FunctionCache(caching.FunctionCache):
    _impl_class = _CacheImpl


def njit(**options):
    """
    `numba.njit` with the package's cache (see the module docstring).

    Parameters
    ----------
    **options
        Passed to `numba.njit` (``cache`` is not allowed: caching is
        always attempted here).

    Returns
    -------
    callable
        A decorator.
    """
    if 'cache' in options:
        raise TypeError("njit() caches by itself; do not pass 'cache'")

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        try:
            dispatcher._cache = _FunctionCache(dispatcher.py_func)
        except (RuntimeError, OSError) as exc:  # no writable cache folder
            log.debug('compiled code of %s not cached: %s',
                      func.__qualname__, exc)
        return dispatcher

    return decorate
