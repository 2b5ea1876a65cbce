"""Material presets: every number sourced, unverified values flagged, bad files refused."""

import pytest

from fitdiff import physics
from fitdiff.errors import ConfigError


def test_names():
    # fitdiff/physics/data/materials.toml: typical-tmdc plus the four monolayers of issue 2
    assert set(physics.material_names()) >= {"typical-tmdc", "WSe2", "MoSe2", "WS2", "MoS2"}


def test_typical_tmdc_is_seed_fig2():
    # seed 000, Fig. 2 caption: xi = 7 eV, M = 0.5 m0, rho = 4.46e-7 g/cm^2, s = 4.1e5 cm/s
    p = physics.load_material("typical-tmdc")
    assert p["xi_eV"] == pytest.approx(7.0, rel=0, abs=0)
    assert p["M_m0"] == pytest.approx(0.5, rel=0, abs=0)
    assert p["rho_g_cm2"] == pytest.approx(4.46e-7, rel=1e-15)
    assert p["s_cm_s"] == pytest.approx(4.1e5, rel=1e-15)
    info = physics.material_info("typical-tmdc")
    assert info["unverified"] == []
    assert all("seed 000" in text for text in info["sources"].values())


@pytest.mark.parametrize("name", ["typical-tmdc", "WSe2", "MoSe2", "WS2", "MoS2"])
def test_every_number_has_a_source(name):
    info = physics.material_info(name)
    assert set(info["sources"]) == set(info["parameters"])
    for key in info["unverified"]:
        assert "unverified" in info["sources"][key] or "seed 000" in info["sources"][key]


@pytest.mark.parametrize("name", ["WSe2", "MoSe2", "WS2", "MoS2"])
def test_monolayer_presets_are_flagged_unverified(name):
    # no monolayer-specific value was read in a source (seeds give none): all four flagged
    info = physics.material_info(name)
    assert set(info["unverified"]) == {"xi_eV", "M_m0", "rho_g_cm2", "s_cm_s"}


def test_preset_drives_the_table():
    # M enters D_cl = s^2 tau0 with tau0 ∝ M^-2 (seed eqs. 4, 7): D_cl ∝ rho s^2 / (M^2 xi^2)
    p = physics.load_material("WSe2")
    d = physics.diffusivity(50.0, material="WSe2").D_classical_cm2_s.iloc[0]
    ref = physics.diffusivity(50.0).D_classical_cm2_s.iloc[0]
    scale = (
        (p["rho_g_cm2"] / 4.46e-7)
        * (p["s_cm_s"] / 4.1e5) ** 2
        / (p["M_m0"] / 0.5) ** 2
        / (p["xi_eV"] / 7.0) ** 2
    )
    assert d == pytest.approx(ref * scale, rel=1e-12)


def test_override_wins_over_preset():
    table = physics.diffusivity(50.0, material="MoS2", M_m0=0.7)
    assert table.attrs["parameters"]["M_m0"] == pytest.approx(0.7, rel=0, abs=0)


def _write(tmp_path, text):
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


GOOD = """
[x]
xi_eV = 7.0
M_m0 = 0.5
rho_g_cm2 = 4e-7
s_cm_s = 4e5
[x.sources]
xi_eV = "a"
M_m0 = "b"
rho_g_cm2 = "c"
s_cm_s = "d"
"""


def test_custom_file_loads(tmp_path):
    assert physics.load_material("x", path=_write(tmp_path, GOOD))["rho_g_cm2"] == pytest.approx(
        4e-7, rel=1e-15
    )


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (('s_cm_s = "d"', ""), r"m.toml \[x\].sources: no source for s_cm_s"),
        (("M_m0 = 0.5", "M_m0 = -0.5"), r"m.toml \[x\]: M_m0 = -0.5 is outside the allowed range"),
        (("xi_eV = 7.0", "xi_eV = 7.0\nfoo = 1"), r"unknown D\(T\) parameter 'foo'"),
        (("rho_g_cm2 = 4e-7\n", ""), r"missing required parameter\(s\) rho_g_cm2"),
        (
            ("s_cm_s = 4e5", 's_cm_s = 4e5\nunverified = ["E_B_meV"]'),
            r"unverified: not parameters of this preset: E_B_meV",
        ),
        (("[x.sources]", "[x.sources]\nC_xx = 'e'"), r"source for unknown parameter\(s\) C_xx"),
        (("M_m0 = 0.5", "M_m0 = = 0.5"), r"m.toml: invalid TOML"),
    ],
)
def test_bad_files_are_refused(tmp_path, edit, match):
    path = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError, match=match):
        physics.load_material("x", path=path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"material presets not found at .*nope.toml"):
        physics.material_names(path=tmp_path / "nope.toml")


def test_presets_are_package_data_with_one_copy_in_the_repository():
    # issue 12 item 1: a wheel must carry the presets, read through importlib.resources, and the
    # repository keeps exactly one copy (the one setuptools packages).
    import tomllib
    from importlib import resources
    from pathlib import Path

    from fitdiff.physics import materials

    resource = resources.files("fitdiff.physics").joinpath("data", "materials.toml")
    assert resource.is_file()
    assert Path(str(resource)) == materials.MATERIALS_PATH
    repo = Path(__file__).resolve().parents[2]
    skip = {".git", "build", "dist", ".venv"}  # build outputs are copies, not sources
    copies = [p for p in repo.rglob("materials.toml") if not skip & set(p.relative_to(repo).parts)]
    assert copies == [repo / "fitdiff" / "physics" / "data" / "materials.toml"]
    with open(repo / "pyproject.toml", "rb") as fh:
        package_data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]
    assert "data/*.toml" in package_data["fitdiff.physics"]
