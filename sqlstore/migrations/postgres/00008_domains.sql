-- +goose Up
-- An organization's email domains: who may sign in through the instance's identity
-- provider, and the SCIM provisioning endpoint of each. domain is lower-cased by the
-- store and unique across the instance, so that an email names at most one organization.
CREATE TABLE organization_domains (
    id                       text PRIMARY KEY,
    organization_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain                   text NOT NULL UNIQUE,
    verified_at              timestamptz,
    jit_provisioning_enabled boolean NOT NULL DEFAULT false,
    sso_enforcement          text NOT NULL DEFAULT '' CHECK (sso_enforcement IN ('', 'oidc')),
    scim_enabled             boolean NOT NULL DEFAULT false,
    -- The SHA-256 of the SCIM bearer token (hex); '' while none was made.
    scim_token_hash          text NOT NULL DEFAULT '',
    created_at               timestamptz NOT NULL
);
CREATE INDEX organization_domains_organization ON organization_domains (organization_id, created_at);

-- The users a domain's SCIM client provisioned: what the client calls them, and whether
-- it has them active (an inactive one keeps its link but not its membership).
CREATE TABLE scim_users (
    domain_id   text NOT NULL REFERENCES organization_domains (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_name   text NOT NULL,
    external_id text NOT NULL DEFAULT '',
    given_name  text NOT NULL DEFAULT '',
    family_name text NOT NULL DEFAULT '',
    active      boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (domain_id, user_id)
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (domain_id, lower(user_name));
CREATE INDEX scim_users_user ON scim_users (user_id);

-- The roles a domain's SCIM client manages as groups, with the client's id for each.
CREATE TABLE scim_groups (
    domain_id   text NOT NULL REFERENCES organization_domains (id) ON DELETE CASCADE,
    role_id     text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    external_id text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (domain_id, role_id)
);
CREATE INDEX scim_groups_role ON scim_groups (role_id);

-- A user whom deprovisioning left in no organization is disabled: no session, key or
-- password lets them in until a provisioning client restores them.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_at;
DROP TABLE scim_groups;
DROP TABLE scim_users;
DROP TABLE organization_domains;
