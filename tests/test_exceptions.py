"""
acs_flecks.exceptions: `AcsFlecksError` is a `ValueError`, and making it one
changed no handler inside the package nor the command line's exit status 2.
"""

import ast
import inspect
import pathlib
import types

import pytest

import acs_flecks
from acs_flecks import exceptions
from acs_flecks.exceptions import AcsFlecksError, InputFileError

PACKAGE = pathlib.Path(acs_flecks.__file__).parent

ERRORS = {name: obj for name, obj in vars(exceptions).items()
          if inspect.isclass(obj) and issubclass(obj, AcsFlecksError)}


def test_value_error():
    assert issubclass(AcsFlecksError, ValueError)
    assert len(ERRORS) >= 6
    for name, cls in ERRORS.items():
        assert issubclass(cls, ValueError), name
    err = InputFileError('not ACS', path='x.fits')
    assert str(err) == 'x.fits: not ACS'
    assert (err.path, err.problem) == ('x.fits', 'not ACS')


def test_except_value_error_catches_parameter_errors():
    from acs_flecks.detect import FindParameters
    with pytest.raises(ValueError, match='nsigma'):
        FindParameters(nsigma=-1.0)
    from acs_flecks.characterize import parse_box
    try:
        parse_box('forty')
    except ValueError as exc:
        assert isinstance(exc, AcsFlecksError)
    else:  # pragma: no cover
        pytest.fail('parse_box accepted a bad box')


def _handler_names(handler):
    if handler.type is None:
        return {'BaseException'}
    elts = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {ast.unparse(e).split('.')[-1] for e in elts}


def _raised_names(body):
    out = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name):
                    out.add(exc.id)
                elif isinstance(exc, ast.Attribute):
                    out.add(exc.attr)
    return out


def test_no_value_error_handler_swallows_a_package_error():
    """Where a ``try`` body raises an `AcsFlecksError` (subclass) itself and a
    handler catches ``ValueError`` (to wrap another library's error), an
    earlier handler must re-raise the package error: before it was a
    ValueError it went past such handlers unchanged."""
    problems = []
    for path in sorted(PACKAGE.rglob('*.py')):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            raised = {n for n in _raised_names(node.body) if n in ERRORS}
            if not raised:
                continue
            seen = set()
            for h in node.handlers:
                names = _handler_names(h)
                if 'ValueError' in names:
                    for r in raised:
                        ancestors = {c.__name__ for c in ERRORS[r].__mro__}
                        if not ancestors & seen:
                            problems.append(f'{path.relative_to(PACKAGE)}:'
                                            f'{h.lineno} catches {r}')
                seen |= names
    assert problems == []


def test_lightpath_command_keeps_the_package_error(monkeypatch, tmp_path):
    """``acs_flecks lightpath`` wraps ValueErrors of the measurement into an
    `AcsFlecksError`; a package error passes through as it is (its class
    and its ``path``)."""
    from acs_flecks.commands import lightpath
    from acs_flecks.monitor import lightpath as lp
    flashed, unflashed = tmp_path / 'f.fits', tmp_path / 'u.fits'
    flashed.write_bytes(b'')
    unflashed.write_bytes(b'')
    err = InputFileError('not post-flashed', path=str(flashed))

    def fail(*args, **kwargs):
        raise err
    monkeypatch.setattr(lp, 'lightpath_test', fail)
    args = types.SimpleNamespace(flashed=str(flashed), unflashed=str(unflashed),
                                 catalog=None, x=[100.0], y=[200.0],
                                 ccdchip=[1], nsigma=5.0, radius=None,
                                 output=None)
    with pytest.raises(InputFileError) as info:
        lightpath.run(args)
    assert info.value is err

    def fail_value(*args, **kwargs):
        raise ValueError('broadcast shapes')
    monkeypatch.setattr(lp, 'lightpath_test', fail_value)
    with pytest.raises(AcsFlecksError, match='broadcast shapes'):
        lightpath.run(args)


def test_cli_exit_status_unchanged(tmp_path, capsys):
    from acs_flecks.cli import main
    bad = tmp_path / 'bad.fits'
    bad.write_text('not a FITS file')
    out = tmp_path / 'cat.ecsv'
    assert main(['find', str(bad), '-o', str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('acs_flecks: error: ')
    assert str(bad) in err[0] and 'Traceback' not in err[0]
    assert not out.exists()
    assert main(['find', str(bad), '-o', str(out), '--nsigma', '-3']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'nsigma' in err[0]
