"""`python -m ktrdr` runs the command line."""

from ktrdr.cli.main import main

main()
