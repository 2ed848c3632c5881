"""The three-way split (search / validation / test) on the depths of the real benchmarks, its
config key, and the provenance helpers."""
from __future__ import annotations

import math
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from lpzero_gp.errors import ConfigError
from lpzero_gp.search import api, load_spec, provenance
from lpzero_gp.search.config import SearchConfig
from lpzero_gp.search.split import SPLIT_NAMES, choose_probes, make_split

REPO = Path(__file__).resolve().parents[1]
FRACTIONS = (0.4, 0.3, 0.3)


class DepthBank:
    """What a split reads of an input bank: record ids, labels and the (N, L) layer mask."""

    def __init__(self, depths, quality=None):
        depths = [int(d) for d in depths]
        self.record_ids = [f"r{i}" for i in range(len(depths))]
        self.layer_mask = torch.arange(max(depths)).unsqueeze(0) < torch.tensor(depths)[:, None]
        self.quality = np.arange(len(depths), dtype=np.float64) if quality is None else quality

    def __len__(self):
        return len(self.record_ids)


@pytest.fixture(scope="module")
def depths(bert) -> dict[str, np.ndarray]:
    """Depths of the records of both benchmarks in the data folder."""
    from lpzero_gp.spaces import get_space
    gpt2 = [r.config.n_layer for r in get_space("gpt2").load_benchmark().records]
    return {"flexibert": bert[1].astype(int), "gpt2": np.array(gpt2)}


@pytest.mark.parametrize("space", ["flexibert", "gpt2"])
def test_splits_are_disjoint_covering_and_stratified_by_depth(space, depths):
    d = depths[space]
    split = make_split(DepthBank(d), FRACTIONS, seed=0)
    parts = split.parts()
    assert all(set(a).isdisjoint(b) for a in parts.values() for b in parts.values() if a is not b)
    assert sorted(i for p in parts.values() for i in p) == list(range(len(d)))
    for depth, size in Counter(d.tolist()).items():
        counts = [sum(d[i] == depth for i in p) for p in parts.values()]
        if size >= 3:
            assert min(counts) >= 1, (depth, counts)
        quotas = [f * size for f in FRACTIONS]
        if min(quotas) >= 1:  # no split needed topping up: floor or ceiling of each quota
            assert all(math.floor(q) <= c <= math.ceil(q) for q, c in zip(quotas, counts))
    for name, fraction in zip(SPLIT_NAMES, FRACTIONS):
        assert abs(len(parts[name]) - fraction * len(d)) <= len(set(d.tolist()))


def test_split_is_seeded(depths):
    bank = DepthBank(depths["gpt2"])
    first = make_split(bank, FRACTIONS, seed=7, probes=3, subsets=2)
    assert first == make_split(bank, FRACTIONS, seed=7, probes=3, subsets=2)
    assert first.parts() != make_split(bank, FRACTIONS, seed=8, probes=3, subsets=2).parts()
    assert set(first.probes) <= set(first.search)
    assert all(max(s) < len(first.search) for s in first.subsets)
    written = first.as_dict(bank.record_ids)
    assert written["seed"] == 7 and written["fractions"] == list(FRACTIONS)
    assert set(written) >= {*SPLIT_NAMES, "probes", "subsets"}


def test_small_strata_and_a_too_small_search_split():
    depths = [2] * 3 + [4] + [6] * 2 + [8] * 3 + [10] * 5
    for seed in range(5):
        parts = make_split(DepthBank(depths), FRACTIONS, seed=seed).parts()
        for depth in (2, 8):  # three of a depth: one in each split
            held = sorted(name for name, p in parts.items() for i in p if depths[i] == depth)
            assert held == sorted(SPLIT_NAMES)
    with pytest.raises(ConfigError, match="search split holds 1 records.*split_fractions"):
        make_split(DepthBank([2, 2, 2, 4]), FRACTIONS, seed=0)


def test_probes_spread_over_sizes_else_depth():
    bank = DepthBank([2, 4, 6, 8, 10])
    search = (0, 1, 2, 3, 4)
    assert choose_probes(bank, search, 3) == (0, 2, 4)
    sizes = np.array([50.0, 10.0, 30.0, 20.0, 40.0])
    assert choose_probes(bank, search, 3, sizes) == (0, 1, 2)
    with pytest.raises(ValueError, match="shape"):
        choose_probes(bank, search, 3, sizes[:4])


def test_weight_sizes_only_from_a_bank_that_has_tensor_numel():
    class WithSizes(DepthBank):
        def tensor_numel(self, name):
            if name != "W":
                raise KeyError(name)
            return np.array([3.0, 1.0, 2.0])
    assert api.weight_sizes(DepthBank([2, 2, 2])) is None
    assert api.weight_sizes(WithSizes([2, 2, 2])).tolist() == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("bad", [[0.5, 0.5], [0.5, 0.3, 0.3], [0.0, 0.5, 0.5],
                                 [-0.2, 0.6, 0.6], [True, 0.5, 0.5], "0.4 0.3 0.3",
                                 [0.4, 0.3, float("nan")]])
def test_bad_split_fractions_name_the_key(bad):
    with pytest.raises(ConfigError, match="split_fractions"):
        load_spec({"split_fractions": bad})


def test_split_fractions_key_and_the_retired_search_fraction(tmp_path):
    assert SearchConfig().split_fractions == list(FRACTIONS)
    assert load_spec({"split_fractions": (0.5, 0.25, 0.25 + 1e-10)}).search.split_fractions[0] \
        == 0.5
    old = tmp_path / "old.toml"
    old.write_text("[search]\nsearch_fraction = 0.5\n")
    with pytest.raises(ConfigError, match=r"old\.toml.*search_fraction.*split_fractions"):
        load_spec(old)
    for space in ("flexibert", "gpt2"):
        spec = load_spec(REPO / "experiments" / space / "config.toml")
        assert len(spec.search.split_fractions) == 3


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=folder, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_of_a_checkout_else_none(tmp_path, monkeypatch):
    assert provenance.git_commit(tmp_path) is None
    assert provenance.git_commit(tmp_path / "absent") is None
    repo = tmp_path / "repo"
    (repo / "ignored").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("ignored/\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "first")
    head = _git(repo, "rev-parse", "HEAD")
    assert provenance.git_commit(repo) == head
    assert provenance.git_commit(repo / "ignored") is None  # e.g. an installed copy
    (repo / "new.txt").write_text("x")
    assert provenance.git_commit(repo) == f"{head}-dirty"

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")
    monkeypatch.setattr(subprocess, "run", no_git)
    assert provenance.git_commit(repo) is None


def test_search_keywords_are_the_config_tables_keys():
    """search() takes every key of the [search] and [capture] tables as a keyword (capture's
    seed as capture_seed), from one list derived from the dataclasses."""
    import dataclasses
    import inspect

    from lpzero_gp import run_search
    from lpzero_gp.cache import CaptureSettings
    from lpzero_gp.search import search
    from lpzero_gp.search.config import setting_keywords, spec_with
    assert run_search is search
    keywords = setting_keywords()
    assert {f.name for f in dataclasses.fields(SearchConfig)} <= set(keywords)
    assert {f.name for f in dataclasses.fields(CaptureSettings)} - {"seed"} <= set(keywords)
    assert set(keywords) <= set(inspect.signature(search).parameters)
    spec = spec_with({"search": {"population": 30}}, dict(
        space="gpt2", tournament_size=5, capture_seed=4, batch_size=2, records=["a", "b"],
        generations=None))
    assert (spec.search.space, spec.search.population, spec.search.tournament_size,
            spec.search.generations) == ("gpt2", 30, 5, SearchConfig().generations)
    assert (spec.capture.seed, spec.capture.batch_size, spec.records.ids) == (4, 2, ["a", "b"])
    with pytest.raises(TypeError, match="unknown search setting 'batch'"):
        search("flexibert", batch=2)
