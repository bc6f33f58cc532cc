"""E-mail addresses as accounts know them: one spelling per address.

NFKC folds look-alike forms (full-width `ａｌｉｃｅ＠ｅｘａｍｐｌｅ.ｃｏｍ`, ligatures, ...) into
their plain letters, and case folding makes `Alice` and `ALICE` the same; so two spellings
that read alike are one account, for registration (409 `email_taken`), login and throttling.
"""

from __future__ import annotations

import unicodedata


def normalise_email(email: str) -> str:
    # NFKC again after folding: folding can undo the normal form (Unicode's NFKC_Casefold)
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
