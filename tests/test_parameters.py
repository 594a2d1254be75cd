"""One declaration per parameter (acs_flecks.parameters): the command line,
the TEAL task, the ``.cfgspc`` and the Python API agree with it and with the
report."""

import argparse
import inspect

import pytest

from acs_flecks import parameters as P
from acs_flecks.cli import _command_module, main
from acs_flecks.exceptions import AcsFlecksError

from test_detect import BLOBS, make_chip, write_dkc

#: What the report used: §7 (15x15 median, DETECT_THRESH 5.0, DETECT_MINAREA
#: 25), §6.1 (40x40 cutouts, 5% blocking aperture), §8 (< 50% transmissivity
#: flagged as 4, bad detector pixel), F435W (the bluest filter).
REPORT = {'median_size': 15, 'nsigma': 5.0, 'min_area': 25,
          'box': 40, 'aperture_threshold': 0.05, 'badpix_threshold': 0.5,
          'value': 4, 'combine': 'bluest'}

#: The report's detection values: the parameters every stage shares.
DETECTION_REPORT = {k: REPORT[k] for k in ('median_size', 'nsigma',
                                           'min_area')}


def _signature_defaults(func):
    return {name: par.default for name, par in
            inspect.signature(func).parameters.items()
            if par.default is not inspect.Parameter.empty}


def _parser(command):
    parser = argparse.ArgumentParser(prog=command)
    _command_module(command).add_arguments(parser)
    return parser


def _actions(parser):
    """``{option string: action}`` of a parser and its groups."""
    return {opt: a for a in parser._actions for opt in a.option_strings}


class TestReportValues:
    """The defaults read back from every way in agree with the report."""

    def test_stage_objects(self):
        from acs_flecks import dq
        # the DQ policy's mask, not a copy of it
        assert P.DETECTION.defaults.mask_flags is dq.DEFAULT_MASK_FLAGS
        chain = P.chain_defaults()
        for name, value in REPORT.items():
            assert chain[name] == value, name
            assert type(chain[name]) is type(value), name

    def test_api_signatures(self):
        from acs_flecks.detect import FindParameters, find_artifacts
        from acs_flecks.detect.finder import find_artifacts_in_chip
        from acs_flecks.pipeline import run_pipeline
        from acs_flecks.teal_task import run_acs_flecks
        for func in (find_artifacts, find_artifacts_in_chip, run_pipeline,
                     run_acs_flecks):
            got = _signature_defaults(func)
            for name, value in DETECTION_REPORT.items():
                assert got[name] == value, (func.__name__, name)
        fp = FindParameters()
        for name, value in DETECTION_REPORT.items():
            assert getattr(fp, name) == value
        for func in (run_pipeline, run_acs_flecks):
            got = _signature_defaults(func)
            for name, value in REPORT.items():
                assert got[name] == value, (func.__name__, name)

    def test_teal_defaults(self, tmp_path, monkeypatch):
        teal = pytest.importorskip('stsci.tools.teal')
        monkeypatch.setenv('HOME', str(tmp_path))
        monkeypatch.chdir(tmp_path)
        cfg = teal.load('acs_flecks', defaults=True)
        for name, value in REPORT.items():
            assert cfg[name] == value, name

    def test_catalogue_written_by_the_command_line(self, tmp_path):
        from acs_flecks.detect import read_catalog
        sci, dq = make_chip(blobs=BLOBS[:2], seed=1)
        dkc = write_dkc(tmp_path / 'p_dkc.fits', {1: (sci, dq)})
        out = tmp_path / 'cat.ecsv'
        assert main(['find', dkc, '-o', str(out)]) == 0
        meta = read_catalog(out).meta
        for name, value in DETECTION_REPORT.items():
            assert meta[name] == value, name
        # and every other detection parameter at its stage default
        for p in P.DETECTION:
            assert meta[p.name] == p.default, p.name


class TestOneSource:
    """argparse defaults == stage defaults == .cfgspc defaults."""

    def test_shipped_cfgspc_is_generated(self):
        from acs_flecks.teal_task import _PARS_DIR
        assert (_PARS_DIR / 'acs_flecks.cfgspc').read_text() == \
            P.cfgspc_text()
        assert (_PARS_DIR / 'acs_flecks.cfg').read_text() == P.cfg_text()

    def test_cfgspc_defaults_and_bounds(self):
        from acs_flecks.teal_task import _spec
        spec = _spec()
        assert [k for k in spec if not k.startswith('_')] == \
            [p.name for _, p in P.CHAIN]
        for _, p in P.CHAIN:
            text, info = spec[p.name]
            default = info['default']
            if p.type is str:
                assert default == (p.default or ''), p.name
            elif p.default is None:
                assert default == 'None', p.name
            else:
                assert p.type(default if p.type is not bool else
                              default == 'True') == p.default, p.name
            if 'min' in p.cfgspc_bounds and p.minimum is not None:
                assert float(info['min']) == p.minimum, p.name
            if 'max' in p.cfgspc_bounds and p.maximum is not None:
                assert float(info['max']) == p.maximum, p.name

    def test_run_signatures_follow_the_chain(self):
        from acs_flecks.pipeline import run_pipeline
        from acs_flecks.teal_task import run_acs_flecks
        chain = list(P.chain_defaults())
        teal = inspect.signature(run_acs_flecks).parameters
        api = inspect.signature(run_pipeline).parameters
        assert list(teal) == chain
        # run_pipeline: the same, plus the progress bar (not a TEAL key)
        assert [n for n in api if n != 'progress'] == chain
        for name in chain[1:]:
            assert api[name].default == teal[name].default == \
                P.chain_defaults()[name], name

    @pytest.mark.parametrize('command, stage, names', [
        ('find', P.DETECTION, ('median_size', 'nsigma', 'min_area',
                               'mask_flags', 'deblend', 'deblend_contrast',
                               'deblend_min_area')),
        ('monitor', P.DETECTION, ('median_size', 'nsigma', 'min_area')),
        ('monitor', P.MONITORING, ('tolerance', 'change_nsigma',
                                   'vanish_after', 'difference_nsigma',
                                   'difference_kernels', 'min_reference',
                                   'max_reference', 'workers')),
        ('transmissivity', P.CHARACTERIZATION,
         ('aperture_threshold', 'badpix_threshold', 'combine', 'background')),
        ('ledlamp', P.CHARACTERIZATION, ('aperture_threshold',)),
        ('eper', P.CHARACTERIZATION, ('aperture_threshold',)),
        ('certify', P.DELIVERY, ('value', 'max_distance')),
        ('bpixtab', P.DELIVERY, ('value', 'max_distance')),
    ])
    def test_argparse_defaults(self, command, stage, names):
        parser = _parser(command)
        actions = _actions(parser)
        for name in names:
            p = stage[name]
            action = actions[p.option]
            assert action.dest == name
            assert action.default == p.default, (command, name)
            assert parser.get_default(name) == p.default, (command, name)
            if p.type is not bool:
                assert (action.type or str) is p.type, (command, name)
                # the default shown by --help is the default used
                assert f'(default {p.default_text or P._fmt(p.default)})' \
                    in action.help, (command, name)

    def test_renamed_options(self):
        # options a command names otherwise: same parameter, same default
        actions = _actions(_parser('bpixtab'))
        assert actions['--threshold'].default == \
            P.CHARACTERIZATION.defaults.badpix_threshold
        actions = _actions(_parser('lightpath'))
        assert actions['--nsigma'].default == \
            P.MONITORING.defaults.lightpath_nsigma

    def test_chain_defaults_of_the_stages(self):
        """Every library default declared elsewhere comes from a stage."""
        from acs_flecks.characterize.fleck import characterize_fleck
        from acs_flecks.detect.deblend import (DEBLEND_CONTRAST,
                                               DEBLEND_NLEVELS)
        from acs_flecks.detect.difference import DifferenceParameters
        from acs_flecks.monitor import monitor_epochs
        from acs_flecks.monitor.lightpath import lightpath_test
        m = P.MONITORING.defaults
        got = _signature_defaults(monitor_epochs)
        for name in ('tolerance', 'change_nsigma', 'vanish_after'):
            assert got[name] == m[name], name
        d = DifferenceParameters()
        assert d.nsigma == m.difference_nsigma
        assert d.kernels == (1.0, 2.0, 4.0)
        assert (d.min_reference, d.max_reference) == (m.min_reference,
                                                      m.max_reference)
        assert (d.pixel_nsigma, d.min_pixels, d.box) == (
            m.difference_pixel_nsigma, m.difference_min_pixels,
            m.difference_box)
        assert _signature_defaults(lightpath_test)['nsigma'] == \
            m.lightpath_nsigma
        assert (DEBLEND_NLEVELS, DEBLEND_CONTRAST) == (
            P.DETECTION.defaults.deblend_nlevels,
            P.DETECTION.defaults.deblend_contrast)
        got = _signature_defaults(characterize_fleck)
        c = P.CHARACTERIZATION.defaults
        for name in ('aperture_threshold', 'badpix_threshold', 'combine',
                     'background'):
            assert got[name] == c[name], name


class TestValidation:
    """acs_flecks.validate reads the bounds of the stage objects."""

    @pytest.mark.parametrize('stage, name, bad, match', [
        (P.MONITORING, 'tolerance', 0, 'tolerance must be a number > 0'),
        (P.MONITORING, 'workers', 0, 'workers must be an integer >= 1'),
        (P.CHARACTERIZATION, 'aperture_threshold', 1,
         'aperture_threshold must be a number > 0 and < 1'),
        (P.CHARACTERIZATION, 'badpix_threshold', 0,
         'badpix_threshold must be a number > 0 and <= 1'),
        (P.CHARACTERIZATION, 'badpix_threshold', 1.5,
         'badpix_threshold must be a number >= 0 and <= 1'),
        (P.CHARACTERIZATION, 'background', 'cubic',
         'background must be one of plane, poly2, median'),
        (P.DETECTION, 'min_area', 2.5, 'min_area must be an integer >= 1'),
        (P.DELIVERY, 'overwrite', 'yes', 'overwrite must be True or False'),
    ])
    def test_refused(self, stage, name, bad, match):
        from acs_flecks.validate import check_parameter
        with pytest.raises(AcsFlecksError, match=match):
            check_parameter(bad, stage[name])

    def test_every_default_passes(self):
        from acs_flecks.validate import check_parameter
        for stage in P.STAGES:
            for p in stage:
                check_parameter(p.default, p)

    def test_option_name_in_message(self):
        from acs_flecks.validate import check_parameter
        with pytest.raises(AcsFlecksError, match='^--tolerance must be'):
            check_parameter(-1.0, P.MONITORING['tolerance'], '--tolerance')


class TestStartup:
    def test_standard_library_only(self):
        import subprocess
        import sys
        code = ('import sys, acs_flecks.parameters; '
                "print(sorted(m for m in ('numpy', 'astropy') "
                'if m in sys.modules))')
        out = subprocess.run([sys.executable, '-c', code],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == '[]'
