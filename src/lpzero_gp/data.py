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

from .errors import DataFileError

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
for _i in range(20):
    for _j in range(10):
        _rel = f"lts/random_GPT2_wt103/config_{_i}/j{_j}/model_config.yaml"
        KNOWN_FILES[_rel] = DataFile(_rel, f"{_ARCHAI}/config_{_i}/j{_j}/model_config.yaml", None)


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
        raise DataFileError(f"data file {relpath!r} is missing from the data folder {root} "
                            f"({why})." + _how_to_provide(relpath, root))
    try:
        _download(known, path)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataFileError(f"data file {relpath!r} is missing from the data folder {root} and "
                            f"could not be downloaded from {known.url}: {exc}."
                            + _how_to_provide(relpath, root)) from exc
    return path


def _download(known: DataFile, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
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
