"""``python -m training.commands``: the ``lunar`` command."""

import sys

from training.commands.main import main

sys.exit(main())
