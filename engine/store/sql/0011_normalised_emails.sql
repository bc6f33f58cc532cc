-- E-mails are stored normalised since this version (engine/emails.py: NFKC and case folding),
-- and looked up by that form, so `ａｌｉｃｅ@example.com` and `Alice@example.com` are one account.
-- Rows written before are brought to the same form here. PostgreSQL's NFKC and lower() give
-- the Python form for every address but those with the few letters whose case folding is not
-- their lower case (ß, ſ, final sigma, ...); such rare rows keep lower()'s spelling. A row
-- whose normalised form another account already has is left as it was, for an operator to
-- settle (two accounts cannot share an address): it is listed by
--   SELECT id, email FROM users WHERE email <> lower(normalize(email, NFKC));
UPDATE users AS u
   SET email = lower(normalize(u.email, NFKC))
 WHERE u.email <> lower(normalize(u.email, NFKC))
   AND NOT EXISTS (
       SELECT 1 FROM users AS other
        WHERE other.id <> u.id
          AND lower(normalize(other.email, NFKC)) = lower(normalize(u.email, NFKC)));
