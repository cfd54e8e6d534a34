"""``python -m qkdcircuits.cli``: the ``abft-qkd`` command without the console script."""

import sys

from qkdcircuits.cli import main

sys.exit(main())
