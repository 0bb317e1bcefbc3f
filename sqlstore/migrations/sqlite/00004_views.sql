-- +goose Up
-- The object an activity row is about (a rule on it), so that a reader's log leaves out
-- the rows about objects hidden from them. NULL for rows about no object. No foreign
-- key: the row outlives the object.
ALTER TABLE activity_log ADD COLUMN object_id integer;
-- A rule's creation and deletion name its object among their changes.
UPDATE activity_log SET object_id = (
    SELECT coalesce(json_extract(c.value, '$.after'), json_extract(c.value, '$.before'))
    FROM json_each(activity_log.detail, '$.changes') c
    WHERE json_extract(c.value, '$.field') = 'object')
WHERE scope = 'AccessControl';
-- A change of level names only the level: the rule's other rows, or the rule, name it.
UPDATE activity_log SET object_id = coalesce(
    (SELECT max(b.object_id) FROM activity_log b
     WHERE b.organization_id = activity_log.organization_id AND b.item_id = activity_log.item_id AND b.scope = 'AccessControl'),
    (SELECT r.object_id FROM access_rules r WHERE r.id = activity_log.item_id))
WHERE scope = 'AccessControl' AND object_id IS NULL;
CREATE INDEX activity_log_object ON activity_log (organization_id, object_id) WHERE object_id IS NOT NULL;

-- Role names are unique per organization whatever their case, in every script: lower()
-- folds only ASCII in SQLite, so the folded name is computed in Go (sqlstore.nameKey) and
-- stored. Migration 5 fills it in for the roles that exist; until then, and for a role
-- whose folded name an older role already holds (case variants the ASCII-only index let
-- in), it is NULL, which the unique index does not compare.
ALTER TABLE roles ADD COLUMN name_key text;
DROP INDEX roles_name_key;
CREATE UNIQUE INDEX roles_name_key ON roles (organization_id, name_key);

-- +goose Down
DROP INDEX roles_name_key;
ALTER TABLE roles DROP COLUMN name_key;
CREATE UNIQUE INDEX roles_name_key ON roles (organization_id, lower(name));
DROP INDEX activity_log_object;
ALTER TABLE activity_log DROP COLUMN object_id;
