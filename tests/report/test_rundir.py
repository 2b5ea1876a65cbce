"""Reading a RUN directory: tolerant of absent files, strict about corrupt ones."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fitdiff.errors import LoadError
from fitdiff.report import RUN_FILES, read_run


def test_reads_every_file(full_run):
    run_dir, truth = full_run
    run = read_run(run_dir)
    assert run.absent == []
    assert run.present == list(RUN_FILES)
    assert run.widths.attrs["settings"] == {"method": "gauss"}
    np.testing.assert_allclose(run.widths["w2_um2"], truth["w2"], rtol=1e-12, atol=0)
    # The chain read back equals what emcee's sampler stored (same HDF5 file).
    np.testing.assert_allclose(run.chain.samples, truth["chain"], rtol=0, atol=0)
    assert run.chain.names == ["w0_2_um2", "D_cm2_s"]
    assert run.chain.named


def test_absent_files_are_listed(tmp_path, full_run):
    run_dir, _ = full_run
    shutil.copy(run_dir / "widths.csv", tmp_path / "widths.csv")
    run = read_run(tmp_path)
    assert run.present == ["widths.csv"]
    assert run.results is None and run.chain is None


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(LoadError, match=r"nothing to report.*analysis\.json"):
        read_run(tmp_path)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(LoadError, match=r"nope: not a RUN directory"):
        read_run(tmp_path / "nope")


def test_corrupt_json_names_the_file(tmp_path):
    (tmp_path / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LoadError, match=r"results\.json: not readable as JSON"):
        read_run(tmp_path)


def test_results_without_parameters_is_an_error(tmp_path):
    (tmp_path / "results.json").write_text('{"chi2": 1.0}', encoding="utf-8")
    with pytest.raises(LoadError, match=r"results\.json: missing the key 'parameters'"):
        read_run(tmp_path)


def test_table_missing_columns_names_them(tmp_path):
    (tmp_path / "transient.csv").write_text("# window: 7\nt_ps,D\n0,1\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"transient\.csv: missing column\(s\) D_cm2_s"):
        read_run(tmp_path)


def test_corrupt_chain_names_the_file(tmp_path):
    (tmp_path / "chain.h5").write_bytes(b"\x89HDF garbage")
    with pytest.raises(LoadError, match=r"chain\.h5: not readable as an emcee HDF5 chain"):
        read_run(tmp_path)


def test_chain_without_posterior_gets_placeholder_names(tmp_path, full_run):
    run_dir, _ = full_run
    shutil.copy(run_dir / "chain.h5", tmp_path / "chain.h5")
    run = read_run(tmp_path)
    assert run.chain.names == ["p0", "p1"]
    assert not run.chain.named
