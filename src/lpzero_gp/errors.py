"""Errors raised by lpzero-gp. Each names what it is about: a file, a record, a formula."""


class LpzeroError(Exception):
    """Base class of every error lpzero-gp raises on purpose."""


class DataFileError(LpzeroError):
    """A data file is missing, cannot be downloaded, or fails its checksum."""


class RecordError(LpzeroError):
    """A benchmark record is malformed. The message names the file and the record id."""


class FormulaError(LpzeroError):
    """A proxy formula cannot be parsed or typed. The message points at the offending part."""


class ConfigError(LpzeroError):
    """A configuration or primitive-set file is malformed. The message names the file and key."""
