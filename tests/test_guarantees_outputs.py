"""
The guarantees of docs/guarantees.rst, command by command (issue #9):
nothing a user has is overwritten, every parameter is validated before the
first write, temporary files cannot be mistaken for outputs and a rerun
cleans its own, two writers of one history stay consistent, and every bad
input gives one line.

The harness (`refused`) runs a command in-process and checks: exit status
2, exactly one stderr line naming the file or option, no traceback, no new
or changed file under the test directory (inputs' SHA-256 unchanged).
"""

import errno
import hashlib
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from astropy.table import Table

from acs_flecks.cli import main as _main
from acs_flecks.exceptions import AcsFlecksError
from acs_flecks.utils import (TEMP_SUFFIX, TEMP_TAG, atomic_output,
                              remove_stale_temporaries, temporary_name)

from conftest import write_acs
from test_bpixtab import write_wfc_reference

EXE = [sys.executable, '-m', 'acs_flecks.cli']


def main(argv):
    return _main([str(a) for a in argv])


# ------------------------------------------------------------- harness --
def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def snapshot(root):
    """Every file and directory under ``root`` with its SHA-256."""
    root = pathlib.Path(root)
    out = {}
    for p in sorted(root.rglob('*')):
        rel = str(p.relative_to(root))
        out[rel] = 'dir' if p.is_dir() and not p.is_symlink() else (
            'link:' + os.readlink(p) if p.is_symlink() else sha256(p))
    return out


def refused(argv, root, capsys, match):
    """Run ``acs_flecks -q ARGV``; assert exit 2, one stderr line matching
    ``match``, no traceback, nothing new or changed under ``root``."""
    before = snapshot(root)
    try:
        code = main(['-q'] + [str(a) for a in argv])
    except SystemExit as exc:   # argparse: usage errors
        code = exc.code
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert code == 2, captured.err
    assert 'Traceback' not in captured.err
    assert len(lines) == 1, captured.err
    assert re.match(r'acs_flecks( [\w-]+)?: error: ', lines[0]), lines[0]
    assert re.search(match, lines[0]), lines[0]
    assert snapshot(root) == before
    return lines[0]


def refused_subprocess(argv, root, match, cwd=None):
    """The same checks on a real process (``python -m acs_flecks.cli``)."""
    before = snapshot(root)
    proc = subprocess.run(EXE + ['-q'] + [str(a) for a in argv],
                          capture_output=True, text=True, cwd=cwd)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert re.search(match, lines[0]), lines[0]
    assert snapshot(root) == before
    return lines[0]


# ----------------------------------------------------------- test data --
@pytest.fixture(scope='module')
def simdata(tmp_path_factory):
    """Windowed simulated DKCs and lamp flats (the report's timeline) and a
    complete history of the DKCs (made once per module)."""
    from acs_flecks.simulate import simulate_scenario
    base = tmp_path_factory.mktemp('sim')
    res = simulate_scenario('discovery', base / 'data', window=64,
                            kinds=['dkc', 'flat'], seed=2)
    files = list(res.files['path'])
    dkc = sorted(str(p) for p, k in zip(files, res.files['kind'])
                 if k == 'dkc')
    flats = sorted(str(p) for p, k in zip(files, res.files['kind'])
                   if k == 'flat' and '20171201' in os.path.basename(str(p)))
    db = base / 'history.sqlite'
    assert main(['-q', 'monitor', *dkc, '--db', str(db), '--scheduler',
                 'serial', '--no-progress']) == 0
    ref = write_wfc_reference(base / 'ref_bpx.fits')
    return {'dkc': dkc, 'flats': flats, 'db': str(db), 'ref': str(ref)}


@pytest.fixture
def work(tmp_path, simdata):
    """A private copy of some inputs in ``tmp_path/work``."""
    w = tmp_path / 'work'
    w.mkdir()
    dkc = []
    for p in simdata['dkc'][:3]:
        dkc.append(str(shutil.copy(p, w)))
    db = shutil.copy(simdata['db'], w / 'H.sqlite')
    ref = shutil.copy(simdata['ref'], w / 'ref_bpx.fits')
    Table({'ccdchip': [2, 2], 'x': [10, 11], 'y': [20, 20],
           'transmissivity': [0.3, 0.2], 'fleck_id': ['a', 'a']}
          ).write(w / 'bad.ecsv')
    Table({'ccdchip': [2], 'x': [1521.0], 'y': [1773.0]}).write(
        w / 'flecks.ecsv')
    return {'dir': w, 'dkc': dkc, 'db': str(db), 'ref': str(ref),
            'bad': str(w / 'bad.ecsv'), 'flecks': str(w / 'flecks.ecsv')}


def _monitor(work, *extra):
    return ['monitor', work['dkc'][0], '--db', work['db'], '--scheduler',
            'serial', '--no-progress', *extra]


def _bpixtab(work, *extra):
    return ['bpixtab', '--reference', work['ref'], '--bad-pixels',
            work['bad'], '--useafter', '2017-05-05', *extra]


def _cfg(path, **values):
    lines = ['_task_name_ = acs_flecks']
    lines += [f'{k} = "{v}"' if ',' in str(v) else f'{k} = {v}'
              for k, v in values.items()]
    pathlib.Path(path).write_text('\n'.join(lines) + '\n')
    return str(path)


# ========================================== 1. the output-path guard ==
class TestOutputGuard:
    @pytest.mark.parametrize('which', ['-o', '--detections'])
    def test_output_is_the_history(self, work, capsys, which):
        refused(_monitor(work, which, work['db']), work['dir'], capsys,
                f'{which}: output path is the history database')

    def test_output_is_the_history_sidecar(self, work, capsys):
        refused(_monitor(work, '-o', work['db'] + '-wal'), work['dir'],
                capsys, 'history database')

    @pytest.mark.parametrize('make', [
        lambda w: _monitor(w, '-o', w['dkc'][0]),
        lambda w: _monitor(w, '--detections', w['dkc'][0]),
        lambda w: ['find', w['dkc'][0], '-o', w['dkc'][0]],
        lambda w: ['find', w['dkc'][0], '-o', str(w['dir'] / 'c.ecsv'),
                   '--regions', w['dkc'][0]],
        lambda w: ['lightpath', '--flashed', w['dkc'][0], '--unflashed',
                   w['dkc'][1], '--ccdchip', '2', '--x', '30', '--y', '30',
                   '-o', w['dkc'][1]],
        lambda w: _bpixtab(w, '-o', w['ref']),
        lambda w: _bpixtab(w, '--flecks', w['flecks'], '-o', w['ref']),
    ], ids=['monitor-o', 'monitor-detections', 'find-o', 'find-regions',
            'lightpath-o', 'bpixtab-reference', 'bpixtab-reference2'])
    def test_output_is_an_input(self, work, capsys, make):
        refused(make(work), work['dir'], capsys,
                'is an input file|reference')

    def test_output_links_to_an_input(self, work, capsys):
        link = work['dir'] / 'link.ecsv'
        link.symlink_to(work['dkc'][0])
        refused(_monitor(work, '-o', link), work['dir'], capsys,
                'is an input file')
        hard = work['dir'] / 'hard.ecsv'
        os.link(work['dkc'][1], hard)
        refused(['find', work['dkc'][1], '-o', hard], work['dir'], capsys,
                'is an input file')

    def test_two_outputs_of_one_run(self, work, capsys):
        out = work['dir'] / 'a.ecsv'
        refused(_monitor(work, '-o', out, '--detections', out), work['dir'],
                capsys, '--detections: output path is also the output of -o')
        refused(['find', work['dkc'][0], '-o', out, '--regions', out],
                work['dir'], capsys, 'also the output of -o')

    def test_run_outputs_vs_inputs(self, work, capsys):
        w = work['dir']
        for values, match in (
                ({'history': work['dkc'][0]}, 'history: output path is an '
                                              'input'),
                ({'report': work['dkc'][0]}, 'report: output path is an '
                                             'input'),
                ({'report': work['db'], 'history': work['db']},
                 'report: output path is the history database'),
                ({'outdir': work['dkc'][0]}, 'outdir'),
        ):
            cfg = _cfg(w / 'c.cfg', input=work['dkc'][0],
                       outdir=values.pop('outdir', str(w / 'out')), **values)
            refused(['run', cfg], w, capsys, match)

    @pytest.mark.parametrize('make', [
        lambda w, o: _monitor(w, '-o', o),
        lambda w, o: ['find', w['dkc'][0], '-o', o],
        lambda w, o: _bpixtab(w, '-o', o),
        lambda w, o: ['lightpath', '--flashed', w['dkc'][0], '--unflashed',
                      w['dkc'][1], '--ccdchip', '2', '--x', '30', '--y',
                      '30', '-o', o],
    ], ids=['monitor', 'find', 'bpixtab', 'lightpath'])
    @pytest.mark.parametrize('target', ['sub/', 'existing_dir',
                                        'no_such_dir/x.fits', 'long'])
    def test_unusable_output_path(self, work, capsys, make, target):
        (work['dir'] / 'existing_dir').mkdir()
        if target == 'long':
            target, match = 'x' * 300 + '.fits', 'longer than 255 bytes'
        elif target == 'no_such_dir/x.fits':
            match = 'does not exist'
        else:
            match = 'is a directory'
        # (a pathlib.Path would drop the trailing '/')
        refused(make(work, os.path.join(str(work['dir']), target)),
                work['dir'], capsys, match)
        assert not (work['dir'] / 'no_such_dir').exists()

    def test_readonly_directory(self, work, capsys, monkeypatch):
        ro = work['dir'] / 'ro'
        ro.mkdir()
        if os.geteuid() == 0:
            # root writes anywhere: pretend the permission is missing
            import acs_flecks.utils as utils
            real = utils._writable_dir
            monkeypatch.setattr(utils, '_writable_dir',
                                lambda d: False if os.path.samefile(d, ro)
                                else real(d))
        else:
            ro.chmod(0o555)
        try:
            refused(['find', work['dkc'][0], '-o', ro / 'c.ecsv'],
                    work['dir'], capsys, 'is not writable')
            refused(['find', work['dkc'][0], '-o', work['dir'] / 'c.ecsv',
                     '--thumbnails', ro / 'thumbs'], work['dir'], capsys,
                    '--thumbnails: directory .* is not writable')
        finally:
            ro.chmod(0o755)

    @pytest.mark.parametrize('command', ['find', 'bpixtab', 'monitor'])
    def test_disk_full(self, work, capsys, monkeypatch, command):
        """ENOSPC while the output is written: one line, the temporary
        file removed, no output, the history and inputs unchanged."""
        from astropy.io.fits import HDUList
        from astropy.table import Table as T
        real_write, real_writeto = T.write, HDUList.writeto

        def full(self, path, *a, **k):
            with open(path, 'wb') as fh:
                fh.write(b'half a file')
            raise OSError(errno.ENOSPC, 'No space left on device')

        monkeypatch.setattr(T, 'write', full)
        monkeypatch.setattr(HDUList, 'writeto', full)
        out = work['dir'] / 'out.fits'
        argv = {'find': ['find', work['dkc'][0], '-o', out],
                'bpixtab': _bpixtab(work, '-o', out),
                'monitor': _monitor(work, '-o', work['dir'] / 'a.ecsv')
                }[command]
        refused(argv, work['dir'], capsys, 'no space left on the device')
        monkeypatch.setattr(T, 'write', real_write)
        monkeypatch.setattr(HDUList, 'writeto', real_writeto)

    def test_bpixtab_needs_a_fits_output(self, work, capsys):
        for name in ('out.csv', 'out.ecsv', 'out.fits.gz', 'out'):
            refused(_bpixtab(work, '-o', work['dir'] / name), work['dir'],
                    capsys, r'-o: output must be a \.fits file')

    def test_timeline_format(self, work, capsys):
        for name in ('t.xyz', 't'):
            refused(_monitor(work, '--timeline', work['dir'] / name),
                    work['dir'], capsys, '--timeline: matplotlib cannot '
                                         'write')

    def test_find_creates_the_thumbnail_directory(self, work, capsys):
        thumbs = work['dir'] / 'new' / 'thumbs'
        assert main(['-q', 'find', work['dkc'][0], '-o',
                     str(work['dir'] / 'c.ecsv'), '--thumbnails',
                     str(thumbs)]) == 0
        assert [p.suffix for p in thumbs.iterdir()] == ['.png']

    def test_existing_output_without_overwrite(self, work, capsys):
        out = work['dir'] / 'new_bpx.fits'
        out.write_bytes(b'keep me')
        refused(_bpixtab(work, '-o', out), work['dir'], capsys,
                'output file exists .use --overwrite')


# =============================================== 2. the history database ==
def _corrupt(db, tmp_path):
    """A copy of the history in rollback-journal mode with a damaged
    b-tree page (the header intact)."""
    bad = tmp_path / 'corrupt.sqlite'
    shutil.copy(db, bad)
    con = sqlite3.connect(bad)
    assert con.execute('PRAGMA journal_mode').fetchone()[0] == 'delete'
    page = con.execute('PRAGMA page_size').fetchone()[0]
    npage = con.execute('PRAGMA page_count').fetchone()[0]
    con.close()
    assert npage > 3
    data = bytearray(bad.read_bytes())
    for k in range(1, npage):
        data[k * page: k * page + 64] = b'\xff' * 64
    bad.write_bytes(bytes(data))
    return bad


class TestHistoryDatabase:
    def test_corrupt_database_never_modified(self, work, capsys):
        bad = _corrupt(work['db'], work['dir'])
        header = bad.read_bytes()[:100]
        for argv in (_monitor(work) [:2] + ['--db', bad, '--scheduler',
                                            'serial'],
                     ['monitor', '--db', bad, '-o', work['dir'] / 'a.ecsv'],
                     ['monitor', '--add', work['dkc'][1], '--db', bad]):
            refused(argv, work['dir'], capsys,
                    'corrupt|not a usable SQLite|malformed')
        data = bad.read_bytes()
        assert data[:100] == header
        assert data[18:20] == header[18:20] == b'\x01\x01'  # not WAL
        assert data[28:32] == header[28:32] and data[96:100] == header[96:100]
        refused_subprocess(['monitor', work['dkc'][0], '--db', bad,
                            '--scheduler', 'serial'], work['dir'],
                           'corrupt|not a usable SQLite|malformed')

    @pytest.mark.parametrize('content', [b'not a database at all\n' * 40,
                                         b'SQLite format 3\x00' + b'\x00' * 84])
    def test_not_a_database(self, work, capsys, content):
        db = work['dir'] / 'x.sqlite'
        db.write_bytes(content)
        refused(_monitor(work)[:2] + ['--db', db, '--scheduler', 'serial'],
                work['dir'], capsys, 'x.sqlite')

    @pytest.mark.parametrize('key, value', [
        ('find_parameters', '{"median_size": 15,'),
        ('classification', 'not json'),
        ('find_parameters', '[1, 2]'),
        ('forced_present', '{oops'),
    ])
    def test_malformed_parameters(self, work, capsys, key, value):
        con = sqlite3.connect(work['db'])
        con.execute('INSERT OR REPLACE INTO meta VALUES (?, ?)', (key, value))
        con.commit()
        con.close()
        for argv in (_monitor(work),
                     ['monitor', '--db', work['db'], '-o',
                      work['dir'] / 'a.ecsv']):
            refused(argv, work['dir'], capsys,
                    f"H.sqlite: .*meta key '{key}'")

    def test_foreign_sqlite_untouched(self, work, capsys):
        db = work['dir'] / 'other.sqlite'
        con = sqlite3.connect(db)
        con.execute('CREATE TABLE t (x)')
        con.commit()
        con.close()
        refused(_monitor(work)[:2] + ['--db', db, '--scheduler', 'serial'],
                work['dir'], capsys, 'not an acs_flecks history')

    def test_export_never_replaces_the_database(self, work):
        from acs_flecks.monitor import export_history
        before = snapshot(work['dir'])
        for out, det in ((work['db'], None),
                         (work['dir'] / 'a.ecsv', work['db']),
                         (work['db'] + '-wal', None)):
            with pytest.raises(AcsFlecksError, match='history database'):
                export_history(work['db'], out, detections=det)
        assert snapshot(work['dir']) == before

    def test_refused_run_leaves_no_new_history(self, work, capsys):
        db = work['dir'] / 'new.sqlite'
        (work['dir'] / 'junk.fits').write_bytes(b'not fits' * 100)
        refused(['monitor', work['dir'] / 'junk.fits', '--db', db,
                 '--scheduler', 'serial'], work['dir'], capsys,
                'none of the 1 file')

    def test_rerun_is_byte_identical(self, work, simdata, tmp_path):
        db = tmp_path / 'h.sqlite'
        outs = []
        for k in range(2):
            out = tmp_path / f'a{k}.ecsv'
            assert main(['-q', 'monitor', *simdata['dkc'], '--db', db,
                         '--scheduler', 'serial', '--no-progress', '-o',
                         out]) == 0
            outs.append(out.read_bytes())
        export = tmp_path / 'export.ecsv'
        assert main(['-q', 'monitor', '--db', db, '-o', export]) == 0
        assert outs[0] == outs[1] == export.read_bytes()
        assert b'forced_present' in outs[0]
        # no -wal/-shm left beside the database
        assert sorted(p.name for p in tmp_path.glob('h.sqlite*')) == \
            ['h.sqlite']

    def test_two_processes_one_history(self, simdata, tmp_path):
        """Two real monitor processes with overlapping epochs on one new
        database: both succeed (the second waits) or one says the
        database is in use; the history is the all-at-once history."""
        db = tmp_path / 'shared.sqlite'
        dkc = simdata['dkc']
        lists = [dkc[:8], dkc[4:]]
        procs = [subprocess.Popen(
            EXE + ['-q', 'monitor', *files, '--db', str(db), '--scheduler',
                   'serial', '--no-progress'], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for files in lists]
        results = [p.communicate(timeout=600) for p in procs]
        for p, (out, err) in zip(procs, results):
            assert 'Traceback' not in err
            assert 'UNIQUE constraint' not in err and 'already exists' \
                not in err
            assert p.returncode == 0 or (p.returncode == 2 and
                                         'in use' in err), err
        con = sqlite3.connect(db)
        assert con.execute('PRAGMA quick_check').fetchone()[0] == 'ok'
        shas = [r[0] for r in con.execute('SELECT sha256 FROM epochs')]
        con.close()
        assert len(shas) == len(set(shas))
        if all(p.returncode == 0 for p in procs):
            assert len(shas) == len(dkc)
            # the same artifacts as the history made in one process
            a = tmp_path / 'a.ecsv'
            b = tmp_path / 'b.ecsv'
            assert main(['-q', 'monitor', '--db', db, '-o', a]) == 0
            assert main(['-q', 'monitor', '--db', simdata['db'], '-o',
                         b]) == 0
            ta, tb = Table.read(a), Table.read(b)
            assert list(ta['status']) == list(tb['status'])
            np.testing.assert_allclose(ta['x'], tb['x'])
        assert not list(tmp_path.glob(f'*{TEMP_TAG}*'))


# ======================================= 3. validation before any write ==
def _bad_option_cases():
    """(name, argv builder, match): a representative of each class of bad
    value (negative, zero, nan, wrong type, out of range) per command."""
    m = lambda *a: (lambda w: _monitor(w, '-o', w['dir'] / 'a.ecsv', *a))
    b = lambda *a: (lambda w: _bpixtab(w, '-o', w['dir'] / 'n.fits', *a))
    f = lambda *a: (lambda w: ['find', w['dkc'][0], '-o',
                               w['dir'] / 'c.ecsv', *a])
    lp = lambda *a: (lambda w: ['lightpath', '--flashed', w['dkc'][0],
                                '--unflashed', w['dkc'][1], '-o',
                                w['dir'] / 'l.ecsv', *a])
    pos = ['--ccdchip', '2', '--x', '30', '--y', '30']
    tr = lambda *a: (lambda w: ['transmissivity', w['dkc'][0], '-o',
                                w['dir'] / 'out', *a])
    cases = [
        ('monitor-tolerance-neg', m('--tolerance', '-3'), '--tolerance'),
        ('monitor-tolerance-zero', m('--tolerance', '0'), '--tolerance'),
        ('monitor-tolerance-nan', m('--tolerance', 'nan'), '--tolerance'),
        ('monitor-tolerance-type', m('--tolerance', 'abc'), '--tolerance'),
        ('monitor-vanish-neg', m('--vanish-after', '-1'), '--vanish-after'),
        ('monitor-vanish-zero', m('--vanish-after', '0'), '--vanish-after'),
        ('monitor-median-even', m('--median-size', '4'), '--median-size'),
        ('monitor-nsigma-nan', m('--nsigma', 'nan'), '--nsigma'),
        ('monitor-minarea-zero', m('--min-area', '0'), '--min-area'),
        ('monitor-change-inf', m('--change-nsigma', 'inf'),
         '--change-nsigma'),
        ('monitor-workers-zero', m('--workers', '0'), '--workers'),
        ('find-median', f('--median-size', '4'), 'median'),
        ('find-nsigma-nan', f('--nsigma', 'nan'), 'nsigma'),
        ('find-radius-neg', f('--match-radius', '-1'), '--match-radius'),
        ('find-chips', f('--chips', '3'), '--chips'),
        ('find-mask-range', f('--mask-flags', '70000'), 'mask_flags'),
        ('bpixtab-value', b('--value', '3'), '--value'),
        ('bpixtab-value-neg', b('--value', '-4'), '--value'),
        ('bpixtab-threshold-nan', b('--threshold', 'nan'), '--threshold'),
        ('bpixtab-threshold-range', b('--threshold', '2'), '--threshold'),
        ('bpixtab-threshold-zero', b('--threshold', '0'), '--threshold'),
        ('bpixtab-distance', b('--max-distance', '-1'), '--max-distance'),
        ('bpixtab-useafter', b('--useafter', 'garbage'), '--useafter'),
        ('bpixtab-box', b('--box', '0x0'), '--box'),
        ('lightpath-nsigma', lp(*pos, '--nsigma', '0'), '--nsigma'),
        ('lightpath-radius', lp(*pos, '--radius', '-2'), '--radius'),
        ('lightpath-x-nan', lp('--ccdchip', '2', '--x', 'nan', '--y', '3'),
         '--x'),
        ('transmissivity-x', tr(*pos[:2], '--x', 'nan', '--y', '30'),
         '--x'),
        ('transmissivity-y', tr(*pos[:4], '--y', '5000'), '--y'),
        ('transmissivity-aperture', tr(*pos, '--aperture-threshold', '1.5'),
         '--aperture-threshold'),
        ('transmissivity-badpix', tr(*pos, '--badpix-threshold', '-1'),
         '--badpix-threshold'),
        ('transmissivity-box', tr(*pos, '--box', '3x3'), '--box'),
        ('eper-box', lambda w: ['eper', *w['dkc'][:2], *pos, '--ratio-box',
                                'axb', '-o', w['dir'] / 'out'],
         '--ratio-box'),
        ('ledlamp-x', lambda w: ['ledlamp', w['dkc'][0], '--flats',
                                 w['dkc'][1], '--ccdchip', '2', '--x',
                                 '-5', '--y', '3', '-o', w['dir'] / 'out'],
         '--x'),
        ('shadow-size', lambda w: ['shadow', w['dkc'][0], *pos, '--size',
                                   '0x3', '-o', w['dir'] / 'out'], '--size'),
        ('shadow-box', lambda w: ['shadow', w['dkc'][0], *pos,
                                  '--shadow-box', '5,1,1,2', '-o',
                                  w['dir'] / 'out'], '--shadow-box'),
        ('certify-value', lambda w: ['certify', w['ref'], '--value', '6'],
         '--value'),
        ('certify-new-pixels', lambda w: ['certify', w['ref'],
                                          '--max-new-pixels', '-1'],
         '--max-new-pixels'),
        ('figures-only', lambda w: ['figures', '--dkc', w['dkc'][0],
                                    '--only', '19', '-o', w['dir'] / 'f'],
         '--only'),
        ('simulate-window', lambda w: ['simulate', 'discovery',
                                       w['dir'] / 's', '--window', '5'],
         'window'),
        ('demo-window', lambda w: ['demo', w['dir'] / 'd', '--window', '5'],
         'window'),
        ('demo-workers', lambda w: ['demo', w['dir'] / 'd', '--workers',
                                    '0'], 'workers'),
    ]
    return cases


class TestValidationBeforeWrite:
    @pytest.mark.parametrize('name, make, match', _bad_option_cases(),
                             ids=[c[0] for c in _bad_option_cases()])
    def test_bad_option_refused_up_front(self, work, capsys, name, make,
                                         match):
        refused(make(work), work['dir'], capsys, match)

    @pytest.mark.parametrize('values, match', [
        ({'value': 3}, 'value must be a single DQ bit'),
        ({'value': 'x'}, "parameter value = 'x'"),
        ({'value': -4}, "parameter value = '-4'"),
        ({'useafter': 'garbage'}, "invalid useafter 'garbage'"),
        ({'median_size': 4}, 'median_size'),
        ({'median_size': 'many'}, "parameter median_size = 'many'"),
        ({'tolerance': 'nan'}, 'tolerance must be a number > 0'),
        ({'tolerance': 0}, 'tolerance must be a number > 0'),
        ({'badpix_threshold': 2}, "parameter badpix_threshold = '2'"),
        ({'aperture_threshold': 'nan'}, 'aperture_threshold'),
        ({'box': 4}, "parameter box = '4'"),
        ({'workers': 0}, 'workers must be an integer >= 1'),
        ({'overwrite': 'maybe'}, "parameter overwrite = 'maybe'"),
        ({'nsigma': -1}, "parameter nsigma = '-1'"),
        ({'bogus': 1}, 'unknown parameter.* bogus'),
    ])
    def test_run_configuration(self, work, capsys, values, match):
        """The history and outdir are untouched: nothing is written before
        the whole configuration is checked."""
        cfg = _cfg(work['dir'] / 'c.cfg', input=','.join(work['dkc']),
                   history=work['db'], outdir=work['dir'] / 'out', **values)
        refused(['run', cfg], work['dir'], capsys, match)

    def test_api_checks_before_writing(self, work):
        from acs_flecks import teal_task
        from acs_flecks.monitor import monitor_epochs
        from acs_flecks.pipeline import run_pipeline
        before = snapshot(work['dir'])
        new_db = work['dir'] / 'new.sqlite'
        for kw in ({'tolerance': -3}, {'tolerance': float('nan')},
                   {'vanish_after': -1}, {'change_nsigma': 0},
                   {'find_kwargs': {'median_size': 4}}):
            for db in (new_db, work['db']):
                with pytest.raises(AcsFlecksError):
                    monitor_epochs(work['dkc'], db=db, scheduler='serial',
                                   **kw)
        for kw in ({'value': 3}, {'useafter': 'garbage'},
                   {'median_size': 4}, {'box': 2}, {'nsigma': float('nan')},
                   {'badpix_threshold': 0}):
            with pytest.raises(AcsFlecksError):
                run_pipeline(work['dkc'], outdir=work['dir'] / 'out',
                             history=work['db'], **kw)
        cfg = dict(teal_task.signature_defaults(), input=work['dkc'][0],
                   outdir=str(work['dir'] / 'out'), history=work['db'],
                   value=3)
        with pytest.raises(AcsFlecksError, match='value'):
            teal_task.run(cfg)
        assert snapshot(work['dir']) == before

    def test_cfgspc_limits_are_enforced(self, work, capsys):
        """Every numeric .cfgspc parameter refuses a value below its
        minimum with its own name."""
        from acs_flecks.teal_task import _spec
        for key, (text, info) in _spec().items():
            if 'min' not in info:
                continue
            low = float(info['min']) - (1 if text.startswith('integer')
                                        else 0.5)
            low = int(low) if text.startswith('integer') else low
            cfg = _cfg(work['dir'] / 'c.cfg', input=work['dkc'][0],
                       outdir=work['dir'] / 'out', **{key: low})
            refused(['run', cfg], work['dir'], capsys, f'parameter {key} = ')


# =========================================================== 4. interruptions ==
_SLOW_WRITER = r'''
import os, sys, time
marker, prefix = sys.argv[1], sys.argv[2]
real_replace = os.replace
def replace(src, dst, *a, **k):
    # the temporary file is complete: stop here, as if killed while
    # renaming it into place
    if os.path.basename(os.fspath(src)).startswith(prefix):
        open(marker, 'w').close()
        time.sleep(600)
    return real_replace(src, dst, *a, **k)
os.replace = replace
from acs_flecks.cli import main
sys.exit(main(sys.argv[3:]))
'''


def _kill_while_writing(argv, tmp_path, prefix):
    """Start ``acs_flecks ARGV`` with a writer that stops once its
    temporary output is complete; SIGKILL it there."""
    marker = tmp_path / 'marker'
    proc = subprocess.Popen([sys.executable, '-c', _SLOW_WRITER, str(marker),
                             prefix, '-q', *map(str, argv)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    marker.unlink()


class TestInterruptions:
    def test_kill_during_bpixtab_then_rerun(self, work, tmp_path):
        out = work['dir'] / 'new_bpx.fits'
        argv = _bpixtab(work, '-o', out)
        ref_sha = sha256(work['ref'])
        _kill_while_writing(argv, tmp_path, '.new_bpx.fits')
        left = [p.name for p in work['dir'].iterdir()
                if p.name.startswith('.')]
        assert len(left) == 1
        # nothing a user could take for output: hidden, .part, not .fits
        assert left[0].startswith('.new_bpx.fits' + TEMP_TAG)
        assert left[0].endswith(TEMP_SUFFIX) and not left[0].endswith(
            ('.fits', '.ecsv'))
        assert not out.exists()
        assert main(['-q'] + [str(a) for a in argv]) == 0
        assert not [p for p in work['dir'].iterdir()
                    if p.name.startswith('.')]
        # the same table as an uninterrupted run
        clean = work['dir'] / 'clean'
        clean.mkdir()
        assert main(['-q'] + [str(a) for a in _bpixtab(
            work, '-o', clean / 'new_bpx.fits')]) == 0
        assert sha256(out) == sha256(clean / 'new_bpx.fits')
        assert sha256(work['ref']) == ref_sha

    def test_kill_during_monitor_then_rerun(self, simdata, tmp_path):
        d = tmp_path / 'm'
        d.mkdir()
        db, out = d / 'h.sqlite', d / 'artifacts.ecsv'
        argv = ['monitor', *simdata['dkc'], '--db', db, '--scheduler',
                'serial', '--no-progress', '-o', out]
        _kill_while_writing(argv, tmp_path, '.artifacts.ecsv')
        assert not out.exists()
        assert main(['-q'] + [str(a) for a in argv]) == 0
        assert sorted(p.name for p in d.iterdir()) == ['artifacts.ecsv',
                                                       'h.sqlite']
        # identical to the uninterrupted history's export
        clean = tmp_path / 'clean.ecsv'
        assert main(['-q', 'monitor', *simdata['dkc'], '--db',
                     simdata['db'], '--scheduler', 'serial',
                     '--no-progress', '-o', clean]) == 0
        ta, tb = Table.read(out), Table.read(clean)
        assert ta.colnames == tb.colnames and len(ta) == len(tb)
        for c in ta.colnames:
            assert list(ta[c]) == list(tb[c]) or np.allclose(
                np.asarray(ta[c], float), np.asarray(tb[c], float),
                equal_nan=True)

    def test_stale_temporaries_only_ours(self, tmp_path):
        out = tmp_path / 'cat.ecsv'
        dead = subprocess.Popen([sys.executable, '-c', 'pass'])
        dead.wait()
        live = subprocess.Popen([sys.executable, '-c',
                                 'import time; time.sleep(60)'])
        try:
            stale = pathlib.Path(temporary_name(out, pid=dead.pid))
            busy = pathlib.Path(temporary_name(out, pid=live.pid))
            other = pathlib.Path(temporary_name(tmp_path / 'other.ecsv',
                                                pid=dead.pid))
            user = tmp_path / '.cat.ecsv.acs_flecks-notes.part'
            for p in (stale, busy, other, user):
                p.write_text('x')
            with atomic_output(out) as tmp:
                assert os.path.basename(tmp).startswith('.cat.ecsv' +
                                                        TEMP_TAG)
                pathlib.Path(tmp).write_text('new')
            assert out.read_text() == 'new'
            assert not stale.exists()
            assert busy.exists() and other.exists() and user.exists()
            assert remove_stale_temporaries(out) == []
        finally:
            live.kill()
            live.wait()

    def test_temporary_name_fits_the_file_system(self, tmp_path):
        name = 'a' * 250 + '.ecsv'
        tmp = temporary_name(tmp_path / name)
        assert len(os.fsencode(os.path.basename(tmp))) <= 255
        assert os.path.basename(tmp).endswith(TEMP_SUFFIX)


# ================================================================ 5. messages ==
class TestMessages:
    def test_readonly_history_advice_names_real_options(self, work):
        from acs_flecks.monitor import HistoryDatabase
        from acs_flecks.monitor.history import HistoryDatabaseError
        import acs_flecks.monitor.history as history
        real = os.access
        try:
            history.os.access = lambda p, m: False if str(p) == work['db'] \
                else real(p, m)
            with pytest.raises(HistoryDatabaseError) as info:
                HistoryDatabase(work['db'])
        finally:
            history.os.access = real
        msg = str(info.value)
        assert '--export' not in msg
        assert 'monitor --db DB -o OUT.ecsv' in msg

    def test_write_config_existing_file(self, work, capsys):
        cfg = work['dir'] / 'my.cfg'
        cfg.write_text('mine\n')
        line = refused(['run', '--write-config', cfg], work['dir'], capsys,
                       'exists')
        assert '--overwrite' not in line

    def test_write_config_comments(self, tmp_path):
        from acs_flecks.teal_task import _spec, load_config
        cfg = tmp_path / 'my.cfg'
        assert main(['-q', 'run', '--write-config', cfg]) == 0
        text = cfg.read_text().splitlines()
        spec = _spec()
        for key, (_, info) in spec.items():
            if key.startswith('_'):
                continue
            i = next(k for k, ln in enumerate(text)
                     if ln.startswith(f'{key} ='))
            assert text[i - 1].startswith('# ' + info['comment']), key
        loaded = load_config(cfg)
        assert loaded['median_size'] == 15

    def test_teal_reference_named_by_its_key(self, tmp_path, capsys):
        dkc = write_acs(tmp_path / 'a_dkc.fits', flashdur=0.1,
                        flashsta='SUCCESSFUL')
        flat = write_acs(tmp_path / 'f_crc.fits')
        cfg = _cfg(tmp_path / 'c.cfg', input=dkc, flats=flat,
                   outdir=tmp_path / 'out')
        line = refused(['run', cfg], tmp_path, capsys, 'reference auto')
        assert '--reference' not in line

    def test_bad_pixel_and_fleck_tables_named(self, work, capsys):
        w = work['dir']
        Table({'ccdchip': [2], 'x': [np.nan], 'y': [3.0]}).write(
            w / 'nan_flecks.ecsv')
        Table({'ccdchip': [2], 'x': [5000.0], 'y': [3.0]}).write(
            w / 'off_flecks.ecsv')
        Table({'ccdchip': [3], 'x': [5], 'y': [3], 'transmissivity': [0.1],
               'fleck_id': ['a']}).write(w / 'chip3_bad.ecsv')
        Table({'x': [5], 'y': [3]}).write(w / 'nochip_bad.ecsv')
        (w / 'garbage_bad.ecsv').write_text('# %ECSV 1.0\nnot a table\x00')
        flat = work['dkc'][1]
        cases = [
            (['--flats', flat, '--flecks', w / 'nan_flecks.ecsv'],
             'nan_flecks.ecsv: fleck table row 1: .* not finite'),
            (['--flats', flat, '--flecks', w / 'off_flecks.ecsv'],
             'off_flecks.ecsv: .* off the 4096x2048 chip'),
            (['--bad-pixels', w / 'chip3_bad.ecsv'],
             'chip3_bad.ecsv: .* ccdchip 3'),
            (['--bad-pixels', w / 'nochip_bad.ecsv'],
             'nochip_bad.ecsv: .* lacks column'),
            (['--bad-pixels', w / 'garbage_bad.ecsv'],
             'garbage_bad.ecsv: cannot read'),
        ]
        for extra, match in cases:
            refused(['bpixtab', '--reference', work['ref'], '--useafter',
                     '2017-05-05', '-o', w / 'n.fits', *extra], w, capsys,
                    match)

    def test_lightpath_catalog_named(self, work, capsys):
        w = work['dir']
        Table({'ccdchip': [2], 'x': [np.nan], 'y': [3.0]}).write(
            w / 'cat.ecsv')
        refused(['lightpath', '--flashed', work['dkc'][0], '--unflashed',
                 work['dkc'][1], '--catalog', w / 'cat.ecsv'], w, capsys,
                'cat.ecsv: catalog table row 1: .* not finite')

    def test_run_output_must_be_fits(self, work, capsys):
        cfg = _cfg(work['dir'] / 'c.cfg', input=work['dkc'][0],
                   flats=work['dkc'][1], reference=work['ref'],
                   output=work['dir'] / 'new.csv',
                   outdir=work['dir'] / 'out')
        refused(['run', cfg], work['dir'], capsys,
                r'output: output must be a \.fits file')

    def test_empty_flecks_with_flats(self, work, capsys):
        w = work['dir']
        Table(names=['ccdchip', 'x', 'y'], dtype=[int, float, float]).write(
            w / 'empty.ecsv')
        refused(['bpixtab', '--reference', work['ref'], '--useafter',
                 '2017-05-05', '-o', w / 'n.fits', '--flats', work['dkc'][1],
                 '--flecks', w / 'empty.ecsv'], w, capsys,
                'empty.ecsv: the fleck table is empty')

    def test_usage_errors_are_one_line(self, work, capsys):
        refused(['monitor', '--db', work['db'], '--tolerance', 'abc'],
                work['dir'], capsys, "--tolerance: invalid float value")
        refused(['no-such-command'], work['dir'], capsys, 'invalid choice')
