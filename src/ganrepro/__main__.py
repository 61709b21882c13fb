"""``python -m ganrepro`` = the ``ganrepro`` command."""

import sys

from ganrepro.cli import main

sys.exit(main())
