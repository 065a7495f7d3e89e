"""``python -m rmt_idinit``: the same as the ``rmt-idinit`` command."""
import sys

from .cli import main

sys.exit(main())
