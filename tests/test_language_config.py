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
pool_mean = 1.0
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
    assert lpzero.groups == ("A", "W", "H", "S", "J")  # G shares W's tensors and rows
    # the paper's 20 unary operations (mean listed twice) and 4 binary ones (matmul = product)
    spec = lpzero.template_spec
    assert len(spec.unary) == 19 and sum(spec.unary.values()) == pytest.approx(2.1)
    assert spec.unary["t_mean"] == spec.unary["identity"] == pytest.approx(0.2)
    assert spec.binary == {"l_add": 0.6, "l_sub": 0.3, "l_mul": 0.1}
    assert (spec.reduction, spec.pooling, spec.aggregation) == ("t_mean", "pool_mean",
                                                                "layer_mean")
    # each reducing slot brings its one-value form (LPZero's chains after a reduction)
    assert {"v_fro", "v_mean", "v_meanabs", "v_std", "v_logsoftmax", "v_identity"} <= \
        set(lpzero.primitives)
    assert (lpzero.limits.max_depth, lpzero.limits.max_nodes) == (6, 14)
    assert (default.limits.min_depth, default.limits.init_max_depth, default.limits.max_depth,
            default.limits.max_nodes) == (3, 7, 9, 25)
    assert default.inputs == ("A", "H", "S", "W", "G", "J", "WE", "GE", "AE")
    assert default.groups == ("A", "H", "S", "W", "J", "WE", "AE")
    assert default.weights["WE"] == default.weights["GE"] == default.weights["AE"] == 0.25
    for needed in ("log1pabs", "tanh", "znorm", "softmax", "t_rowmax", "t_rowmin", "t_rownorm",
                   "t_fro", "v_div", "v_mul", "pool_mean", "pool_wmean", "pool_sum", "pool_max",
                   "pool_min", "layer_sum", "layer_max", "layer_min", "l_div", "s_add"):
        assert needed in default.primitives, needed
    for gone in ("t_max", "t_min", "ranknorm"):  # they read a sample of elements, not rows
        assert gone not in REGISTRY
    assert "v_logsoftmax" not in default.primitives  # LPZero's chains only
    assert set(lpzero.weights) >= set(lpzero.inputs)
    assert all(w >= 0 for w in default.weights.values())


def test_generic_operations_get_one_variant_per_group():
    default = load_language("default")
    groups = default.groups
    assert [v.args[0].group for v in default.variants["mul"]] == list(groups)
    for v in default.variants["mul"]:
        assert v.args[0] is v.args[1] is v.ret and v.ret.__name__ == f"Tensor_{v.ret.group}"
    for v in default.variants["pool_mean"]:
        level = "Scalar" if v.args[0].group in ("WE", "AE") else "ScalarL"
        assert v.ret.__name__ == level and v.args[0].__name__ == f"Each_{v.args[0].group}"
    # operations on per-layer or per-architecture scalars have a single variant
    assert len(default.variants["l_add"]) == len(default.variants["layer_mean"]) == 1
    # inputs are terminals of their group's tensor type: W and G share one
    terminals = {t.__name__: [n.name for n in ns]
                 for t, ns in default.pset.terminals.items() if ns}
    assert terminals == {"Tensor_A": ["A"], "Tensor_H": ["H"], "Tensor_S": ["S"],
                         "Tensor_W": ["W", "G"], "Tensor_J": ["J"], "Tensor_WE": ["WE", "GE"],
                         "Tensor_AE": ["AE"]}
    assert default.variant("mul", default.variants["mul"][0].args) is default.variants["mul"][0]
    w = default.variants["t_mean"][groups.index("W")].args[0]
    h = default.variants["t_mean"][groups.index("H")].args[0]
    assert default.variant("mul", [w, h]) is None and default.variant("mul", [w, w]) is not None


def test_a_user_file_works_like_a_builtin(tmp_path):
    lang = load_language(_write(tmp_path, FREE))
    assert lang.name == "tiny" and lang.inputs == ("W", "G") and lang.template is None
    assert lang.groups == ("W",)
    assert set(lang.primitives) == {"square", "t_mean", "pool_mean", "l_add", "layer_mean"}
    assert lang.weights["W"] == 1.0 and lang.weights["l_add"] == 0.5
    assert lang.limits.init_max_depth == 5  # defaults to max_depth
    rng = random.Random(0)
    seen = set()
    for _ in range(300):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree) and lang.within_limits(tree)
        # the least a formula needs: layer_mean(pool_mean(t_mean(W)))
        assert tree.height >= 3 and str(lang.parse(str(tree))) == str(tree)
        assert [n.name for n in tree[:2]] in (["layer_mean", "pool_mean"],
                                             ["layer_mean", "l_add"])
        seen.add(str(tree))
    assert "layer_mean(pool_mean(t_mean(mul(W, G))))" not in seen  # mul is not in the set
    assert {"layer_mean(pool_mean(t_mean(W)))", "layer_mean(pool_mean(t_mean(G)))"} <= seen


def test_a_model_level_language_needs_no_layer_aggregation(tmp_path):
    text = FREE.replace('["W", "G"]', '["WE", "GE"]').replace("l_add = 0.5\n", "").replace(
        "layer_mean = 1.0\n", "")
    lang = load_language(_write(tmp_path, text))
    assert lang.groups == ("WE",)
    rng = random.Random(4)
    for _ in range(100):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree) and tree[0].name == "pool_mean"
        assert tree[0].ret.__name__ == "Scalar"
    # a per-layer scalar operation has nothing to act on without a layer-level input
    _config_error(tmp_path, FREE.replace('["W", "G"]', '["WE", "GE"]'), "operations.l_add",
                  "needs a per-layer scalar")


def test_operations_as_a_list_take_registry_weights(tmp_path):
    text = FREE.replace("[operations]\nsquare = 1.0\nt_mean = 1.0\npool_mean = 1.0\n"
                        "l_add = 0.5\nlayer_mean = 1.0\n",
                        "operations = [\"exp\", \"t_mean\", \"pool_wmean\", \"layer_mean\"]\n")
    lang = load_language(_write(tmp_path, text))
    assert set(lang.primitives) == {"exp", "t_mean", "pool_wmean", "layer_mean"}
    assert lang.weights["exp"] == REGISTRY["exp"].weight == 0.5
    assert lang.weights["pool_wmean"] == REGISTRY["pool_wmean"].weight


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
    # no reduction makes per-tensor values, no pooling makes per-layer scalars
    _config_error(tmp_path, FREE.replace("t_mean = 1.0\n", ""), "operations.pool_mean",
                  "needs per-tensor values of group W, which no input or operation")
    _config_error(tmp_path, FREE.replace("pool_mean = 1.0\n", ""), "operations.l_add",
                  "needs a per-layer scalar, a per-layer scalar, which no input or operation")


def test_sets_that_cannot_make_a_formula_are_rejected(tmp_path):
    no_root = FREE.replace("layer_mean = 1.0", "layer_mean = 0.0")
    _config_error(tmp_path, no_root, "operations", "no operation of positive weight returns a "
                                                   "Scalar")
    # layer_mean(pool_mean(t_mean(W))) has 4 nodes
    too_small = FREE.replace("max_nodes = 9", "max_nodes = 3")
    _config_error(tmp_path, too_small, "limits", "max_depth 5 and max_nodes 3")
    assert load_language(_write(tmp_path, FREE.replace("max_nodes = 9", "max_nodes = 4"),
                                "four.toml")).limits.max_nodes == 4


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
    assert lang.template == "lpzero" and lang.template_spec.pooling == "pool_mean"  # default
    assert {"v_square", "v_fro", "v_logsoftmax", "t_mean", "pool_mean", "layer_mean"} <= \
        set(lang.primitives)
    rng = random.Random(1)
    for _ in range(200):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree) and lang.within_limits(tree)
        genes = lang.genes(tree)
        assert set(genes.inputs) <= {"H", "W"}
        assert str(lang.from_genes(genes)) == str(tree)
    tree = lang.parse("layer_mean(l_add(pool_mean(v_logsoftmax(t_fro(H))), "
                      "pool_mean(t_mean(square(logsoftmax(W))))))")
    assert lang.genes(tree).unary == (("t_fro", "logsoftmax"), ("logsoftmax", "square"))
    # another pooling, named in the file
    other = load_language(_write(tmp_path, LPZ.replace(
        'aggregation = "layer_mean"', 'aggregation = "layer_mean"\npooling = "pool_wmean"'),
        "wmean.toml"))
    tree = other.generate(rng)
    names = [n.name for n in tree]
    assert names.count("pool_wmean") == 2 and "pool_mean" not in names
    assert tree[2].name == tree[tree.searchSubtree(2).stop].name == "pool_wmean"
    assert other.is_well_typed(tree) and not lang.is_well_typed(tree)


def test_template_errors_name_the_key(tmp_path):
    _config_error(tmp_path, LPZ.replace("t_fro = 1.0", "t_rowmax = 1.0"), "unary.t_rowmax",
                  "per-layer-scalar form")
    _config_error(tmp_path, LPZ.replace("l_add = 1.0", "add = 1.0"), "binary.add",
                  "(ScalarL, ScalarL) -> ScalarL")
    _config_error(tmp_path, LPZ.replace('reduction = "t_mean"', 'reduction = "square"'),
                  "template.reduction", "square is not Tensor -> Each")
    _config_error(tmp_path, LPZ.replace('aggregation = "layer_mean"',
                                        'aggregation = "layer_mean"\npooling = "t_mean"'),
                  "template.pooling", "t_mean is not Each -> Pooled")
    _config_error(tmp_path, LPZ.replace('aggregation = "layer_mean"', 'aggregation = "avg"'),
                  "template.aggregation", "unknown operation 'avg'")
    _config_error(tmp_path, LPZ + "[limits]\nmax_depth = 3\n", "limits", "unknown key")
    _config_error(tmp_path, LPZ.replace('aggregation = "layer_mean"',
                                        'aggregation = "layer_mean"\nfold = "x"'),
                  "template.fold", "unknown key")
    # the template pairs layers: an embedding-side input has none
    _config_error(tmp_path, LPZ.replace('["H", "W"]', '["H", "WE"]'), "inputs.WE",
                  "a model-level input has none")


def test_missing_file_and_unknown_name():
    with pytest.raises(ConfigError, match=re.escape("nowhere.toml") + ".*not found"):
        load_language("/nowhere/nowhere.toml")
    with pytest.raises(ConfigError, match="unknown language 'nope'.*default, hybrid, "
                                          "hybrid_layers, lpzero"):
        load_language("nope")
