"""
Sub-commands of the ``acs_flecks`` command line.

Each sub-command is a module here with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; `COMMANDS` lists them in
the order ``acs_flecks --help`` shows them.
"""

__all__ = ['COMMANDS']

#: Module names of the sub-commands, in help order.
COMMANDS = ('demo', 'simulate', 'info', 'find', 'monitor', 'lightpath',
            'transmissivity', 'ledlamp', 'eper', 'shadow', 'figures', 'bpixtab',
            'certify', 'impact', 'flag', 'run')
