"""`python -m crisisd` is the `crisisd` command."""

from crisisd.cli import main

main()
