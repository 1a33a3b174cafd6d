"""Masking throughput: devdb's set-based masking vs a row-by-row ORM loop vs django-scrubber.

    .venv/bin/pip install django-scrubber            # only for the comparison
    .venv/bin/python -m bench.mask [--rows 1000000] [--loop-sample 20000] [--vendors mysql,postgresql]
                                   [--batch-size 20000] [--json bench/results/mask.json]

For each server (MariaDB 127.0.0.1:3306, PostgreSQL 127.0.0.1:5432) the bench creates a scratch
database bench_masking_<random>, the example shop's Customer table (email unique, first_name,
last_name, phone, birth_date, notes, last_login_ip) and seeds --rows customers with one
INSERT ... SELECT (MariaDB's sequence engine / generate_series), then masks those same rows three
ways, reseeding before each:

  devdb      devdb.masking.mask_clone with the example project's rules for shop.Customer (all seven
             columns; HMAC-SHA256 keyed rules; batches of --batch-size; includes sampling and
             verification). Timed over all rows.
  row loop   the ORM, one row at a time: fetch, compute the same kind of masked values in Python,
             save(update_fields=...) in autocommit. Timed over the first --loop-sample rows only
             (a full 1,000,000-row loop takes too long on this machine): rows/s of that sample.
  scrubber   django-scrubber's ScrubberService (what `manage.py scrub_data --model shop.Customer`
             runs) with Faker/Hash/Lorem scrubbers on the same seven columns. Timed over all rows,
             including building its fake-data table.

Prints a table of rows/s per method and server; --json writes it too. Drops its databases.
"""

import argparse
import hashlib
import hmac
import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench key: at least 32 bytes long"
MYSQL = {"vendor": "mysql", "host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES = {"vendor": "postgresql", "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": ""}
FIRST = ("Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James")
LAST = ("Smith", "Johnson", "Garcia", "Mueller", "Nguyen", "Kowalski", "Rossi", "Dubois", "Tanaka", "Silva")


class Router:
    """Sends django-scrubber's queries (shop, its FakeData) to the server being measured."""

    alias = "default"

    def db_for_read(self, model, **hints):
        return Router.alias

    db_for_write = db_for_read


def configure():
    import django
    from django.conf import settings

    sys.path.insert(0, str(ROOT))
    apps = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "project.shop"]
    try:
        import django_scrubber  # noqa: F401

        apps.append("django_scrubber")
    except ImportError:
        pass
    settings.configure(
        DEBUG=True, USE_TZ=True, INSTALLED_APPS=apps, DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DATABASE_ROUTERS=["bench.mask.Router"], SCRUBBER_ENTRIES_PER_PROVIDER=1000,
    )
    django.setup()
    return "django_scrubber" in apps


def seed_sql(vendor, rows):
    first = ", ".join(f"'{n}'" for n in FIRST)
    last = ", ".join(f"'{n}'" for n in LAST)
    if vendor == "mysql":
        fn, ln = f"ELT(1 + MOD(seq, 10), {first})", f"ELT(1 + MOD(seq * 7, 10), {last})"
        return (
            "INSERT INTO shop_customer (id, email, first_name, last_name, phone, birth_date, notes, last_login_ip) "
            f"SELECT seq, CONCAT(LOWER({fn}), '.', LOWER({ln}), '.', seq, '@mail', MOD(seq, 7), '.example.com'), "
            f"{fn}, {ln}, CONCAT('+44 7', LPAD(MOD(seq, 1000), 3, '0'), ' ', LPAD(MOD(seq * 7919, 1000000), 6, '0')), "
            "DATE_ADD('1950-01-01', INTERVAL MOD(seq * 37, 20000) DAY), "
            "CONCAT('Prefers delivery after 5pm; called ', MOD(seq, 9), ' times about order ', seq, '.'), "
            "CONCAT(11 + MOD(seq, 200), '.', MOD(seq, 256), '.', MOD(seq DIV 256, 256), '.', 1 + MOD(seq, 254)) "
            f"FROM seq_1_to_{rows}")
    fn, ln = f"(ARRAY[{first}])[1 + MOD(n, 10)]", f"(ARRAY[{last}])[1 + MOD(n * 7, 10)]"
    return (
        "INSERT INTO shop_customer (id, email, first_name, last_name, phone, birth_date, notes, last_login_ip) "
        f"SELECT n, LOWER({fn}) || '.' || LOWER({ln}) || '.' || n || '@mail' || MOD(n, 7) || '.example.com', "
        f"{fn}, {ln}, '+44 7' || LPAD(MOD(n, 1000)::text, 3, '0') || ' ' || LPAD(MOD(n * 7919, 1000000)::text, 6, '0'), "
        "DATE '1950-01-01' + MOD(n * 37, 20000)::int, "
        "'Prefers delivery after 5pm; called ' || MOD(n, 9) || ' times about order ' || n || '.', "
        "((11 + MOD(n, 200)) || '.' || MOD(n, 256) || '.' || MOD(n / 256, 256) || '.' || (1 + MOD(n, 254)))::inet "
        f"FROM generate_series(1::bigint, {rows}) AS n")


class Scratch:
    def __init__(self, server):
        from devdb.masking import connection_for

        self.server = server
        self.name = f"bench_masking_{uuid.uuid4().hex[:8]}"
        self._admin("CREATE DATABASE {}" + (" CHARACTER SET utf8mb4" if server["vendor"] == "mysql" else ""))
        self.params = {**server, "database": self.name}
        self._context = connection_for(self.params)
        self.alias = self._context.__enter__()

    def _admin(self, sql):
        from devdb.masking import connection_for

        maintenance = "mysql" if self.server["vendor"] == "mysql" else "postgres"
        with connection_for({**self.server, "database": maintenance}) as alias:
            from django.db import connections

            connections[alias].ensure_connection()
            connections[alias].connection.autocommit = True if self.server["vendor"] == "postgresql" else None
            with connections[alias].cursor() as cursor:
                cursor.execute(sql.format(self.name))

    def execute(self, sql):
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql)

    def create(self, models):
        from django.db import connections

        with connections[self.alias].schema_editor() as editor:
            for model in models:
                editor.create_model(model)

    def reseed(self, rows):
        started = time.perf_counter()
        self.execute("DROP TABLE IF EXISTS devdb_masking_progress")
        self.execute("TRUNCATE TABLE shop_customer")
        self.execute(seed_sql(self.server["vendor"], rows))
        if self.server["vendor"] == "postgresql":
            self.execute("VACUUM ANALYZE shop_customer")
        return time.perf_counter() - started

    def drop(self):
        self._context.__exit__(None, None, None)
        self._admin("DROP DATABASE IF EXISTS {}" + (" WITH (FORCE)" if self.server["vendor"] == "postgresql" else ""))


def masked_in_python(customer):
    """What the row loop computes per row: keyed values like devdb's rules, in Python."""
    def h(value):
        return hmac.new(KEY.encode(), str(value).encode(), hashlib.sha256).hexdigest()

    customer.email = f"u{h(customer.email)[:16]}.{customer.pk}@example.invalid"
    customer.first_name = f"{FIRST[int(h(customer.first_name)[:8], 16) % 10]}-{h(customer.first_name)[8:11]}"
    customer.last_name = f"{LAST[int(h(customer.last_name)[:8], 16) % 10]}-{h(customer.last_name)[8:11]}"
    customer.phone = f"+1 555 01{int(h(customer.phone)[:8], 16) % 100:02d} {int(h(customer.phone)[8:16], 16) % 10000:04d}"
    from datetime import timedelta

    customer.birth_date = customer.birth_date + timedelta(days=1 + int(h(customer.pk)[:8], 16) % 180)
    customer.notes = f"masked {h(customer.notes)[:8]} lorem ipsum dolor sit amet"[:64]
    customer.last_login_ip = f"192.0.2.{1 + int(h(customer.last_login_ip)[:8], 16) % 254}"


def run_devdb(db, batch_size):
    from devdb.masking import mask_clone

    from django.conf import settings

    settings.DEVDB = {"MASKING_SCHEMAS": [db.name]}  # the masking gate reads this scratch database only
    rules = {"shop.Customer": _project_rules()["shop.Customer"], "table:django_scrubber_fakedata": "keep"}  # its fake data
    started = time.perf_counter()
    report = mask_clone(db.alias, rules, KEY, batch_size=batch_size)
    assert report.ok, report.verification
    return time.perf_counter() - started, report.rows


def _project_rules():
    """DEVDB['MASKING'] of project/settings.py, without importing the module (it reads the environment)."""
    text = (ROOT / "project" / "settings.py").read_text()
    block = text[text.index('DEVDB["MASKING"] = {') + len('DEVDB["MASKING"] = '):]
    depth, end = 0, 0
    for i, ch in enumerate(block):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            end = i + 1
            break
    from devdb.masking import presets

    return eval(block[:end], {"presets": presets})  # noqa: S307 - our own settings file, a literal dict


def run_loop(db, sample):
    from project.shop.models import Customer

    fields = ["email", "first_name", "last_name", "phone", "birth_date", "notes", "last_login_ip"]
    started = time.perf_counter()
    for customer in Customer.objects.using(db.alias).order_by("id")[:sample].iterator(chunk_size=2000):
        masked_in_python(customer)
        customer.save(using=db.alias, update_fields=fields)
    return time.perf_counter() - started, sample


def run_scrubber(db):
    from django.conf import settings
    from django.db.models import Value
    from django_scrubber import scrubbers
    from django_scrubber.models import FakeData
    from django_scrubber.services.scrubber import ScrubberService

    from project.shop.models import Customer

    class CustomerScrubbers:
        email = scrubbers.Concat(scrubbers.Hash, Value("@example.invalid"))
        first_name = scrubbers.Faker("first_name")
        last_name = scrubbers.Faker("last_name")
        phone = scrubbers.Faker("numerify", text="+1 555 01## ####")
        birth_date = scrubbers.Faker("date_of_birth")
        notes = scrubbers.Lorem
        last_login_ip = scrubbers.Faker("ipv4_public")

    router = importlib.import_module("bench.mask").Router  # the settings' copy, not __main__'s
    router.alias = db.alias
    scrubbers.Faker.INITIALIZED_PROVIDERS.clear()
    Customer.Scrubbers = CustomerScrubbers
    settings.SCRUBBER_MAPPING = {}
    started = time.perf_counter()
    try:
        ScrubberService().run(model="shop.Customer", keep_sessions=True)
    finally:
        del Customer.Scrubbers
        router.alias = "default"
    elapsed = time.perf_counter() - started
    assert FakeData.objects.using(db.alias).exists()
    return elapsed


def bench_server(server, args, has_scrubber):
    from project.shop.models import Customer

    models = [Customer]
    if has_scrubber:
        from django_scrubber.models import FakeData

        models.append(FakeData)
    db = Scratch(server)
    results = {}
    try:
        db.create(models)
        seed = db.reseed(args.rows)
        print(f"{server['vendor']}: seeded {args.rows} rows in {seed:.1f}s", file=sys.stderr)
        seconds, rows = run_devdb(db, args.batch_size)
        results["devdb"] = {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}
        print(f"{server['vendor']}: devdb {results['devdb']}", file=sys.stderr)
        db.reseed(args.rows)
        seconds, rows = run_loop(db, min(args.loop_sample, args.rows))
        results["row_loop"] = {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
                               "sampled": True}
        print(f"{server['vendor']}: row loop {results['row_loop']}", file=sys.stderr)
        if has_scrubber:
            db.reseed(args.rows)
            seconds = run_scrubber(db)
            results["scrubber"] = {"rows": args.rows, "seconds": round(seconds, 2),
                                   "rows_per_s": round(args.rows / seconds)}
            print(f"{server['vendor']}: django-scrubber {results['scrubber']}", file=sys.stderr)
    finally:
        db.drop()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--vendors", default="mysql,postgresql")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    has_scrubber = configure()
    servers = {"mysql": MYSQL, "postgresql": POSTGRES}
    table = {vendor: bench_server(servers[vendor], args, has_scrubber) for vendor in args.vendors.split(",")}
    lines = [f"| method | {' | '.join(table)} |", "|---|" + "---:|" * len(table)]
    for method, label in (("devdb", "devdb (set-based, keyed HMAC)"), ("row_loop", "row-by-row ORM loop (sample)"),
                          ("scrubber", "django-scrubber")):
        cells = [f"{table[v][method]['rows_per_s']:,} rows/s" if method in table[v] else "n/a" for v in table]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    for v in table:
        if "row_loop" in table[v]:
            lines.append(f"\n{v}: devdb / row loop = {table[v]['devdb']['rows_per_s'] / table[v]['row_loop']['rows_per_s']:.1f}x"
                         + (f", devdb / django-scrubber = {table[v]['devdb']['rows_per_s'] / table[v]['scrubber']['rows_per_s']:.2f}x"
                            if "scrubber" in table[v] else ""))
    print("\n".join(lines))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": args.rows, "results": table}, indent=2))


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
