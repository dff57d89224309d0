"""load_1d: every sasdata 1D example reads; bad files get a message naming the problem."""
import numpy as np
import pytest

from sasnets_plugin.errors import DataError
from sasnets_plugin.loading import from_data1d, load_1d


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
    with pytest.raises(DataError, match="not a file"):
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
