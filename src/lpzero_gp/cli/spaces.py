"""``lpzero-gp spaces``: the registered search spaces."""
from __future__ import annotations

from ..spaces import space_names


def cmd_spaces(args) -> int:
    """Every registered space: benchmark, variants, objectives, presets, headline descriptors."""
    from ..spaces import get_space
    for name in space_names():
        space = get_space(name)
        print(f"{name}: benchmark {space.benchmark}; variants {', '.join(space.variants)}; "
              f"objectives {', '.join(space.objectives)}; tokenizer {space.tokenizer}"
              + (f"; presets {', '.join(space.presets)}" if space.presets else "")
              + f"; headline descriptors {', '.join(space.headline_descriptors)}"
              + f" ({type(space).__module__})")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("spaces", help="list the registered search spaces")
    p.set_defaults(func=cmd_spaces)
