"""
Validation of parameters before any work or write.

Every command and API entry point checks all of its parameters with these
helpers first, so that a bad value is refused with one line naming the
parameter and the value, before a file, a directory or a database row is
written (see ``docs/guarantees.rst``).

>>> from acs_flecks.validate import check_number
>>> check_number(3.0, 'tolerance', minimum=0, inclusive=False)
3.0
>>> check_number(-3, 'tolerance', minimum=0, inclusive=False)
Traceback (most recent call last):
...
acs_flecks.exceptions.AcsFlecksError: tolerance must be a number > 0, got -3
"""

import math
import numbers

from .exceptions import AcsFlecksError

__all__ = ['check_number', 'check_integer', 'check_dq_value',
           'check_choice', 'check_parameter', 'check_figure_format',
           'check_chip_position']


def _describe(minimum, maximum, inclusive, integer):
    kind = 'an integer' if integer else 'a number'
    lo = hi = ''
    if minimum is not None:
        lo = f'{">=" if inclusive else ">"} {minimum:g}'
    if maximum is not None:
        hi = f'{"<=" if inclusive else "<"} {maximum:g}'
    if lo and hi:
        return f'{kind} {lo} and {hi}'
    return f'{kind} {lo or hi}'.rstrip()


def check_number(value, name, *, minimum=None, maximum=None, inclusive=True,
                 allow_none=False):
    """
    A finite real number within bounds, or raise naming ``name``.

    Parameters
    ----------
    value : object
        The value (a string is refused: convert first).
    name : str
        Parameter or option name used in the message.
    minimum, maximum : float, optional
        Bounds.
    inclusive : bool, optional
        Whether the bounds themselves are allowed.
    allow_none : bool, optional
        `None` passes (returned as is).

    Returns
    -------
    float
    """
    if value is None and allow_none:
        return None
    desc = _describe(minimum, maximum, inclusive, False)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AcsFlecksError(f'{name} must be {desc}, got {value!r}')
    v = float(value)
    ok = math.isfinite(v)
    if ok and minimum is not None:
        ok = v >= minimum if inclusive else v > minimum
    if ok and maximum is not None:
        ok = v <= maximum if inclusive else v < maximum
    if not ok:
        raise AcsFlecksError(f'{name} must be {desc}, got {value!r}')
    return v


def check_integer(value, name, *, minimum=None, maximum=None,
                  allow_none=False):
    """
    An integer within inclusive bounds, or raise naming ``name``.

    A float with an integer value (``3.0``) is accepted; ``True`` and
    ``3.5`` are not.

    Returns
    -------
    int
    """
    if value is None and allow_none:
        return None
    desc = _describe(minimum, maximum, True, True)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)) or float(value) != int(value):
        raise AcsFlecksError(f'{name} must be {desc}, got {value!r}')
    v = int(value)
    if (minimum is not None and v < minimum) or \
            (maximum is not None and v > maximum):
        raise AcsFlecksError(f'{name} must be {desc}, got {value!r}')
    return v


def check_dq_value(value, name='value'):
    """
    A DQ flag to write: one bit of the 16-bit DQ word (1, 2, 4 ... 16384).

    Returns
    -------
    int
    """
    v = check_integer(value, name, minimum=1, maximum=16384)
    if v & (v - 1):
        raise AcsFlecksError(f'{name} must be a single DQ bit (e.g. 4 = bad '
                             f'detector pixel), got {value!r}')
    return v


def check_choice(value, name, choices):
    """One of ``choices`` (strings, case-sensitive), or raise."""
    if value not in choices:
        raise AcsFlecksError(f'{name} must be one of {", ".join(choices)}, '
                             f'got {value!r}')
    return value


def check_parameter(value, parameter, name=None):
    """
    A value of a stage parameter, within the type, bounds and choices that
    `acs_flecks.parameters` declares for it, or raise naming ``name``.

    Parameters
    ----------
    value : object
        The value.
    parameter : `acs_flecks.parameters.Parameter`
        The parameter (e.g. ``MONITORING['tolerance']``).
    name : str, optional
        Name used in the message (default the parameter's name; a command
        passes its option, e.g. ``'--tolerance'``).

    Returns
    -------
    object
        The value (an `int` or a `float` for numbers).

    Examples
    --------
    >>> from acs_flecks.parameters import MONITORING
    >>> check_parameter(0, MONITORING['tolerance'])
    Traceback (most recent call last):
    ...
    acs_flecks.exceptions.AcsFlecksError: tolerance must be a number > 0, got 0
    """
    p = parameter
    name = name or p.name
    if value is None and p.allow_none:
        return None
    if p.type is int:
        value = check_integer(value, name, minimum=p.minimum,
                              maximum=p.maximum)
    elif p.type is float:
        low, high = p.inclusive
        if low == high:
            value = check_number(value, name, minimum=p.minimum,
                                 maximum=p.maximum, inclusive=low)
        else:
            # half-open: checked against the closed interval, then the
            # open end
            value = check_number(value, name, minimum=p.minimum,
                                 maximum=p.maximum)
            for bound, closed in ((p.minimum, low), (p.maximum, high)):
                if bound is not None and not closed and value == bound:
                    raise AcsFlecksError(
                        f'{name} must be a number '
                        f'{">=" if low else ">"} {p.minimum:g} and '
                        f'{"<=" if high else "<"} {p.maximum:g}, '
                        f'got {value!r}')
    elif p.type is bool:
        if not isinstance(value, bool) and type(value).__name__ != 'bool_':
            raise AcsFlecksError(f'{name} must be True or False, got '
                                 f'{value!r}')
    elif not isinstance(value, str):
        raise AcsFlecksError(f'{name} must be text, got {value!r}')
    if p.choices is not None:
        check_choice(value, name, p.choices)
    return value


def check_figure_format(path, name):
    """
    The extension of a figure file that matplotlib can write.

    Returns
    -------
    str
        The format (``'png'``, ``'pdf'``...).
    """
    from matplotlib.backend_bases import FigureCanvasBase
    supported = FigureCanvasBase.get_supported_filetypes()
    import os
    ext = os.path.splitext(os.fspath(path))[1][1:].lower()
    if ext not in supported:
        raise AcsFlecksError(
            f'{name}: matplotlib cannot write a {"." + ext if ext else "file without an extension"}'
            f' figure (use one of {", ".join("." + e for e in sorted(supported))})',
            path=path)
    return ext


def check_chip_position(x, y, *, names=('--x', '--y'), shape=(2048, 4096),
                        detector='WFC'):
    """
    A finite 1-indexed chip position (x = column, y = row) on the chip.

    Returns
    -------
    tuple of float
    """
    ny, nx = shape
    for value, name in ((x, names[0]), (y, names[1])):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(float(value)):
            raise AcsFlecksError(f'{name} must be a finite pixel position, '
                                 f'got {value!r}')
    if not (0.5 <= x <= nx + 0.5 and 0.5 <= y <= ny + 0.5):
        raise AcsFlecksError(
            f'position ({names[0]}, {names[1]}) = ({x:g}, {y:g}) is off the '
            f'{detector} chip ({nx}x{ny} pixels, 1-indexed)')
    return float(x), float(y)
