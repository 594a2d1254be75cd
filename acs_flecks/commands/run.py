"""
Run the whole acs_flecks chain from a TEAL configuration file (task
``acs_flecks``): find -> monitor -> characterize -> bpixtab -> certify ->
report.

Examples::

    acs_flecks run --write-config my_acs_flecks.cfg   # defaults to edit
    acs_flecks run my_acs_flecks.cfg
    acs_flecks run my_acs_flecks.cfg --show           # print, do not run

The same configuration runs in Python with
``acs_flecks.teal_task.run(teal.load('my_acs_flecks.cfg'))``.
"""

NAME = 'run'
HELP = 'run the whole chain from a TEAL configuration file'


def add_arguments(parser):
    parser.add_argument('config', nargs='?', metavar='CONFIG.cfg',
                        help='TEAL configuration of task acs_flecks')
    parser.add_argument('--write-config', metavar='FILE',
                        help='write the default configuration to FILE and '
                             'exit')
    parser.add_argument('--show', action='store_true',
                        help='print the parameters and exit')


def run(args):
    from ..exceptions import AcsFlecksError
    from ..teal_task import (config_to_kwargs, load_config,
                             run as run_task, write_default_config)
    from ..utils import check_output_path

    if args.write_config:
        check_output_path(args.write_config, overwrite=False,
                          option='--write-config', extensions=('.cfg',),
                          overwrite_hint='choose another name, or remove '
                                         'it first')
        write_default_config(args.write_config)
        print(f'wrote {args.write_config}')
        return 0
    if not args.config:
        raise AcsFlecksError('give a configuration file (or --write-config '
                             'FILE to start one)')
    cfg = load_config(args.config)
    if args.show:
        for key, val in config_to_kwargs(cfg).items():
            print(f'{key} = {val!r}')
        return 0
    result = run_task(cfg)
    if result is not None:
        from ._summary import (print_artifact_counts, print_chain_tail,
                               print_new_flecks, print_outputs)
        print_artifact_counts(result)
        print_new_flecks(result)
        print_chain_tail(result)
        print_outputs(result)
        print()
        print(f'Open {result.report} in a browser.')
    return 0
