"""The names of the fitness options and selections (no imports: read by the CLI's help).
What each option computes: :mod:`.fitness`."""

FITNESSES = ("spearman", "kendall", "partial", "within-depth", "lexicographic-tiebreak")
PLAIN = ("spearman", "kendall")
NEEDS_DESCRIPTOR = ("partial", "lexicographic-tiebreak")
NEEDS_GROUPS = ("within-depth",)
# the objective "size" of a multi-objective search: the formula's node count, minimised
SIZE_OBJECTIVE = "size"
SELECTIONS = ("tournament", "nsga2")
# how a search over several spaces combines a formula's fitness on each space
AGGREGATES = ("mean", "min")
DEFAULT_AGGREGATE = "mean"
