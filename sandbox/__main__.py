"""`python -m sandbox` is `python -m devdb_sandbox` (see sandbox/__init__.py)."""

from devdb_sandbox.__main__ import main

main()
