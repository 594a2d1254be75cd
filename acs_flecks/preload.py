"""
Import modules in a background thread.

A command that will need a slow-to-import library only after a long
GIL-free computation (astropy.table and its ECSV writer after the compiled
median filter of `acs_flecks find`) starts importing it at once in a daemon thread: the
import then runs while the median filter keeps the CPUs busy without the
GIL, instead of before or after it.  Python's import lock makes this safe:
a thread that needs the module before it is ready waits for the import to
finish, and an import error is raised again there, where the module is
used (the background thread only logs it).

>>> from acs_flecks.preload import preload
>>> thread = preload('json', 'fractions')
>>> thread.join()
"""

import importlib
import logging
import threading

__all__ = ['preload', 'preload_once']

log = logging.getLogger(__name__)


_started = set()
_lock = threading.Lock()


def preload_once(*modules):
    """
    `preload` the ``modules`` not yet preloaded by this function in this
    process (several threads may ask; the first one starts the import).

    Returns
    -------
    threading.Thread or None
        The started thread, or `None` when there was nothing left to import.
    """
    with _lock:
        todo = [m for m in modules if m not in _started]
        _started.update(todo)
    return preload(*todo) if todo else None


def preload(*modules):
    """
    Import ``modules`` (dotted names) in a background daemon thread.

    Parameters
    ----------
    *modules : str
        Modules to import, in order.

    Returns
    -------
    threading.Thread
        The started thread (``join()`` it to wait for the imports).
    """
    def work():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # raised again where it is used
                log.debug('preload of %s failed: %s', name, exc)
    thread = threading.Thread(target=work, name='acs_flecks-preload',
                              daemon=True)
    thread.start()
    return thread
