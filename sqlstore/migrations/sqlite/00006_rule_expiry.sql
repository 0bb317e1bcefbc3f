-- +goose Up
-- The instant a rule stops granting anything (docs/access-model.md, expiring rules); NULL:
-- never. The decision ignores an expired rule by itself; the index serves the sweep that
-- deletes them.
ALTER TABLE access_rules ADD COLUMN expires_at text;
CREATE INDEX access_rules_expires ON access_rules (expires_at) WHERE expires_at IS NOT NULL;

-- +goose Down
DROP INDEX access_rules_expires;
ALTER TABLE access_rules DROP COLUMN expires_at;
