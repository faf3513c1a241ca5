"""Allow `python -m collector` as well as the `beamwatch` script."""

from collector.cli import main

main()
