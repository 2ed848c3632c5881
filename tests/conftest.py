"""Shared test settings: the data folder (``../shared/data`` unless LPZERO_GP_DATA says
otherwise), no downloads, a private capture cache, one torch thread per process."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LPZERO_GP_DATA", REPO.parent / "shared" / "data")).resolve()
os.environ["LPZERO_GP_DATA"] = str(DATA)
os.environ["LPZERO_GP_OFFLINE"] = "1"
os.environ["LPZERO_GP_CACHE"] = tempfile.mkdtemp(prefix="lpzero-gp-test-cache-")
atexit.register(shutil.rmtree, os.environ["LPZERO_GP_CACHE"], ignore_errors=True)
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "nas-bench-bert" / "BERT_benchmark.json").is_file():
        raise RuntimeError(f"the test data folder {DATA} lacks nas-bench-bert records; set "
                           "LPZERO_GP_DATA to a folder laid out like ../shared/data")
    return DATA


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A capture cache shared by the tests of one session (never the user's own)."""
    return tmp_path_factory.mktemp("capture-cache")


def flexibert_bank(per_depth: int, max_elements: int = 256):
    """Real FlexiBERT architectures, ``per_depth`` of 2 and of 4 layers, the ``trained`` build
    captured on one 2 x 32 batch, stacked in an InputBank (labels included)."""
    from lpzero_gp.bank import InputBank
    from lpzero_gp.capture import capture_inputs
    from lpzero_gp.spaces import get_space
    space = get_space("flexibert")
    records = list(space.load_benchmark(data_dir=DATA))
    chosen = [r for r in records if r.config.n_layers == 2][:per_depth] + \
             [r for r in records if r.config.n_layers == 4][:per_depth]
    batch = space.make_batch(batch_size=2, seq_len=32, seed=0, objective="mlm")
    inputs = [capture_inputs(space.build(r, "trained", seed=0), batch, "mlm",
                             max_elements=max_elements, seed=0) for r in chosen]
    return InputBank.from_inputs(inputs, [r.id for r in chosen], [r.quality for r in chosen])


@pytest.fixture(scope="module")
def bert():
    """NAS-Bench-BERT (the records in the data folder): quality, layers, hidden sizes."""
    import numpy as np
    from lpzero_gp.benchmarks import nasbench_bert
    bench = nasbench_bert.load(DATA / "nas-bench-bert" / "BERT_benchmark.json")
    layers = np.array([r.config.n_layers for r in bench], dtype=np.float64)
    hidden = np.array([r.config.hidden_size for r in bench], dtype=np.float64)
    return bench.quality(), layers, hidden
