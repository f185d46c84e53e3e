"""hwnas: hardware-aware, multi-objective NAS over the Once-for-All MobileNetV3 space.

The nouns: :class:`Arch` (one subnet) and :class:`Space` (all of them); a Device with its latency
Table (``latency``); a Profiler that builds tables; an Oracle that measures accuracy and a Predictor
that guesses it (``predictors``); a Search that spends oracle queries; a Run folder that keeps it
all.

Importing hwnas is cheap: torch and ofa load only when something needs them.
"""

__version__ = "0.1.0"

from .arch import Arch  # noqa: E402
from .cost import macs_params  # noqa: E402
from .errors import HwnasError  # noqa: E402
from .space import Space, get_space  # noqa: E402

__all__ = ["Arch", "Space", "get_space", "HwnasError", "__version__", "macs_params"]
