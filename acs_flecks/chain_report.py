"""
The HTML report of a run of the chain (`acs_flecks.pipeline`).

One page: a summary, the monitoring timeline and new-artifact thumbnails
(report Figure 18), the flashed vs un-flashed verdicts (§3), for each new
fleck its transmissivity table and figures (§4-§6: Figures 5-17), the bad
pixels and the certification of the new bad-pixel table (§8), the inputs,
and what was skipped.
"""

import logging
import os

import numpy as np
from astropy.table import QTable

from .report import HTMLReport

__all__ = ['write_chain_report']

log = logging.getLogger(__name__)


def _status_counts(artifacts):
    if len(artifacts) == 0:
        return 'none'
    names, counts = np.unique(np.asarray(artifacts['status']),
                              return_counts=True)
    return ', '.join(f'{c} {n}' for n, c in zip(names, counts))


def _save(fig, path):
    from .plotting.characterize import save_figure
    save_figure(fig, path)
    return path


def _monitor_figures(history, figdir):
    """Timeline and before/after thumbnails; failures become notes."""
    from .plotting.timeline import plot_new_thumbnails, plot_timeline
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


def write_chain_report(result, *, history, figdir, inputs):
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

    Returns
    -------
    str
        The report's path.
    """
    rep = HTMLReport('acs_flecks: flecks on ACS/WFC')
    new = result.new_flecks
    arts = result.artifacts

    sec = rep.section('Summary')
    sec.text(f'{len(inputs["input"])} epoch(s) searched; '
             f'{len(arts)} artifact(s): {_status_counts(arts)}.')
    if len(new):
        dates = sorted({str(t)[:10] for t in new['first_seen']})
        sec.text(f'{len(new)} new fleck(s), first seen on '
                 f'{", ".join(dates)}.')
    else:
        sec.text('No new artifact: nothing to deliver.')
    if result.delivery is not None:
        cert = result.delivery.certification
        ok = cert is None or cert.passed
        sec.status(ok, f'new bad-pixel table {result.delivery.path} '
                       f'(USEAFTER {result.useafter}), '
                       f'{len(result.bad_pixels)} pixel(s) flagged with DQ '
                       f'{result.delivery.table.meta.get("value", 4)}')
    for name, path in sorted(result.outputs.items()):
        if name != 'report':
            sec.link(path, f'{name}: {os.path.basename(path)}')

    sec = rep.section('Monitoring across anneal cycles (report §2, §7)')
    figs, notes = _monitor_figures(history, figdir)
    result.notes.extend(notes)
    if 'timeline' in figs:
        sec.figure(figs['timeline'], caption='Artifacts per epoch; new ones '
                   'highlighted')
    if 'new_thumbnails' in figs and len(new):
        sec.figure(figs['new_thumbnails'], caption='Each new artifact before '
                   'and after its date of origin (Figure 18)')
    if len(new):
        cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y',
                            'last_seen_absent', 'first_seen', 'n_epochs',
                            'status', 'area', 'mean_deficit')
                if c in new.colnames]
        sec.table(new[cols], caption='New artifacts: date of origin between '
                  'last_seen_absent and first_seen')
    if len(arts):
        cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y', 'status',
                            'first_seen', 'n_epochs', 'area', 'mean_deficit')
                if c in arts.colnames]
        sec.table(arts[cols], caption='Every artifact', max_rows=150)

    if result.lightpath is not None:
        sec = rep.section('Flashed vs un-flashed (report §3)')
        sec.text('A particle in the light path between the LED and the CCD '
                 'casts a shadow only when the CCD is illuminated; a CCD '
                 'defect shows in the un-flashed dark too.')
        sec.table(result.lightpath)

    for name, ch in result.characterizations.items():
        res = ch.transmissivity
        sec = rep.section(f'Fleck {getattr(res, "fleck_id", "") or name} '
                          '(report §4-§6)')
        sec.table(res.to_table(), caption='Transmissivity per filter in the '
                  'master aperture')
        nbad = len(ch.bad_pixels)
        sec.text(f'{nbad} pixel(s) below the bad-pixel threshold.')
        if ch.ledlamp is not None:
            sec.table(ch.ledlamp.to_table(), caption='LED vs lamp (§6.2)')
        if ch.eper is not None:
            sec.table(ch.eper.to_table(), caption='EPER epoch ratios (§4)')
        if ch.shadow is not None:
            sec.table(ch.shadow.to_table(), caption='Shadow trail (§5)',
                      max_rows=40)
        for kind, path in ch.figures.items():
            sec.figure(path, caption=_CAPTIONS.get(kind, kind))
        for note in ch.notes:
            sec.text(note)

    if result.delivery is not None:
        sec = rep.section('New bad-pixel table (report §8)')
        cert = result.delivery.certification
        if cert is not None:
            sec.status(cert.passed, 'certification (CRDS validators, FITS '
                       'verification, package checks)')
            sec.table(cert.to_table())
            if cert.difference is not None:
                sec.table(cert.difference, caption='Pixel difference against '
                          'the reference, expanded as CALACS does')
        sec.table(result.bad_pixels, caption='Flagged pixels (1-indexed, '
                  'full-chip frame)', max_rows=300)

    sec = rep.section('Inputs and notes')
    rows = []
    for kind in ('input', 'flats', 'unflashed', 'eper'):
        for path in inputs.get(kind) or []:
            rows.append((kind, os.path.basename(path)))
    if inputs.get('reference'):
        rows.append(('reference', os.fspath(inputs['reference'])))
    if rows:
        sec.table(QTable(rows=rows, names=('kind', 'file')), max_rows=500)
    for note in result.notes:
        sec.text(note)
    return rep.write(result.report)
