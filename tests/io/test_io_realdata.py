"""Every sample in ../shared/realdata against the values PROVENANCE.md gives for it.

"repo-asserted" = copied there from the source repository's own tests (rosettasciio,
sif_parser); "measured" = independent readers (rosettasciio 0.15, sif-parser 0.3.6, ptufile
2026.2.6, tifffile 2026.3.3) as recorded in PROVENANCE.md.
"""

from __future__ import annotations

import numpy as np
import pytest

import fitdiff
from fitdiff.errors import LoadError


@pytest.fixture(scope="module")
def img(realdata):
    return lambda name: fitdiff.load(realdata / "hamamatsu_img" / name)


# --- §1 Hamamatsu .img ------------------------------------------------------------------


def test_operate_mode_pixels_axes_and_metadata(img):
    m = img("operate_mode.img")
    assert m.format == "hamamatsu-img"
    assert m.dims == ("t", "wavelength")
    assert m.shape == (512, 672)
    assert m.counts.dtype == np.uint32
    # repo-asserted data[:3,:3]
    np.testing.assert_array_equal(m.counts[:3, :3], [[0, 0, 715], [246, 161, 475], [106, 899, 0]])
    # measured sum 7061710453, max 2876657 at (55, 255)
    assert int(m.counts.sum(dtype=np.int64)) == 7061710453
    assert np.unravel_index(np.argmax(m.counts), m.shape) == (55, 255)
    # repo-asserted wavelength (nm) and time (file unit us -> ps) first five values
    np.testing.assert_allclose(
        m.coords["wavelength"][:5],
        [472.252, 472.33337, 472.41473, 472.4961, 472.57745],
        rtol=1e-6,
        atol=0,
    )
    np.testing.assert_allclose(
        m.coords["t"][:5],
        np.array([0.0, 0.031080816, 0.062164314, 0.09325048, 0.12433932]) * 1e6,
        rtol=1e-6,
        atol=1e-6,
    )
    # measured: time last 16.009396 us, wavelength last 526.8445 nm
    np.testing.assert_allclose(m.coords["t"][-1], 16.009396e6, rtol=1e-6, atol=0)
    np.testing.assert_allclose(m.coords["wavelength"][-1], 526.8445, rtol=1e-6, atol=0)
    assert m.units == {"t": "ps", "wavelength": "nm"}
    assert not m.is_uniform("t")  # PROVENANCE: the time axis is non-uniform
    # metadata mapping: date 2023-01-20, 60 x 5 s = 300 s, MCP gain 50, time range 20 us
    assert m.meta["date"] == "2023-01-20"
    assert m.meta["time"] == "11:34:55.147"
    assert m.meta["integration_time_s"] == pytest.approx(300.0, rel=1e-12, abs=0)
    assert m.meta["mcp_gain"] == 50
    assert m.meta["time_range_ps"] == pytest.approx(20e6, rel=1e-12, abs=0)
    assert m.meta["acquisition_mode"] == "analog_integration"
    assert m.meta["center_wavelength_nm"] == pytest.approx(500.0, rel=0, abs=0)
    assert m.meta["grating"] == "300 g/mm"
    assert m.meta["hpdta"]["Acquisition"]["BacksubCorr"] == "-1"


def test_focus_mode_time_axis_is_uncalibrated(img):
    m = img("focus_mode.img")
    # repo-asserted data[-3:,-3:]; Y uncalibrated px, scale 1 offset 0; same λ table
    np.testing.assert_array_equal(m.counts[-3:, -3:], [[0, 0, 36], [0, 0, 0], [21, 0, 0]])
    assert m.units["t"] == "px"
    np.testing.assert_array_equal(m.coords["t"], np.arange(512.0))
    np.testing.assert_allclose(
        m.coords["wavelength"][:5],
        [472.252, 472.33337, 472.41473, 472.4961, 472.57745],
        rtol=1e-6,
        atol=0,
    )
    assert int(m.counts.sum(dtype=np.int64)) == 59743889  # measured sum
    assert m.meta["streak_mode"] == "Focus"
    assert m.meta["time_calibration"] == "Focus mode"


def test_photon_counting_16bit_dotted_date(img):
    m = img("photon_counting.img")
    assert m.counts.dtype == np.uint16  # repo-asserted file_type bit16
    np.testing.assert_array_equal(m.counts[0, -3:], [0, 0, 0])  # repo-asserted
    assert m.meta["date"] == "2018-08-29"  # repo-asserted, from "29.08.2018"
    assert m.meta["acquisition_mode"] == "photon_counting"
    assert "grating" in m.meta  # Chromex 'Grating="2"' (an index, not g/mm)
    # measured: time 0 .. 4.632347 ns, λ 353.66992 .. 364.9664 nm, sum 110996, max 35 at (65,146)
    np.testing.assert_allclose(m.coords["t"][[0, -1]], [0.0, 4632.347], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        m.coords["wavelength"][[0, -1]], [353.66992, 364.9664], rtol=1e-6, atol=0
    )
    assert int(m.counts.sum()) == 110996
    assert np.unravel_index(np.argmax(m.counts), m.shape) == (65, 146)
    assert m.counts.max() == 35


def test_shading_file_bare_time_range(img):
    m = img("shading_file.img")
    np.testing.assert_array_equal(m.counts[0, :3], [9385, 8354, 7658])  # repo-asserted
    assert m.meta["time_range"] == 4  # repo-asserted; no unit in the file
    assert "time_range_ps" not in m.meta  # a bare number is not converted
    # measured: time 0 .. 2185.9932 ps, λ 316.35107 .. 392.77484 nm
    np.testing.assert_allclose(m.coords["t"][[0, -1]], [0.0, 2185.9932], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        m.coords["wavelength"][[0, -1]], [316.35107, 392.77484], rtol=1e-6, atol=0
    )


def test_xaxis_other_both_axes_px(img):
    m = img("xaxis_other.img")
    # repo-asserted shape (508, 672), both axes px scale 1 offset 0; no spectrograph -> "x"
    assert m.shape == (508, 672)
    assert m.dims == ("t", "x")
    assert m.units == {"t": "px", "x": "px"}
    np.testing.assert_array_equal(m.coords["x"], np.arange(672.0))
    np.testing.assert_array_equal(m.counts[0, :5], [406, 399, 407, 381, 407])  # measured


def test_img_and_tiff_twin_identical_counts(realdata):
    # measured in PROVENANCE.md §1: np.array_equal(xaxis_other.img, ..._OTHER.tif)
    a = fitdiff.load(realdata / "hamamatsu_img" / "xaxis_other.img")
    b = fitdiff.load(realdata / "hamamatsu_tiff" / "test_hamamatsu_streak_OTHER.tif")
    assert a.counts.dtype == b.counts.dtype == np.uint16
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.dims == b.dims and a.units == b.units


# --- §2 Hamamatsu TIFF ------------------------------------------------------------------


def test_hamamatsu_tiff_scan(realdata):
    m = fitdiff.load(realdata / "hamamatsu_tiff" / "test_hamamatsu_streak_SCAN.tif")
    assert m.format == "hamamatsu-tiff"
    assert m.dims == ("t", "wavelength") and m.shape == (508, 672)
    # measured raw tables: t 649.49316 .. 1826.4934 ps, λ 231.09093 .. 242.59259 nm
    np.testing.assert_allclose(m.coords["t"][[0, -1]], [649.49316, 1826.4934], rtol=1e-6, atol=0)
    np.testing.assert_allclose(
        m.coords["wavelength"][[0, -1]], [231.09093, 242.59259], rtol=1e-6, atol=0
    )
    # repo-asserted linear fit: t scale 2.3081 ps/px offset 652.3756 ps (rtol 1e-3);
    # λ scale 0.01714 nm/px offset 231.0909 nm
    t_slope, t_off = np.polyfit(np.arange(508), m.coords["t"], 1)
    assert t_slope == pytest.approx(2.3081, rel=1e-3, abs=0)
    assert t_off == pytest.approx(652.3756, rel=1e-3, abs=0)
    w_slope, w_off = np.polyfit(np.arange(672), m.coords["wavelength"], 1)
    assert w_slope == pytest.approx(0.01714, rel=1e-3, abs=0)
    assert w_off == pytest.approx(231.0909, rel=1e-5, abs=0)
    # measured: sum 581793, max 33, row 0 starts [3,3,0,0,1]; MCP gain 63, photon counting
    assert int(m.counts.sum()) == 581793 and int(m.counts.max()) == 33
    np.testing.assert_array_equal(m.counts[0, :5], [3, 3, 0, 0, 1])
    assert m.meta["mcp_gain"] == 63
    assert m.meta["acquisition_mode"] == "photon_counting"
    assert m.meta["n_exposures"] == 10000
    assert m.meta["exposure_time_s"] == pytest.approx(0.150, rel=1e-12, abs=0)
    # day-first Date="09/02/2022" matches the TIFF DateTime "2022:02:09 ..."
    assert m.meta["date"] == "2022-02-09"
    assert m.meta["tiff_datetime"].startswith("2022:02:09")


def test_hamamatsu_tiff_focus(realdata):
    m = fitdiff.load(realdata / "hamamatsu_tiff" / "test_hamamatsu_streak_FOCUS.tif")
    # repo-asserted: time uncalibrated (scale 1, offset 0); λ offset ≈ 231.0909 nm
    assert m.units["t"] == "px"
    np.testing.assert_array_equal(m.coords["t"], np.arange(508.0))
    assert m.coords["wavelength"][0] == pytest.approx(231.0909, rel=1e-5, abs=0)
    assert int(m.counts.sum()) == 4780  # measured


# --- §3 Andor SIF and ASCII -------------------------------------------------------------


def test_sif_measurement_kinetic_series(realdata):
    m = fitdiff.load(realdata / "andor_sif" / "measurement.sif")
    assert m.dims == ("frame", "wavelength") and m.shape == (20, 1024)
    assert m.counts.dtype == np.float32
    # measured: λ(1) = 529.99984, λ(1024) = 592.84125 nm; sum 28521276; first [747,718,719]
    np.testing.assert_allclose(
        m.coords["wavelength"][[0, -1]], [529.99984, 592.84125], rtol=1e-7, atol=0
    )
    assert float(m.counts.sum(dtype=np.float64)) == pytest.approx(28521276, rel=1e-9, abs=0)
    np.testing.assert_array_equal(m.counts.ravel()[:3], [747, 718, 719])
    # repo-asserted header values
    assert m.meta["exposure_time_s"] == pytest.approx(3.0, rel=0, abs=0)
    assert m.meta["detector_temperature_C"] == pytest.approx(-25.0, rel=0, abs=0)
    assert m.meta["gate_width_s"] == pytest.approx(1e-8, rel=1e-12, abs=0)
    assert m.meta["detector"] == "DH334T-18F-63"
    assert m.meta["experiment_time_unix_s"] == 1690545064
    np.testing.assert_allclose(
        m.meta["wavelength_coefficients"],
        [529.93812442523, 0.061715845778342, -2.28349748230931e-07, -5.07163560661353e-11],
        rtol=1e-14,
        atol=0,
    )
    # PROVENANCE quirks: RamanExWavelength 422 and GateDelay 0.0 are artefacts -> absent
    assert "raman_excitation_nm" not in m.meta
    assert "gate_delay_s" not in m.meta


def test_sif_image_matches_npz(realdata):
    m = fitdiff.load(realdata / "andor_sif" / "image.sif")
    ref = np.load(realdata / "andor_sif" / "image.npz")["arr_0"]  # repo-asserted reference
    assert m.dims == ("y", "x") and m.units == {"y": "px", "x": "px"}
    np.testing.assert_array_equal(m.counts, ref[0])
    # measured: ExposureTime 1.0, GainDAC 1000, temperature -100
    assert m.meta["gain"] == pytest.approx(1000.0, rel=0, abs=0)
    assert m.meta["detector_temperature_C"] == pytest.approx(-100.0, rel=0, abs=0)


def test_sif_binned_image(realdata):
    m = fitdiff.load(realdata / "andor_sif" / "test.sif")
    assert m.shape == (256, 256)  # 2x2 binned from 512x512 (PROVENANCE table)
    assert (m.meta["xbin"], m.meta["ybin"]) == (2, 2)


def _asc(path, skiprows=0):
    rows = []
    for line in path.read_text().splitlines()[skiprows:]:
        parts = line.split()
        if len(parts) != 2:
            if rows:
                break
            continue
        rows.append([float(p) for p in parts])
    return np.array(rows)


@pytest.mark.parametrize(
    ("sif", "asc", "skip", "rtol_counts", "atol_counts"),
    [
        # .asc values have 6 significant digits (PROVENANCE §3): rtol 1e-5
        ("raman1.sif", "raman1.asc", 0, 1e-5, 0.0),
        # step_and_glue.asc is rounded: data differs by at most 0.47 (measured)
        ("step_and_glue.sif", "step_and_glue.asc", 38, 0.0, 0.5),
        ("boron_0.05_1us_750ns_5.sif", "boron_0.asc", 0, 1e-5, 1e-3),
    ],
)
def test_sif_matches_solis_ascii_export(realdata, sif, asc, skip, rtol_counts, atol_counts):
    m = fitdiff.load(realdata / "andor_sif" / sif)
    ref = _asc(realdata / "andor_sif" / asc, skip)
    assert m.dims == ("wavelength",)
    np.testing.assert_allclose(m.coords["wavelength"], ref[:, 0], rtol=1e-6, atol=0)
    np.testing.assert_allclose(m.counts, ref[:, 1], rtol=rtol_counts, atol=atol_counts)
    # and fitdiff's own ASCII reader agrees with the SIF reader
    a = fitdiff.load(realdata / "andor_sif" / asc)
    assert a.format == "andor-ascii"
    np.testing.assert_allclose(a.coords["wavelength"], m.coords["wavelength"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(a.counts, m.counts, rtol=rtol_counts, atol=atol_counts)


def test_andor_ascii_metadata(realdata):
    a = fitdiff.load(realdata / "andor_sif" / "raman1.asc")
    assert a.meta["Model"] == "DU888_BV"  # the metadata block (raman1.info.txt)
    assert a.meta["Number of Accumulations"] == pytest.approx(500, rel=0, abs=0)


def test_sif_cli0_matches_csv(realdata):
    m = fitdiff.load(realdata / "andor_sif" / "cli-0.sif")
    c = fitdiff.load(realdata / "andor_sif" / "cli-0.csv")
    assert c.dims == ("wavelength",) and c.format == "text"
    # measured: λ 586.58948 .. 1008.577 nm; negative values (background corrected)
    np.testing.assert_allclose(
        m.coords["wavelength"][[0, -1]], [586.58948, 1008.577], rtol=1e-6, atol=0
    )
    np.testing.assert_allclose(m.coords["wavelength"], c.coords["wavelength"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(m.counts, c.counts, rtol=1e-5, atol=1e-3)
    assert m.counts.min() < 0
    assert m.meta["data_type"] == "Counts (Bg corrected per second)"


def test_sif_raman_file(realdata):
    m = fitdiff.load(realdata / "andor_sif" / "DD58_785_1_Fe2O3_5x10s.sif")
    assert m.meta["raman_excitation_nm"] == pytest.approx(785.0, rel=0, abs=0)  # repo-asserted
    assert m.meta["frame_axis"] == "Raman shift"


# --- §4 PicoQuant PTU -------------------------------------------------------------------


def test_ptu_t3_image(realdata):
    m = fitdiff.load(realdata / "picoquant_ptu" / "ptu_stack_FLIM_z1.ptu")
    assert m.dims == ("y", "x", "t")
    # measured: 256 x 256 pixels, 133 H bins of 96.9696970 ps, pixel 0.1463261569 µm
    assert m.shape == (256, 256, 133)
    np.testing.assert_allclose(m.coords["x"][1], 0.146326157, rtol=1e-8, atol=0)
    np.testing.assert_allclose(m.coords["y"][-1], 37.3131700095, rtol=1e-9, atol=0)
    np.testing.assert_allclose(m.coords["t"][1], 96.969696970, rtol=1e-9, atol=0)
    assert m.units == {"y": "um", "x": "um", "t": "ps"}
    # measured: 150363 photons; sum over frames at (128,128) = 8; decay bins 0-19, peak 12
    assert int(m.counts.sum()) == 150363
    assert int(m.counts[128, 128].sum()) == 8
    np.testing.assert_array_equal(
        m.counts.sum(axis=(0, 1))[:20],
        [
            32,
            23,
            38,
            39,
            28,
            39,
            29,
            32,
            217,
            1827,
            5867,
            12602,
            13544,
            11100,
            9198,
            7684,
            6560,
            5782,
            5257,
            4586,
        ],
    )
    assert m.meta["n_frames_summed"] == 5
    assert m.meta["sync_rate_hz"] == pytest.approx(78020000.0, rel=1e-12, abs=0)
    assert m.meta["number_records"] == 155398
    assert m.meta["record_type"] == "PicoHarpT3"


def test_ptu_t2_point_file_is_refused_clearly(realdata):
    # T2 has no sync/micro time: documented refusal (PROVENANCE §4: HydraHarp2T2)
    with pytest.raises(LoadError, match=r"v30_t2\.ptu.*T2.*HydraHarp2T2.*T3 mode"):
        fitdiff.load(realdata / "picoquant_ptu" / "v30_t2.ptu")


# --- §5 ImageJ TIFF ---------------------------------------------------------------------


def test_imagej_scale(realdata):
    m = fitdiff.load(realdata / "tiff_imagej" / "test_loading_image_saved_with_imageJ.tif")
    assert m.format == "imagej-tiff" and m.dims == ("y", "x")
    # repo-asserted: 0.16867 µm per pixel on both axes (atol 1e-5); 1e6/5928571 from the tags
    for dim in ("x", "y"):
        assert np.diff(m.coords[dim])[0] == pytest.approx(0.16867, rel=0, abs=1e-5)
        assert m.units[dim] == "um"
    np.testing.assert_array_equal(m.counts.ravel()[:3], [3465, 3352, 3373])  # measured
    assert float(m.counts.sum(dtype=np.float64)) == pytest.approx(1.54228e7, rel=1e-5, abs=0)


def test_imagej_stack_spacing(realdata):
    m = fitdiff.load(realdata / "tiff_imagej" / "test_loading_image_saved_with_imageJ_stack.tif")
    assert m.dims == ("z", "y", "x") and m.shape == (2, 68, 68)  # repo-asserted shape
    # spacing=2.5 in the ImageJ unit (micron); rsciio gives it no unit, fitdiff applies `unit`
    np.testing.assert_allclose(m.coords["z"], [0.0, 2.5], rtol=0, atol=1e-12)
    assert m.meta["z_spacing"] == pytest.approx(2.5, rel=0, abs=0)
    assert np.diff(m.coords["x"])[0] == pytest.approx(0.16867, rel=0, abs=1e-5)


def test_imagej_no_scale_is_px(realdata):
    m = fitdiff.load(realdata / "tiff_imagej" / "test_loading_image_saved_with_imageJ_no_scale.tif")
    assert m.units == {"y": "px", "x": "px"}  # repo-asserted: scale 1, units undefined
    np.testing.assert_array_equal(m.coords["x"], np.arange(68.0))
