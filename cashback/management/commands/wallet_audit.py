"""``manage.py wallet_audit``: check every wallet's balances against its ledger (details:
:mod:`cashback.services.ledger_audit`). Prints each mismatch, then ``Checked 1,234 wallets: 0 mismatches``; exits
with status 1 when anything does not add up, so cron, CI or an operator's shell can act on it. Read-only.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cashback.models import Wallet
from cashback.services.ledger_audit import wallets_audit_run


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 'es' if word.endswith('ch') else 's'}"


class Command(BaseCommand):
    help = (
        "Check that every wallet's available, held, pending and lifetime earned balances match its ledger and that "
        "each ledger row follows from the one before it. Exits 1 on any mismatch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wallet", type=int, action="append", metavar="ID", help="check only this wallet (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wallet_ids: list[int] | None = options["wallet"]
        if wallet_ids is not None:
            missing = sorted(
                set(wallet_ids) - set(Wallet.objects.filter(pk__in=wallet_ids).values_list("pk", flat=True))
            )
            if missing:
                raise CommandError(f"No wallet {', '.join(str(pk) for pk in missing)}.")
        result = wallets_audit_run(wallet_ids=wallet_ids)
        for mismatch in result.mismatches:
            self.stdout.write(mismatch.describe())
        self.stdout.write(f"Checked {_plural(result.checked, 'wallet')}: {_plural(len(result.mismatches), 'mismatch')}")
        if result.mismatches:
            broken = len({mismatch.wallet_id for mismatch in result.mismatches})
            verb = "does" if broken == 1 else "do"
            raise CommandError(
                f"{_plural(broken, 'wallet')} {verb} not add up: see the mismatches above.", returncode=1
            )
