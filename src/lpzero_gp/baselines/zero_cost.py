"""Former home of the hand-designed proxies, now :mod:`lpzero_gp.baselines.hand_designed`
(one module per family, registered with :func:`~.hand_designed.hand_designed`); kept so that
old imports work."""
from .hand_designed import *  # noqa: F401,F403
from .hand_designed import __all__, _grasp_value, _guard  # noqa: F401


def __getattr__(name: str):
    from . import hand_designed
    return getattr(hand_designed, name)
