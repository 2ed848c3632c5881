"""Errors raised by lpzero-gp, and the one error path of its commands.

Each error names what it is about: a file, a record, a formula, an option. Every class derives
from :class:`LpzeroError` *and* from the matching built-in exception, so a Python caller may
catch either (``except ValueError`` catches a malformed formula, ``except FileNotFoundError`` a
missing data file). Each class carries the exit status of its category:

====  =============================================================================
code  meaning
====  =============================================================================
0     success
1     the command ran but has no answer (a proxy invalid on every record, fewer than
      3 valid distinct scores, a search that found no valid formula)
2     usage: an unknown option, command or choice, or an option value out of range
      (:class:`UsageError`)
3     formula: a proxy formula that cannot be parsed or typed (:class:`FormulaError`)
4     config: a search config or primitive-set file that is malformed
      (:class:`ConfigError`)
5     data: a benchmark, data or text file that is missing, unreadable or malformed, or
      a malformed record (:class:`DataFileError`, :class:`RecordError`)
6     output: a results folder that holds results, a missing checkpoint to resume, an
      output that cannot be written (:class:`OutputError`)
7     capture: a model failed while its inputs were captured (:class:`CaptureError`)
70    internal error: a bug of lpzero-gp (set ``LPZERO_GP_TRACEBACK=1`` to see the
      traceback, and please report it)
130   interrupted (Ctrl-C); 143: terminated (SIGTERM). Files are written atomically,
      so nothing is left half-written.
====  =============================================================================

:func:`run_command` is the error path shared by ``lpzero-gp`` and ``experiments/*/run.py``:
one line ``<prog>: error: <message>`` on stderr and the category's exit status, never a
traceback for a mistake of input.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings

EXIT_OK = 0
EXIT_NO_ANSWER = 1
EXIT_USAGE = 2
EXIT_FORMULA = 3
EXIT_CONFIG = 4
EXIT_DATA = 5
EXIT_OUTPUT = 6
EXIT_CAPTURE = 7
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: the exit statuses, for the commands' --help
EXIT_STATUS_TEXT = """exit status:
  0    success
  1    ran, but no answer (proxy invalid on every record, < 3 valid distinct scores,
       a search that found no valid formula)
  2    usage: unknown option or choice, option value out of range
  3    formula: cannot be parsed or typed
  4    config: malformed search config or primitive-set file
  5    data: benchmark, data or text file missing, unreadable or malformed
  6    output: results folder holds results, no checkpoint to resume, cannot write
  7    capture: a model failed while its inputs were captured
  70   internal error (a bug: LPZERO_GP_TRACEBACK=1 shows the traceback)
  130  interrupted (Ctrl-C); 143: terminated"""


class LpzeroError(Exception):
    """Base class of every error lpzero-gp raises on purpose."""

    exit_status = EXIT_USAGE

    def one_line(self) -> str:
        """The message on one line (what the commands print)."""
        return " ".join(line.strip() for line in str(self).splitlines() if line.strip())


class UsageError(LpzeroError, ValueError):
    """A value given to a command or function (an option, an argument) is not one it takes."""

    exit_status = EXIT_USAGE


class FormulaError(LpzeroError, ValueError):
    """A proxy formula cannot be parsed or typed. The message points at the offending part."""

    exit_status = EXIT_FORMULA

    def one_line(self) -> str:
        # the parser's message is "<why>\n  <formula>\n  <carets>": one line with the position
        # and a short excerpt instead (a formula may be thousands of characters long)
        lines = str(self).splitlines()
        if len(lines) == 3 and lines[2].strip() and set(lines[2].strip()) == {"^"}:
            text, caret = lines[1][2:], lines[2][2:]
            start = len(caret) - len(caret.lstrip())
            width = len(caret.strip())
            lo, hi = max(0, start - 30), min(len(text), start + width + 30)
            excerpt = (("..." if lo else "") + text[lo:start] + ">>" + text[start:start + width]
                       + "<<" + text[start + width:hi] + ("..." if hi < len(text) else ""))
            return f"{lines[0]} (at character {start + 1}: {excerpt})"
        return super().one_line()


class ConfigError(LpzeroError, ValueError):
    """A configuration or primitive-set file is malformed. The message names the file and key."""

    exit_status = EXIT_CONFIG


class DataFileError(LpzeroError, OSError):
    """A data file (benchmark, tokenizer, text) cannot be used: unreadable, malformed, not
    downloadable, or failing its checksum."""

    exit_status = EXIT_DATA


class MissingFileError(DataFileError, FileNotFoundError):
    """A data file (benchmark, tokenizer, text, proxy file) does not exist."""


class RecordError(LpzeroError, ValueError):
    """A benchmark record is malformed. The message names the file and the record id."""

    exit_status = EXIT_DATA


class OutputError(LpzeroError, OSError):
    """An output cannot be written where it was asked for."""

    exit_status = EXIT_OUTPUT


class ResultsExistError(OutputError, FileExistsError):
    """A results folder already holds results that a new run would overwrite."""


class NoCheckpointError(OutputError, FileNotFoundError):
    """A run to resume has no (readable) checkpoint."""


class CaptureError(LpzeroError, RuntimeError):
    """Building or running a model to capture its inputs failed (the message names the
    record)."""

    exit_status = EXIT_CAPTURE


class NoResultError(LpzeroError, RuntimeError):
    """The work ran but gave no answer (e.g. a search that found no valid formula)."""

    exit_status = EXIT_NO_ANSWER


class EngineError(LpzeroError, RuntimeError):
    """The engine that runs parallel work (``--engine``, ``--address``, ``--workers``) cannot
    be used: an unknown engine, a cluster that cannot be reached, a task whose worker died
    more often than it may be retried."""

    exit_status = EXIT_USAGE


class EngineUnavailableError(EngineError, ImportError):
    """``--engine ray`` without Ray installed (the message says how to install it)."""


class LpzeroWarning(UserWarning):
    """A warning the commands print as one ``<prog>: warning: ...`` line."""


def exit_status(exc: BaseException) -> int:
    """The exit status of the category of ``exc`` (see the module docstring)."""
    if isinstance(exc, LpzeroError):
        return exc.exit_status
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that ``finally`` blocks run."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block) and exit with 2."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _bounded_int(text, 1)


def nonnegative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _bounded_int(text, 0)


def at_least(low: int):
    """argparse type: a whole number >= ``low``."""
    def parse(text: str) -> int:
        return _bounded_int(text, low)
    parse.__name__ = f"whole number >= {low}"
    return parse


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}") \
            from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
    return value


def _on_sigterm(signum, frame):
    raise Terminated()


def run_command(prog: str, func, *args) -> int:
    """Call ``func(*args)`` (which returns an exit status) on the commands' one error path.

    A :class:`LpzeroError` prints ``<prog>: error: <message>`` (one line) and returns its
    category's status; Ctrl-C prints ``<prog>: interrupted`` and returns 130 (SIGTERM: 143);
    an ``argparse`` exit returns its status; any other exception is a bug: one line naming it
    and 70 (``LPZERO_GP_TRACEBACK=1`` re-raises it). :class:`LpzeroWarning`\\ s are printed as
    ``<prog>: warning: <message>``.
    """
    previous = None
    in_main_thread = _in_main_thread()
    if in_main_thread:
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # pragma: no cover - not the main interpreter
            previous = None

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, LpzeroWarning):
            _print_err(f"{prog}: warning: {message}")
        else:
            _print_err(warnings.formatwarning(message, category, filename, lineno, line)
                       .rstrip("\n"))

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            return int(func(*args) or 0)
    except SystemExit as exc:  # argparse: --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except LpzeroError as exc:
        _print_err(f"{prog}: error: {exc.one_line()}")
        return exc.exit_status
    except Terminated:
        _print_err(f"{prog}: terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _print_err(f"{prog}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the interpreter's flush
        except OSError:  # pragma: no cover
            pass
        return 141
    except RecursionError:
        if os.environ.get("LPZERO_GP_TRACEBACK"):
            raise
        _print_err(f"{prog}: error: the input is nested too deeply to process (Python's "
                   f"recursion limit); simplify it")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, said in one line
        if os.environ.get("LPZERO_GP_TRACEBACK"):
            raise
        text = " ".join(str(exc).split())[:300]
        _print_err(f"{prog}: internal error: {type(exc).__name__}: {text} (a bug of "
                   f"lpzero-gp; rerun with LPZERO_GP_TRACEBACK=1 for the traceback and please "
                   f"report it)")
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _print_err(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass
