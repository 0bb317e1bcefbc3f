-- Gatehouse schema, SQLite. migrations/postgres/00001_init.sql is the same schema in
-- PostgreSQL's types; keep the two in step.
--
-- Conventions: UUID ids are text; timestamps are text in one fixed-width UTC form,
-- 2006-01-02T15:04:05.000000Z, so that they sort and compare as text; booleans are 0/1;
-- "none" foreign keys (a user's current project, an object's creator) are NULL, never 0 or ''.
-- Integer ids are AUTOINCREMENT so that an id is never reused: a cached access snapshot
-- must never see a deleted object's rules apply to a new one. Tables are STRICT.

-- +goose Up
CREATE TABLE organizations (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    created_at     text NOT NULL,
    updated_at     text NOT NULL,
    -- Grows with every permission change, in the same transaction, so that a replica can
    -- tell with one indexed read whether its compiled access snapshot is stale.
    rules_revision integer NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid            text NOT NULL UNIQUE,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    api_token       text NOT NULL UNIQUE,
    created_at      text NOT NULL,
    UNIQUE (organization_id, id)
) STRICT;

CREATE TABLE users (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid                    text NOT NULL UNIQUE,
    distinct_id             text NOT NULL,
    email                   text NOT NULL,
    first_name              text NOT NULL DEFAULT '',
    password_hash           text NOT NULL DEFAULT '',
    current_organization_id text REFERENCES organizations (id) ON DELETE SET NULL,
    current_project_id      integer REFERENCES projects (id) ON DELETE SET NULL,
    created_at              text NOT NULL
) STRICT;
-- Emails are kept as typed and compared case-insensitively.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at text NOT NULL,
    expires_at text NOT NULL
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        text NOT NULL,
    value_hash   text NOT NULL UNIQUE,
    mask_value   text NOT NULL,
    created_at   text NOT NULL,
    last_used_at text
) STRICT;
CREATE INDEX api_keys_user_id ON api_keys (user_id, created_at);

CREATE TABLE memberships (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level           integer NOT NULL,
    joined_at       text NOT NULL,
    updated_at      text NOT NULL,
    UNIQUE (organization_id, user_id)
) STRICT;
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE invites (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    target_email    text NOT NULL,
    level           integer NOT NULL,
    created_by      integer REFERENCES users (id) ON DELETE SET NULL,
    created_at      text NOT NULL
) STRICT;
CREATE INDEX invites_organization_id ON invites (organization_id, created_at);

-- Every kind of object shares this table; kind is access.Kind.String() ("feature_flags").
-- data is the kind's own fields as a JSON object, kept as text so that it round-trips
-- byte for byte on both engines.
CREATE TABLE resources (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    key        text NOT NULL DEFAULT '',
    created_by integer REFERENCES users (id) ON DELETE SET NULL,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    deleted    integer NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    data       text NOT NULL DEFAULT '{}'
) STRICT;
-- A key is unique among the live objects of a kind: a soft-deleted flag frees its key.
CREATE UNIQUE INDEX resources_key ON resources (project_id, kind, key) WHERE key <> '' AND NOT deleted;
-- ResourceHeads: newest first, answered from the index alone.
CREATE INDEX resources_heads ON resources (project_id, kind, deleted, created_at DESC, id DESC, created_by);

-- levels is a JSON object from kind ("feature_flags") to level name ("editor").
CREATE TABLE roles (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    levels          text NOT NULL,
    created_by      integer REFERENCES users (id) ON DELETE SET NULL,
    created_at      text NOT NULL,
    updated_at      text NOT NULL,
    UNIQUE (organization_id, id)
) STRICT;
-- PostHog: role names are unique per organization, case-insensitively.
CREATE UNIQUE INDEX roles_name_key ON roles (organization_id, lower(name));

-- The composite keys keep a role membership inside its organization: it goes away with the
-- role and with the user's membership of the organization.
CREATE TABLE role_memberships (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    role_id         text NOT NULL,
    user_id         integer NOT NULL,
    joined_at       text NOT NULL,
    updated_at      text NOT NULL,
    UNIQUE (role_id, user_id),
    FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, user_id) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX role_memberships_member ON role_memberships (organization_id, user_id);

-- One row per access.Rule. A NULL project, object, role or user means "none" (0 or "");
-- kind is '' for project rules. The target may be everyone (role and user NULL), a role or a
-- member; the composite foreign keys delete a rule with its role, its member's membership,
-- its project and its object.
CREATE TABLE access_rules (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope           text NOT NULL CHECK (scope IN ('project', 'kind', 'object')),
    project_id      integer,
    kind            text NOT NULL,
    object_id       integer REFERENCES resources (id) ON DELETE CASCADE,
    role_id         text,
    user_id         integer,
    level           text NOT NULL CHECK (level IN ('none', 'viewer', 'editor', 'manager')),
    project_level   text NOT NULL CHECK (project_level IN ('none', 'member', 'admin')),
    created_by      integer REFERENCES users (id) ON DELETE SET NULL,
    created_at      text NOT NULL,
    updated_at      text NOT NULL,
    CHECK (role_id IS NULL OR user_id IS NULL),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, user_id) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
) STRICT;
-- One rule per target: the COALESCEs make NULLs compare equal.
CREATE UNIQUE INDEX access_rules_target ON access_rules (
    organization_id, scope, COALESCE(project_id, 0), kind, COALESCE(object_id, 0),
    COALESCE(role_id, ''), COALESCE(user_id, 0)
);
CREATE INDEX access_rules_project ON access_rules (project_id);
CREATE INDEX access_rules_object ON access_rules (object_id);
CREATE INDEX access_rules_role ON access_rules (organization_id, role_id);
CREATE INDEX access_rules_member ON access_rules (organization_id, user_id);

-- detail is JSON: {"changes": [{"field", "before", "after"}]}.
CREATE TABLE activity_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      integer REFERENCES projects (id) ON DELETE CASCADE,
    scope           text NOT NULL,
    activity        text NOT NULL,
    item_id         text NOT NULL,
    user_id         integer REFERENCES users (id) ON DELETE SET NULL,
    detail          text NOT NULL,
    created_at      text NOT NULL
) STRICT;
CREATE INDEX activity_log_organization ON activity_log (organization_id, created_at DESC, id DESC);
CREATE INDEX activity_log_item ON activity_log (organization_id, item_id);
CREATE INDEX activity_log_project ON activity_log (project_id);

-- +goose Down
DROP TABLE activity_log;
DROP TABLE access_rules;
DROP TABLE role_memberships;
DROP TABLE roles;
DROP TABLE resources;
DROP TABLE invites;
DROP TABLE memberships;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE projects;
DROP TABLE organizations;
