"""
A one-page HTML report of a run: sections of text, tables and figures.

The page is self-contained apart from the figure files, which are linked by
paths relative to the page, so the output directory can be moved or served
as a whole.

>>> from acs_flecks.report import HTMLReport
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

import numpy as np
from astropy.table import Table

from . import __version__
from .utils import atomic_output

__all__ = ['HTMLReport', 'ReportSection', 'table_to_html']

log = logging.getLogger(__name__)

_CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 75em;
       color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #446; }
h2 { border-bottom: 1px solid #99a; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; font-size: 90%; }
th, td { border: 1px solid #bbc; padding: 0.2em 0.6em; text-align: right; }
th { background: #eef; }
td.s { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: bold;
          padding-bottom: 0.3em; }
figure { display: inline-block; margin: 0.5em; vertical-align: top;
         max-width: 48%; }
figure img { max-width: 100%; border: 1px solid #ccd; }
figcaption { font-size: 85%; }
.ok { color: #070; font-weight: bold; }
.fail { color: #b00; font-weight: bold; }
pre { background: #f6f6fa; padding: 0.6em; overflow-x: auto; }
"""


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return 'nan'
        return f'{value:.4g}'
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ma.core.MaskedConstant):
        return ''
    return str(value)


def table_to_html(table, *, caption=None, max_rows=200):
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

    Returns
    -------
    str
    """
    t = Table(table)
    out = ['<table>']
    if caption:
        out.append(f'<caption>{html.escape(caption)}</caption>')
    heads = []
    for name in t.colnames:
        unit = getattr(t[name], 'unit', None)
        label = html.escape(name)
        if unit is not None and str(unit):
            label += f' [{html.escape(str(unit))}]'
        heads.append(f'<th>{label}</th>')
    out.append('<tr>' + ''.join(heads) + '</tr>')
    for row in t[:max_rows]:
        cells = []
        for name in t.colnames:
            v = row[name]
            cls = '' if isinstance(v, (int, float, np.number)) else ' class="s"'
            cells.append(f'<td{cls}>{html.escape(_fmt(v))}</td>')
        out.append('<tr>' + ''.join(cells) + '</tr>')
    out.append('</table>')
    if len(t) > max_rows:
        out.append(f'<p>({len(t) - max_rows} more rows in the ECSV file)</p>')
    return '\n'.join(out)


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

    def table(self, table, *, caption=None, max_rows=200):
        """Add an astropy table."""
        self.blocks.append(table_to_html(table, caption=caption,
                                         max_rows=max_rows))

    def figure(self, path, *, caption=''):
        """Add a figure (PNG) by path; linked relative to the report."""
        self._report._figures.append(os.fspath(path))
        self.blocks.append(('figure', os.fspath(path), caption))

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

    def __init__(self, title):
        self.title = title
        self.sections = []
        self._figures = []

    @property
    def figures(self):
        """Paths of every figure added."""
        return list(self._figures)

    def section(self, title):
        """Start a new section and return it."""
        sec = ReportSection(title, self)
        self.sections.append(sec)
        return sec

    def render(self, *, base_dir=None):
        """Return the page as a string; figure paths are made relative to
        ``base_dir``."""
        def rel(path):
            return os.path.relpath(path, base_dir) if base_dir else path

        now = datetime.datetime.now(datetime.timezone.utc)
        parts = ['<!DOCTYPE html>', '<html lang="en"><head>',
                 '<meta charset="utf-8">',
                 f'<title>{html.escape(self.title)}</title>',
                 f'<style>{_CSS}</style></head><body>',
                 f'<h1>{html.escape(self.title)}</h1>',
                 f'<p>acs_flecks {html.escape(__version__)}, '
                 f'{now:%Y-%m-%d %H:%M} UTC</p>']
        if len(self.sections) > 1:
            parts.append('<ul>')
            for i, sec in enumerate(self.sections):
                parts.append(f'<li><a href="#s{i}">{html.escape(sec.title)}'
                             '</a></li>')
            parts.append('</ul>')
        for i, sec in enumerate(self.sections):
            parts.append(f'<h2 id="s{i}">{html.escape(sec.title)}</h2>')
            for block in sec.blocks:
                if isinstance(block, tuple) and block[0] == 'figure':
                    _, path, caption = block
                    src = html.escape(rel(path))
                    parts.append(f'<figure><a href="{src}"><img src="{src}" '
                                 f'alt="{html.escape(caption or path)}"></a>'
                                 f'<figcaption>{html.escape(caption)}'
                                 '</figcaption></figure>')
                elif isinstance(block, tuple) and block[0] == 'link':
                    _, path, text = block
                    href = html.escape(rel(path))
                    parts.append(f'<p><a href="{href}">'
                                 f'{html.escape(text or rel(path))}</a></p>')
                else:
                    parts.append(block)
        parts.append('</body></html>')
        return '\n'.join(parts)

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
