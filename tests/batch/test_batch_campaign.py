"""Campaign files: parsing, globs, values from names and tables, overrides, and their errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fitdiff.batch import column_names, load_campaign, parse_executor, run_names
from fitdiff.errors import ConfigError


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write(tmp_path / "base.toml", '[model]\nkind = "linear"\n')
    for name in ("T010K.tif", "T050.5K.tif", "T300K.tif"):
        _write(tmp_path / "data" / name, "x")
    return tmp_path


def campaign(folder: Path, text: str) -> Path:
    return _write(folder / "campaign.toml", text)


def test_globs_values_and_overrides(folder):
    path = campaign(
        folder,
        """
[campaign]
analysis = "base.toml"
measurements = ["data/T*K.tif", "data/T010K.tif"]
name_pattern = 'T(?P<T_K>[0-9.]+)K'
retries = 2
[campaign.values]
T_K = "model.T_K"
[override."T300K.tif"]
extract = { t_range_ps = [0, 200] }
""",
    )
    c = load_campaign(path)
    # sorted glob, the repeated explicit path dropped
    assert [s.measurement for s in c.measurements] == [
        "data/T010K.tif",
        "data/T050.5K.tif",
        "data/T300K.tif",
    ]
    assert [s.name for s in c.measurements] == ["T010K", "T050.5K", "T300K"]
    # integers stay integers, decimals become floats (values parsed from the names above)
    assert [s.values["T_K"] for s in c.measurements] == [10, 50.5, 300]
    assert c.retries == 2
    last = c.measurements[-1]
    assert last.overrides == {
        "data": {"file": str(folder / "data" / "T300K.tif")},
        "model": {"T_K": 300},
        "extract": {"t_range_ps": [0, 200]},
    }
    assert "extract" not in c.measurements[0].overrides
    assert c.analysis == folder / "base.toml"
    assert c.value_names == ["T_K"]


def test_values_from_table_win_over_the_name(folder):
    _write(
        folder / "conditions.csv",
        "measurement,T_K,fluence_uJ_cm2\nT010K.tif,11.5,1.0\ndata/T050.5K.tif,50.5,2.0\n"
        "T300K.tif,300,4.0\n",
    )
    path = campaign(
        folder,
        """
[campaign]
analysis = "base.toml"
measurements = ["data/*.tif"]
name_pattern = 'T(?P<T_K>[0-9.]+)K'
table = "conditions.csv"
""",
    )
    c = load_campaign(path)
    assert [s.values for s in c.measurements] == [
        {"T_K": 11.5, "fluence_uJ_cm2": 1.0},
        {"T_K": 50.5, "fluence_uJ_cm2": 2.0},
        {"T_K": 300, "fluence_uJ_cm2": 4.0},
    ]
    # unmapped values only label the rows: nothing but the file is overridden
    assert set(c.measurements[0].overrides) == {"data"}


def test_colliding_stems_get_path_names(folder):
    _write(folder / "other" / "T010K.tif", "y")
    path = campaign(
        folder,
        """
[campaign]
analysis = "base.toml"
measurements = ["**/T010K.tif"]
""",
    )
    names = [s.name for s in load_campaign(path).measurements]
    assert names == ["data_T010K.tif", "other_T010K.tif"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\nworkers = 3\n",
            r"campaign\.toml: campaign\.workers: unknown key \(allowed: analysis, measurements",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n[sample]\n",
            r"campaign\.toml: sample: unknown section \(allowed: campaign, override, global\)",
        ),
        ("[campaign]\nmeasurements = ['data/*.tif']\n", r"campaign\.analysis must be a file"),
        (
            "[campaign]\nanalysis = 'nope.toml'\nmeasurements = ['data/*.tif']\n",
            r"campaign\.analysis = 'nope\.toml': no such file",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = []\n",
            r"campaign\.measurements must be a non-empty list",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.img']\n",
            r"measurements\[0\] = 'data/\*\.img' matches no file",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/missing.tif']\n",
            r"measurements\[0\] = 'data/missing\.tif': no such file",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\nretries = 9\n",
            r"campaign\.retries = 9 must be an integer in 0\.\.5",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "name_pattern = 'T(?P<T_K>[0-9]+)K'\n",
            r"name_pattern .* does not match the file name of measurement data/T050\.5K\.tif",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "name_pattern = 'T([0-9.]+)K'\n",
            r"has no named group",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "name_pattern = 'T(?P<T_K'\n",
            r"not a valid regular expression",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "[campaign.values]\nT_K = 'model.T_K'\n",
            r"campaign\.values\.T_K: measurement data/T010K\.tif has no value 'T_K'",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "[override.'T999K.tif']\nfit = {}\n",
            r"override\.'T999K\.tif' matches no measurement",
        ),
        (
            "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
            "[global]\nanalysis = 'base.toml'\n",
            r"global\.x = 'T_K' is not a value of measurement data/T010K\.tif",
        ),
        ("[campaign\n", r"cannot read it as TOML"),
        ("[global]\n", r"a \[campaign\] section .* is required"),
    ],
)
def test_bad_campaign_files_name_the_key(folder, text, match):
    with pytest.raises(ConfigError, match=match):
        load_campaign(campaign(folder, text))


def test_table_without_a_row(folder):
    _write(folder / "conditions.csv", "measurement,T_K\nT010K.tif,10\n")
    path = campaign(
        folder,
        """
[campaign]
analysis = "base.toml"
measurements = ["data/*.tif"]
table = "conditions.csv"
""",
    )
    with pytest.raises(
        ConfigError,
        match=r"conditions\.csv has no row for measurement "
        r"data/T050\.5K\.tif",
    ):
        load_campaign(path)


def test_missing_campaign_file(tmp_path):
    with pytest.raises(ConfigError, match=r"campaign file .*nope\.toml does not exist"):
        load_campaign(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("threads:2", r"executor 'threads:2': allowed are local, processes:N, dask://HOST:PORT"),
        ("processes:0", r"N in processes:N must be an integer >= 1"),
        ("processes:two", r"N in processes:N must be an integer >= 1"),
        ("dask://nohost", r"expected dask://HOST:PORT"),
    ],
)
def test_bad_executor_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_executor(spec)


@pytest.mark.parametrize(
    ("name", "unit", "expected"),
    [
        # the example: units last, "err" before them
        ("D_cm2_s", "cm2/s", ("D_cm2_s", "D_err_cm2_s")),
        ("D_cm2_s", "cm²/s", ("D_cm2_s", "D_err_cm2_s")),
        ("D", "cm2/s", ("D_cm2_s", "D_err_cm2_s")),
        ("w0_2_um2", "um2", ("w0_2_um2", "w0_2_err_um2")),
        ("ln_f", "", ("ln_f", "ln_f_err")),
        ("ln_f", None, ("ln_f", "ln_f_err")),
    ],
)
def test_column_names(name, unit, expected):
    assert column_names(name, unit) == expected


def test_cli_bad_campaign_and_executor_exit_2(folder, capsys):
    import subprocess
    import sys

    from fitdiff.cli import main

    bad = campaign(folder, "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['x/*.tif']\n")
    assert main(["batch", str(bad), "-o", str(folder / "out")]) == 2
    assert "measurements[0] = 'x/*.tif' matches no file" in capsys.readouterr().err
    assert main(["batch", str(bad), "-o", str(folder / "out"), "--executor", "gpu"]) == 2
    assert "allowed are local, processes:N, dask://HOST:PORT" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "batch", str(bad), "-o", str(folder / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "fitdiff batch: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_run_directory_names_never_collide(folder, tmp_path):
    # issue 11 defect 7: both labels used to become x_y_z_f.tif, so two measurements shared
    # one run directory and the second overwrote the first's results
    _write(folder / "x" / "y_z" / "f.tif", "a")
    _write(folder / "x_y" / "z" / "f.tif", "b")
    # differ only in case: one folder on a case-insensitive filesystem (macOS, Windows)
    _write(folder / "r" / "G.tif", "c")
    _write(folder / "R" / "g.tif", "d")
    path = campaign(
        folder,
        """
[campaign]
analysis = "base.toml"
measurements = ["x/**/f.tif", "x_y/**/f.tif", "r/G.tif", "R/g.tif"]
""",
    )
    specs = load_campaign(path).measurements
    names = [s.name for s in specs]
    assert len({n.casefold() for n in names}) == len(names), names
    # readable: the path is still in the name; the suffix is the label's SHA-256 prefix
    assert [n.rsplit("-", 1)[0] for n in names] == ["x_y_z_f.tif"] * 2 + ["r_G.tif", "R_g.tif"]
    for spec in specs:
        assert spec.name.endswith("-" + hashlib.sha256(spec.measurement.encode()).hexdigest()[:8])


def test_run_names_unique_stems_and_plain_collisions_unchanged():
    # names users already have on disk stay as they were where nothing collides
    assert run_names(["data/T010K.tif", "data/T300K.tif"]) == ["T010K", "T300K"]
    assert run_names(["data/T010K.tif", "other/T010K.tif"]) == [
        "data_T010K.tif",
        "other_T010K.tif",
    ]
