"""Tests of the command-line framework and atomic outputs."""

import os
import subprocess
import sys

import pytest

from acs_flecks import __version__
from acs_flecks.cli import build_parser, main
from acs_flecks.commands import COMMANDS
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.utils import atomic_output, check_output_path

from conftest import real_file, write_acs


class TestCommandLine:
    def test_version(self, capsys):
        with pytest.raises(SystemExit) as info:
            main(['--version'])
        assert info.value.code == 0
        assert __version__ in capsys.readouterr().out

    @pytest.mark.parametrize('command', COMMANDS)
    def test_help(self, command, capsys):
        with pytest.raises(SystemExit) as info:
            main([command, '--help'])
        assert info.value.code == 0
        assert 'usage: acs_flecks ' + command in capsys.readouterr().out

    def test_no_command(self, capsys):
        assert main([]) == 2

    def test_info_real_header(self, capsys):
        path = real_file('wfc_flc_header_jbt122x8q.fits')
        assert main(['info', str(path)]) == 0
        out = capsys.readouterr().out
        assert 'F814W' in out and '[SCI,1]' in out

    def test_bad_input_one_line_exit_2(self, tmp_path, capsys):
        p = write_acs(tmp_path / 'w_flt.fits', instrume='WFC3')
        assert main(['info', str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1
        assert err.startswith('acs_flecks: error: ')
        assert str(p) in err and 'not an ACS file' in err
        assert 'Traceback' not in err

    def test_console_script(self, tmp_path):
        p = tmp_path / 'junk.fits'
        p.write_bytes(b'\0' * 100)
        proc = subprocess.run([sys.executable, '-m', 'acs_flecks.cli', 'info',
                               str(p)], capture_output=True, text=True)
        assert proc.returncode == 2
        assert 'Traceback' not in proc.stderr
        assert 'junk.fits' in proc.stderr

    def test_parser_builds(self):
        assert build_parser().prog == 'acs_flecks'


class TestAtomicOutput:
    def test_success_renames(self, tmp_path):
        out = tmp_path / 'cat.ecsv'
        with atomic_output(out) as tmp:
            assert os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, 'w') as fh:
                fh.write('x')
        assert out.read_text() == 'x'
        assert [p.name for p in tmp_path.iterdir()] == ['cat.ecsv']

    def test_failure_leaves_nothing(self, tmp_path):
        out = tmp_path / 'new_bpx.fits'
        with pytest.raises(RuntimeError):
            with atomic_output(out) as tmp:
                with open(tmp, 'w') as fh:
                    fh.write('half')
                raise RuntimeError('crash')
        assert list(tmp_path.iterdir()) == []

    def test_failure_keeps_old_file(self, tmp_path):
        out = tmp_path / 'a.txt'
        out.write_text('old')
        with pytest.raises(RuntimeError):
            with atomic_output(out) as tmp:
                open(tmp, 'w').write('new')
                raise RuntimeError
        assert out.read_text() == 'old'

    def test_refuse_input_as_output(self, tmp_path):
        inp = tmp_path / 'ref_bpx.fits'
        inp.write_text('ref')
        with pytest.raises(AcsFlecksError, match='is an input file'):
            check_output_path(inp, inputs=[inp])
        with pytest.raises(AcsFlecksError, match='does not exist'):
            check_output_path(tmp_path / 'no' / 'x.fits')


class TestWarningsOnce:
    def test_same_warning_printed_once_per_run(self, monkeypatch, capsys):
        import warnings

        from acs_flecks import cli
        from acs_flecks.exceptions import SkippedFileWarning

        def fake_run(args):
            for _ in range(7):   # e.g. one skipped flat seen for every fleck
                warnings.warn('f658n.fits: not broadband', SkippedFileWarning)
            warnings.warn('other.fits: not broadband', SkippedFileWarning)
            return 0

        parser = build_parser()
        real_parse = parser.parse_args

        def parse(argv):
            args = real_parse(argv)
            args._run = fake_run
            return args
        monkeypatch.setattr(cli, 'build_parser', lambda commands=None: parser)
        monkeypatch.setattr(parser, 'parse_args', parse)
        for _ in range(2):      # and again in a second run
            assert main(['info', 'x.fits']) == 0
            err = capsys.readouterr().err
            assert err.count('f658n.fits: not broadband') == 1
            assert err.count('other.fits: not broadband') == 1
