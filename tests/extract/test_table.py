"""write_table_csv / read_table_csv round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.errors import ExtractionError
from fitdiff.extract import read_table_csv, write_table_csv


def test_round_trip_keeps_values_attrs_and_reasons(tmp_path):
    df = pd.DataFrame(
        {
            "t_ps": [0.0, 1.5, 3.0],
            "w2_um2": [1.0 / 3.0, np.nan, 2.0],
            "ok": [True, False, True],
            "reason": ["", "low signal: intensity/error < 5", ""],
        }
    )
    df.attrs["settings"] = {
        "method": "gauss",
        "x_range_um": [-1.0, 2.5],
        "time_zero_ps": None,
        "edge": float("nan"),
    }
    path = tmp_path / "w.csv"
    write_table_csv(df, path)
    assert path.read_text().startswith("# settings: {")
    back = read_table_csv(path)
    # 10 significant digits are written (float_format %.10g)
    np.testing.assert_allclose(back["w2_um2"], df["w2_um2"], rtol=1e-9, atol=0, equal_nan=True)
    assert back["ok"].dtype == bool and back["ok"].tolist() == [True, False, True]
    assert back["reason"].tolist() == df["reason"].tolist()
    # NaN becomes JSON null so that any JSON parser reads the header
    assert back.attrs["settings"] == {
        "method": "gauss",
        "x_range_um": [-1.0, 2.5],
        "time_zero_ps": None,
        "edge": None,
    }
    assert not list(tmp_path.glob(".w.csv.*"))  # the atomic writer left no temporary


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ExtractionError, match="missing.csv: cannot read table"):
        read_table_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("# settings: {not json\nt_ps\n1\n")
    with pytest.raises(ExtractionError, match="bad.csv: header 'settings' is not JSON"):
        read_table_csv(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("# settings: {}\n")
    with pytest.raises(ExtractionError, match="empty.csv: no table after the header"):
        read_table_csv(empty)
