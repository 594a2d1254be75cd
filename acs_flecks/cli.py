"""
The ``acs_flecks`` command line.

``acs_flecks <command> [options]``; ``acs_flecks --help`` lists the commands.
Errors caused by the input (`~acs_flecks.exceptions.AcsFlecksError`) print
one line, ``acs_flecks: error: <file>: <problem>``, and exit with status 2;
Ctrl-C prints ``acs_flecks: interrupted`` and exits with status 130, at any
moment (while the command's modules are still being imported, too).

Start-up is kept short (``acs_flecks --version`` and ``acs_flecks COMMAND
--help`` well under half a second): this module and the sub-command modules
import only the standard library at the top; a command imports the
scientific stack (astropy, scipy, numba, photutils, matplotlib, dask) when it
runs, and only the parts it uses.  When the command is named on the command
line, only that sub-command's module is loaded.
"""

import argparse
import gc
import importlib
import logging
import sys
import warnings

from . import __version__
from .commands import COMMANDS

__all__ = ['main', 'console_main', 'build_parser']

_DESCRIPTION = ('Find, monitor and characterize particles ("flecks") on the '
                'ACS/WFC CCDs and flag them in the bad-pixel table.')

#: Options of the main parser that take no value (for `_command_in`).
_GLOBAL_FLAGS = ('-h', '--help', '--version', '-v', '--verbose', '-q',
                 '--quiet')


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (as every other
    error): ``acs_flecks <command>: error: <problem>``, exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} '
                     '--help)\n')


def _command_module(name):
    """The module of sub-command ``name`` (light: see the module docstring)."""
    return importlib.import_module(f'.commands.{name}', __package__)


def build_parser(commands=None):
    """
    Build the argument parser.

    Parameters
    ----------
    commands : iterable of str, optional
        Sub-commands to add (default: all of `~acs_flecks.commands.COMMANDS`);
        `main` passes only the one named on the command line, so that only
        that sub-command's module is imported.

    Returns
    -------
    argparse.ArgumentParser
    """
    wanted = COMMANDS if commands is None else tuple(commands)
    parser = _Parser(prog='acs_flecks', description=_DESCRIPTION)
    parser.add_argument('--version', action='version',
                        version=f'acs_flecks {__version__}')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='more log output (-vv for debug)')
    parser.add_argument('-q', '--quiet', action='store_true',
                        help='only warnings and errors')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMANDS:
        if name not in wanted:
            continue
        module = _command_module(name)
        p = sub.add_parser(module.NAME, help=module.HELP,
                           description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _command_in(argv):
    """The sub-command named in ``argv`` (the first word that is not one of
    the main parser's options), if it is a known one, else `None`."""
    for word in argv:
        if word == '--':
            return None
        if word in _GLOBAL_FLAGS or (word.startswith('-v')
                                     and set(word[1:]) == {'v'}):
            continue
        return word if word in COMMANDS else None
    return None


def _configure_logging(verbose, quiet):
    level = logging.WARNING if quiet else (
        logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(message)s' if verbose == 0 else
                                           '%(levelname)s %(name)s: %(message)s'))
    root = logging.getLogger('acs_flecks')
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # Dask's scheduler and workers log every connection at INFO.
    for name in ('distributed', 'bokeh', 'tornado'):
        logging.getLogger(name).setLevel(
            logging.DEBUG if verbose > 2 else logging.WARNING)


#: Warnings already printed by this run of `main` (category, text): the
#: same warning raised again (e.g. a skipped flat for every fleck measured)
#: is printed once.
_SHOWN = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    name = category.__name__
    key = (name, str(message))
    if key in _SHOWN:
        return
    _SHOWN.add(key)
    print(f'acs_flecks: warning: {message} ({name})', file=sys.stderr)


def _interrupted():
    print('acs_flecks: interrupted', file=sys.stderr)
    return 130


def main(argv=None):
    """
    Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 a check failed (e.g. certification), 2 bad
        input or usage, 130 interrupted (Ctrl-C).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        # Ctrl-C while the parser or the command's modules are being
        # imported (the slow part of start-up) is an interruption like
        # any other: one line, status 130, nothing written yet.
        name = _command_in(argv)
        parser = build_parser(None if name is None else [name])
        args = parser.parse_args(argv)
        if not getattr(args, 'command', None):
            parser.print_help()
            return 2
        from .exceptions import AcsFlecksError, AcsFlecksWarning
    except KeyboardInterrupt:
        return _interrupted()
    _configure_logging(args.verbose, args.quiet)
    _SHOWN.clear()
    old_showwarning = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('always', AcsFlecksWarning)
            warnings.showwarning = _show_warning
            return int(args._run(args) or 0)
    except AcsFlecksError as exc:
        print(f'acs_flecks: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted()
    except OSError as exc:
        # a file-system failure no check could foresee (disk full while
        # writing, a file removed meanwhile): one line, not a traceback
        where = f'{exc.filename}: ' if exc.filename else ''
        print(f'acs_flecks: error: {where}{exc.strerror or exc}',
              file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = old_showwarning


#: The cyclic garbage collector's first threshold in the ``acs_flecks``
#: process (CPython's default is 700; 3.13 raised it to 2000).
GC_THRESHOLD = 10_000


def console_main():
    """
    The installed ``acs_flecks`` script: `main` on ``sys.argv``, with the
    cyclic garbage collector tuned for a short-lived process.

    A command imports tens of thousands of objects that live as long as the
    process (astropy's units and FITS machinery; numba's type registries
    and dask for the commands that use them).  With CPython's default
    thresholds the collector traverses them again and again while they are
    imported, with the GIL held, and once more, for nothing, while the
    interpreter shuts down.  Measured on ``acs_flecks find`` on one
    full-frame file (``gc.callbacks`` around `main`, and the whole process):
    with numba loaded (~160,000 objects) 0.16 s of collections while the
    command ran and 0.3-0.4 s at exit; with the compiled search (~77,000
    objects) 0.03 s in 176 collections, and 0.05-0.1 s at exit.  So:

    * the first threshold is `GC_THRESHOLD` (collections still run, every
      10,000 net allocations instead of 700, so a long ``monitor`` run
      frees its reference cycles as before, a little later);
    * when the command has returned, `gc.freeze` moves every object to the
      permanent generation, which the collections of the shut-down skip.
      Only cycles that are garbage at exit are left to the operating
      system; every output is written, closed and renamed before, and
      ``atexit`` handlers (temporary folders, Dask clusters) still run.

    `main` itself (called by tests, scripts and the TEAL task in a
    long-lived interpreter) changes neither.

    Returns
    -------
    int
        The exit status of `main`, for ``sys.exit``.
    """
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == '__main__':  # pragma: no cover
    sys.exit(console_main())
