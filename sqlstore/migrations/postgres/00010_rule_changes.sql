-- +goose Up
-- What each revision of an organization's access facts changed, so that a server holding
-- the rules of one revision can bring them to a later one from a few rows rather than
-- reading every rule again: changes is a JSON list of rules put and removed, NULL for any
-- other change (members, roles, role members, a project gone), which only a full read
-- describes. The store keeps the last revisions only.
CREATE TABLE rule_changes (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    revision bigint NOT NULL,
    changes text,
    PRIMARY KEY (organization_id, revision)
);

-- +goose Down
DROP TABLE rule_changes;
