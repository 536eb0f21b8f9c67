import sys

from codename_shell.cli import main

sys.exit(main())
