"""python -m hotline -> the command line."""

from hotline.cli import main

raise SystemExit(main())
