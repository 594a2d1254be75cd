"""Flats of several dates and the reference in force (issue 10 items 4-5):
the first complete set on/after the date of origin is measured, earlier sets
are the check, later ones the stability; --reference auto takes BPIXTAB from
the first input at/after the date of origin by observation time."""

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_array_equal

from acs_flecks.bpixtab import expand_bpixtab, read_bpixtab
from acs_flecks.characterize import (choose_flat_set, group_flats,
                                     measure_transmissivity)
from acs_flecks.cli import main
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.reference import image_in_force
from acs_flecks.simulate import simulate_scenario

from test_bpixtab import write_wfc_reference


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp('flats')
    res = simulate_scenario('discovery', out / 'sim', window=120,
                            kinds=['flat'])
    truth = res.truth.artifacts
    flecks = truth[(truth['kind'] == 'fleck') & truth['in_window']]
    flecks = flecks['id', 'ccdchip', 'x', 'y', 'n_below_50']
    flecks.rename_column('id', 'fleck_id')
    flecks.write(out / 'flecks.ecsv')
    every = sorted(str(p) for p in (out / 'sim').glob('sim_flat_*_crc.fits'))
    post = [p for p in every if 'sim_flat_2017' in p]
    return out, every, post, flecks


def test_group_and_choose(sim):
    _, every, post, _ = sim
    with pytest.warns(Warning):               # F658N skipped
        sets, skipped = group_flats(every)
    assert [s.date for s in sets] == ['2016-12-01', '2017-12-01']
    assert all(len(s.images) == 8 for s in sets) and len(skipped) == 1
    chosen, before, after = choose_flat_set(sets, date_of_origin='2017-05-05')
    assert chosen.date == '2017-12-01' and [s.date for s in before] == \
        ['2016-12-01'] and after == []
    # the first complete set after the origin, the others as stability
    chosen, before, after = choose_flat_set(sets, date_of_origin='2016-01-01')
    assert chosen.date == '2016-12-01' and [s.date for s in after] == \
        ['2017-12-01']
    with pytest.raises(AcsFlecksError, match='before the date of origin'):
        choose_flat_set(sets[:1], date_of_origin='2017-05-05')


def test_measure_with_every_flat(sim):
    _, every, post, flecks = sim
    row = flecks[flecks['fleck_id'] == 'fleck1'][0]
    kw = dict(ccdchip=int(row['ccdchip']), x=float(row['x'].value),
              y=float(row['y'].value))
    with pytest.warns(Warning):
        res = measure_transmissivity(every, date_of_origin='2017-05-05', **kw)
    with pytest.warns(Warning):
        ref = measure_transmissivity(post, **kw)
    assert res.flat_set == '2017-12-01'
    assert res.meta['flat_sets_before'] == ['2016-12-01']
    assert_array_equal(res.master_aperture, ref.master_aperture)
    # the check: no fleck in the flats from before the date of origin
    (date, before), = res.before
    assert date == '2016-12-01'
    assert isinstance(before, str) or before.master_npix < ref.master_npix / 5


def test_bpixtab_from_16_flats_equals_8(sim, tmp_path, monkeypatch, capsys):
    out, every, post, flecks = sim
    # the 2016 flats name another (older) table: --reference auto must take
    # the one in force at the date of origin, not the first file by name
    old_name = 'old2016_bpx.fits'
    new_name = fits.getval(post[0], 'BPIXTAB').split('$')[1]
    work = tmp_path / 'flats'
    work.mkdir()
    files = []
    for p in every:
        q = work / p.split('/')[-1]
        with fits.open(p) as h:
            if 'sim_flat_2016' in p:
                h[0].header['BPIXTAB'] = f'jref${old_name}'
            h.writeto(q)
        files.append(str(q))
    refdir = tmp_path / 'jref'
    refdir.mkdir()
    write_wfc_reference(refdir / new_name, n=50, seed=4)
    write_wfc_reference(refdir / old_name, n=20, seed=5)
    monkeypatch.setenv('jref', str(refdir) + '/')
    tables = {}
    for label, inputs in (('all', files),
                          ('post', [f for f in files if 'sim_flat_2017' in f])):
        o = tmp_path / f'{label}_bpx.fits'
        rc = main(['-q', 'bpixtab', '--reference', 'auto', '--flecks',
                   str(out / 'flecks.ecsv'), '--flats', *inputs,
                   '--useafter', '2017-05-05', '-o', str(o)])
        text = capsys.readouterr().out
        assert rc == 0, text
        assert 'flats of 2017-12-01 used' in text
        assert 'sim_flat_2017' in text.split('reference: BPIXTAB of')[1]
        tables[label] = read_bpixtab(o).table
    for chip in (1, 2):
        assert_array_equal(expand_bpixtab(tables['all'], ccdchip=chip),
                           expand_bpixtab(tables['post'], ccdchip=chip))
    # the reference rows are those of the table in force (50 rows)
    assert len(tables['all']) >= 50
    old = read_bpixtab(refdir / new_name).table
    assert len(tables['all']) - len(old) == len(tables['post']) - len(old)


def test_only_pre_origin_flats_one_line(sim, tmp_path, capsys):
    out, every, _, _ = sim
    pre = [p for p in every if 'sim_flat_2016' in p]
    rc = main(['bpixtab', '--reference', str(tmp_path / 'none_bpx.fits'),
               '--flecks', str(out / 'flecks.ecsv'), '--flats', *pre,
               '--useafter', '2017-05-05', '-o', str(tmp_path / 'x.fits')])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_image_in_force_by_time_not_name(sim):
    _, every, _, _ = sim
    path, why = image_in_force(list(reversed(every)),
                               date_of_origin='2017-05-05')
    assert 'sim_flat_20171201' in path and 'first input at/after' in why
    path, why = image_in_force(every)
    assert 'latest' in why
