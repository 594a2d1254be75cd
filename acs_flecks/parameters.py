"""
The parameters of every stage of the chain, each declared once.

One `Stage` per step of the report -- `DETECTION` (§7), `MONITORING` (§2),
`CHARACTERIZATION` (§4-§6), `DELIVERY` (§8) -- plus `CHAIN_IO`, the files of
the whole chain.  Each `Parameter` carries its name, type, default, bounds
or choices and help text, and everything else is built from it, as jwst's
``stpipe`` builds a step's command line, configuration file and API from the
step's ``spec``:

- the Python API's defaults (``median_size=DETECTION.defaults.median_size``
  in `acs_flecks.detect.find_artifacts`, `acs_flecks.pipeline.run_pipeline`,
  ...; `inspect.signature` still shows the values);
- the command-line options (`add_arguments`, used by ``acs_flecks find``,
  ``monitor``, ``transmissivity``, ...);
- the TEAL task's ``pars/acs_flecks.cfgspc`` and ``.cfg`` (`cfgspc_text`,
  `cfg_text`; a test checks that the shipped files equal them) and the
  signature of `acs_flecks.teal_task.run_acs_flecks` (`CHAIN`);
- the checks before any work (`acs_flecks.validate.check_parameter` reads
  the bounds).

Standard library only: the command line builds ``--help`` from it without
importing numpy or astropy.

>>> from acs_flecks.parameters import DETECTION
>>> DETECTION.defaults.median_size, DETECTION.defaults.nsigma
(15, 5.0)
>>> DETECTION['min_area'].minimum
1
"""

from .dq import DEFAULT_MASK_FLAGS

__all__ = ['Parameter', 'Stage', 'DETECTION', 'MONITORING',
           'CHARACTERIZATION', 'DELIVERY', 'CHAIN_IO', 'STAGES', 'CHAIN',
           'COMBINE_RULES', 'BACKGROUNDS', 'DATE_OF_ORIGIN', 'SCENARIOS',
           'KINDS', 'add_arguments', 'cfgspc_text', 'cfg_text',
           'chain_defaults', 'parameter_doc']

#: Rules for combining the per-filter transmissivity maps into bad pixels.
COMBINE_RULES = ('bluest', 'mean', 'min')

#: Local background models of the transmissivity cutouts.
BACKGROUNDS = ('plane', 'poly2', 'median')

#: The date the three flecks appeared (report §2).
DATE_OF_ORIGIN = '2017-05-05'

#: Simulation scenario names.
SCENARIOS = ('discovery', 'population', 'blank', 'lifetime')

#: Simulated file kinds, in the order they are written.
KINDS = ('dkc', 'dark', 'daily', 'flat', 'eper')


def _fmt(value):
    """A default as ``--help`` shows it: 5.0 -> '5', 0.005 -> '0.005'."""
    if isinstance(value, float):
        return f'{value:g}'
    return str(value)


class Parameter:
    """
    One parameter of a stage: everything the API, the command line, the
    TEAL configuration and the validation need to know about it.

    Parameters
    ----------
    name : str
        Keyword of the Python API and key of the TEAL configuration.
    type : {int, float, str, bool}
        Type of a value (`None` is allowed when ``allow_none``).
    default : object
        Default value.
    help : str
        One line: what the parameter means.  The command line appends the
        default, the ``.cfgspc`` uses it as the comment.
    minimum, maximum : float, optional
        Bounds.
    inclusive : bool or (bool, bool), optional
        Whether ``minimum`` and ``maximum`` themselves are allowed.
    choices : tuple, optional
        The allowed values (a command-line ``choices``).
    allow_none : bool, optional
        `None` is a value (e.g. ``workers``: all cores).
    option : str, optional
        Command-line option (default ``--`` + the name with dashes).
    metavar : str, optional
        Command-line metavar.
    default_text : str, optional
        How ``--help`` describes the default when not by its value.
    doc : str, optional
        The numpydoc type of the API documentation (default from ``type``).
    cfgspc_bounds : tuple of str, optional
        Which bounds the ``.cfgspc`` states (``'min'``, ``'max'``; default
        both): the others are checked by the chain itself, with their own
        message (e.g. ``value``: a single DQ bit).
    """

    def __init__(self, name, type, default, help, *, minimum=None,
                 maximum=None, inclusive=True, choices=None,
                 allow_none=False, option=None, metavar=None,
                 default_text=None, doc=None,
                 cfgspc_bounds=('min', 'max')):
        self.name = name
        self.type = type
        self.default = default
        self.help = help
        self.minimum = minimum
        self.maximum = maximum
        self.inclusive = (inclusive if isinstance(inclusive, tuple)
                          else (inclusive, inclusive))
        self.choices = choices
        self.allow_none = allow_none or default is None
        self.option = option or '--' + name.replace('_', '-')
        self.metavar = metavar
        self.default_text = default_text
        self.doc = doc or {int: 'int', float: 'float', str: 'str',
                           bool: 'bool'}[type]
        self.cfgspc_bounds = cfgspc_bounds

    def __repr__(self):
        return f'Parameter({self.name!r}, default={self.default!r})'

    def cli_help(self, help=None):
        """The ``--help`` line: the help text and the default."""
        text = help or self.help
        if self.type is bool:
            return text
        default = self.default_text or _fmt(self.default)
        return f'{text} (default {default})'.replace('%', '%%')

    def cfgspc(self):
        """The ``.cfgspc`` line of this parameter (TEAL, stsci.tools)."""
        if self.type is bool:
            kind, default = 'boolean_kw', str(self.default)
        elif self.type is int:
            kind = 'integer_or_none_kw' if self.allow_none else 'integer_kw'
            default = str(self.default)
        elif self.type is float:
            kind = 'float_or_none_kw' if self.allow_none else 'float_kw'
            default = repr(self.default) if self.default is not None \
                else 'None'
        else:
            kind = 'string_kw'
            default = f'"{self.default or ""}"'
        args = [f'default={default}']
        for key, bound in (('min', self.minimum), ('max', self.maximum)):
            if bound is not None and key in self.cfgspc_bounds:
                if self.type is float:
                    bound = float(bound)
                args.append(f'{key}={bound}')
        comment = self.help[0].upper() + self.help[1:]
        args.append(f'comment="{comment}"')
        return f'{self.name} = {kind}({", ".join(args)})'

    def cfg(self):
        """The ``.cfg`` line of this parameter at its default."""
        if self.type is str:
            return f'{self.name} = ' + (self.default or '""')
        return f'{self.name} = {self.default}'


class _Defaults(dict):
    """The defaults of a stage: a dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Stage:
    """
    The parameters of one stage of the chain.

    Parameters
    ----------
    name : str
        Name of the stage.
    description : str
        One line: what the stage does.
    parameters : list of `Parameter`
    """

    def __init__(self, name, description, parameters):
        self.name = name
        self.description = description
        self.parameters = {p.name: p for p in parameters}
        #: ``{name: default}``, with attribute access
        #: (``DETECTION.defaults.median_size``).
        self.defaults = _Defaults((p.name, p.default) for p in parameters)

    def __getitem__(self, name):
        return self.parameters[name]

    def __iter__(self):
        return iter(self.parameters.values())

    def __contains__(self, name):
        return name in self.parameters

    def __repr__(self):
        return f'Stage({self.name!r}, {list(self.parameters)})'


# ------------------------------------------------------------------ stages --

DETECTION = Stage('detection', 'search of one flashed dark (report §7)', [
    Parameter('median_size', int, 15, 'median filter size in pixels, odd '
              '>= 3', minimum=3, metavar='N', default_text='15, report §7'),
    Parameter('nsigma', float, 5.0, 'detection threshold in noise units',
              minimum=0, inclusive=False),
    Parameter('min_area', int, 25, 'minimum connected pixels of a detection',
              minimum=1, metavar='NPIX'),
    Parameter('mask_flags', int, DEFAULT_MASK_FLAGS, 'DQ bits to ignore',
              minimum=0, maximum=65535, metavar='BITS',
              default_text=f'{DEFAULT_MASK_FLAGS}: all but 4'),
    Parameter('box', int, 128, 'box size (pixels) of the large-scale level '
              'and of the noise grid', minimum=16),
    Parameter('median_mode', str, 'reflect', "edge mode of the median "
              "filter ('reflect' as scipy's default)"),
    Parameter('deblend', bool, True, 'split blended artifacts, as '
              'SExtractor (32 levels, contrast 0.005)', option='--no-deblend'),
    Parameter('deblend_nlevels', int, 32, 'thresholds of the deblending, '
              'SExtractor DEBLEND_NTHRESH', minimum=1),
    Parameter('deblend_contrast', float, 0.005, 'minimum flux fraction of a '
              'deblended branch, SExtractor DEBLEND_MINCONT', minimum=0,
              maximum=1, metavar='FRAC'),
    Parameter('deblend_min_area', int, None, 'minimum pixels of a deblended '
              'branch', minimum=1, metavar='NPIX',
              default_text='MIN_AREA; 3 reproduces SExtractor',
              doc='int or None'),
])

MONITORING = Stage('monitoring', 'history of the epochs: cross-match and '
                   'classify (report §2, §3)', [
    # The centroid of a median-filtered deficit segment jitters by a few
    # tenths of a pixel between epochs and the report's EPER comparison
    # shows sub-pixel motion, so 3 pixels is safely above that and well
    # below the spacing of the freckles.
    Parameter('tolerance', float, 3.0, 'cross-match radius between epochs, '
              'pixels', minimum=0, inclusive=False, metavar='PIX'),
    Parameter('change_nsigma', float, 5.0, 'threshold of the "changed" test '
              'in units of its uncertainty', minimum=0, inclusive=False),
    Parameter('vanish_after', int, 1, 'latest epochs without an artifact '
              'before it is "vanished"', minimum=1, metavar='N'),
    Parameter('difference_nsigma', float, 6.0, 'matched-filter threshold in '
              'noise units of the ratio image', minimum=0, inclusive=False,
              metavar='N'),
    Parameter('difference_kernels', str, '1,2,4', 'Gaussian sigmas (pixels) '
              'of the matched filters', metavar='S,S,..'),
    Parameter('difference_pixel_nsigma', float, 2.0, 'per-pixel threshold '
              '(noise units) of a new-artifact candidate\'s footprint',
              minimum=0, inclusive=False),
    Parameter('difference_min_pixels', int, 3, 'pixels of a candidate '
              'deeper than difference_pixel_nsigma needed to keep it',
              minimum=1),
    Parameter('difference_box', int, 128, 'box (pixels) of the smooth '
              'level of each epoch and of the noise map', minimum=16),
    Parameter('min_reference', int, 1, 'earlier epochs needed before an '
              'epoch is searched', minimum=1, metavar='N'),
    Parameter('max_reference', int, 5, 'earlier epochs in the median '
              'reference', minimum=1, metavar='N'),
    Parameter('lightpath_nsigma', float, 5.0, 'significance threshold of '
              'the flashed vs un-flashed test', minimum=0, inclusive=False,
              option='--nsigma'),
    Parameter('workers', int, None, 'Dask workers (None: all cores)',
              minimum=1, metavar='N', default_text='all cores',
              doc='int or None', cfgspc_bounds=()),
    Parameter('scheduler', str, '', 'Dask scheduler address (blank: local, '
              'serial: no Dask)', metavar='ADDRESS'),
])

CHARACTERIZATION = Stage('characterization', 'transmissivity, bad pixels, '
                         'LED vs lamp, EPER, shadow (report §4-§6)', [
    Parameter('box', int, 40, 'cutout side around each fleck, pixels',
              minimum=5, doc='int or tuple'),
    Parameter('aperture_threshold', float, 0.05, 'blocking fraction '
              'defining a filter aperture', minimum=0, maximum=1,
              inclusive=False),
    Parameter('badpix_threshold', float, 0.5, 'flag pixels with '
              'transmissivity below this', minimum=0, maximum=1,
              inclusive=(False, True)),
    Parameter('combine', str, 'bluest', 'filters to bad pixels: '
              f'{", ".join(COMBINE_RULES)} or a filter name',
              default_text='bluest = F435W, as in the report'),
    Parameter('background', str, 'plane', 'local background model',
              choices=BACKGROUNDS),
])

DELIVERY = Stage('delivery', 'the new bad-pixel table and its '
                 'certification (report §8)', [
    Parameter('reference', str, 'auto', 'current bpixtab: path, jref$name '
              'or auto', metavar='REF'),
    Parameter('useafter', str, None, 'USEAFTER of the new bpixtab (blank: '
              'date of origin)', metavar='DATE'),
    Parameter('output', str, None, 'new bpixtab file (blank: derived name)',
              metavar='FILE'),
    Parameter('value', int, 4, 'DQ flag for fleck pixels (4 = bad detector '
              'pixel)', minimum=1, maximum=16384, cfgspc_bounds=('min',)),
    Parameter('max_distance', float, 30.0, 'certification: largest distance '
              '(pixels) of a new flag from a fleck', minimum=0,
              inclusive=False),
    Parameter('overwrite', bool, False, 'replace existing outputs?'),
])

CHAIN_IO = Stage('chain', 'the files of the whole chain (TEAL task '
                 'acs_flecks, acs_flecks run)', [
    Parameter('input', str, '', 'ACSREJ outputs: combined short flashed '
              'darks (files, glob or @list)', doc='str or list of str'),
    Parameter('flats', str, None, 'lamp flats per filter (files, glob or '
              '@list)', doc='str or list of str'),
    Parameter('unflashed', str, None, 'un-flashed darks for the flashed vs '
              'un-flashed test', doc='str or list of str'),
    Parameter('eper', str, None, 'EPER lamp images of two epochs',
              doc='str or list of str'),
    Parameter('history', str, None, 'monitoring history database (blank: '
              'default)'),
    Parameter('report', str, None, 'HTML report (blank: default)'),
    Parameter('outdir', str, None, 'directory of every output (blank: '
              'default)'),
    Parameter('science', str, None, 'calibrated science exposures (flt/flc) '
              'to re-flag and assess', doc='str or list of str'),
    Parameter('sources', str, None, 'sources for the science exposures: '
              'ECSV (id, ra, dec) or DS9 regions'),
])

#: Every stage, in the order of the chain.
STAGES = (DETECTION, MONITORING, CHARACTERIZATION, DELIVERY, CHAIN_IO)

#: The chain's parameters, in the order of `acs_flecks.pipeline.run_pipeline`,
#: of the TEAL task and of its ``.cfgspc``: (stage, parameter name).
CHAIN = tuple((stage, stage[name]) for stage, name in (
    (CHAIN_IO, 'input'), (CHAIN_IO, 'flats'), (CHAIN_IO, 'unflashed'),
    (CHAIN_IO, 'eper'), (DELIVERY, 'reference'), (DELIVERY, 'useafter'),
    (DELIVERY, 'output'), (CHAIN_IO, 'history'), (CHAIN_IO, 'report'),
    (CHAIN_IO, 'outdir'), (DETECTION, 'median_size'), (DETECTION, 'nsigma'),
    (DETECTION, 'min_area'), (MONITORING, 'tolerance'),
    (CHARACTERIZATION, 'badpix_threshold'),
    (CHARACTERIZATION, 'aperture_threshold'), (CHARACTERIZATION, 'box'),
    (CHARACTERIZATION, 'combine'), (DELIVERY, 'value'),
    (MONITORING, 'workers'), (MONITORING, 'scheduler'),
    (DELIVERY, 'overwrite'), (CHAIN_IO, 'science'), (CHAIN_IO, 'sources')))


def chain_defaults():
    """
    The chain's parameters and their defaults, in `CHAIN` order.

    Returns
    -------
    dict
        ``{name: default}``; the required ``input`` maps to ``''``.
    """
    return {p.name: p.default for _, p in CHAIN}


def parameter_doc(names=None, *, indent=4):
    """
    The numpydoc ``Parameters`` entries of chain parameters.

    Parameters
    ----------
    names : iterable of str, optional
        Which (default: all of `CHAIN`, in its order).
    indent : int, optional
        Indentation of the entries.

    Returns
    -------
    str
    """
    import textwrap
    pad = ' ' * indent
    wanted = None if names is None else set(names)
    lines = []
    for _, p in CHAIN:
        if wanted is not None and p.name not in wanted:
            continue
        optional = '' if p.name == 'input' else ', optional'
        lines.append(f'{pad}{p.name} : {p.doc}{optional}')
        text = p.help[0].upper() + p.help[1:]
        if p.default not in (None, '') or p.type is bool:
            text += f' (default {p.default_text or _fmt(p.default)})'
        lines += textwrap.wrap(text + ('' if text.endswith('?') else '.'),
                               width=79, initial_indent=pad + '    ',
                               subsequent_indent=pad + '    ')
    return '\n'.join(lines)


def cfgspc_text():
    """
    The TEAL ``.cfgspc`` of task ``acs_flecks``, generated from `CHAIN`.

    Returns
    -------
    str
        The text of ``pars/acs_flecks.cfgspc``.
    """
    lines = ['_task_name_ = string_kw(default="acs_flecks")']
    lines += [p.cfgspc() for _, p in CHAIN]
    return '\n'.join(lines) + '\n'


def cfg_text():
    """
    The default TEAL ``.cfg`` of task ``acs_flecks``, from `CHAIN`.

    Returns
    -------
    str
        The text of ``pars/acs_flecks.cfg``.
    """
    lines = ['_task_name_ = acs_flecks'] + [p.cfg() for _, p in CHAIN]
    return '\n'.join(lines) + '\n'


def add_arguments(parser, stage, names, *, help=None, defaults=None,
                  options=None, dests=None):
    """
    Add stage parameters as options of a command-line (sub)parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
    stage : `Stage`
    names : iterable of str
        The parameters, in the order of ``--help``.
    help : dict, optional
        ``{name: text}``: a command's own wording of the help text (the
        default is still appended).
    defaults : dict, optional
        ``{name: value}``: a command whose default differs (e.g. a box given
        as ``'40x40'``).
    options, dests : dict, optional
        ``{name: '--option'}``, ``{name: dest}`` when a command names the
        option otherwise.
    """
    help = help or {}
    defaults = defaults or {}
    options = options or {}
    dests = dests or {}
    for name in names:
        p = stage[name]
        option = options.get(name, p.option)
        kw = {'dest': dests.get(name, name if p.option == option else None)}
        if kw['dest'] is None:
            del kw['dest']
        if p.type is bool:
            kw['action'] = 'store_false' if p.default else 'store_true'
            parser.add_argument(option, help=help.get(name, p.cli_help()),
                                **kw)
            continue
        default = defaults.get(name, p.default)
        text = help.get(name, p.help)
        if name in defaults:
            text = f'{text} (default {_fmt(default)})'.replace('%', '%%')
        else:
            text = p.cli_help(text)
        if p.type is not str:
            kw['type'] = p.type
        if p.metavar:
            kw['metavar'] = p.metavar
        if p.choices:
            kw['choices'] = p.choices
        parser.add_argument(option, default=default, help=text, **kw)
