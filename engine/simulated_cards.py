"""The checkout's simulated card form: test card numbers become the payment tokens the
simulated gateway in `Orders.pay` understands.

No card data is kept or sent anywhere: the number is checked the way a card form checks it
(digits, length, Luhn checksum, expiry not past, 3-4 digit security code) and turned into a
token, as a real payment page's tokeniser would. Which number does what is documented on the
checkout page and in the README:

| card number           | result                                                    |
|-----------------------|-----------------------------------------------------------|
| 4242 4242 4242 4242   | paid (token `tok_visa`)                                   |
| 4000 0000 0000 0002   | declined (token `tok_decline_card`): the seats are released |
| any other valid number| paid (token `tok_card_<last 4>`)                          |
"""

from __future__ import annotations

from datetime import date

from engine.errors import InvalidInput

SUCCESS_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
SUCCESS_TOKEN = "tok_visa"
DECLINE_TOKEN = "tok_decline_card"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_digits(number: str) -> str:
    digits = "".join(number.split()).replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        raise InvalidInput("This card number is not valid", field="card_number")
    return digits


def check_expiry(month: int, year: int, today: date) -> None:
    """A card is good through the last day of its expiry month; two-digit years are 20xx."""
    if year < 100:
        year += 2000
    if not 1 <= month <= 12 or (year, month) < (today.year, today.month):
        raise InvalidInput("This card has expired", field="expiry")


def parse_expiry(text: str) -> tuple[int, int]:
    """`MM/YY` or `MM/YYYY` as a form field holds it."""
    month, slash, year = text.strip().partition("/")
    if not slash or not month.strip().isdigit() or not year.strip().isdigit():
        raise InvalidInput("Write the expiry as MM/YY", field="expiry")
    return int(month), int(year)


def payment_token(number: str, expiry: str, security_code: str, today: date) -> str:
    """The simulated gateway's token for a card the form accepted (InvalidInput otherwise)."""
    digits = card_digits(number)
    check_expiry(*parse_expiry(expiry), today)
    code = security_code.strip()
    if not code.isdigit() or len(code) not in (3, 4):
        raise InvalidInput("The security code has 3 or 4 digits", field="security_code")
    if digits == SUCCESS_CARD:
        return SUCCESS_TOKEN
    if digits == DECLINE_CARD:
        return DECLINE_TOKEN
    return f"tok_card_{digits[-4:]}"
