"""Files read at run time: the primitive sets from the checkout or from the installed package
data; the committed experiments/ only in a checkout, with a clean error elsewhere."""
from __future__ import annotations

from pathlib import Path

import pytest

from lpzero_gp import locations
from lpzero_gp.errors import DataFileError
from lpzero_gp.language import load_language

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_reads_the_root_folders(monkeypatch):
    monkeypatch.delenv("LPZERO_GP_PRIMITIVES", raising=False)
    assert locations.checkout_root() == REPO
    assert locations.primitives_dir() == REPO / "primitives"
    assert locations.experiments_dir() == REPO / "experiments"
    # no copy of the primitive sets inside the source tree: setup.py maps the root folder
    assert not (REPO / "src" / "lpzero_gp" / "primitives").exists()


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """This package as if installed in ``tmp_path/site-packages``, with its package data."""
    package = tmp_path / "site-packages" / "lpzero_gp"
    (package / "primitives").mkdir(parents=True)
    for toml in (REPO / "primitives").glob("*.toml"):
        (package / "primitives" / toml.name).write_bytes(toml.read_bytes())
    monkeypatch.delenv("LPZERO_GP_PRIMITIVES", raising=False)
    monkeypatch.setattr(locations, "_PACKAGE", package)
    monkeypatch.setattr(locations.resources, "files", lambda name: package)
    return package


def test_an_installed_copy_reads_its_package_data(installed):
    assert locations.checkout_root() is None
    assert locations.primitives_dir() == installed / "primitives"
    lang = load_language("lpzero")
    assert lang.name == "lpzero" and lang.path == installed / "primitives" / "lpzero.toml"


def test_an_installed_copy_without_its_package_data_says_so(installed):
    for toml in (installed / "primitives").iterdir():
        toml.unlink()
    (installed / "primitives").rmdir()
    with pytest.raises(DataFileError, match="lacks its primitive sets .*pip install"):
        locations.primitives_dir()


def test_the_experiments_folder_is_a_clean_error_outside_a_checkout(installed, capsys):
    with pytest.raises(DataFileError, match="only in a checkout"):
        locations.experiments_dir()
    from lpzero_gp.baselines.table import load_found
    assert load_found("flexibert") == []  # an optional column: none without a checkout
    from lpzero_gp.search import held_out
    with pytest.raises(SystemExit) as exit_:
        held_out.main(["--space", "flexibert"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: the experiments/ folder" in err and "Traceback" not in err
