"""django-devdb: a fresh copy-on-write clone of production Aurora (MySQL or PostgreSQL) for dev, every morning."""

__version__ = "0.3.0"
