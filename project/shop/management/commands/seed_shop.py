"""`manage.py seed_shop [--customers N]`: the example shop's personal data, for trying masking."""

from django.core.management.base import BaseCommand

from ...models import Customer
from ...seed import seed


class Command(BaseCommand):
    help = "Fill the example shop (customers, addresses, orders) with realistic-looking personal data, once."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000, metavar="N", help="customers to add (default 3000)")
        parser.add_argument("--database", default="default", help="database alias (default: default)")

    def handle(self, *args, customers, database, **options):
        if Customer.objects.using(database).exists():
            self.stdout.write("seed_shop: the shop already has customers; nothing added")
            return
        seed(customers, using=database)
        self.stdout.write(f"seed_shop: {customers} customers, each with an address and an order")
