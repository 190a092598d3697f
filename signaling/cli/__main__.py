"""``python -m signaling.cli``: the ``roomserver`` command."""

import sys

from signaling.cli.main import main

sys.exit(main())
