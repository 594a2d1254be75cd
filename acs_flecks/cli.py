"""
The ``acs_flecks`` command line.

``acs_flecks <command> [options]``; ``acs_flecks --help`` lists the commands.
Errors caused by the input (`~acs_flecks.exceptions.AcsFlecksError`) print
one line, ``acs_flecks: error: <file>: <problem>``, and exit with status 2.
"""

import argparse
import importlib
import logging
import sys
import warnings

from . import __version__
from .commands import COMMANDS
from .exceptions import AcsFlecksError, AcsFlecksWarning

__all__ = ['main', 'build_parser']


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (as every other
    error): ``acs_flecks <command>: error: <problem>``, exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} '
                     '--help)\n')


def build_parser():
    """Build the argument parser with every sub-command."""
    parser = _Parser(
        prog='acs_flecks',
        description='Find, monitor and characterize particles ("flecks") on '
                    'the ACS/WFC CCDs and flag them in the bad-pixel table.')
    parser.add_argument('--version', action='version',
                        version=f'acs_flecks {__version__}')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='more log output (-vv for debug)')
    parser.add_argument('-q', '--quiet', action='store_true',
                        help='only warnings and errors')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMANDS:
        module = importlib.import_module(f'.commands.{name}', __package__)
        p = sub.add_parser(module.NAME, help=module.HELP,
                           description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


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
        input or usage.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'command', None):
        parser.print_help()
        return 2
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
        print('acs_flecks: interrupted', file=sys.stderr)
        return 130
    except OSError as exc:
        # a file-system failure no check could foresee (disk full while
        # writing, a file removed meanwhile): one line, not a traceback
        where = f'{exc.filename}: ' if exc.filename else ''
        print(f'acs_flecks: error: {where}{exc.strerror or exc}',
              file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = old_showwarning


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
