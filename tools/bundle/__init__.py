"""`make bundle`: an archive to provision from with no registry (tools/bundle/__main__.py)."""
