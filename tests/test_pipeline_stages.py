"""The stages `run_pipeline` is composed of, each used on its own."""

from astropy.table import QTable
from astropy.time import Time

from acs_flecks import pipeline


def _bad(rows):
    return QTable(rows=rows, names=('ccdchip', 'x', 'y', 'transmissivity',
                                    'fleck_id'))


def _new(first_seen):
    return QTable({'ccdchip': [2] * len(first_seen),
                   'x': [100.0 + 50 * i for i in range(len(first_seen))],
                   'y': [200.0] * len(first_seen),
                   'first_seen': first_seen,
                   'last_seen_absent': ['2017-04-04'] * len(first_seen)})


class TestMergeBadPixels:
    def test_shared_pixel_once_with_lowest_transmissivity(self, tmp_path):
        a = _bad([(2, 10, 20, 0.3, 'A'), (2, 11, 20, 0.4, 'A')])
        b = _bad([(2, 11, 20, 0.2, 'B'), (1, 5, 5, 0.1, 'B')])
        outputs = {}
        bad = pipeline.merge_bad_pixels([a, b], outdir=tmp_path,
                                        outputs=outputs)
        assert len(bad) == 3
        key = {(int(r['ccdchip']), int(r['x']), int(r['y'])):
               float(r['transmissivity']) for r in bad}
        assert key == {(2, 10, 20): 0.3, (2, 11, 20): 0.2, (1, 5, 5): 0.1}
        assert outputs['bad_pixels'] == str(tmp_path / 'bad_pixels.ecsv')
        assert (tmp_path / 'bad_pixels.ecsv').is_file()

    def test_none(self, tmp_path):
        outputs = {}
        bad = pipeline.merge_bad_pixels([], outdir=tmp_path, outputs=outputs)
        assert len(bad) == 0 and outputs == {}
        assert not (tmp_path / 'bad_pixels.ecsv').exists()


class TestStagesWithoutInputs:
    """A stage that lacks its inputs says so in the notes and writes
    nothing."""

    def test_date_of_origin(self):
        new = _new(['2017-05-05T10:00:00', '2017-06-01T00:00:00'])
        assert pipeline.date_of_origin(new) == Time('2017-05-05T10:00:00')
        assert pipeline.date_of_origin(new[:0]) is None

    def test_characterize_without_flats(self, tmp_path):
        notes = []
        chars, bad = pipeline.characterize_stage(
            _new(['2017-05-05']), flats=[], epochs=[], outdir=tmp_path,
            notes=notes)
        assert chars == {} and bad == []
        assert notes == ['no lamp flats given: transmissivity, bad pixels '
                         'and the new bpixtab need flats (report §6.1, §8)']
        assert list(tmp_path.iterdir()) == []

    def test_nothing_new(self, tmp_path):
        notes = []
        none = _new([])
        assert pipeline.characterize_stage(
            none, flats=['f.fits'], epochs=[], outdir=tmp_path,
            notes=notes) == ({}, [])
        assert pipeline.lightpath_stage(none, epochs=[], unflashed=['u'],
                                        outdir=tmp_path, notes=notes) is None
        assert pipeline.deliver_stage(QTable(), none, reference='r.fits',
                                      output='o.fits', notes=notes) == \
            (None, None)
        assert notes == []

    def test_lightpath_without_unflashed(self, tmp_path):
        notes, outputs = [], {}
        assert pipeline.lightpath_stage(
            _new(['2017-05-05']), epochs=[], unflashed=[], outdir=tmp_path,
            outputs=outputs, notes=notes) is None
        assert notes == ['no un-flashed darks given: flashed vs un-flashed '
                         'test (§3) not run']
        assert outputs == {}

    def test_deliver_without_bad_pixels(self, tmp_path):
        notes, outputs = [], {}
        out = tmp_path / 'new_bpx.fits'
        assert pipeline.deliver_stage(
            QTable(), _new(['2017-05-05']), reference='r.fits',
            output=str(out), notes=notes, outputs=outputs) == (None, None)
        assert notes == ['no bad pixels measured: no bpixtab written']
        assert not out.exists() and outputs == {}

    def test_science_without_table(self, tmp_path):
        notes, outputs = [], {}
        assert pipeline.science_stage(['a_flc.fits'], None, None, {},
                                      str(tmp_path), outputs, notes) == \
            (None, None)
        assert notes == ['no new bad-pixel table: the science exposures '
                         'were not assessed']


def test_stage_defaults_are_the_chain_defaults():
    """Every stage function's defaults are those of run_pipeline."""
    import inspect
    chain = inspect.signature(pipeline.run_pipeline).parameters
    for func in (pipeline.plan_chain, pipeline.monitor_stage,
                 pipeline.characterize_stage, pipeline.deliver_stage):
        for name, par in inspect.signature(func).parameters.items():
            if name in chain and par.default is not inspect.Parameter.empty \
                    and chain[name].default is not inspect.Parameter.empty:
                assert par.default == chain[name].default, (func, name)
