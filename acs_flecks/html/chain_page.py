"""
The HTML report of a run of the chain (`acs_flecks.pipeline`).

One page, most important first: a summary (and the new flecks), then one
section per **new artifact** -- what was measured (flashed vs un-flashed
§3, transmissivity §6.1 in percent, LED vs lamp §6.2, EPER §4, shadow §5,
bad pixels §8, figures) and, in words, why the rest was not -- then the
monitoring timeline and thumbnails (Figure 18) with the artifact table, the
bad pixels and the certification of the new bad-pixel table (§8), the
comparison with a simulation's truth when there is one, and the inputs.
Long tables are collapsed with their ECSV linked; the page links the
figures index (and the index links back).

Every fleck has one name everywhere (`fleck_name`): its artifact id and
1-indexed chip position, with the report's fleck number where it is one of
the report's flecks, and the flecks are listed in one order
(`fleck_order`).
"""

import html
import logging
import os

import numpy as np
from astropy.table import QTable

from .document import HTMLReport

__all__ = ['write_chain_report', 'fleck_name', 'fleck_order',
           'REPORT_FLECK_RADIUS']

#: A new artifact within this many pixels of a fleck of the report
#: (`acs_flecks.figures.REPORT_FLECKS`) carries its number.
REPORT_FLECK_RADIUS = 10.0

log = logging.getLogger(__name__)


def _status_counts(artifacts):
    if len(artifacts) == 0:
        return 'none'
    names, counts = np.unique(np.asarray(artifacts['status']),
                              return_counts=True)
    return ', '.join(f'{c} {n}' for n, c in zip(names, counts))


def _save(fig, path):
    from ..plotting.characterize import save_figure
    save_figure(fig, path)
    return path


def _monitor_figures(history, figdir):
    """Timeline and before/after thumbnails; failures become notes."""
    from ..plotting.timeline import plot_new_thumbnails, plot_timeline
    out, notes = {}, []
    for name, func in (('timeline', plot_timeline),
                       ('new_thumbnails', plot_new_thumbnails)):
        try:
            out[name] = _save(func(history), os.path.join(figdir,
                                                          f'{name}.png'))
        except Exception as exc:  # a figure must not lose the run's results
            log.warning('figure %s not drawn: %s', name, exc)
            notes.append(f'figure {name} not drawn: {exc}')
    return out, notes


_CAPTIONS = {
    'thumbnails': 'Per-filter thumbnails, after (and before) the date of '
                  'origin (report Figures 10-11)',
    'aperture_analysis': 'Normalized, inverted cutout, histogram with the 5% '
                         'and 50% lines, aperture (Figure 12)',
    'master_aperture': 'Master aperture: selection count per pixel '
                       '(Figure 13)',
    'sed': 'Transmissivity against effective wavelength (Figures 14, 16)',
    'ledlamp': 'LED post-flash vs lamp aperture and their difference '
               '(Figure 17)',
    'eper_ratio': 'Ratio of two EPER epochs by signal level (Figures 5-7)',
    'shadow': 'Shadow trail: 11x3 box vs empty box over the short darks '
              '(Figure 9)',
}


def _num(v):
    return float(getattr(v, 'value', v))


def report_fleck(row):
    """The report's fleck id ('fleck1' ...) of an artifact row, or ''."""
    from ..figures.report_flecks import REPORT_FLECKS
    chip, x, y = int(row['ccdchip']), _num(row['x']), _num(row['y'])
    for fid, c, fx, fy, *_ in REPORT_FLECKS:
        if c == chip and np.hypot(fx - x, fy - y) <= REPORT_FLECK_RADIUS:
            return fid
    return ''


def fleck_name(row):
    """
    The one name of an artifact in the report: artifact id, chip and
    1-indexed chip position, and the report's fleck number if it is one of
    the report's flecks, e.g. ``A0094 WFC2 (1522, 1775), report fleck 1``.
    """
    from ..coords import chip_name
    name = (f'{row["artifact_id"]} {chip_name(int(row["ccdchip"]))} '
            f'({_num(row["x"]):.0f}, {_num(row["y"]):.0f})')
    fid = report_fleck(row)
    if fid:
        name += f', report fleck {fid[len("fleck"):]}'
    return name


def fleck_order(table):
    """Row order of new artifacts everywhere: the report's flecks by their
    number, then the others by artifact id."""
    keys = []
    for i, row in enumerate(table):
        fid = report_fleck(row)
        keys.append((0, fid, '') if fid else (1, '', str(row['artifact_id'])))
    return sorted(range(len(table)), key=lambda i: keys[i])


def _label(row):
    """The pipeline's output label of an artifact (its directory)."""
    return (f'WFC{int(row["ccdchip"])}-{_num(row["x"]):.0f}-'
            f'{_num(row["y"]):.0f}')


def _with_units(table, *, percent=()):
    """A copy for display: times as MJD, the given fraction columns in
    percent (the SED plots' convention)."""
    from astropy.time import Time
    import astropy.units as u
    t = QTable(table)
    units = {}
    for name in t.colnames:
        col = t[name]
        if isinstance(col, Time):
            t[name] = np.asarray(col.mjd, dtype=float)
            units[name] = 'MJD'
        elif name in percent:
            t[name] = np.asarray(getattr(col, 'value', col),
                                 dtype=float) * 100.0 * u.percent
        elif 'significance' in name or name in ('nsigma', 'pull', 'snr'):
            units[name] = 'sigma'
        elif name.endswith('_mjd') and getattr(col, 'unit', None) is None:
            units[name] = 'MJD'
    return t, units


_TRANS_PERCENT = ('transmissivity', 'transmissivity_err', 'err_stat',
                  'err_norm', 'err_flat')


def write_chain_report(result, *, history, figdir, inputs,
                       figures_index=None, truth=None):
    """
    Write the HTML report of a `~acs_flecks.pipeline.ChainResult`.

    Parameters
    ----------
    result : `~acs_flecks.pipeline.ChainResult`
        The run (its ``report`` attribute is the output path).
    history : str
        The history database (for the monitoring figures).
    figdir : str
        Where the monitoring figures go.
    inputs : dict
        ``input``, ``flats``, ``unflashed``, ``eper`` (lists of paths) and
        ``reference`` (path or None).
    figures_index : str, optional
        The report figures' index page (``figures.html``), linked.
    truth : dict, optional
        Comparison with a simulation's truth (the demo): ``summary`` (text),
        ``per_truth`` (table) and optionally ``ecsv`` (its file).

    Returns
    -------
    str
        The report's path.
    """
    links = [('Report figures 1-18 (index)', figures_index)] \
        if figures_index else []
    rep = HTMLReport('acs_flecks: flecks on ACS/WFC', links=links)
    new = result.new_flecks
    arts = result.artifacts
    order = fleck_order(new) if len(new) else []
    new = new[order] if len(new) else new
    names = {str(r['artifact_id']): fleck_name(r) for r in new}
    labels = {_label(r): names[str(r['artifact_id'])] for r in new}
    notes_all = list(result.notes)

    def rename(text):
        for lab, name in labels.items():
            text = text.replace(lab, name)
        return text

    # -- summary
    sec = rep.section('Summary', anchor='summary')
    sec.text(f'{len(inputs["input"])} epoch(s) searched; '
             f'{len(arts)} artifact(s): {_status_counts(arts)}.')
    if len(new):
        dates = sorted({str(t)[:10] for t in new['first_seen']})
        sec.text(f'{len(new)} new fleck(s), first seen on '
                 f'{", ".join(dates)}:')
        items = ''.join(
            f'<li><a href="#{html.escape(str(r["artifact_id"]))}">'
            f'{html.escape(names[str(r["artifact_id"])])}</a>: appeared '
            f'between {html.escape(str(r["last_seen_absent"])[:10])} and '
            f'{html.escape(str(r["first_seen"])[:10])}</li>' for r in new)
        sec.html(f'<ul>{items}</ul>')
    else:
        sec.text('No new artifact: nothing to deliver.')
    if result.delivery is not None:
        cert = result.delivery.certification
        ok = cert is None or cert.passed
        sec.status(ok, f'new bad-pixel table '
                       f'{os.path.basename(os.fspath(result.delivery.path))} '
                       f'(USEAFTER {result.useafter}), '
                       f'{len(result.bad_pixels)} pixel(s) flagged with DQ '
                       f'{result.delivery.table.meta.get("value", 4)}')
    if truth is not None:
        sec.text('Against the simulation truth: ' + truth['summary'])
    if figures_index:
        sec.link(figures_index, "The report's Figures 1-18 regenerated "
                 "from these data (index)")
    # absolute here, made relative to the page by the renderer: an output
    # given relative to the working directory still opens from the page
    outs = ''.join(
        f'<li><a href="{html.escape(os.path.abspath(path))}">'
        f'{html.escape(name)}: '
        f'{html.escape(os.path.basename(path))}</a></li>'
        for name, path in sorted(result.outputs.items())
        if name not in ('report', 'figures'))
    sec.html(f'<details><summary>Output files</summary><ul>{outs}</ul>'
             '</details>')

    # -- one section per new artifact
    light = result.lightpath
    for row in new:
        aid = str(row['artifact_id'])
        name = names[aid]
        lab = _label(row)
        sec = rep.section(f'New: {name}', anchor=aid, css='new')
        sec.text(f'Chip {int(row["ccdchip"])} (CCDCHIP), 1-indexed position '
                 f'x = {_num(row["x"]):.1f}, y = {_num(row["y"]):.1f} pix. '
                 f'Date of origin between {str(row["last_seen_absent"])[:19]} '
                 f'(last epoch without it) and {str(row["first_seen"])[:19]} '
                 f'(first epoch with it); detected in {int(row["n_epochs"])} '
                 f'of {int(row["n_observed"])} epochs; area '
                 f'{_num(row["area"]):.0f} pix, mean deficit '
                 f'{_num(row["mean_deficit"]):.1f} %, peak '
                 f'{_num(row["peak_deficit"]):.1f} % (latest detection).')
        measured, missing = [], []
        if light is not None and 'artifact_id' in light.colnames:
            lr = light[np.asarray(light['artifact_id']).astype(str) == aid]
            if len(lr):
                measured.append('flashed vs un-flashed (§3)')
                sec.table(_with_units(lr)[0], caption='Flashed vs un-flashed '
                          '(report §3)', collapse=False)
        elif len(new):
            missing.append('flashed vs un-flashed (§3): no un-flashed darks '
                           'given')
        ch = next((c for k, c in result.characterizations.items()
                   if k.split(' ')[0] == aid), None)
        if ch is not None:
            res = ch.transmissivity
            t, units = _with_units(res.to_table(), percent=_TRANS_PERCENT)
            measured.append('transmissivity per filter (§6.1)')
            sec.table(t, caption='Transmissivity per filter in the master '
                      'aperture (percent, as the SED plot)', units=units,
                      collapse=False)
            nbad = len(ch.bad_pixels)
            measured.append(f'bad pixels (§8): {nbad} below the threshold')
            sec.text(f'{nbad} pixel(s) below the bad-pixel threshold.')
            if ch.ledlamp is not None:
                measured.append('LED vs lamp (§6.2)')
                sec.table(_with_units(ch.ledlamp.to_table())[0],
                          caption='LED vs lamp (§6.2)', collapse=False)
            else:
                missing.append('LED vs lamp (§6.2)')
            if ch.eper is not None:
                measured.append('EPER epoch ratios (§4)')
                et = ch.eper.to_table()
                sec.table(_with_units(et)[0], caption='EPER epoch ratios '
                          '(§4)', collapse=False)
                if 'shift_converged' in et.colnames:
                    bad = [f'{_num(v):.0f} e-' for v, ok in
                           zip(et['level_early'], et['shift_converged'])
                           if not ok]
                    if bad:
                        sec.text('The shift fit did not converge for the '
                                 f'pair(s) at {", ".join(bad)}: their dx, dy '
                                 'are the fit\'s starting point, not a '
                                 'measurement, and are left out of the '
                                 'combined motion.')
            else:
                missing.append('EPER (§4)')
            if ch.shadow is not None:
                measured.append('shadow trail (§5)')
                t, units = _with_units(ch.shadow.to_table())
                sec.table(t, caption='Shadow trail (§5)', units=units,
                          max_rows=60)
            for kind, path in ch.figures.items():
                sec.figure(path, caption=_CAPTIONS.get(kind, kind))
        mine = [n for n in notes_all if n.startswith(lab + ':')]
        for n in mine:
            notes_all.remove(n)
            missing.append(n[len(lab) + 1:].strip())
        if ch is None and not mine:
            missing.append('transmissivity, LED vs lamp, EPER, shadow and '
                           'bad pixels: no lamp flats given (report §6.1)')
        sec.text('Measured: ' + ('; '.join(measured) if measured
                                 else 'nothing beyond the detection') + '.')
        if missing:
            sec.text('Not measured, and why: ' + rename('; '.join(missing))
                     + '.')

    # -- monitoring
    sec = rep.section('Monitoring across anneal cycles (report §2, §7)',
                      anchor='monitoring')
    figs, notes = _monitor_figures(history, figdir)
    notes_all.extend(notes)
    if 'timeline' in figs:
        sec.figure(figs['timeline'], caption='Artifacts per epoch; new ones '
                   'highlighted', wide=True)
    if 'new_thumbnails' in figs and len(new):
        sec.figure(figs['new_thumbnails'], caption='Each new artifact before '
                   'and after its date of origin (Figure 18)', wide=True)
    if len(new):
        cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y',
                            'last_seen_absent', 'first_seen', 'n_epochs',
                            'n_forced', 'status', 'area', 'mean_deficit')
                if c in new.colnames]
        t = QTable(new[cols])
        t.add_column([names[str(a)] for a in t['artifact_id']], index=1,
                     name='name')
        sec.table(t, caption='New artifacts: date of origin between '
                  'last_seen_absent and first_seen', collapse=False,
                  ecsv=result.outputs.get('new_flecks'))
    if len(arts):
        cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y', 'status',
                            'first_seen', 'n_epochs', 'n_forced', 'area',
                            'mean_deficit')
                if c in arts.colnames]
        sec.table(arts[cols], caption='Every artifact', max_rows=1000,
                  ecsv=result.outputs.get('artifacts'))

    if result.lightpath is not None:
        sec = rep.section('Flashed vs un-flashed (report §3)',
                          anchor='lightpath')
        sec.text('A particle in the light path between the LED and the CCD '
                 'casts a shadow only when the CCD is illuminated; a CCD '
                 'defect shows in the un-flashed dark too.')
        sec.table(_with_units(result.lightpath)[0],
                  ecsv=result.outputs.get('lightpath'))

    if result.delivery is not None:
        sec = rep.section('New bad-pixel table (report §8)', anchor='bpixtab')
        cert = result.delivery.certification
        if cert is not None:
            sec.status(cert.passed, 'certification (CRDS validators, FITS '
                       'verification, package checks)')
            sec.table(cert.to_table())
            if cert.difference is not None:
                sec.table(cert.difference, caption='Pixel difference against '
                          'the reference, expanded as CALACS does')
        bp = QTable(result.bad_pixels)
        if 'fleck_id' in bp.colnames:
            bp['fleck_id'] = [labels.get(str(v), str(v))
                              for v in bp['fleck_id']]
        sec.table(bp, caption='Flagged pixels (1-indexed, full-chip frame)',
                  max_rows=1000, ecsv=result.outputs.get('bad_pixels'))

    if truth is not None:
        sec = rep.section('Comparison with the simulation truth',
                          anchor='truth')
        sec.text(truth['summary'])
        sec.text('Each catalogue entry is matched to the nearest simulated '
                 'artifact of its chip within 6 px of its LED-frame position; '
                 'n_entries 0 = missed, 1 = recovered, > 1 = split.')
        sec.table(truth['per_truth'], caption='Every simulated artifact',
                  ecsv=truth.get('ecsv'), max_rows=1000)

    if getattr(result, 'impact', None) is not None or \
            getattr(result, 'flagged', None) is not None:
        from .science_section import add_science_section
        add_science_section(rep, impact=result.impact, flagged=result.flagged)

    sec = rep.section('Inputs and notes', anchor='inputs')
    rows = []
    for kind in ('input', 'flats', 'unflashed', 'eper', 'science'):
        for path in inputs.get(kind) or []:
            rows.append((kind, os.path.basename(path)))
    if inputs.get('reference'):
        rows.append(('reference', os.path.basename(
            os.fspath(inputs['reference']))))
    if rows:
        sec.table(QTable(rows=rows, names=('kind', 'file')), max_rows=500,
                  caption='Input files')
    for note in _dedupe(notes_all):
        sec.text(rename(note))
    return rep.write(result.report)


def _dedupe(notes):
    """Notes in order, each once (e.g. the same skipped flat for every
    fleck)."""
    seen, out = set(), []
    for n in notes:
        key = n.split(': ', 1)[-1] if 'skipped' in n else n
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out
