"""A test-only app whose migrations a rehearsal applies: 0001 creates `item`, 0002 and 0004 add a column,
0003 makes `code` unique (it fails when the table holds duplicates). Installed only by the rehearsal tests."""
