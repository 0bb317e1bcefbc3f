-- +goose Up
-- Counting a kind's live objects reads this narrow index instead of the wide heads index.
CREATE INDEX resources_live ON resources (project_id, kind, deleted);
-- A list finds the objects of one kind that have rules from the rules side.
CREATE INDEX access_rules_objects ON access_rules (organization_id, scope, kind, object_id);

-- +goose Down
DROP INDEX access_rules_objects;
DROP INDEX resources_live;
