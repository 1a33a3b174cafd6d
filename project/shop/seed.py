"""Seed the shop with realistic-looking personal data (deterministic for a given seed).

    from project.shop.seed import seed
    seed(3000, using="default")

Used by the sandbox, the masking tests and bench/mask.py. Rows are inserted with bulk_create.
"""

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

FIRST = ("Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James", "Léa", "Jörg",
         "Siobhán", "Zoë", "Mateo", "Aarav", "Yuki", "Chloé", "Ingrid", "Tomás")
LAST = ("Smith", "Johnson", "García", "Müller", "O'Brien", "Nguyen", "Kowalski", "Rossi", "Dubois", "Tanaka",
        "Silva", "Jensen", "Novák", "Ivanova", "Okafor", "Hernández", "Schmidt", "Brown", "Wilson", "Fischer")
CITIES = ("London", "Paris", "Berlin", "Madrid", "Lisbon", "Dublin", "Vienna", "Oslo", "Prague", "Warsaw")
STREETS = ("High Street", "Station Road", "Church Lane", "Rue de la Paix", "Hauptstraße", "Calle Mayor")


def customer_values(i, rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return dict(
        email=f"{first.lower()}.{last.lower().replace(chr(39), '')}.{i}@mail{i % 7}.example.com",
        first_name=first, last_name=last,
        phone=f"+44 7{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
        birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
        notes=f"Prefers delivery after 5pm; called {rng.randrange(1, 9)} times about order {i}.",
        last_login_ip=f"{rng.randrange(11, 220)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    )


def seed(customers, using="default", *, seed=12, addresses=True, orders=True, batch=5000, start=0):
    """Insert `customers` customers (ids start+1...), each with an address and an order."""
    from .models import Address, Customer, Order

    rng = random.Random(seed + start)
    placed = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for offset in range(0, customers, batch):
        ids = range(start + offset + 1, start + min(offset + batch, customers) + 1)
        Customer.objects.using(using).bulk_create([Customer(id=i, **customer_values(i, rng)) for i in ids])
        if addresses:
            Address.objects.using(using).bulk_create([
                Address(id=i, customer_id=i, street=f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
                        city=rng.choice(CITIES), postcode=f"{rng.choice('ABCDEFG')}{rng.randrange(10, 99)} {rng.randrange(1, 9)}XY")
                for i in ids])
        if orders:
            Order.objects.using(using).bulk_create([
                Order(id=i, customer_id=i, total=Decimal(rng.randrange(100, 100000)) / 100,
                      placed_at=placed + timedelta(minutes=rng.randrange(500000)))
                for i in ids])
