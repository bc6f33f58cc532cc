"""Locust login storm: everyone logs in at once when a sale is announced.

Users log in as the plan's login users (real argon2id hashes, made by loadtests.setup) and read
`GET /me` with the token they get; a share type a wrong password. Expected answers: 200, 401
`invalid_credentials` for wrong passwords, and 429 once the failed-login throttle (per e-mail
and per client address; each login user has an address of its own) steps in. Anything else, a
5xx above all, is a failure. Run by `make loadtest` after the sale scenario:

    LOADTEST_PLAN=.data/loadtest-plan.json locust -f loadtests/locust_login.py --headless \
        -u 100 -r 100 -t 15s
"""

from __future__ import annotations

import os
import random
from typing import Any

from locust import between, task

# importing it also registers its init and test-stop listeners (the plan, the record file)
from loadtests.locustfile import RECORD, JudgedUser, address_of, plan

WRONG_PASSWORD_SHARE = float(os.environ.get("LOADTEST_WRONG_PASSWORD", "0.02"))


class LoginStormUser(JudgedUser):
    wait_time = between(0.5, 2)

    @task
    def log_in(self) -> None:
        number = random.randrange(len(plan().login_users))
        email = plan().login_users[number]
        wrong = random.random() < WRONG_PASSWORD_SHARE
        password = "not-the-password" if wrong else plan().login_password
        status, body = self.call(
            "POST",
            "/auth/login",
            "POST /auth/login [wrong password]" if wrong else "POST /auth/login",
            {401, 429} if wrong else {200, 429},
            json={"email": email, "password": password},
            headers={"X-Forwarded-For": address_of(number)},
        )
        RECORD.counts[f"login {status}"] += 1
        if status == 200:
            headers: dict[str, Any] = {"Authorization": f"Bearer {body['access_token']}"}
            self.call("GET", "/me", "GET /me", {200}, headers=headers)
