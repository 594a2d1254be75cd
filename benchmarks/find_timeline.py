"""
Where the wall clock of one ``acs_flecks find`` process goes: runs the
command in this process (as the installed entry point does) with the
search's steps wrapped to print a timestamp (seconds since the start of the
interpreter's script, and the thread) at the start and end of each.
The interpreter's shut-down comes after the last line; time the whole
process (``/usr/bin/time``) to see it.

It shows what the step timings of ``bench_chip_steps.py`` cannot: the
imports and numba's first dispatch before the chips start, both chips
searched at once, and the background import of the catalogue's modules.

Usage::

    python benchmarks/find_timeline.py DKC.fits OUT.ecsv
"""

import sys
import threading
import time

T0 = time.perf_counter()
EVENTS = []


def mark(what):
    EVENTS.append((time.perf_counter() - T0,
                   threading.current_thread().name, what))


def timed(owner, name, label=None):
    """Replace ``owner.name`` by a wrapper that marks its start and end."""
    func = getattr(owner, name)
    label = label or name

    def wrapper(*args, **kwargs):
        mark(f'{label} start')
        try:
            return func(*args, **kwargs)
        finally:
            mark(f'{label} end')
    setattr(owner, name, wrapper)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__)
        return 2
    import acs_flecks.cli as cli
    import acs_flecks.commands.find as command
    run = command.run

    def wrapped_run(args):
        mark('run start (arguments parsed)')
        import acs_flecks.io as io
        import acs_flecks.preload as preload
        from acs_flecks.detect import catalog, finder
        mark('search imported')
        for name in ('find_artifacts', 'smooth_background', 'fill_and_pad',
                     'median_brackets', 'background_noise_grids',
                     '_noise_map', '_data_and_above_bracketed',
                     'segment_above', 'deblend_segments', 'measure_sources'):
            timed(finder, name)
        timed(io.ACSImage, 'chip', 'read chip')
        timed(catalog, 'write_catalog')

        def logged_preload(*modules):
            # as acs_flecks.preload.preload, with a mark per module
            def each():
                import importlib
                for m in modules:
                    importlib.import_module(m)
                    mark(f'preloaded {m}')
            mark('preload start')
            thread = threading.Thread(target=each, name='preload',
                                      daemon=True)
            thread.start()
            return thread
        preload.preload = logged_preload
        return run(args)

    command.run = wrapped_run
    mark('cli imported')
    sys.argv[1:] = ['find', argv[0], '-o', argv[1]]
    rc = cli.console_main()     # as the installed script, garbage collector included
    mark('end')
    for t, thread, what in EVENTS:
        print(f'{t:7.3f} s  {thread[:24]:24s}  {what}')
    return rc


if __name__ == '__main__':
    sys.exit(main())
