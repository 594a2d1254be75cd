"""
A one-page HTML report of a run: sections of text, tables and figures.

The page is self-contained apart from the figure files, which are linked by
paths relative to the page, so the output directory can be moved or served
as a whole: no absolute path appears anywhere in a page (links, figures and
text; `relative_paths`).  The page fits a 1400-pixel browser window: tables
scroll inside their own box, images scale to their column, and long tables
sit in collapsible sections (``<details>``) with a link to the full ECSV.
`REPORT_CSS` is also the style of the figures index
(`acs_flecks.html.figures_index`).

>>> from acs_flecks.html import HTMLReport
>>> rep = HTMLReport('acs_flecks run')
>>> sec = rep.section('Flecks')
>>> sec.text('Three new flecks.')
>>> '<h2' in rep.render()
True
"""

import datetime
import html
import logging
import os
import re

import numpy as np
from astropy.table import Table

from ..utils import atomic_output

try:  # the version the package __init__ reports, without importing the
    # package __init__ (whose lazy names import the chain, which imports this)
    from .._version import version as __version__
except ImportError:  # pragma: no cover - not installed (no _version.py)
    __version__ = '0.0.0'

__all__ = ['HTMLReport', 'ReportSection', 'table_to_html', 'REPORT_CSS',
           'relative_paths', 'COLLAPSE_ROWS']

log = logging.getLogger(__name__)

#: Style sheet of every page acs_flecks writes (report and figures index).
REPORT_CSS = """
* { box-sizing: border-box; }
html, body { overflow-x: hidden; }
body { font-family: sans-serif; margin: 1.5em auto; padding: 0 1em;
       max-width: 1360px; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #446; font-size: 1.6em; }
h2 { border-bottom: 1px solid #99a; margin-top: 2em; }
h3 { margin-top: 1.5em; }
nav { background: #f3f3f8; padding: 0.4em 0.8em; border: 1px solid #dde; }
nav a { margin-right: 1em; }
.tbl { max-width: 100%; overflow-x: auto; margin: 0.5em 0 1.5em 0; }
table { border-collapse: collapse; font-size: 90%; }
th, td { border: 1px solid #bbc; padding: 0.2em 0.6em; text-align: right;
         white-space: nowrap; }
th { background: #eef; position: sticky; top: 0; }
td.s, th.s { text-align: left; }
td.wrap, th.wrap { white-space: normal; min-width: 20em; text-align: left; }
caption { caption-side: top; text-align: left; font-weight: bold;
          padding-bottom: 0.3em; }
figure { display: inline-block; margin: 0.5em; vertical-align: top;
         max-width: 48%; }
figure.wide { max-width: 98%; }
img { max-width: 100%; height: auto; }
figure img { border: 1px solid #ccd; }
figcaption { font-size: 85%; }
details { margin: 0.5em 0 1em 0; }
summary { cursor: pointer; font-weight: bold; }
.ok { color: #070; font-weight: bold; }
.fail { color: #b00; font-weight: bold; }
.new { border-left: 4px solid #c33; padding-left: 0.8em; }
pre { background: #f6f6fa; padding: 0.6em; overflow-x: auto;
      white-space: pre-wrap; }
p, li { overflow-wrap: anywhere; }
"""

_CSS = REPORT_CSS

#: Tables longer than this are collapsed (``<details>``) by default.
COLLAPSE_ROWS = 15

_ABS_PATH = re.compile(r'(?<![\w.:/<~-])(/(?:[\w.+@-]+/)+[\w.+@-]*)')


def relative_paths(text, base_dir):
    """
    Replace every absolute file path in ``text`` by the path relative to
    ``base_dir`` (a page must not depend on where its directory lives).

    >>> relative_paths('see /data/run/results/a.fits', '/data/run/results')
    'see a.fits'
    """
    if not base_dir:
        return text
    base_dir = os.path.abspath(base_dir)

    def rel(m):
        path = m.group(1)
        try:
            return os.path.relpath(path, base_dir)
        except ValueError:  # another drive (Windows)
            return os.path.basename(path)
    return _ABS_PATH.sub(rel, text)


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return 'nan'
        if 1e4 <= abs(value) < 1e7:   # MJDs, levels: no exponent
            return f'{value:.2f}'
        return f'{value:.4g}'
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ma.core.MaskedConstant):
        return ''
    return str(value)


def table_to_html(table, *, caption=None, max_rows=200, collapse=None,
                  ecsv=None, units=None):
    """
    Render an astropy table as an HTML ``<table>`` with units in the header.

    Parameters
    ----------
    table : `~astropy.table.Table` or `~astropy.table.QTable`
        The table.
    caption : str, optional
        Caption above the table.
    max_rows : int, optional
        Rows shown at most (a note says how many were left out).
    collapse : bool, optional
        Put the table in a collapsed ``<details>`` section (default: when
        it has more than `COLLAPSE_ROWS` rows).
    ecsv : str, optional
        Path (already relative to the page) of the full table, linked.
    units : dict, optional
        Column name -> unit label for columns without an astropy unit
        (e.g. ``{'time': 'MJD'}``).

    Returns
    -------
    str
    """
    t = Table(table)
    units = units or {}
    out = ['<div class="tbl"><table>']
    if caption and not (collapse or (collapse is None and
                                     len(t) > COLLAPSE_ROWS)):
        out.append(f'<caption>{html.escape(caption)}</caption>')
    heads = []
    for name in t.colnames:
        unit = getattr(t[name], 'unit', None) or units.get(name)
        label = html.escape(name)
        if unit is not None and str(unit):
            label += f' [{html.escape(str(unit))}]'
        # a header sits over its column: left over text, right over numbers
        text = np.asarray(t[name]).dtype.kind not in 'iufcb'
        cls = ' class="s"' if text else ''
        heads.append(f'<th{cls}>{label}</th>')
    out.append('<tr>' + ''.join(heads) + '</tr>')
    for row in t[:max_rows]:
        cells = []
        for name in t.colnames:
            v = row[name]
            cls = '' if isinstance(v, (int, float, np.number)) else ' class="s"'
            cells.append(f'<td{cls}>{html.escape(_fmt(v))}</td>')
        out.append('<tr>' + ''.join(cells) + '</tr>')
    out.append('</table></div>')
    link = (f' (<a href="{html.escape(ecsv)}">{html.escape(ecsv)}</a>)'
            if ecsv else '')
    if len(t) > max_rows:
        out.append(f'<p>({len(t) - max_rows} more rows in the ECSV file'
                   f'{link})</p>')
    body = '\n'.join(out)
    if collapse or (collapse is None and len(t) > COLLAPSE_ROWS):
        title = html.escape(caption or 'Table')
        return (f'<details><summary>{title}: {len(t)} rows (click to show)'
                f'</summary>{body}</details>'
                + (f'<p>Full table: <a href="{html.escape(ecsv)}">'
                   f'{html.escape(ecsv)}</a></p>' if ecsv else ''))
    if ecsv:
        body += (f'<p>Table as ECSV: <a href="{html.escape(ecsv)}">'
                 f'{html.escape(ecsv)}</a></p>')
    return body


class ReportSection:
    """A section of an `HTMLReport` (title, then blocks in order)."""

    def __init__(self, title, report):
        self.title = title
        self._report = report
        self.blocks = []

    def text(self, text):
        """Add a paragraph (plain text, escaped)."""
        self.blocks.append(f'<p>{html.escape(str(text))}</p>')

    def html(self, snippet):
        """Add trusted HTML produced by this package."""
        self.blocks.append(snippet)

    def preformatted(self, text):
        """Add preformatted text (e.g. a certification log)."""
        self.blocks.append(f'<pre>{html.escape(str(text))}</pre>')

    def status(self, ok, text):
        """Add a pass/fail line."""
        cls = 'ok' if ok else 'fail'
        word = 'PASS' if ok else 'FAIL'
        self.blocks.append(f'<p><span class="{cls}">{word}</span> '
                           f'{html.escape(str(text))}</p>')

    def table(self, table, *, caption=None, max_rows=200, collapse=None,
              ecsv=None, units=None):
        """Add an astropy table (see `table_to_html`; ``ecsv`` is a path,
        linked relative to the report)."""
        self.blocks.append(('table', table, dict(
            caption=caption, max_rows=max_rows, collapse=collapse,
            ecsv=None if ecsv is None else os.fspath(ecsv), units=units)))

    def heading(self, text, *, anchor=None):
        """Add a sub-heading (``<h3>``)."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ''
        self.blocks.append(f'<h3{ident}>{html.escape(str(text))}</h3>')

    def figure(self, path, *, caption='', wide=False):
        """Add a figure (PNG) by path; linked relative to the report."""
        self._report._figures.append(os.fspath(path))
        self.blocks.append(('figure', os.fspath(path), caption, wide))

    def link(self, path, text=None):
        """Add a link to an output file."""
        self.blocks.append(('link', os.fspath(path), text))


class HTMLReport:
    """
    A one-page HTML report.

    Parameters
    ----------
    title : str
        Page title.
    """

    def __init__(self, title, *, links=None):
        self.title = title
        self.sections = []
        self._figures = []
        #: (text, path) shown in the navigation bar (e.g. the figures index)
        self.links = list(links or [])

    @property
    def figures(self):
        """Paths of every figure added."""
        return list(self._figures)

    def section(self, title, *, anchor=None, css=None):
        """Start a new section and return it."""
        sec = ReportSection(title, self)
        sec.anchor = anchor
        sec.css = css
        self.sections.append(sec)
        return sec

    def render(self, *, base_dir=None):
        """Return the page as a string; figure paths are made relative to
        ``base_dir``."""
        def rel(path):
            if not base_dir:
                return path
            return os.path.relpath(os.path.abspath(path), base_dir)

        now = datetime.datetime.now(datetime.timezone.utc)
        parts = ['<!DOCTYPE html>', '<html lang="en"><head>',
                 '<meta charset="utf-8">',
                 '<meta name="viewport" content="width=device-width, '
                 'initial-scale=1">',
                 f'<title>{html.escape(self.title)}</title>',
                 f'<style>{REPORT_CSS}</style></head><body>',
                 f'<h1>{html.escape(self.title)}</h1>',
                 f'<p>acs_flecks {html.escape(__version__)}, '
                 f'{now:%Y-%m-%d %H:%M} UTC</p>']
        nav = [f'<a href="#{self._anchor(i, sec)}">{html.escape(sec.title)}'
               '</a>' for i, sec in enumerate(self.sections)] \
            if len(self.sections) > 1 else []
        nav += [f'<a href="{html.escape(rel(path))}">{html.escape(text)}</a>'
                for text, path in self.links]
        if nav:
            parts.append('<nav>' + ' '.join(nav) + '</nav>')
        for i, sec in enumerate(self.sections):
            css = f' class="{sec.css}"' if getattr(sec, 'css', None) else ''
            parts.append(f'<section{css}><h2 id="{self._anchor(i, sec)}">'
                         f'{html.escape(sec.title)}</h2>')
            for block in sec.blocks:
                if isinstance(block, tuple) and block[0] == 'figure':
                    _, path, caption, wide = block
                    src = html.escape(rel(path))
                    cls = ' class="wide"' if wide else ''
                    parts.append(f'<figure{cls}><a href="{src}"><img '
                                 f'src="{src}" alt="'
                                 f'{html.escape(caption or os.path.basename(path))}'
                                 f'"></a><figcaption>{html.escape(caption)}'
                                 '</figcaption></figure>')
                elif isinstance(block, tuple) and block[0] == 'link':
                    _, path, text = block
                    href = html.escape(rel(path))
                    parts.append(f'<p><a href="{href}">'
                                 f'{html.escape(text or rel(path))}</a></p>')
                elif isinstance(block, tuple) and block[0] == 'table':
                    _, table, kw = block
                    if kw.get('ecsv'):
                        kw = dict(kw, ecsv=rel(kw['ecsv']))
                    parts.append(table_to_html(table, **kw))
                else:
                    parts.append(block)
            parts.append('</section>')
        parts.append('</body></html>')
        return relative_paths('\n'.join(parts), base_dir)

    @staticmethod
    def _anchor(i, sec):
        return getattr(sec, 'anchor', None) or f's{i}'

    def write(self, path):
        """Write the page atomically; returns the path."""
        path = os.fspath(path)
        missing = [f for f in self._figures if not os.path.exists(f)]
        if missing:
            log.warning('report figures not found: %s', ', '.join(missing))
        text = self.render(base_dir=os.path.dirname(os.path.abspath(path)))
        with atomic_output(path) as tmp:
            with open(tmp, 'w', encoding='utf-8') as fh:
                fh.write(text)
        return path
