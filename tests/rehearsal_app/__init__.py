"""A test-only app whose migrations a rehearsal applies: 0001 creates `item`, 0002 and 0004 add a column,
0003 makes `code` unique (it fails when the table holds duplicates), 0005 and 0006 are data migrations
written the ordinary way (a default manager; a raw cursor on django.db.connection), and a post_migrate
receiver (apps.py) updates rows without `using`. Installed only by the rehearsal tests."""
