"""Primitive-set files: the two built-in languages, user files, and errors naming file and key."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from lpzero_gp.errors import ConfigError
from lpzero_gp.language import REGISTRY, load_language, primitives_dir

REPO = Path(__file__).resolve().parents[1]

FREE = """
name = "tiny"
inputs = ["W", "G"]
[operations]
square = 1.0
t_mean = 1.0
l_add = 0.5
layer_mean = 1.0
[limits]
min_depth = 2
max_depth = 5
max_nodes = 9
"""


def _write(tmp_path, text, name="set.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_languages():
    assert primitives_dir() == REPO / "primitives"
    lpzero, default = load_language("lpzero"), load_language("default")
    assert load_language("lpzero") is lpzero  # cached
    assert load_language(REPO / "primitives" / "lpzero.toml") is lpzero
    assert lpzero.template == "lpzero" and default.template is None
    assert lpzero.inputs == ("A", "G", "H", "S", "W", "J")
    # the paper's 20 unary operations (mean listed twice) and 4 binary ones (matmul = product)
    unary = lpzero.template_spec.unary
    assert len(unary) == 19 and sum(unary.values()) == pytest.approx(2.1)  # 19 x 0.1 + 0.2
    assert unary["t_mean"] == unary["identity"] == pytest.approx(0.2)
    assert lpzero.template_spec.binary == {"l_add": 0.6, "l_sub": 0.3, "l_mul": 0.1}
    assert (lpzero.limits.max_depth, lpzero.limits.max_nodes) == (5, 10)
    assert (default.limits.max_depth, default.limits.max_nodes) == (8, 25)
    for needed in ("log1pabs", "tanh", "ranknorm", "t_max", "layer_sum", "layer_max",
                   "layer_min", "l_div", "s_add"):
        assert needed in default.primitives
    assert set(lpzero.weights) >= set(lpzero.inputs)
    assert all(w >= 0 for w in default.weights.values())


def test_a_user_file_works_like_a_builtin(tmp_path):
    lang = load_language(_write(tmp_path, FREE))
    assert lang.name == "tiny" and lang.inputs == ("W", "G") and lang.template is None
    assert set(lang.primitives) == {"square", "t_mean", "l_add", "layer_mean"}
    assert lang.weights["W"] == 1.0 and lang.weights["l_add"] == 0.5
    assert lang.limits.init_max_depth == 5  # defaults to max_depth
    rng = random.Random(0)
    for _ in range(300):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree) and lang.within_limits(tree)
        assert tree.height >= 2 and str(lang.parse(str(tree))) == str(tree)


def test_operations_as_a_list_take_registry_weights(tmp_path):
    text = FREE.replace("[operations]\nsquare = 1.0\nt_mean = 1.0\nl_add = 0.5\n"
                        "layer_mean = 1.0\n",
                        "operations = [\"exp\", \"t_mean\", \"layer_mean\"]\n")
    lang = load_language(_write(tmp_path, text))
    assert lang.weights["exp"] == REGISTRY["exp"].weight


def test_environment_variable_overrides_the_builtin_folder(tmp_path, monkeypatch):
    _write(tmp_path, FREE, "tiny.toml")
    monkeypatch.setenv("LPZERO_GP_PRIMITIVES", str(tmp_path))
    assert load_language("tiny").name == "tiny"
    with pytest.raises(ConfigError, match="unknown language 'default'.*built-in languages: tiny"):
        load_language("default")


def _config_error(tmp_path, text, *fragments):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_language(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_malformed_files_name_the_file_and_key(tmp_path):
    _config_error(tmp_path, "name = \n", "malformed TOML")
    _config_error(tmp_path, FREE.replace("square = 1.0", "sqaure = 1.0"),
                  "operations.sqaure", "unknown operation 'sqaure'")
    _config_error(tmp_path, FREE.replace('["W", "G"]', '["W", "Q"]'), "inputs", "'Q'")
    _config_error(tmp_path, FREE.replace('inputs = ["W", "G"]', 'inputs = {W = 1, X = 2}'),
                  "inputs.X", "unknown input 'X'")
    _config_error(tmp_path, FREE.replace("l_add = 0.5", 'l_add = "heavy"'),
                  "operations.l_add", "weight must be a finite number >= 0")
    _config_error(tmp_path, FREE.replace("l_add = 0.5", "l_add = -1"), "operations.l_add")
    _config_error(tmp_path, FREE.replace("max_nodes = 9", "max_nodes = 2.5"),
                  "limits.max_nodes", "integer")
    _config_error(tmp_path, FREE.replace("max_nodes = 9", "max_nodes = 9\nmax_height = 3"),
                  "limits.max_height", "unknown limit")
    _config_error(tmp_path, FREE.replace("min_depth = 2", "min_depth = 7"), "limits",
                  "min_depth <= init_max_depth <= max_depth")
    _config_error(tmp_path, FREE.split("[limits]")[0], "limits", "missing")
    _config_error(tmp_path, "shape = \"tree\"\n" + FREE, "shape", "'tree'")
    _config_error(tmp_path, FREE + "\n[extras]\nx = 1\n", "extras", "unknown key")
    _config_error(tmp_path, FREE.replace("t_mean = 1.0\n", ""),
                  "operations.l_add", "needs a ScalarL")  # no reduction makes one


def test_sets_that_cannot_make_a_formula_are_rejected(tmp_path):
    no_root = FREE.replace("layer_mean = 1.0", "layer_mean = 0.0")
    _config_error(tmp_path, no_root, "operations", "no operation of positive weight returns a "
                                                   "Scalar")
    too_small = FREE.replace("max_nodes = 9", "max_nodes = 2")
    _config_error(tmp_path, too_small, "limits", "max_nodes 2")


LPZ = """
name = "mini-lpzero"
shape = "lpzero"
inputs = ["H", "W"]
[unary]
square = 1.0
t_fro = 1.0
logsoftmax = 1.0
[binary]
l_add = 1.0
[template]
reduction = "t_mean"
aggregation = "layer_mean"
"""


def test_a_user_template_language(tmp_path):
    lang = load_language(_write(tmp_path, LPZ))
    assert lang.template == "lpzero"
    assert {"l_square", "l_fro", "l_logsoftmax", "t_mean", "layer_mean"} <= set(lang.primitives)
    rng = random.Random(1)
    for _ in range(200):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree) and lang.within_limits(tree)
        assert set(lang.genes(tree).inputs) <= {"H", "W"}


def test_template_errors_name_the_key(tmp_path):
    _config_error(tmp_path, LPZ.replace("t_fro = 1.0", "t_max = 1.0"), "unary.t_max",
                  "per-layer-scalar form")
    _config_error(tmp_path, LPZ.replace("l_add = 1.0", "add = 1.0"), "binary.add",
                  "(ScalarL, ScalarL) -> ScalarL")
    _config_error(tmp_path, LPZ.replace('reduction = "t_mean"', 'reduction = "square"'),
                  "template.reduction", "square is not TensorL -> ScalarL")
    _config_error(tmp_path, LPZ.replace('aggregation = "layer_mean"', 'aggregation = "avg"'),
                  "template.aggregation", "unknown operation 'avg'")
    _config_error(tmp_path, LPZ + "[limits]\nmax_depth = 3\n", "limits", "unknown key")


def test_missing_file_and_unknown_name():
    with pytest.raises(ConfigError, match=re.escape("nowhere.toml") + ".*not found"):
        load_language("/nowhere/nowhere.toml")
    with pytest.raises(ConfigError, match="unknown language 'nope'.*default, lpzero"):
        load_language("nope")
