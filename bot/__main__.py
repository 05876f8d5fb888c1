"""`python -m bot` is the same as the `newsalert` console script."""

from bot.cli import main

main()
