"""What a ``--proxy`` argument names: a formula, ``published:lpzero``, a JSON proxy file (as
written by search) or a text file holding one formula."""
from __future__ import annotations

from pathlib import Path

from ..errors import FormulaError, LpzeroError, MissingFileError, UsageError

# a --proxy argument with one of these endings names a file (else: a formula, unless it is an
# existing file)
PROXY_FILE_SUFFIXES = (".json", ".txt")


def load_proxy(text: str, language: str | None, space: str | None = None):
    """A proxy from a JSON file path, ``published:lpzero`` (LPZero's published proxy of
    ``space``) or a formula string."""
    from ..language import Proxy
    if text.startswith("published:"):
        from ..baselines.in_language import published_proxy
        name = text.split(":", 1)[1]
        if name != "lpzero":
            raise UsageError(f"unknown published proxy {name!r}: known: published:lpzero")
        if space is None:
            raise UsageError("published:lpzero needs a search space (--space)")
        try:
            return published_proxy(space).proxy()
        except LpzeroError:
            raise
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    path = proxy_file(text)
    if path is not None:
        if path.suffix.lower() == ".json" or _starts_like_json(path):
            return Proxy.from_json(path)
        return Proxy.parse(_read_formula_file(path), language or "default")
    return Proxy.parse(text, language or "default")


def _exists(text: str) -> bool:
    """Whether ``text`` names an existing file or folder; ``False`` for what cannot be a path
    (too long, a NUL byte) instead of an error."""
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def proxy_file(text: str) -> Path | None:
    """The file a ``--proxy`` argument names, or ``None`` when it is a formula: a file when it
    ends in .json or .txt (then it must exist) or is an existing path (a folder is an error).
    A formula of any length is never mistaken for a path."""
    if not text.strip():  # "" would be the current folder
        return None
    named = text.lower().endswith(PROXY_FILE_SUFFIXES)
    if not named and not _exists(text):
        return None
    path = Path(text)
    try:
        if path.is_dir():
            raise UsageError(f"--proxy {text} is a folder; give a proxy file (JSON, as written "
                             f"by search) or a formula")
        if not path.is_file():
            raise MissingFileError(f"proxy file {text} does not exist; give an existing JSON "
                                   f"file or a formula")
    except OSError as exc:
        if isinstance(exc, LpzeroError):
            raise
        raise MissingFileError(f"proxy file {text[:200]} cannot be read: {exc.strerror}") \
            from None
    return path


def _starts_like_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def _read_formula_file(path: Path) -> str:
    """The formula of a text file (its whole text, stripped)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise FormulaError(f"proxy file {path} is not UTF-8 text; give a JSON proxy file or a "
                           f"text file holding one formula") from None
    except OSError as exc:
        raise MissingFileError(f"proxy file {path} cannot be read: {exc.strerror}") from None


def load_found_file(text: str):
    """The :class:`~lpzero_gp.search.found.FoundProxy` of a JSON proxy file, ``None`` for a
    formula string."""
    path = proxy_file(text)
    if path is None or not (path.suffix.lower() == ".json" or _starts_like_json(path)):
        return None
    from ..search.found import read_found
    return read_found(path)
