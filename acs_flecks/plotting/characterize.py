"""
Figures of the characterization (report Figures 5-7, 9, 10-14, 16, 17).

Every function returns a `matplotlib.figure.Figure` (never pyplot); write it
with `save_figure`.  Images are shown in the 1-indexed full-chip frame
(x = column, y = row), with colour bars and units.

>>> from acs_flecks.plotting.characterize import plot_sed, save_figure  # doctest: +SKIP
>>> save_figure(plot_sed(result), 'fleck1_sed.png')                      # doctest: +SKIP
"""

import os
import warnings

import numpy as np
from matplotlib.figure import Figure

from ..coords import chip_name
from ..utils import atomic_output

__all__ = ['SCALE_CIRCLE_RADIUS', 'save_figure', 'plot_filter_thumbnails', 'plot_aperture_analysis',
           'plot_master_aperture', 'plot_sed', 'plot_led_lamp',
           'plot_eper_ratios', 'plot_shadow_series', 'write_fleck_figures']


def save_figure(fig, path, *, dpi=110):
    """Write a figure atomically (format from the extension); returns path."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=str(path).rsplit('.', 1)[-1])
    return path


def _extent(origin, shape):
    x0, y0 = origin
    ny, nx = shape
    return (x0 - 0.5, x0 + nx - 0.5, y0 - 0.5, y0 + ny - 0.5)


def _label(ax, ccdchip):
    name = chip_name(ccdchip)
    ax.set_xlabel(f'x ({name} column, pixels)')
    ax.set_ylabel(f'y ({name} row, pixels)')


def _title(res):
    fid = f'{res.fleck_id} ' if getattr(res, 'fleck_id', '') else ''
    return f'{fid}{chip_name(res.ccdchip)} ({res.x:g}, {res.y:g})'


def _outline(ax, mask, origin, color='red', lw=1.2):
    """Draw the outline of a boolean mask along pixel edges."""
    mask = np.asarray(mask, bool)
    x0, y0 = origin
    ny, nx = mask.shape
    pad = np.pad(mask, 1)
    segs = []
    for r in range(ny):
        for c in range(nx):
            if not mask[r, c]:
                continue
            px, py = c + x0, r + y0
            if not pad[r, c + 1]:       # below
                segs.append(((px - .5, py - .5), (px + .5, py - .5)))
            if not pad[r + 1, c + 2]:   # right
                segs.append(((px + .5, py - .5), (px + .5, py + .5)))
            if not pad[r + 2, c + 1]:   # above
                segs.append(((px - .5, py + .5), (px + .5, py + .5)))
            if not pad[r + 1, c]:       # left
                segs.append(((px - .5, py - .5), (px - .5, py + .5)))
    from matplotlib.collections import LineCollection
    ax.add_collection(LineCollection(segs, colors=color, linewidths=lw))


#: Radius (pixels) of the red scale circle of the report's Figures 10-11.
SCALE_CIRCLE_RADIUS = 25


def _wide_thumbnail(measurement, res, size):
    """The flat of ``measurement`` in a ``size`` x ``size`` box around the
    fleck, divided by its own local background (the normalization of the
    measurement), or None if the file cannot give that box."""
    from ..exceptions import AcsFlecksError
    from ..characterize.cutouts import extract_cutout, normalize_cutout
    try:
        cut = extract_cutout(measurement.path, ccdchip=res.ccdchip, x=res.x,
                             y=res.y, box=(size, size))
    except (AcsFlecksError, OSError):
        return None
    good = cut.good(res.dq_mask) & np.isfinite(cut.sci)
    norm = normalize_cutout(cut.sci, cut.err, good=good,
                            method=measurement.normalization.method,
                            threshold=res.aperture_threshold)
    return np.where(good, norm.image, np.nan), cut.origin


def plot_filter_thumbnails(result, *, before=None, size=64,
                           circle=SCALE_CIRCLE_RADIUS):
    """
    Normalized thumbnails of a fleck in every filter (Figures 10, 11).

    Parameters
    ----------
    result : `~acs_flecks.characterize.TransmissivityResult`
        The flats with the fleck (e.g. December 2017).
    before : `~acs_flecks.characterize.TransmissivityResult`, optional
        The same box in earlier flats (e.g. December 2016), second row.
    size : int, optional
        Side (pixels) of each thumbnail, read again from the flats so that
        the scale circle fits; where a file cannot give it (gone, or a
        window too small) the measurement's own box is shown.
    circle : float, optional
        Radius (pixels) of the red scale circle centred on the fleck (the
        report's 25 pixels); 0 for none.
    """
    from matplotlib.patches import Circle
    rows = [result] + ([before] if before is not None else [])
    nf = len(result.filters)
    fig = Figure(figsize=(2.0 * nf + 1.2, 2.3 * len(rows) + 0.8), layout='constrained')
    axes = fig.subplots(len(rows), nf, squeeze=False)
    im = None
    half = size / 2
    for i, res in enumerate(rows):
        date = res.measurements[0].obs_time.isot[:10]
        for j, f in enumerate(result.filters):
            ax = axes[i, j]
            if f not in res.filters:
                ax.set_axis_off()
                continue
            k = res.filters.index(f)
            wide = _wide_thumbnail(res.measurements[k], res, size) if size else None
            if wide is not None:
                data, ext = wide[0], _extent(wide[1], wide[0].shape)
            else:
                data, ext = res.transmissivity_maps[k], _extent(res.origin, res.box)
            im = ax.imshow(data, origin='lower', cmap='gray', vmin=0, vmax=1.1,
                           extent=ext, interpolation='nearest')
            if circle:
                ax.add_patch(Circle((res.x, res.y), circle, fill=False,
                                    color='red', lw=1.0, gid='scale_circle'))
                ax.set_xlim(min(ext[0], res.x - half), max(ext[1], res.x + half))
                ax.set_ylim(min(ext[2], res.y - half), max(ext[3], res.y + half))
            ax.set_title(f'{f}\n{date}', fontsize=8)
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel(f'y ({chip_name(res.ccdchip)}, pix)', fontsize=7)
            if i == len(rows) - 1:
                ax.set_xlabel('x (pix)', fontsize=7)
    fig.colorbar(im, ax=axes, label='normalized flux (transmissivity)', shrink=0.8)
    scale = f'; red circle: {circle:g} pixels radius, for scale' if circle else ''
    fig.suptitle(f'Lamp flats around {_title(result)}{scale}')
    return fig


def plot_aperture_analysis(result, filter_name=None):
    """
    The photometric analysis of one filter (Figure 12): (A) the inverted
    normalized image in percent, (B) the histogram of the blocked fraction
    with the aperture and bad-pixel thresholds, (C) the filter's aperture.
    """
    f = filter_name or result.filters[0]
    k = result.filters.index(f)
    m = result.measurements[k]
    block = 100 * (1 - result.transmissivity_maps[k])
    ext = _extent(result.origin, result.box)
    fig = Figure(figsize=(11, 8.5), layout='constrained')
    axa, axb, axc, axd = fig.subplots(2, 2).ravel()
    im = axa.imshow(block, origin='lower', cmap='gray', extent=ext,
                    vmin=-10, vmax=100, interpolation='nearest')
    fig.colorbar(im, ax=axa, label='flux not transmitted (%)')
    axa.set_title(f'(A) {f}: 100 x (1 - normalized image)')
    _label(axa, result.ccdchip)
    vals = block[np.isfinite(block)]
    axb.hist(vals, bins=np.arange(min(-10, vals.min()), max(101, vals.max() + 2), 1.0),
             color='0.3')
    thr = 100 * result.aperture_threshold
    bad = 100 * (1 - result.badpix_threshold)
    nbad = int(np.sum(result.master_aperture & (result.transmissivity_maps[k]
                                                < result.badpix_threshold)))
    axb.axvline(thr, color='orange', label=f'{thr:g}% aperture threshold '
                                           f'({int(m.aperture.sum())} pixels)')
    axb.axvline(bad, color='green', label=f'{bad:g}% bad-pixel limit ({nbad} pixels)')
    axb.set_yscale('log')
    axb.set_xlabel('flux not transmitted (%)')
    axb.set_ylabel('number of pixels')
    axb.set_title('(B) histogram')
    axb.legend(fontsize=8)
    axc.imshow(m.aperture.astype(int), origin='lower', cmap='gray', extent=ext,
               vmin=0, vmax=1, interpolation='nearest')
    axc.set_title(f'(C) {f} aperture: pixels blocking > {thr:g}%')
    _label(axc, result.ccdchip)
    axd.set_axis_off()
    t = result.to_table()[k]
    axd.text(0.02, 0.9, '\n'.join([
        f'{_title(result)}', f'filter {f}, {m.obs_time.isot[:10]}',
        f'background ({m.normalization.method}): '
        f'{np.median(m.normalization.background):.0f} e-',
        f'master aperture: {result.master_npix} pixels',
        f'transmissivity: {t["transmissivity"]:.4f} +/- {t["transmissivity_err"]:.4f}',
        f'pixels < {result.badpix_threshold:g}: {nbad}']), va='top', fontsize=10,
        transform=axd.transAxes)
    fig.suptitle(f'Photometric analysis of {_title(result)} in {f}')
    return fig


def plot_master_aperture(result, filter_name=None):
    """
    The master aperture (Figure 13): the per-pixel selection count with the
    master aperture outlined, and the master aperture on one filter's image.
    """
    f = filter_name or result.filters[0]
    k = result.filters.index(f)
    ext = _extent(result.origin, result.box)
    fig = Figure(figsize=(11, 4.8), layout='constrained')
    ax1, ax2 = fig.subplots(1, 2)
    n = len(result.filters)
    im = ax1.imshow(result.selection_count, origin='lower', cmap='gray', vmin=0,
                    vmax=n, extent=ext, interpolation='nearest')
    _outline(ax1, result.master_aperture, result.origin)
    cb = fig.colorbar(im, ax=ax1, ticks=range(n + 1))
    cb.set_label('number of filters selecting the pixel')
    ax1.set_title(f'master aperture ({result.master_npix} pixels, red)')
    _label(ax1, result.ccdchip)
    im = ax2.imshow(result.transmissivity_maps[k], origin='lower', cmap='gray',
                    vmin=0, vmax=1.1, extent=ext, interpolation='nearest')
    _outline(ax2, result.master_aperture, result.origin)
    fig.colorbar(im, ax=ax2, label='normalized flux')
    ax2.set_title(f'master aperture on {f}')
    _label(ax2, result.ccdchip)
    fig.suptitle(_title(result))
    return fig


def plot_sed(results, *, labels=None):
    """
    Transmissivity against effective wavelength (Figures 14, 16).

    Parameters
    ----------
    results : `~acs_flecks.characterize.TransmissivityResult` or list
    labels : list of str, optional
    """
    if not isinstance(results, (list, tuple)):
        results = [results]
    fig = Figure(figsize=(7, 4.5), layout='constrained')
    ax = fig.subplots()
    for i, res in enumerate(results):
        t = res.to_table()
        lab = labels[i] if labels else _title(res)
        ax.errorbar(t['wavelength'].value, 100 * np.asarray(t['transmissivity']),
                    yerr=100 * np.asarray(t['transmissivity_err']), fmt='o-',
                    capsize=3, label=lab)
        for w, tr, f in zip(t['wavelength'].value, t['transmissivity'], t['filter']):
            ax.annotate(f, (w, 100 * tr), textcoords='offset points',
                        xytext=(0, 6), ha='center', fontsize=7)
    ax.set_xlabel(f'effective wavelength ({results[0].wavelength_method}) (Angstrom)')
    ax.set_ylabel('transmissivity in master aperture (%)')
    ax.set_title('Fleck "SED": mean transmissivity per filter')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_led_lamp(comparisons):
    """
    LED post-flash vs lamp apertures (Figure 17): the LED image with the lamp
    master aperture outlined, and the aperture difference (LED - lamp).
    """
    if not isinstance(comparisons, (list, tuple)):
        comparisons = [comparisons]
    fig = Figure(figsize=(11, 4.6 * len(comparisons)), layout='constrained')
    axes = fig.subplots(len(comparisons), 2, squeeze=False)
    for (ax1, ax2), c in zip(axes, comparisons):
        ext = _extent(c.origin, c.lamp_aperture.shape)
        im = ax1.imshow(1 - c.led_blocking, origin='lower', cmap='gray', vmin=0,
                        vmax=1.1, extent=ext, interpolation='nearest')
        _outline(ax1, c.lamp_aperture, c.origin)
        fig.colorbar(im, ax=ax1, label='normalized post-flash flux')
        ax1.set_title('lamp master aperture (red) on the LED post-flash')
        _label(ax1, c.ccdchip)
        im = ax2.imshow(c.difference, origin='lower', cmap='coolwarm', vmin=-1,
                        vmax=1, extent=ext, interpolation='nearest')
        cb = fig.colorbar(im, ax=ax2, ticks=[-1, 0, 1])
        cb.set_label('LED aperture - lamp aperture')
        s = c.shift
        ax2.set_title(f'difference; shift dx = {s.dx:.2f} +/- {s.dx_err:.2f}, '
                      f'dy = {s.dy:.2f} +/- {s.dy_err:.2f} pix', fontsize=9)
        _label(ax2, c.ccdchip)
    return fig


def plot_eper_ratios(result, *, vmin=0.8, vmax=1.2):
    """
    EPER ratio images, late / early epoch, one panel per signal level
    (Figures 5-7), with the averaging box outlined.
    """
    ms = result.measurements
    ncol = 3 if len(ms) > 2 else len(ms)
    nrow = int(np.ceil(len(ms) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.8 * nrow + 0.5), layout='constrained')
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    t = result.to_table()
    ext = _extent(result.origin, result.box)
    im = None
    for ax, m, row in zip(axes, ms, t):
        im = ax.imshow(m.ratio, origin='lower', cmap='gray', vmin=vmin, vmax=vmax,
                       extent=ext, interpolation='nearest')
        _outline(ax, result.box_mask, result.origin, color='cyan', lw=0.8)
        ax.set_title(f'{m.pair.level_early:.0f} e-: mean ratio '
                     f'{row["mean_ratio"]:.3f} +/- {row["mean_ratio_err"]:.3f}',
                     fontsize=9)
        _label(ax, result.ccdchip)
    for ax in axes[len(ms):]:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes.tolist(), label='ratio late / early epoch', shrink=0.8)
    dx, dxe, dy, dye = result.shift
    d0, d1 = ms[0].pair.early.obs_time.isot[:10], ms[0].pair.late.obs_time.isot[:10]
    fig.suptitle(f'EPER ratio {d1} / {d0} around {_title(result)}; motion '
                 f'dx = {dx:.2f} +/- {dxe:.2f}, dy = {dy:.2f} +/- {dye:.2f} pix')
    return fig


def plot_shadow_series(series, *, appeared=None):
    """
    Shadow-box and empty-box total signal over time (Figure 9).

    Parameters
    ----------
    series : `~acs_flecks.characterize.ShadowSeries`
    appeared : str or `~astropy.time.Time`, optional
        Date of origin of the fleck, marked with a vertical line.
    """
    t = series.table
    fig = Figure(figsize=(8, 4.5), layout='constrained')
    ax = fig.subplots()
    dates = t['time'].datetime64
    ax.errorbar(dates, t['shadow_signal'].value, yerr=t['shadow_err'].value,
                fmt='o', color='tab:blue', capsize=2,
                label=f'shadow box x {series.shadow_box[0]}-{series.shadow_box[1]}, '
                      f'y {series.shadow_box[2]}-{series.shadow_box[3]}')
    ax.errorbar(dates, t['empty_signal'].value, yerr=t['empty_err'].value,
                fmt='s', color='tab:orange', capsize=2, mfc='none',
                label=f'empty box x {series.empty_box[0]}-{series.empty_box[1]}, '
                      f'y {series.empty_box[2]}-{series.empty_box[3]}')
    if appeared is not None:
        from astropy.time import Time
        ax.axvline(Time(appeared).datetime64, color='k', ls='--', label='fleck appears')
    ax.set_xlabel('date of the short dark')
    ax.set_ylabel('total signal in box (e-)')
    ax.set_title(f'Shadow trail of {series.fleck_id or ""} '
                 f'{chip_name(series.ccdchip)} ({series.x:g}, {series.y:g})')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def write_fleck_figures(ch, outdir, *, prefix=None, before=None,
                        before_flats=None, background=None, appeared=None,
                        fmt='png'):
    """
    Draw and write every figure a fleck's characterization allows.

    The figures belong to the report step: `acs_flecks.characterize` measures
    and writes tables, this module draws (the one-way data flow of
    ``docs/architecture.rst``).

    Parameters
    ----------
    ch : `~acs_flecks.characterize.FleckCharacterization`
        The characterization; its ``figures`` dict is updated.
    outdir : str
        Directory of the figures.
    prefix : str, optional
        File name prefix (default: the transmissivity result's
        ``default_prefix``, as the tables written by
        `~acs_flecks.characterize.characterize_fleck`).
    before : `~acs_flecks.characterize.TransmissivityResult`, optional
        Transmissivity of an earlier flat set, the second row of the
        thumbnails.
    before_flats : list, optional
        Flats of an earlier date, measured here for ``before`` (with the
        characterization's cutout and aperture threshold).
    background : str, optional
        Background model of that measurement (default the characterization
        stage's, `acs_flecks.parameters.CHARACTERIZATION`).
    appeared : str, optional
        Date of origin, marked on the shadow time series.
    fmt : str
        Image format.

    Returns
    -------
    dict
        kind -> path.
    """
    res = ch.transmissivity
    prefix = prefix or res.default_prefix
    if before is None and before_flats:
        from ..characterize import measure_transmissivity
        from ..parameters import CHARACTERIZATION
        if background is None:
            background = CHARACTERIZATION.defaults.background
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            before = measure_transmissivity(
                before_flats, ccdchip=res.ccdchip, x=res.x, y=res.y,
                box=res.box, aperture_threshold=res.aperture_threshold,
                background=background)
    os.makedirs(outdir, exist_ok=True)
    out = {}

    def save(kind, fig):
        p = os.path.join(outdir, f'{prefix}_{kind}.{fmt}')
        save_figure(fig, p)
        out[kind] = p
    save('thumbnails', plot_filter_thumbnails(res, before=before))
    save('aperture_analysis', plot_aperture_analysis(res))
    save('master_aperture', plot_master_aperture(res))
    save('sed', plot_sed(res))
    if ch.ledlamp is not None:
        save('ledlamp', plot_led_lamp(ch.ledlamp))
    if ch.eper is not None:
        save('eper_ratio', plot_eper_ratios(ch.eper))
    if ch.shadow is not None:
        save('shadow', plot_shadow_series(ch.shadow, appeared=appeared))
    ch.figures.update(out)
    return out
