""" "No data points left" says why (issue 12 item 11): the key, the data's span, the counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.errors import ConfigError
from fitdiff.fitting import DiffusivityData, WidthsData


def _widths():
    return pd.DataFrame(
        {
            "t_ps": np.arange(10) * 100.0,
            "w2_um2": 1.0,
            "w2_err_um2": 0.1,
            "ok": [False, False, False] + [True] * 7,
            "reason": ["pre-pulse (t < time zero)"]
            + ["low signal: intensity/error < 5"] * 2
            + [""] * 7,
        }
    )


def test_message_names_key_span_and_counts():
    with pytest.raises(ConfigError) as info:
        WidthsData.from_frame(_widths(), t_range_ps=(1000.0, 2000.0), label="T75K")
    text = str(info.value)
    assert text.startswith("dataset 'T75K': no data points left after mask and range (10 rows")
    assert "3 not ok (2 low signal, 1 pre-pulse (t < time zero))" in text
    assert "7 usable rows outside t_range_ps = [1000, 2000] ps" in text
    assert "usable data span 300..900 ps: widen [fit] t_range_ps" in text


def test_table_message_names_T_range_K():
    table = pd.DataFrame({"T_K": [10.0, 20.0], "D_cm2_s": [1.0, 1.1], "D_err_cm2_s": 0.1})
    with pytest.raises(ConfigError, match=r"2 usable rows outside T_range_K = \[100, 300\] K"):
        DiffusivityData.from_frame(table, T_range_K=(100.0, 300.0))
