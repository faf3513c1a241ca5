"""beamwatch's central side: stores, the API, alert rules and the command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("beamwatch")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
