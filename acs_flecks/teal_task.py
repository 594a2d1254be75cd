"""
The ``acs_flecks`` TEAL task: the whole chain in one call after ACSREJ.

A TEAL task (stsci.tools, CONVENTIONS §5) is a module named after the
task with ``__taskname__``, ``run(configobj)`` and ``getHelpAsString()``,
plus ``pars/acs_flecks.cfg`` and ``pars/acs_flecks.cfgspc`` shipped as
package data.  The package `acs_flecks` re-exports these three names so
that ``teal.load('acs_flecks')`` finds the task and can run it.

The one source of the parameters and their defaults is
`acs_flecks.parameters`: the signature of `run_acs_flecks` and the
``.cfgspc`` are generated from it, and a test checks that the shipped
``.cfgspc`` and ``.cfg`` equal the generated text (an empty string in the
configuration stands for `None`).

Headless use (no display needed)::

    >>> from stsci.tools import teal                      # doctest: +SKIP
    >>> cfg = teal.load('acs_flecks', defaults=True)      # doctest: +SKIP
    >>> cfg['median_size']                                # doctest: +SKIP
    15
    >>> cfg = teal.load('/path/to/my_acs_flecks.cfg')     # doctest: +SKIP
    >>> from acs_flecks.teal_task import run
    >>> run(cfg)                                          # doctest: +SKIP

or ``acs_flecks run my_acs_flecks.cfg`` from the shell.
"""

import contextlib
import inspect
import io
import logging
import os
import pathlib
import re

from .exceptions import AcsFlecksError
from .parameters import CHAIN, chain_defaults, parameter_doc

__all__ = ['run_acs_flecks', 'run', 'getHelpAsString', 'config_to_kwargs',
           'load_config', 'signature_defaults', 'default_config_path',
           'check_config_values', 'write_default_config', 'TASK_NAME']

log = logging.getLogger(__name__)

#: The TEAL task name.
TASK_NAME = 'acs_flecks'
__taskname__ = TASK_NAME

_PARS_DIR = pathlib.Path(__file__).resolve().parent / 'pars'


def run_acs_flecks(input, **parameters):
    """
    Run the whole fleck chain: find -> monitor -> characterize -> bpixtab ->
    certify -> report (`acs_flecks.pipeline.run_pipeline`).

    The parameters, their defaults and bounds are declared once in
    `acs_flecks.parameters` (`~acs_flecks.parameters.CHAIN`): this
    signature, the ``.cfgspc`` and ``acs_flecks run`` are built from them.

    Parameters
    ----------
{parameters}

    Returns
    -------
    The chain's result (see `acs_flecks.pipeline`).
    """
    # the chain's parameters only (TypeError for any other, as a signature)
    bound = run_acs_flecks.__signature__.bind(input, **parameters)
    from .pipeline import run_pipeline
    return run_pipeline(*bound.args, **bound.kwargs)


def _chain_signature():
    """The signature of `run_acs_flecks`: `~acs_flecks.parameters.CHAIN`,
    ``input`` first and the others keyword-only with their defaults."""
    pars = []
    for _, p in CHAIN:
        if p.name == 'input':
            pars.append(inspect.Parameter(
                p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD))
        else:
            pars.append(inspect.Parameter(
                p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default))
    return inspect.Signature(pars)


run_acs_flecks.__signature__ = _chain_signature()
if run_acs_flecks.__doc__:  # not under python -OO
    run_acs_flecks.__doc__ = run_acs_flecks.__doc__.replace(
        '{parameters}', parameter_doc())


def signature_defaults():
    """
    The parameters of `run_acs_flecks` and their defaults.

    Returns
    -------
    dict
        ``{name: default}``; the required ``input`` maps to ``''``.
    """
    return chain_defaults()


def default_config_path():
    """Path of the installed ``acs_flecks.cfg``."""
    return _PARS_DIR / f'{TASK_NAME}.cfg'


def config_to_kwargs(configobj):
    """
    Turn a TEAL configuration into keyword arguments of `run_acs_flecks`.

    Empty strings become `None` where the signature default is `None`;
    unknown keys are an error naming them.

    Parameters
    ----------
    configobj : dict-like
        A loaded configuration (``teal.load(...)``) or a plain dict.

    Returns
    -------
    dict
    """
    defaults = signature_defaults()
    kwargs = {}
    unknown = []
    for key, val in dict(configobj).items():
        if key.startswith('_') or isinstance(val, dict):
            continue  # _task_name_, _RULES_ and sections
        if key not in defaults:
            unknown.append(key)
            continue
        if val == '' and defaults[key] is None:
            val = None
        kwargs[key] = val
    if unknown:
        raise AcsFlecksError(f'unknown parameter(s) {", ".join(unknown)} in '
                             f'the {TASK_NAME} configuration')
    if not kwargs.get('input'):
        raise AcsFlecksError('the configuration gives no input files '
                             '(parameter "input")')
    return kwargs


def load_config(path=None, *, defaults=False):
    """
    Load a configuration without a display.

    Parameters
    ----------
    path : str or path-like, optional
        A user's ``.cfg`` file; default the installed task (``teal.load
        ('acs_flecks')``).
    defaults : bool, optional
        All parameters at their defaults.

    Returns
    -------
    `stsci.tools.cfgpars.ConfigObjPars`
    """
    from stsci.tools import teal
    if path is None:
        return teal.load(TASK_NAME, defaults=defaults)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AcsFlecksError('no such configuration file', path=path)
    if not defaults:
        check_config_values(path)
    printed = io.StringIO()
    try:
        # stsci.tools prints "Validation warnings" (keys missing from the
        # file, which take their defaults) to stdout: log them instead
        with contextlib.redirect_stdout(printed):
            cfg = teal.load(path, defaults=defaults)
    except Exception as exc:  # stsci.tools raises KeyError, ValueError, ...
        raise AcsFlecksError(f'not a valid {TASK_NAME} configuration '
                             f'({str(exc).strip() or type(exc).__name__})',
                             path=path) from None
    missing = re.findall(r'"(\w+)" is missing', printed.getvalue())
    if missing:
        log.info('%s: parameter(s) not in the file take their defaults: %s',
                 path, ', '.join(missing))
    task = cfg.get('_task_name_') if cfg is not None else None
    if cfg is None or (task and task != TASK_NAME):
        raise AcsFlecksError(f'configuration is for task {task!r}, not '
                             f'{TASK_NAME!r}', path=path)
    return cfg


def _spec():
    """The ``.cfgspc``: ``{key: (spec string, {default, comment, min...})}``."""
    from stsci.tools import configobj, vtor_checks
    spec = configobj.ConfigObj(str(_PARS_DIR / f'{TASK_NAME}.cfgspc'),
                               list_values=False, _inspec=True)
    return {k: (v, vtor_checks.sigStrToKwArgsDict(v)) for k, v in spec.items()}


def _describe_spec(text, info):
    kind = text.split('(', 1)[0].replace('_kw', '').replace('_or_none',
                                                             ' or None')
    kind = {'integer': 'an integer', 'float': 'a number',
            'boolean': 'True or False', 'string': 'text'}.get(kind, kind)
    bounds = [f'{op} {info[k]}' for k, op in (('min', '>='), ('max', '<='))
              if k in info]
    return kind + (' ' + ' and '.join(bounds) if bounds else '')


def check_config_values(path):
    """
    Check every value of a ``.cfg`` file against the ``.cfgspc``.

    stsci.tools reports a bad value without the parameter's name (and, in
    version 4.3, fails with ``'VdtTypeError' object has no attribute
    'message'``); this names the key, the value and what is allowed.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        A value of the wrong type or out of range, or an unknown key.
    """
    from stsci.tools import configobj, validate, vtor_checks
    path = os.fspath(path)
    try:
        cfg = configobj.ConfigObj(path, configspec=str(
            _PARS_DIR / f'{TASK_NAME}.cfgspc'))
    except (configobj.ConfigObjError, OSError, UnicodeDecodeError) as exc:
        raise AcsFlecksError(f'not a valid {TASK_NAME} configuration '
                             f'({str(exc).splitlines()[0] if str(exc) else exc})',
                             path=path) from None
    spec = _spec()
    unknown = [k for k in cfg if k not in spec]
    if unknown:
        raise AcsFlecksError(
            f'unknown parameter(s) {", ".join(unknown)} (the {TASK_NAME} '
            f'parameters are {", ".join(k for k in spec if k[0] != "_")})',
            path=path)
    vtor = validate.Validator(vtor_checks.FUNC_DICT)
    result = cfg.validate(vtor, preserve_errors=True)
    if result is True:
        return
    for sections, key, err in configobj.flatten_errors(cfg, result):
        if key is None or key.startswith('_') or err is False:
            continue  # a missing key takes its default
        text, info = spec[key]
        value = cfg.get(key)
        hint = ''
        if isinstance(value, list):
            value = ','.join(value)
            hint = f' (quote a comma-separated list: {key} = "{value}")'
        raise AcsFlecksError(
            f'parameter {key} = {value!r}: must be '
            f'{_describe_spec(text, info)}{hint}', path=path)


def write_default_config(path):
    """
    Write the default configuration with each parameter's help line (from
    the ``.cfgspc``) as a comment above it, atomically.

    Returns
    -------
    str
        ``path``.
    """
    from stsci.tools import configobj
    from .utils import atomic_output
    cfg = configobj.ConfigObj(str(default_config_path()))
    spec = _spec()
    for key in cfg:
        if key.startswith('_') or key not in spec:
            continue
        text, info = spec[key]
        help_line = info.get('comment', '')
        cfg.comments[key] = ['', f'# {help_line} '
                             f'[{_describe_spec(text, info)}]'.replace(
                                 '#  [', '# [')]
    cfg.initial_comment = [
        f'# {TASK_NAME} configuration (TEAL task {TASK_NAME}); run it with',
        f'#     acs_flecks run {os.path.basename(os.fspath(path))}']
    with atomic_output(path) as tmp:
        cfg.filename = tmp
        cfg.write()
    return os.fspath(path)


def run(configobj=None):
    """
    TEAL entry point: run the chain with a loaded configuration.

    Parameters
    ----------
    configobj : `stsci.tools.cfgpars.ConfigObjPars` or dict
        The configuration (``teal.load(...)``).
    """
    if configobj is None:
        configobj = load_config()
    return run_acs_flecks(**config_to_kwargs(configobj))


def getHelpAsString():
    """TEAL help: what the task does and every parameter."""
    doc = inspect.getdoc(run_acs_flecks) or ''
    return (f'{TASK_NAME}: find, monitor and characterize particles '
            '("flecks") on the ACS/WFC CCDs and deliver a bad-pixel table.\n\n'
            + doc)
