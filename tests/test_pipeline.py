"""End-to-end tests of the whole chain (acs_flecks.pipeline) and the demo."""

import hashlib
import os
import re

import numpy as np
import pytest
from astropy.io import fits

from acs_flecks.bpixtab import expand_bpixtab, read_bpixtab
from acs_flecks.cli import main
from acs_flecks.demo import write_reference_bpixtab
from acs_flecks.exceptions import AcsFlecksError, SkippedFileWarning
from acs_flecks.pipeline import expand_inputs, run_pipeline
from acs_flecks.simulate import simulate_scenario
from acs_flecks.simulate.evaluation import (compare_transmissivity,
                                            compare_with_truth)

from conftest import real_file


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.fixture(scope='module')
def discovery(tmp_path_factory):
    """Windowed discovery scenario: DKCs, flats, EPER, un-flashed darks."""
    base = tmp_path_factory.mktemp('discovery')
    sim = simulate_scenario('discovery', base / 'data', seed=3, window=160)
    ref = write_reference_bpixtab(str(base / 'ref_bpx.fits'), seed=3)
    return sim, ref, base


def _paths(sim, kind):
    return [str(p) for p, k in zip(sim.files['path'], sim.files['kind'])
            if k == kind]


@pytest.fixture(scope='module')
def chain(discovery):
    sim, ref, base = discovery
    before = sha256(ref)
    # the flats include F658N: narrowband is skipped with a warning (§6.1)
    with pytest.warns(SkippedFileWarning, match='F658N'):
        result = run_pipeline(_paths(sim, 'dkc'), flats=_paths(sim, 'flat'),
                              unflashed=_paths(sim, 'dark'),
                              eper=_paths(sim, 'eper'), reference=ref,
                              outdir=str(base / 'out'), scheduler='serial')
    assert sha256(ref) == before  # the reference is never modified
    return sim, ref, result


class TestChain:
    def test_new_flecks_and_date_of_origin(self, chain):
        sim, _, result = chain
        new = result.new_flecks
        assert len(new) == 2  # fleck1 (WFC2) and fleck2 (WFC1) are in the windows
        assert sorted(int(c) for c in new['ccdchip']) == [1, 2]
        for row in new:
            assert str(row['first_seen']).startswith('2017-05-05')
            assert str(row['last_seen_absent']).startswith('2017-04-04')
        assert set(np.asarray(result.artifacts['status'])) - {'new'} <= \
            {'stable', 'transient'}

    def test_found_at_true_positions(self, chain):
        sim, _, result = chain
        comp = compare_with_truth(result, sim.truth)
        inside = comp[np.isin(comp['fleck'], ['fleck1', 'fleck2'])]
        assert list(inside['status']) == ['new', 'new']
        # detections are in the LED frame: shifted by < 2 px from the lamp
        d = np.hypot(inside['x_found'] - inside['x_true'],
                     inside['y_found'] - inside['y_true'])
        assert np.all(d < 2.5)

    def test_transmissivity_matches_truth(self, chain):
        sim, _, result = chain
        comp = compare_transmissivity(result, sim.truth)
        assert set(comp['fleck']) == {'fleck1', 'fleck2'}
        assert len(comp) == 16  # 8 broadband filters each
        assert np.all(np.abs(comp['pull']) < 3)
        # the red upturn: F850LP transmits ~7% more than F775W
        for fleck in ('fleck1', 'fleck2'):
            t = {r['filter']: r['measured'] for r in comp
                 if r['fleck'] == fleck}
            assert 0.04 < t['F850LP'] - t['F775W'] < 0.10

    def test_light_path_verdict(self, chain):
        _, _, result = chain
        verdicts = dict(zip(result.lightpath['ccdchip'],
                            result.lightpath['verdict']))
        # both flecks vanish without the LED: particles in the light path
        assert verdicts == {1: 'light path', 2: 'light path'}
        assert np.all(result.lightpath['disappearance_significance'] > 5)

    def test_bpixtab_flags_exactly_the_bad_pixels(self, chain):
        sim, ref, result = chain
        assert result.useafter == '2017-05-05'
        new_path = result.outputs['bpixtab']
        old = read_bpixtab(ref).table
        new = read_bpixtab(new_path)
        assert new.primary_header['USEAFTER'] == 'May 05 2017 00:00:00'
        assert result.delivery.certification.passed
        # the distance check ran against the new flecks' positions [#9]
        near = {c.name: c for c in result.delivery.certification.checks}[
            'near_flecks']
        assert near.status == 'pass', near.message
        bad = result.bad_pixels
        truth = sim.truth.artifacts
        for fleck, chip in (('fleck1', 2), ('fleck2', 1)):
            n_true = int(np.asarray(truth['n_below_50'])[
                np.asarray(truth['id']) == fleck][0])
            sel = np.asarray(bad['ccdchip']) == chip
            assert abs(int(sel.sum()) - n_true) <= 3
            m_old = expand_bpixtab(old, ccdchip=chip)
            m_new = expand_bpixtab(new.table, ccdchip=chip)
            gained = (m_new & ~m_old) != 0
            expect = np.zeros_like(gained)
            xs = np.asarray(getattr(bad['x'], 'value', bad['x']))[sel]
            ys = np.asarray(getattr(bad['y'], 'value', bad['y']))[sel]
            expect[ys.astype(int) - 1, xs.astype(int) - 1] = True
            # exactly the bad pixels gain a flag, and it is flag 4
            np.testing.assert_array_equal(gained, expect & ((m_old & 4) == 0))
            assert np.all((m_new ^ m_old)[gained] == 4)
            # nothing lost
            assert np.all((m_new & m_old) == m_old)

    def test_report_has_every_figure(self, chain):
        _, _, result = chain
        html = open(result.report).read()
        srcs = re.findall(r'<img src="([^"]+)"', html)
        assert len(srcs) >= 10
        base = os.path.dirname(result.report)
        for src in srcs:
            assert os.path.exists(os.path.join(base, src)), src
        for ch in result.characterizations.values():
            for path in ch.figures.values():
                assert os.path.relpath(path, base) in srcs
        assert 'PASS' in html and 'light path' in html

    def test_rerun_adds_nothing(self, chain, discovery):
        sim, ref, result = chain
        _, _, base = discovery
        broadband = [p for p in _paths(sim, 'flat') if 'f658n' not in p]
        again = run_pipeline(_paths(sim, 'dkc'), flats=broadband,
                             reference=ref, outdir=str(base / 'out'),
                             scheduler='serial', overwrite=True)
        assert again.artifacts.meta['summary']['added'] == []
        assert len(again.new_flecks) == 2
        t1 = fits.getdata(result.outputs['bpixtab'], 1)
        assert len(t1) == len(fits.getdata(again.outputs['bpixtab'], 1))


class TestBadInput:
    def test_hrc_reference(self, discovery, tmp_path, capsys):
        sim, _, _ = discovery
        hrc = real_file('j4d1435jj_bpx.fits')
        before = sha256(hrc)
        out = tmp_path / 'out'
        with pytest.raises(AcsFlecksError, match='HRC'):
            run_pipeline(_paths(sim, 'dkc')[4:6], flats=_paths(sim, 'flat'),
                         reference=str(hrc), outdir=str(out),
                         scheduler='serial')
        assert sha256(hrc) == before
        assert not (out / 'j4d1435jj_flecks_bpx.fits').exists()

    def test_no_crds_server(self, discovery, tmp_path, monkeypatch):
        sim, _, _ = discovery
        monkeypatch.delenv('jref', raising=False)
        monkeypatch.setenv('CRDS_SERVER_URL', 'http://127.0.0.1:9')
        monkeypatch.setenv('CRDS_PATH', str(tmp_path / 'crds'))
        with pytest.raises(AcsFlecksError):
            run_pipeline(_paths(sim, 'dkc')[:2], flats=_paths(sim, 'flat'),
                         reference='auto', outdir=str(tmp_path / 'o'),
                         scheduler='serial')
        assert not (tmp_path / 'o' / 'fleck_history.sqlite').exists()

    def test_no_inputs(self, tmp_path):
        with pytest.raises(AcsFlecksError, match='no input'):
            run_pipeline([], outdir=str(tmp_path))
        with pytest.raises(AcsFlecksError, match='pattern'):
            expand_inputs(str(tmp_path / '*_dkc.fits'))

    def test_list_file(self, tmp_path):
        a = tmp_path / 'a.fits'
        a.write_text('x')
        lst = tmp_path / 'files.lst'
        lst.write_text(f'{a}\n# comment\n')
        assert expand_inputs('@' + str(lst)) == [str(a)]


class TestRunCommand:
    def test_run_config(self, discovery, tmp_path, capsys):
        """``acs_flecks run CONFIG.cfg``: a user's TEAL configuration runs the
        whole chain and prints what it found."""
        sim, ref, _ = discovery
        cfg = tmp_path / 'my.cfg'
        assert main(['run', '--write-config', str(cfg)]) == 0
        text = cfg.read_text()
        lst = tmp_path / 'dkc.lst'
        lst.write_text('\n'.join(_paths(sim, 'dkc')) + '\n')
        flats = ','.join(p for p in _paths(sim, 'flat') if 'f658n' not in p)
        for key, value in (('input', '@' + str(lst)), ('flats', flats),
                           ('reference', ref), ('outdir', str(tmp_path / 'o')),
                           ('scheduler', 'serial')):
            text = re.sub(rf'^{key} = .*$', f'{key} = "{value}"', text,
                          flags=re.M)
        cfg.write_text(text)
        capsys.readouterr()
        assert main(['-q', 'run', str(cfg)]) == 0
        out = capsys.readouterr().out
        assert 'New artifacts' in out and 'PASSED' in out
        new = fits.getdata(tmp_path / 'o' / 'ref_flecks_bpx.fits', 1)
        assert len(new) > len(fits.getdata(ref, 1))


class TestDemoCommand:
    def test_demo_windowed(self, tmp_path, capsys, monkeypatch):
        """``acs_flecks demo`` (windowed, serial: the same chain as the
        full-frame default) finds the two flecks in the windows, writes a
        certified table, the report and the figures, and says where."""
        monkeypatch.delenv('jref', raising=False)
        out = tmp_path / 'demo'
        status = main(['-q', 'demo', str(out), '--window', '160',
                       '--scheduler', 'serial'])
        assert status == 0
        captured = capsys.readouterr()
        text = captured.out
        # the narrowband flat is skipped with a one-line warning (§6.1)
        assert 'F658N' in captured.err and 'Traceback' not in captured.err
        assert 'PASSED' in text
        block = text.split('Flecks: simulation truth')[1].split('\n\n')[0]
        status_of = {ln.split()[0]: ln for ln in block.splitlines()
                     if ln.startswith('fleck')}
        for fleck in ('fleck1', 'fleck2'):
            assert ' new ' in status_of[fleck]
            assert '2017-04-04 2017-05-05' in status_of[fleck]
        for name in ('report.html', 'artifacts.ecsv', 'bad_pixels.ecsv',
                     'report_figures/figures.html'):
            assert (out / 'results' / name).exists(), name
        assert str(out / 'results' / 'report.html') in text.replace(
            str(out.resolve()), str(out))
        # the deliberate narrowband skip is said once
        assert (captured.err + text).count('F658N is not one of') == 1
        # the simulator wrote what every one of the report's figures needs
        figs = (out / 'results' / 'report_figures' / 'figures.ecsv')
        from astropy.table import Table
        t = Table.read(figs)
        assert list(t['status']) == ['written'] * 18, list(t['note'])
        # every new artifact has its own section
        html = (out / 'results' / 'report.html').read_text()
        new = Table.read(out / 'results' / 'new_flecks.ecsv')
        assert len(new) >= 2
        for aid in new['artifact_id']:
            assert f'<h2 id="{aid}">' in html, aid
        # every link and image of both pages resolves, relative, no
        # absolute path anywhere
        for page in (out / 'results' / 'report.html', figs.with_suffix('.html')):
            check_links(page, tmp_path)

    def test_demo_relative_outdir_links(self, tmp_path, capsys, monkeypatch):
        """With OUTDIR relative to the working directory, every link of the
        report still resolves from the page (the "Output files" list used
        to be relative to the working directory)."""
        monkeypatch.delenv('jref', raising=False)
        monkeypatch.chdir(tmp_path)
        status = main(['-q', 'demo', 'rel', '--window', '160',
                       '--scheduler', 'serial'])
        assert status == 0
        capsys.readouterr()
        page = tmp_path / 'rel' / 'results' / 'report.html'
        check_links(page, tmp_path)
        assert 'href="artifacts.ecsv"' in page.read_text()


def check_links(page, tmp_path):
    """Every href/src of an HTML page names an existing file relative to
    the page (or an anchor of the page); no absolute path in the text."""
    from html.parser import HTMLParser
    text = page.read_text()
    ids, refs = set(), []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k == 'id':
                    ids.add(v)
                if k in ('href', 'src'):
                    refs.append(v)
    Parser().feed(text)
    assert refs, page
    for ref in refs:
        assert '://' not in ref and not ref.startswith('/'), (page, ref)
        if ref.startswith('#'):
            assert ref[1:] in ids, (page, ref)
            continue
        target = (page.parent / ref.split('#')[0]).resolve()
        assert target.exists(), (page, ref)
    for root in {str(tmp_path), str(tmp_path.resolve()), os.path.expanduser('~')}:
        assert root not in text, (page, root)
    assert not re.search(r'["\'>\s](/tmp|/home|/work|/Users)/', text), page


class TestFleckOutsideFlats:
    def test_note_says_why_in_words(self, tmp_path):
        """A new fleck no lamp flat covers (windowed flats elsewhere) is
        not characterized, and the note says so in words."""
        from acs_flecks.simulate.scenarios import ANNEAL_CYCLE_STARTS
        dk = simulate_scenario('discovery', tmp_path / 'dkc', seed=5,
                               window=120, kinds=['dkc'],
                               window_centers={1: (1850, 1755)},
                               epochs=list(ANNEAL_CYCLE_STARTS[3:5]))
        fl = simulate_scenario('discovery', tmp_path / 'flat', seed=5,
                               window=120, kinds=['flat'])
        flats = [p for p in fl.paths('flat') if 'f658n' not in p]
        ref = write_reference_bpixtab(str(tmp_path / 'ref_bpx.fits'), seed=5)
        res = run_pipeline(dk.paths('dkc'), flats=flats,
                           outdir=str(tmp_path / 'out'), scheduler='serial',
                           reference=ref)
        notes = [n for n in res.notes if '1755' in n.split(':')[0]]
        assert notes, res.notes
        assert 'no lamp flat covers its 40x40 pixel box' in notes[0]
        assert 'LTV' not in notes[0]
        html = open(res.report).read()
        assert 'no lamp flat covers its 40x40 pixel box' in html
