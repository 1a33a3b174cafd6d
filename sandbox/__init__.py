"""The sandbox moved into the distribution as `devdb_sandbox` (pip install "django-devdb[sandbox]").

This shim keeps imports written before the move working: `sandbox.X` is the same module as
`devdb_sandbox.X` (one SIM, one set of rules). New code imports devdb_sandbox.
"""

import importlib
import sys

for _name in ("aws_rules", "moto_server", "server", "serve"):
    sys.modules[f"{__name__}.{_name}"] = globals()[_name] = importlib.import_module(f"devdb_sandbox.{_name}")
