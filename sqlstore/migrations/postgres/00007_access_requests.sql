-- +goose Up
-- An access request asks for a higher level on one object, or (object_id NULL) on a whole
-- kind in a project. It goes with its project, its object and its requester's membership;
-- decided_by outlives its user. rule_id names the rule an approval wrote, without a
-- foreign key: the rule may expire or be removed while the request stays as history.
CREATE TABLE access_requests (
    id               text PRIMARY KEY,
    organization_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id       bigint NOT NULL,
    kind             text NOT NULL,
    object_id        bigint REFERENCES resources (id) ON DELETE CASCADE,
    requested_by     bigint NOT NULL,
    access_level     text NOT NULL CHECK (access_level IN ('viewer', 'editor', 'manager')),
    reason           text NOT NULL,
    duration_seconds integer CHECK (duration_seconds > 0),
    status           text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
    decided_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    decided_at       timestamptz,
    decision_reason  text NOT NULL DEFAULT '',
    rule_id          text,
    created_at       timestamptz NOT NULL,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, requested_by) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
-- One pending request per requester and object (or kind): held by the database, so two
-- requests sent at once cannot both be pending.
CREATE UNIQUE INDEX access_requests_pending ON access_requests (
    organization_id, project_id, kind, COALESCE(object_id, 0), requested_by
) WHERE status = 'pending';
CREATE INDEX access_requests_project ON access_requests (project_id, created_at);
CREATE INDEX access_requests_object ON access_requests (object_id);

-- +goose Down
DROP TABLE access_requests;
