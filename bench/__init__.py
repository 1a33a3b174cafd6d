"""Benchmarks (not tests): `python -m bench.refresh_calls`, `python -m bench.admin_changelist`. See BENCHMARKS.md."""
