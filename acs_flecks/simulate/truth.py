"""
The truth of a simulation: the particles, their transmissivity maps and the
files written.

Positions are **1-indexed, x = column, y = row, in the full-chip frame**
(as the report's "WFC2 at (1521, 1773)"); a map's ``(x0, y0)`` is the chip
pixel of ``map[0, 0]``, so chip pixel (x, y) is ``map[y - y0, x - x0]``.
"""

import os

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable

from ..exceptions import AcsFlecksError
from ..filters import BROADBAND_FILTERS
from ..utils import atomic_output, write_ecsv
from .artifacts import opacity_scale

__all__ = ['SimulationTruth', 'SimulationResult', 'MAP_FILTERS']

#: Filters (and the LED light path) whose maps are written to
#: ``truth_maps.fits``.
MAP_FILTERS = BROADBAND_FILTERS + ('F658N', 'LED')


class SimulationTruth:
    """
    What was simulated: particles (table + maps) and the shadow trail.

    Parameters
    ----------
    artifacts : list of `~acs_flecks.simulate.artifacts.Artifact`
        The particles.
    regions : dict, optional
        ccdchip -> `~acs_flecks.simulate.detector.Region` covered by the
        files (for the ``in_window`` column).
    trail : dict, optional
        The shadow trail (report §5), see `trail`.
    meta : dict, optional
        Scenario, seed, ... stored in the table's meta.
    """

    def __init__(self, artifacts, *, regions=None, trail=None, meta=None):
        self._artifacts = {a.id: a for a in artifacts}
        self.regions = regions or {}
        self.trail = trail
        self.meta = dict(meta or {})
        self._table = None

    def __contains__(self, artifact_id):
        return artifact_id in self._artifacts

    def artifact(self, artifact_id):
        """The `~acs_flecks.simulate.artifacts.Artifact` of an id."""
        try:
            return self._artifacts[artifact_id]
        except KeyError:
            raise AcsFlecksError(
                f'no artifact {artifact_id!r} in this simulation') from None

    @property
    def ids(self):
        """Artifact ids in table order."""
        return list(self._artifacts)

    def transmissivity_map(self, artifact_id, filter, *, date=None):
        """
        True transmissivity map of one particle; for 'LED' (the post-flash
        light path) it includes the particle's LED penumbra.

        Parameters
        ----------
        artifact_id : str
            e.g. 'fleck1'.
        filter : str
            A WFC filter ('F435W', ...) for the lamp light path, or 'LED'
            for the post-flash light path.
        date : str, optional
            Position at this date (particles may drift between the EPER
            epochs); default the final position (x, y) of the table.

        Returns
        -------
        map : `~numpy.ndarray` (float64)
            Transmissivity (1 = clear).
        origin : tuple of int
            (x0, y0): the 1-indexed chip pixel of ``map[0, 0]``.
        """
        art = self.artifact(artifact_id)
        offset = art.offset_at(date) if date is not None else (0.0, 0.0)
        box = art.box() if date is None else None
        return art.transmissivity_map(filter, offset=offset, box=box)

    def master_aperture(self, artifact_id, *, threshold=0.05):
        """Union over the 8 broadband filters of the pixels blocking more
        than ``threshold`` (report §6.1), as a boolean map on the grid of
        `transmissivity_map`."""
        mask = None
        for f in BROADBAND_FILTERS:
            t, _ = self.transmissivity_map(artifact_id, f)
            m = (1.0 - t) > threshold
            mask = m if mask is None else (mask | m)
        return mask

    def mean_transmissivity(self, artifact_id, filter, aperture=None):
        """
        Mean true transmissivity in an aperture (report §6.1 definition).

        Parameters
        ----------
        artifact_id : str
            The particle.
        filter : str
            Filter or 'LED'.
        aperture : array of bool, optional
            Mask on the grid of `transmissivity_map`; default the master
            aperture (`master_aperture`).

        Returns
        -------
        float
        """
        t, _ = self.transmissivity_map(artifact_id, filter)
        if aperture is None:
            aperture = self.master_aperture(artifact_id)
        aperture = np.asarray(aperture, dtype=bool)
        if aperture.shape != t.shape:
            raise AcsFlecksError(
                f'aperture shape {aperture.shape} differs from the map shape '
                f'{t.shape} of {artifact_id}')
        if not aperture.any():
            raise AcsFlecksError(f'empty aperture for {artifact_id}')
        return float(t[aperture].mean())

    def _in_window(self, art):
        reg = self.regions.get(art.ccdchip)
        return True if reg is None else bool(reg.contains(art.x, art.y))

    @property
    def artifacts(self):
        """
        `~astropy.table.QTable` of the particles: ``id``, ``kind``,
        ``ccdchip``, ``x``, ``y`` (1-indexed chip frame), ``area`` (pixels
        blocking > 5% in F435W), ``n_below_50`` (F435W transmissivity
        < 0.5), ``peak_blocking``, ``appear`` ('' = always), ``led_dx``,
        ``led_dy``, ``eper_dx``, ``eper_dy`` (pixels), ``in_window``,
        ``led_area`` (pixels blocking > 1% of the LED post-flash, penumbra
        included) and ``led_halo`` (peak blocking of the LED penumbra).
        """
        if getattr(self, '_table', None) is None:
            self._table = self._build_table()
        table = self._table.copy()
        table.meta.update(self.meta)
        if self.trail:
            table.meta['trail'] = dict(self.trail)
        return table

    def _build_table(self):
        rows = []
        for a in self._artifacts.values():
            t, _ = a.transmissivity_map('F435W')
            tled, _ = a.transmissivity_map('LED')
            rows.append((a.id, a.kind, a.ccdchip, a.x, a.y,
                         int(((1 - t) > 0.05).sum()), int((t < 0.5).sum()),
                         float(1 - t.min()), a.appear, a.led_dx, a.led_dy,
                         a.eper_dx, a.eper_dy, self._in_window(a),
                         int(((1 - tled) > 0.01).sum()), a.led_halo))
        names = ('id', 'kind', 'ccdchip', 'x', 'y', 'area', 'n_below_50',
                 'peak_blocking', 'appear', 'led_dx', 'led_dy', 'eper_dx',
                 'eper_dy', 'in_window', 'led_area', 'led_halo')
        if rows:
            cols = list(zip(*rows))
        else:
            cols = [[] for _ in names]
        dtypes = ('U16', 'U8', int, float, float, int, int, float, 'U10',
                  float, float, float, float, bool, int, float)
        table = QTable([np.array(c, dtype=d) for c, d in zip(cols, dtypes)],
                       names=names)
        for name in ('x', 'y', 'led_dx', 'led_dy', 'eper_dx', 'eper_dy'):
            table[name].unit = u.pix
        table['area'].unit = u.pix
        table['n_below_50'].unit = u.pix
        table['led_area'].unit = u.pix
        table.meta['positions'] = ('1-indexed, x = column, y = row, '
                                   'full-chip frame')
        return table

    def write(self, outdir):
        """Write ``truth_artifacts.ecsv`` and ``truth_maps.fits`` in
        ``outdir``; return their paths."""
        tpath = os.path.join(outdir, 'truth_artifacts.ecsv')
        write_ecsv(self.artifacts, tpath)
        mpath = os.path.join(outdir, 'truth_maps.fits')
        hdus = [fits.PrimaryHDU()]
        hdus[0].header['COMMENT'] = (
            'True transmissivity maps: one cube per artifact, planes = '
            'FILTnn keywords; (X0, Y0) = 1-indexed chip pixel of [0, 0]')
        for a in self._artifacts.values():
            planes = []
            for f in MAP_FILTERS:
                t, (x0, y0) = self.transmissivity_map(a.id, f)
                planes.append(t.astype(np.float32))
            h = fits.Header()
            h['EXTNAME'] = a.id
            h['CCDCHIP'] = a.ccdchip
            h['X0'] = (x0, '1-indexed chip column of pixel [0, 0]')
            h['Y0'] = (y0, '1-indexed chip row of pixel [0, 0]')
            h['XPOS'] = (a.x, '1-indexed chip x of the centre')
            h['YPOS'] = (a.y, '1-indexed chip y of the centre')
            for i, f in enumerate(MAP_FILTERS):
                h[f'FILT{i + 1:02d}'] = (f, f'plane {i} (opacity scale '
                                         f'{opacity_scale(f):.3f})')
            hdus.append(fits.ImageHDU(np.stack(planes), header=h))
        with atomic_output(mpath) as tmp:
            fits.HDUList(hdus).writeto(tmp, output_verify='ignore')
        return tpath, mpath


class SimulationResult:
    """
    What `~acs_flecks.simulate.simulate_scenario` wrote.

    Attributes
    ----------
    outdir : str
        Output directory.
    files : `~astropy.table.QTable`
        Manifest, sorted by date: ``path`` (absolute), ``kind``, ``date``
        (ISO), ``epoch`` (anneal-cycle start, '' before the timeline),
        ``filter``, ``level`` (EPER mean signal, e-; 0 for other kinds); also
        ``OUTDIR/manifest.ecsv``.
    truth : SimulationTruth
        The particles.
    epochs : list of str
        Anneal-cycle starts of the timeline (for
        `~acs_flecks.io.ACSCollection.group_by_epoch`).
    truth_paths : tuple of str
        ``truth_artifacts.ecsv`` and ``truth_maps.fits``.
    """

    def __init__(self, outdir, files, truth, epochs, truth_paths=(),
                 manifest_path=None):
        self.outdir = outdir
        self.files = files
        self.truth = truth
        self.epochs = list(epochs)
        self.truth_paths = tuple(truth_paths)
        self.manifest_path = manifest_path

    def paths(self, kind=None, **match):
        """Paths of the files of a ``kind`` (and other column values)."""
        sel = np.ones(len(self.files), dtype=bool)
        if kind is not None:
            sel &= self.files['kind'] == kind
        for k, v in match.items():
            col = self.files[k]
            if hasattr(col, 'unit') and col.unit is not None and \
                    not hasattr(v, 'unit'):
                col = col.value
            sel &= np.asarray(col == v, dtype=bool)
        return [str(p) for p in self.files['path'][sel]]

    def __repr__(self):
        return (f'<SimulationResult {self.outdir}: {len(self.files)} files, '
                f'{len(self.truth.ids)} artifacts>')
