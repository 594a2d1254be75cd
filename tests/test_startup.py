"""Start-up of the command line: what it imports, and Ctrl-C before the
command runs (structural tests; the timings are in benchmarks/)."""

import json
import subprocess
import sys
import textwrap

import pytest

import acs_flecks
from acs_flecks import dq, parameters
from acs_flecks.commands import COMMANDS

#: Imported only by the commands that use them, never at start-up.
HEAVY = ('matplotlib', 'dask', 'distributed', 'numba', 'photutils', 'scipy',
         'skimage', 'astropy', 'numpy')


def imported_after(code):
    """Heavy top-level modules present after running ``code`` in a fresh
    interpreter."""
    probe = textwrap.dedent(code) + textwrap.dedent(f'''
        import json, sys
        print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}}
                                & set({list(HEAVY)!r}))))
        ''')
    proc = subprocess.run([sys.executable, '-c', probe], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TestLightImports:
    def test_import_cli(self):
        assert imported_after('import acs_flecks.cli') == []

    def test_import_package(self):
        assert imported_after('import acs_flecks') == []

    def test_full_parser(self):
        # what `acs_flecks --help` and `--version` build: every command
        assert imported_after('''
            from acs_flecks.cli import build_parser
            build_parser()
            ''') == []

    @pytest.mark.parametrize('command', COMMANDS)
    def test_command_help(self, command):
        assert imported_after(f'''
            import contextlib, io
            from acs_flecks.cli import main
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    main([{command!r}, '--help'])
                except SystemExit as exc:
                    assert exc.code == 0
            ''') == []

    def test_find_help_shows_default_flags(self, capsys):
        from acs_flecks.cli import main
        with pytest.raises(SystemExit):
            main(['find', '--help'])
        assert str(dq.DEFAULT_MASK_FLAGS) in capsys.readouterr().out


class TestLazyPackage:
    def test_reexported_names(self):
        from acs_flecks import coords, io
        assert acs_flecks.ACSImage is io.ACSImage
        assert acs_flecks.pixel_to_index is coords.pixel_to_index
        assert 'ACSImage' in dir(acs_flecks)
        assert 'AcsFlecksError' in acs_flecks.__all__

    def test_teal_names(self):
        from acs_flecks import teal_task
        assert acs_flecks.__taskname__ == 'acs_flecks'
        assert acs_flecks.run is teal_task.run
        assert acs_flecks.getHelpAsString is teal_task.getHelpAsString

    def test_unknown_name(self):
        with pytest.raises(AttributeError, match='no_such_name'):
            acs_flecks.no_such_name  # noqa: B018

    def test_star_import(self):
        ns = {}
        exec('from acs_flecks import *', ns)
        assert 'ACSImage' in ns and 'AcsFlecksError' in ns


class TestDefaults:
    """acs_flecks.parameters (and acs_flecks.dq for the DQ mask) is the
    one definition the library uses."""

    def test_same_objects(self):
        from acs_flecks.characterize.badpix import COMBINE_RULES
        from acs_flecks.detect.finder import DEFAULT_MASK_FLAGS
        from acs_flecks.monitor.classify import DEFAULT_CHANGE_NSIGMA
        from acs_flecks.monitor.crossmatch import DEFAULT_TOLERANCE
        from acs_flecks.simulate.scenarios import KINDS, SCENARIOS
        assert DEFAULT_MASK_FLAGS == dq.DEFAULT_MASK_FLAGS
        assert DEFAULT_MASK_FLAGS & 4 == 0
        assert DEFAULT_TOLERANCE is parameters.MONITORING.defaults.tolerance
        assert DEFAULT_CHANGE_NSIGMA is \
            parameters.MONITORING.defaults.change_nsigma
        assert COMBINE_RULES is parameters.COMBINE_RULES
        assert SCENARIOS is parameters.SCENARIOS and \
            KINDS is parameters.KINDS


class TestInterruptDuringStartup:
    """Ctrl-C while the command's modules load: one line, 130, no file."""

    @pytest.mark.parametrize('argv', [
        ['find', 'dkc.fits', '-o', 'cat.ecsv'],
        ['--version'],
        ['monitor', 'a.fits', '--db', 'h.sqlite'],
    ])
    def test_sigint_while_importing(self, tmp_path, argv):
        # a real SIGINT, delivered while build_parser imports a command
        code = textwrap.dedent(f'''
            import os, signal, sys
            import acs_flecks.cli as cli
            real = cli._command_module
            def interrupted(name):
                os.kill(os.getpid(), signal.SIGINT)
                return real(name)
            cli._command_module = interrupted
            sys.exit(cli.main({argv!r}))
            ''')
        proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 130
        assert proc.stderr == 'acs_flecks: interrupted\n'
        assert proc.stdout == ''
        assert list(tmp_path.iterdir()) == []

    def test_interrupt_in_parse(self, monkeypatch, capsys):
        import acs_flecks.cli as cli

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(cli, 'build_parser', interrupted)
        assert cli.main(['info', 'x.fits']) == 130
        assert capsys.readouterr().err == 'acs_flecks: interrupted\n'


class TestPreload:
    def test_imports_in_background(self):
        assert imported_after('''
            from acs_flecks.preload import preload
            preload('numpy').join()
            ''') == ['numpy']

    def test_failed_import_is_silent(self, caplog):
        import logging

        from acs_flecks.preload import preload
        with caplog.at_level(logging.DEBUG, logger='acs_flecks.preload'):
            preload('acs_flecks_no_such_module').join()
        assert 'acs_flecks_no_such_module' in caplog.text

    def test_preload_once_starts_each_module_once(self):
        # the two chip threads of a search both ask for the catalogue's
        # modules: only the first request starts an import
        from acs_flecks import preload as pl
        first = pl.preload_once('json', 'fractions')
        assert first is not None
        first.join()
        assert pl.preload_once('json', 'fractions') is None
        again = pl.preload_once('json', 'decimal')
        again.join()
        assert pl.preload_once('decimal') is None


class TestSearchImports:
    def test_search_defers_table_and_never_needs_scipy_ndimage(self):
        # importing the search does not import astropy.table (preloaded
        # once the median runs), the new-artifact search or scipy.ndimage
        code = textwrap.dedent('''
            import json, sys
            from acs_flecks.detect import finder
            print(json.dumps(sorted(m for m in (
                'astropy.table', 'scipy.ndimage', 'scipy', 'numba',
                'acs_flecks.detect.difference', 'photutils', 'matplotlib')
                if m in sys.modules)))
            ''')
        proc = subprocess.run([sys.executable, '-c', code],
                              capture_output=True, text=True, check=True)
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


class TestConsoleMain:
    """The installed script: `main`'s exit status, the collector tuned for a
    short-lived process (tried in a fresh interpreter: it freezes the
    collector of the process it runs in)."""

    def run_console(self, tmp_path, argv):
        code = textwrap.dedent(f'''
            import atexit, gc, json, sys
            import acs_flecks.cli as cli
            seen = {{}}
            # printed at exit: argparse's --help leaves main by SystemExit
            atexit.register(lambda: print(json.dumps(
                dict(seen, frozen=gc.get_freeze_count()))))
            real = cli.main
            def main():
                seen['argv'] = sys.argv[1:]
                seen['threshold'] = gc.get_threshold()[0]
                seen['enabled'] = gc.isenabled()
                return real()
            cli.main = main
            sys.argv = ['acs_flecks'] + {argv!r}
            seen['status'] = cli.console_main()
            sys.exit(seen['status'])
            ''')
        proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                              capture_output=True, text=True)
        return proc, json.loads(proc.stdout.strip().splitlines()[-1])

    def test_status_and_collector(self, tmp_path):
        from acs_flecks.cli import GC_THRESHOLD
        proc, seen = self.run_console(tmp_path, ['info', 'missing.fits'])
        # a bad input: main's one line and status 2, through console_main
        assert proc.returncode == seen['status'] == 2
        assert proc.stderr.startswith('acs_flecks: error:')
        assert 'missing.fits' in proc.stderr
        assert seen['argv'] == ['info', 'missing.fits']
        # collections still run during the command, less often
        assert seen['enabled'] and seen['threshold'] == GC_THRESHOLD > 700
        # and the shut-down skips what the command left
        assert seen['frozen'] > 1000
        assert list(tmp_path.iterdir()) == []

    def test_success(self, tmp_path):
        proc, seen = self.run_console(tmp_path, ['--help'])
        # argparse exits from inside main: status 0, frozen all the same
        assert proc.returncode == 0
        assert 'usage: acs_flecks' in proc.stdout
        assert 'status' not in seen and seen['frozen'] > 1000

    def test_entry_point_is_console_main(self):
        from importlib.metadata import entry_points
        (ep,) = [e for e in entry_points(group='console_scripts')
                 if e.name == 'acs_flecks']
        assert ep.value == 'acs_flecks.cli:console_main'

    def test_main_leaves_the_collector_alone(self):
        import gc

        from acs_flecks.cli import main
        before = gc.get_threshold(), gc.get_freeze_count()
        assert main(['info', 'missing.fits']) == 2
        assert (gc.get_threshold(), gc.get_freeze_count()) == before
