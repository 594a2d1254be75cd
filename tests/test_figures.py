"""Tests of acs_flecks.figures, acs_flecks.html.figures_index and ``acs_flecks figures``
on windowed simulated data (truth from the simulator)."""

import os
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table
from matplotlib.patches import Rectangle
from numpy.testing import assert_allclose

from acs_flecks.characterize.shadow import shadow_boxes
from acs_flecks.cli import main
from acs_flecks.exceptions import AcsFlecksError, InputFileError
from acs_flecks.io import ACSImage
from acs_flecks.figures import (chip_region, fleck_table,
                                plot_daily_superdark, plot_flecks,
                                plot_new_and_stable, plot_shadow_boxes,
                                stable_artifacts)
from acs_flecks.html import REPORT_CAPTIONS, read_manifest, regenerate_figures

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    from acs_flecks.simulate import simulate_scenario
    # every kind, with EPER windows around the tiny fleck too: what each
    # of the 18 figures needs
    return simulate_scenario('discovery', tmp_path_factory.mktemp('sim'),
                             seed=0, window=200, eper_fleck_windows=True)


@pytest.fixture(scope='module')
def regenerated(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp('figs')
    return out, regenerate_figures(outdir=out, **read_manifest(sim.manifest_path))


def _files(sim, kind):
    return [str(p) for p, k in zip(sim.files['path'], sim.files['kind']) if k == kind]


def _truth(sim, fid):
    t = sim.truth.artifacts
    row = t[list(t['id']).index(fid)]
    return (int(row['ccdchip']), float(np.asarray(getattr(row['x'], 'value', row['x']))),
            float(np.asarray(getattr(row['y'], 'value', row['y']))))


def _squares(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)
            and p.get_gid() == 'fleck_square']


def _centre(rect):
    return (rect.get_x() + rect.get_width() / 2,
            rect.get_y() + rect.get_height() / 2)


def _check_png(path, min_bytes=15000):
    assert os.path.getsize(path) > min_bytes
    with open(path, 'rb') as fh:
        assert fh.read(8) == PNG_MAGIC
    from matplotlib.image import imread
    img = imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 300
    # not a blank page: many distinct grey levels
    assert np.unique(np.round(img[..., :3].mean(axis=2), 2)).size > 20


class TestFleckTable:
    def test_default_is_report(self):
        t = fleck_table()
        assert list(t['id']) == ['fleck1', 'fleck2', 'fleck3']
        assert list(t['ccdchip']) == [2, 1, 1]
        assert_allclose(t['x'], [1521, 3510, 1850])
        assert_allclose(t['y'], [1773, 355, 1755])
        # the report's 20x30 box of the elongated fleck: 30 rows x 20 columns
        assert (t['box_ny'][1], t['box_nx'][1]) == (30, 20)
        assert list(t['photometry']) == [True, True, False]

    def test_from_file(self, tmp_path):
        p = tmp_path / 'f.ecsv'
        Table({'ccdchip': [1], 'x': [100.0], 'y': [200.0]}).write(p)
        t = fleck_table(str(p))
        assert list(t['id']) == ['fleck1']
        assert (t['box_ny'][0], t['box_nx'][0]) == (40, 40)

    def test_bad(self, tmp_path):
        with pytest.raises(AcsFlecksError, match='lacks column'):
            fleck_table(Table({'x': [1.0], 'y': [2.0]}))
        with pytest.raises(AcsFlecksError, match='ccdchip must be 1 or 2'):
            fleck_table([(3, 10, 10)])
        with pytest.raises(InputFileError, match='cannot read'):
            fleck_table(str(tmp_path / 'missing.ecsv'))


class TestReadManifest:
    def test_kinds(self, sim):
        m = read_manifest(sim.manifest_path)
        assert len(m['dkc']) == 12 and len(m['unflashed']) == 4
        # 12 two-chip windows plus 12 one-chip windows around fleck3
        assert len(m['eper']) == 24 and len(m['flats']) == 17
        assert len(m['daily_darks']) == 1
        assert all(os.path.isfile(p) for v in m.values() for p in v)

    def test_unknown_kind(self, tmp_path):
        p = tmp_path / 'manifest.ecsv'
        Table({'path': ['a.fits'], 'kind': ['bias']}).write(p)
        with pytest.raises(InputFileError, match="unknown kind 'bias'"):
            read_manifest(p)


class TestChipRegion:
    def test_one_indexed_with_ltv(self, sim):
        dkc = _files(sim, 'dkc')[-1]
        chip, x, y = _truth(sim, 'fleck1')
        data, ext = chip_region(dkc, ccdchip=chip, x=x, y=y, size=21)
        assert data.shape == (21, 21)
        assert ext == (x - 10.5, x + 10.5, y - 10.5, y + 10.5)
        cd = ACSImage(dkc).chip(chip)
        # the centre pixel is chip (x, y) -> image (x + LTV1, y + LTV2)
        r, c = int(y + cd.ltv[1]) - 1, int(x + cd.ltv[0]) - 1
        assert data[10, 10] == cd.sci[r, c]

    def test_off_image(self, sim):
        dkc = _files(sim, 'dkc')[-1]
        with pytest.raises(AcsFlecksError, match='not on the image'):
            chip_region(dkc, ccdchip=1, x=1850, y=1755, size=20)


class TestFigure3:
    def test_squares_on_flecks(self, sim):
        dkc = _files(sim, 'dkc')[-1]
        fig = plot_flecks(dkc)
        axes = [ax for ax in fig.axes if ax.get_title().startswith('(')]
        assert len(axes) == 2  # fleck3 lies outside the simulated windows
        for ax, fid in zip(axes, ('fleck1', 'fleck2')):
            chip, x, y = _truth(sim, fid)
            (sq,) = _squares(ax)
            assert_allclose(_centre(sq), (x, y))
            assert (sq.get_width(), sq.get_height()) == (20, 20)
            assert f'WFC{chip} ({x:g}, {y:g})' in ax.get_title()
            # the fleck (darkest pixels) is inside the square
            (im,) = ax.images
            arr = np.asarray(im.get_array(), float)
            left, right, bottom, top = im.get_extent()
            r, c = np.unravel_index(np.nanargmin(arr), arr.shape)
            xd, yd = left + 0.5 + c, bottom + 0.5 + r
            assert abs(xd - x) < 8 and abs(yd - y) < 8
        texts = ' '.join(t.get_text() for ax in fig.axes for t in ax.texts)
        assert 'fleck3' in texts and 'not on' in texts


class TestRegenerate:
    def test_files(self, regenerated):
        out, res = regenerated
        written = sorted(n for n, r in res.items()
                         if n != 'index' and r['status'] == 'written')
        # the simulator writes what every figure needs: the daily dark
        # (Figures 1-2) and EPER windows around the tiny fleck (Figure 7)
        assert written == list(range(1, 19)), {
            n: r['note'] for n, r in res.items() if n != 'index'}
        for n in written:
            p = res[n]['file']
            assert os.path.basename(p) == f'figure{n:02d}.png'
            _check_png(p)
        # Figure 1 shows the flashed long (daily) dark, not a short dark
        assert res[1]['note'] == ''
        assert res[2]['note'] == \
            'daily superdark computed as daily dark - short dark'
        t = Table.read(out / 'figures.ecsv')
        assert list(t['figure']) == list(range(1, 19))
        assert list(t['caption']) == [REPORT_CAPTIONS[n] for n in range(1, 19)]
        html = (out / 'figures.html').read_text()
        assert html.count('<tr>') == 19 and 'skipped' not in html
        assert res['index'] == os.path.join(str(out), 'figures.html')
        # the text columns' headers are left-aligned as their cells
        assert '<th class="wrap">Caption (report)</th>' in html

    def test_skip_notes_and_index(self, sim, tmp_path):
        m = read_manifest(sim.manifest_path)
        m['daily_darks'] = []
        m['eper'] = [p for p in m['eper'] if '_x1850y1755_' not in p]
        out = tmp_path / 'o'
        res = regenerate_figures(outdir=out, figures=[1, 2, 7], **m)
        assert res[2]['status'] == 'skipped'
        assert '--daily-dark' in res[2]['note']
        assert res[7]['status'] == 'skipped'
        assert '1850' in res[7]['note']
        assert 'short flashed dark' in res[1]['note']
        html = (out / 'figures.html').read_text()
        assert html.count('<tr>') == 4
        assert 'figure01.png' in html and 'skipped: needs a flashed long' in html

    def test_only_some(self, sim, tmp_path):
        m = read_manifest(sim.manifest_path)
        res = regenerate_figures(outdir=tmp_path, dkc=m['dkc'], figures=[3, 10])
        assert res[3]['status'] == 'written'
        assert res[10]['status'] == 'skipped' and '--flats' in res[10]['note']
        assert set(res) == {3, 10, 'index'}
        with pytest.raises(AcsFlecksError, match='1-18'):
            regenerate_figures(outdir=tmp_path, dkc=m['dkc'], figures=[19])

    def test_wrong_flash_state(self, sim, tmp_path):
        m = read_manifest(sim.manifest_path)
        with pytest.raises(InputFileError, match='not post-flashed'):
            regenerate_figures(outdir=tmp_path / 'o', dkc=m['unflashed'])
        with pytest.raises(InputFileError, match='unflashed but the file is post'):
            regenerate_figures(outdir=tmp_path / 'o', unflashed=m['dkc'][:1])
        assert not (tmp_path / 'o').exists()


class TestFigure8:
    def test_boxes(self, sim):
        dkc = _files(sim, 'dkc')[-1]
        chip, x, y = _truth(sim, 'fleck1')
        fig = plot_shadow_boxes(dkc, ccdchip=chip, x=x, y=y)
        expected = shadow_boxes(dkc, ccdchip=chip, x=x, y=y)
        ax = fig.axes[0]
        rects = {p.get_gid().split()[0]: p for p in ax.patches}
        for name, box in zip(('shadow', 'empty'), expected):
            r = rects[name]
            assert_allclose((r.get_x() + 0.5, r.get_x() + r.get_width() - 0.5,
                             r.get_y() + 0.5, r.get_y() + r.get_height() - 0.5),
                            box)
            assert (r.get_width(), r.get_height()) == (11, 3)
        # the shadow box is just above (+y) the fleck; the empty box to its right
        assert expected[0][2] > y and expected[1][0] > x


class TestFigure2:
    def test_daily_dark(self, sim, tmp_path):
        short = _files(sim, 'dkc')[6]
        daily = tmp_path / 'daily_crj.fits'
        shutil.copy(short, daily)
        with fits.open(daily, mode='update') as h:
            h[0].header['EXPTIME'] = 4002.0
            for hdu in h[1:]:
                if hdu.name == 'SCI':
                    hdu.data = hdu.data * 3.0 + 100.0
        chip, x, y = _truth(sim, 'fleck1')
        fig = plot_daily_superdark(str(daily), short, ccdchip=chip, x=x, y=y,
                                   size=50)
        panels = [ax for ax in fig.axes if ax.images]
        assert len(panels) == 3
        d, s, sup = (np.asarray(ax.images[0].get_array(), float) for ax in panels)
        assert_allclose(sup, d - s)
        for ax in panels:
            (sq,) = _squares(ax)
            assert_allclose(_centre(sq), (x, y))
        res = regenerate_figures(outdir=tmp_path / 'o', dkc=[short],
                                 daily_darks=[str(daily)], figures=[1, 2])
        assert res[2]['status'] == 'written' and 'superdark computed' in res[2]['note']
        assert res[1]['status'] == 'written' and res[1]['note'] == ''
        _check_png(res[2]['file'])


class TestFigure18:
    def test_stable_from_table(self, sim, tmp_path):
        dk = _files(sim, 'dkc')
        chip, x, y = _truth(sim, 'freckle002')
        arts = QTable({'ccdchip': [chip, chip, 2], 'x': [x, x + 3, 1521.0],
                       'y': [y, y, 1773.0], 'status': ['stable', 'new', 'stable']})
        st = stable_artifacts(dk[3], dk[4], artifacts=arts)
        # the 'new' row is dropped, the fleck position excluded
        assert len(st) == 1 and (st['x'][0], st['y'][0]) == (x, y)
        fig = plot_new_and_stable(dk[3], dk[4], stable=st)
        titles = [ax.get_title() for ax in fig.axes]
        assert any('artifact 1' in t and 'before: 2017-04-04' in t for t in titles)
        assert any('fleck1' in t and 'after: 2017-05-05' in t for t in titles)

    def test_detected_stable(self, regenerated, sim):
        _, res = regenerated
        assert res[18]['status'] == 'written'
        # without a table the stable artifacts come from detection in both
        # darks: the freckle next to the large fleck is one of them
        dk = _files(sim, 'dkc')
        st = stable_artifacts(dk[3], dk[4])
        chip, x, y = _truth(sim, 'freckle002')
        d = np.hypot(np.asarray(st['x']) - x, np.asarray(st['y']) - y)
        assert d.min() < 2


    def test_stable_from_history(self, sim, tmp_path):
        from acs_flecks.monitor import monitor_epochs
        dk = _files(sim, 'dkc')
        db = str(tmp_path / 'history.sqlite')
        monitor_epochs(dk[3:5], db=db)
        st = stable_artifacts(dk[3], dk[4], history=db)
        chip, x, y = _truth(sim, 'freckle002')
        assert list(st['source']) == ['history'] * len(st)
        d = np.hypot(np.asarray(st['x']) - x, np.asarray(st['y']) - y)
        assert len(st) >= 1 and d.min() < 2
        # the flecks are new in this history, never shown as stable
        assert np.all(np.hypot(np.asarray(st['x']) - 1521,
                               np.asarray(st['y']) - 1773) > 30)


class TestFleck3Window:
    def test_figures_3_and_7(self, tmp_path):
        from acs_flecks.simulate import simulate_scenario
        s = simulate_scenario('discovery', tmp_path / 'sim', seed=1, window=120,
                              kinds=['dkc', 'eper'],
                              window_centers={1: (1850, 1755)})
        m = read_manifest(s.manifest_path)
        res = regenerate_figures(outdir=tmp_path / 'o', figures=[3, 7], **m)
        assert res[7]['status'] == 'written', res[7]['note']
        assert res[3]['status'] == 'written'
        assert 'fleck2' in res[3]['note']  # fleck2 is now outside the windows


class TestCLI:
    def test_manifest(self, sim, tmp_path, capsys):
        rc = main(['-q', 'figures', '--manifest', str(sim.manifest_path),
                   '--only', '2-3', '-o', str(tmp_path / 'o')])
        out = capsys.readouterr().out
        assert rc == 0
        assert 'figure  3: wrote' in out
        assert 'figure  2: wrote' in out
        assert (tmp_path / 'o' / 'figure03.png').exists()

    @pytest.mark.parametrize('extra, msg', [
        (['--dkc', 'missing.fits'], 'missing.fits'),
        ([], 'no input files'),
        (['--only', 'x'], '--only'),
        (['--appeared', 'notadate'], '--appeared'),
    ])
    def test_errors(self, sim, tmp_path, capsys, extra, msg):
        if extra[:1] in (['--only'], ['--appeared']):
            extra = extra + ['--dkc', _files(sim, 'dkc')[0]]
        rc = main(['figures', *extra, '-o', str(tmp_path / 'o')])
        err = capsys.readouterr().err
        assert rc == 2
        assert msg in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / 'o').exists()

    def test_unflashed_as_dkc(self, sim, tmp_path, capsys):
        rc = main(['figures', '--dkc', _files(sim, 'dark')[0], '-o',
                   str(tmp_path / 'o')])
        assert rc == 2
        assert 'not post-flashed' in capsys.readouterr().err


class TestCharacterizationReuse:
    def test_given_measurement_used(self, sim, tmp_path):
        from acs_flecks.characterize import FleckCharacterization, measure_transmissivity
        flats = [p for p in _files(sim, 'flat') if '20171201' in p and 'f658n' not in p]
        chip, x, y = _truth(sim, 'fleck1')
        res = measure_transmissivity(flats[:2], ccdchip=chip, x=x, y=y,
                                     fleck_id='fleck1')
        ch = FleckCharacterization(transmissivity=res, bad_pixels=None)
        out = regenerate_figures(outdir=tmp_path, characterization={'fleck1': ch},
                                 figures=[12, 14, 16])
        # no flats given: the figures of fleck1 come from the measurement,
        # those of the elongated fleck are skipped
        assert out[12]['status'] == 'written' and out[14]['status'] == 'written'
        assert out[16]['status'] == 'skipped' and '--flats' in out[16]['note']


class TestDailyDarkFigures:
    def test_exposures_summed(self, sim):
        from acs_flecks.figures import exposures_summed
        daily = _files(sim, 'daily')[0]
        dkc = _files(sim, 'dkc')[0]
        # ACSREJ totals of four long darks; the DKC is an average
        assert exposures_summed(daily, 2) == 4
        assert exposures_summed(dkc, 2) == 1
        assert exposures_summed(_files(sim, 'dark')[0], 2) == 4

    def test_superdark_panel_has_no_fleck(self, sim):
        chip, x, y = _truth(sim, 'fleck1')
        daily = _files(sim, 'daily')[0]
        short = min(_files(sim, 'dkc'), key=lambda p: abs(
            ACSImage(p).obs_time.mjd - ACSImage(daily).obs_time.mjd))
        fig = plot_daily_superdark(daily, short, ccdchip=chip, x=x, y=y, size=60)
        d, s, sup = (np.asarray(ax.images[0].get_array(), float)
                     for ax in fig.axes if ax.images)
        c = (slice(27, 33), slice(27, 33))     # 6x6 pixels at the fleck
        far = (slice(0, 10), slice(0, 10))
        # the fleck blocks the flash in the daily and the short dark ...
        for img in (d, s):
            assert np.median(img[c]) < np.median(img[far]) - 20
        # ... and is gone from the superdark (post-flash removed)
        assert abs(np.median(sup[c]) - np.median(sup[far])) < 3


class TestFigure10Circle:
    def test_scale_circle(self, sim):
        from matplotlib.patches import Circle

        from acs_flecks.characterize import measure_transmissivity
        from acs_flecks.plotting.characterize import plot_filter_thumbnails
        chip, x, y = _truth(sim, 'fleck1')
        flats = [p for p in _files(sim, 'flat') if '2017' in os.path.basename(p)]
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            res = measure_transmissivity(flats, ccdchip=chip, x=x, y=y)
        fig = plot_filter_thumbnails(res)
        axes = [ax for ax in fig.axes if ax.images]
        assert len(axes) == 8
        for ax in axes:
            (circ,) = [p for p in ax.patches if isinstance(p, Circle)]
            assert circ.get_gid() == 'scale_circle'
            assert circ.get_radius() == 25
            assert_allclose(circ.center, (x, y))
            # the whole circle is inside the thumbnail
            x0, x1 = ax.get_xlim()
            y0, y1 = ax.get_ylim()
            assert x0 <= x - 25 and x1 >= x + 25 and y0 <= y - 25 and y1 >= y + 25
            ext = ax.images[0].get_extent()
            assert ext[1] - ext[0] == 64 and ext[3] - ext[2] == 64
        assert '25 pixels radius' in fig._suptitle.get_text()
