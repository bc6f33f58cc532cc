-- The language a customer reads (engine/locales.py: a supported tag such as 'pt-BR'), set when
-- they sign up in a page and whenever they switch language while signed in; e-mails are
-- written in it. NULL: English.
ALTER TABLE users ADD COLUMN locale text CHECK (length(locale) <= 10);

-- The IANA time zone of an event's venue (America/Sao_Paulo): its pages and e-mails show its
-- times there. NULL: the site's TIME_ZONE.
ALTER TABLE events ADD COLUMN time_zone text CHECK (length(time_zone) <= 64);
