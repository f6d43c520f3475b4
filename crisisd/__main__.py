"""`python -m crisisd` is the `crisisd` command."""

from crisisd.cli.app import main

main()
