"""``python -m lpzero_gp.cli``: the ``lpzero-gp`` command."""
import sys

from . import main

sys.exit(main())
