"""The embedded sandbox: a local moto server seeded like a small AWS account, for demos, tests and benchmarks.

Never imported by the app's runtime code.
"""
