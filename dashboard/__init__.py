"""The dashboard's static files, served by the collector; no build step."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent
