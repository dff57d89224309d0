"""load_1d: every sasdata 1D example reads; bad files get a message naming the problem."""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin.errors import DataError
from sasnets_plugin.loading import MAX_FILE_BYTES, from_data1d, load_1d


def test_reads_text_xml_and_hdf5_examples(example_1d):
    for name, n in [("cyl_400_20.txt", 20), ("33837rear_1D_1.75_16.5_CanSAS1D.xml", 66),
                    ("33837rear_1D_1.75_16.5_NXcanSAS.h5", 66)]:
        (curve,) = load_1d(example_1d / name)
        assert curve.q.size == curve.I.size == n


def test_file_with_several_1d_sets_gives_them_all(example_1d):
    curves = load_1d(example_1d / "latex_smeared.xml")
    assert [c.q.size for c in curves] == [301, 82]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.txt: no such file"):
        load_1d(tmp_path / "nope.txt")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(DataError, match="not a file but a folder"):
        load_1d(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    with pytest.raises(DataError, match="empty.txt: the file is empty"):
        load_1d(path)


def test_header_only(tmp_path):
    path = tmp_path / "header.txt"
    path.write_text("# q  I(q)  dI(q)\n# sample: none\n")
    with pytest.raises(DataError, match="header.txt: no data rows found"):
        load_1d(path)


def test_text_that_is_not_data(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Dear colleague,\nplease find the data attached.\nBest wishes\n")
    with pytest.raises(DataError, match="notes.txt: no data rows found"):
        load_1d(path)


def test_binary_garbage(tmp_path, caplog):
    path = tmp_path / "garbage.dat"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match="garbage.dat: not a readable SAS data file"):
        load_1d(path)
    assert not any(len(r.getMessage()) > 1000 for r in caplog.records), "sasdata dumped the file"


def test_2d_file_is_refused(example_2d):
    with pytest.raises(DataError, match="holds 2D data only.*1D I\\(q\\) curves"):
        load_1d(example_2d / "P123_D2O_10_percent.dat")


def test_2d_data_object_is_refused(example_2d):
    from sasdata.dataloader.loader import Loader

    (data,) = Loader().load(str(example_2d / "P123_D2O_10_percent.dat"))
    with pytest.raises(DataError, match="is 2D data"):
        from_data1d(data)


def _rows(n=30):
    q = np.logspace(-2.3, -0.6, n)
    return [f"{a:.6g} {b:.6g}" for a, b in zip(q, 1e3 / (1 + (50 * q) ** 2))]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_proc_file_is_refused_without_reading_it():
    with pytest.raises(DataError, match="/proc/self/mem: a special file of unknown size "
                       "\\(such as those in /proc\\), not a data file"):
        load_1d("/proc/self/mem")


def test_pipe_is_refused(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="pipe.txt: not a regular file \\(a device, pipe or "
                       "socket\\)"):
        load_1d(fifo)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:  # sparse: no disk space used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DataError, match="huge.txt: 256 MiB is far more than a 1D SAS data file "
                       "holds; files over 256 MiB are not read"):
        load_1d(path)


@pytest.mark.parametrize("separator", [";", "\t", " "])
def test_decimal_comma_is_named(tmp_path, separator):
    path = tmp_path / "comma.csv"
    path.write_text("q;I\n" + "\n".join(r.replace(".", ",").replace(" ", separator)
                                         for r in _rows()) + "\n")
    with pytest.raises(DataError, match="comma.csv: the numbers are written with a decimal comma "
                       "\\(e.g. '0,00501187.940,913'\\); SasView reads decimal points only"):
        load_1d(path)


def test_rows_the_reader_skips_are_reported(tmp_path):
    rows = _rows()
    rows[6] = rows[6].split()[0] + " 1e400"
    path = tmp_path / "skips.txt"
    path.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    (curve,) = load_1d(path)
    assert curve.q.size == 28
    assert curve.notes == ("the file reader skipped 2 row(s) of numbers (line 1: starts with an "
                           "invisible byte-order mark; line 7: 1e400 is not a finite number)",)


def test_clean_files_have_no_reading_notes(example_1d):
    for name in ("cyl_400_20.txt", "saxess_example.pdh", "Alumina_usaxs.csv", "latex_smeared.xml"):
        assert all(c.notes == () for c in load_1d(example_1d / name)), name


def test_files_without_resolution_have_none(example_1d):
    (curve,) = load_1d(example_1d / "cyl_400_20.txt")
    assert curve.dQ is None and curve.dQl is None and curve.dQw is None
    (slit,) = load_1d(example_1d / "1umSlitSmearSphere.ABS")
    assert slit.dQl is not None and np.allclose(slit.dQl, 0.117) and slit.dQw is None


def test_reading_from_several_threads_gives_every_file_whole(example_1d):
    names = ["cyl_400_20.txt", "sphere_80.txt", "100nmPinholeSphere.txt", "apoferritin.txt",
             "ISIS_Polymer_Blend_TK49.xml"]
    expected = {n: load_1d(example_1d / n)[0].q.size for n in names}
    jobs = [names[i % len(names)] for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(lambda n: load_1d(example_1d / n)[0].q.size, jobs))
    assert sizes == [expected[n] for n in jobs]
