"""Tests of the TEAL task ``acs_flecks`` (stsci.tools.teal, headless)."""

import inspect
import os
import subprocess
import sys

import pytest

import acs_flecks
from acs_flecks import teal_task
from acs_flecks.cli import main
from acs_flecks.exceptions import AcsFlecksError

teal = pytest.importorskip('stsci.tools.teal')


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """TEAL reads ~/.teal and *.cfg files in the working directory."""
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.delenv('DISPLAY', raising=False)
    work = tmp_path / 'work'
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def user_cfg(path, **changes):
    """A user's configuration: the installed one with some values changed."""
    lines = []
    for line in teal_task.default_config_path().read_text().splitlines():
        key = line.split('=')[0].strip()
        if key in changes:
            line = f'{key} = {changes[key]}'
        lines.append(line)
    path.write_text('\n'.join(lines) + '\n')
    return path


def normalized(cfg):
    out = {k: v for k, v in dict(cfg).items() if not k.startswith('_')}
    defaults = teal_task.signature_defaults()
    return {k: (None if v == '' and defaults.get(k) is None else v)
            for k, v in out.items()}


class TestLoad:
    def test_load_package_headless(self):
        cfg = teal.load('acs_flecks')
        assert cfg is not None and cfg['_task_name_'] == 'acs_flecks'
        # the package is attached: TEAL finds run() and the help
        assert cfg.canExecute()
        assert 'median_size' in cfg.getHelpAsString()
        assert acs_flecks.__taskname__ == 'acs_flecks'
        assert acs_flecks.run is teal_task.run

    def test_defaults_equal_signature(self):
        cfg = teal.load('acs_flecks', defaults=True)
        assert normalized(cfg) == teal_task.signature_defaults()

    def test_installed_cfg_equals_defaults(self):
        assert normalized(teal.load('acs_flecks')) == \
            normalized(teal.load('acs_flecks', defaults=True))

    def test_parameter_order_follows_signature(self):
        cfg = teal.load('acs_flecks', defaults=True)
        names = [k for k in cfg if not k.startswith('_')]
        assert names == list(inspect.signature(
            teal_task.run_acs_flecks).parameters)

    def test_user_file(self, isolated):
        path = user_cfg(isolated / 'mine.cfg', input='"a_crj.fits"',
                        median_size=21, nsigma=4.5, useafter='2017-05-05')
        cfg = teal_task.load_config(path)
        kw = teal_task.config_to_kwargs(cfg)
        assert kw['input'] == 'a_crj.fits' and kw['median_size'] == 21
        assert kw['nsigma'] == 4.5 and kw['useafter'] == '2017-05-05'
        assert kw['output'] is None and kw['workers'] is None

    def test_invalid_value(self, isolated):
        path = user_cfg(isolated / 'bad.cfg', median_size='many')
        # the key, the value and what is allowed (stsci.tools 4.3 says
        # "'VdtTypeError' object has no attribute 'message'")
        with pytest.raises(AcsFlecksError, match="parameter median_size = "
                           "'many': must be an integer >= 3"):
            teal_task.load_config(path)

    def test_no_display_subprocess(self, isolated):
        env = {k: v for k, v in os.environ.items() if k != 'DISPLAY'}
        code = ("from stsci.tools import teal; "
                "c = teal.load('acs_flecks'); d = teal.load('acs_flecks', "
                "defaults=True); print(c['median_size'], d['nsigma'])")
        proc = subprocess.run([sys.executable, '-c', code], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[-2:] == ['15', '5.0']


class TestRun:
    def test_run_passes_parameters(self, isolated, monkeypatch):
        seen = {}
        monkeypatch.setattr(teal_task, 'run_acs_flecks',
                            lambda **kw: seen.update(kw) or 'done')
        path = user_cfg(isolated / 'mine.cfg', input='"x_crj.fits"',
                        min_area=30)
        assert teal_task.run(teal.load(str(path))) == 'done'
        assert seen['input'] == 'x_crj.fits' and seen['min_area'] == 30
        assert seen['reference'] == 'auto' and seen['history'] is None

    def test_run_without_input(self):
        with pytest.raises(AcsFlecksError, match='no input files'):
            teal_task.run(teal.load('acs_flecks', defaults=True))

    def test_unknown_parameter(self):
        with pytest.raises(AcsFlecksError, match='unknown parameter.*bogus'):
            teal_task.config_to_kwargs({'input': 'a.fits', 'bogus': 1})


class TestCommand:
    def test_write_and_show(self, isolated, capsys):
        path = isolated / 'new.cfg'
        assert main(['run', '--write-config', str(path)]) == 0
        assert teal.load(str(path))['median_size'] == 15
        user_cfg(path, input='"a_crj.fits"')
        assert main(['run', str(path), '--show']) == 0
        out = capsys.readouterr().out
        assert "input = 'a_crj.fits'" in out and 'median_size = 15' in out

    def test_write_config_refuses_overwrite(self, isolated, capsys):
        path = isolated / 'new.cfg'
        path.write_text('keep me')
        assert main(['run', '--write-config', str(path)]) == 2
        assert path.read_text() == 'keep me'

    def test_runs_chain(self, isolated, monkeypatch):
        seen = {}
        monkeypatch.setattr(teal_task, 'run_acs_flecks',
                            lambda **kw: seen.update(kw))
        path = user_cfg(isolated / 'mine.cfg', input='"x_crj.fits"')
        assert main(['run', str(path)]) == 0
        assert seen['input'] == 'x_crj.fits'

    @pytest.mark.parametrize('content, match', [
        ('_task_name_ = other\nx = 1\n', 'not a valid|not'),
        (None, 'no input files')])
    def test_bad_config_exit_2(self, isolated, capsys, content, match):
        path = isolated / 'bad.cfg'
        if content is None:
            user_cfg(path)
        else:
            path.write_text(content)
        assert main(['run', str(path)]) == 2
        err = capsys.readouterr().err
        assert 'acs_flecks: error:' in err and 'Traceback' not in err

    def test_missing_config_exit_2(self, isolated, capsys):
        assert main(['run', str(isolated / 'nope.cfg')]) == 2
