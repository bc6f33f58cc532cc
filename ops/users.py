"""`python -m ops.users disable|enable|delete EMAIL`: an operator disables, enables or
deletes a user. The user's tokens stop working on every API process within about a second;
a disabled user's login answers 401 account_disabled. A deleted user is kept, anonymised
(name, e-mail, password, address and phone wiped), so its orders and tickets keep their
customer; a deleted partner's staff are disabled too. Prints the user ids changed."""

from __future__ import annotations

import argparse
import asyncio
import sys

from engine.accounts import UserAdmin
from engine.errors import NotFound
from engine.settings import get_settings
from engine.store.pg_accounts import PgAccountStore
from engine.store.redis_revocation import RedisRevocationCopy
from engine.store.resources import open_resources

EXIT_NOT_FOUND = 2


async def main(action: str, email: str) -> int:
    resources = await open_resources(get_settings(), pool_size=2)
    try:
        admin = UserAdmin(PgAccountStore(resources.pool), RedisRevocationCopy(resources.redis))
        act = {"disable": admin.disable, "enable": admin.enable, "delete": admin.delete}[action]
        user_ids = await act(email)
    except NotFound as exc:
        print(f"users: {exc.detail}", file=sys.stderr)
        return EXIT_NOT_FOUND
    finally:
        await resources.close()
    print(f"{action}d user ids: {', '.join(str(user_id) for user_id in user_ids)}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["disable", "enable", "delete"])
    parser.add_argument("email")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.action, options.email)))
