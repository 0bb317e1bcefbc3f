-- +goose Up
-- A sign-in with OpenID Connect between its redirect to the provider and its callback:
-- the state's hash names it, the browser's cookie (its hash) must come back with it, and
-- the callback deletes it as it reads it, so that a state is honoured once.
CREATE TABLE oidc_logins (
    state_hash   text PRIMARY KEY,
    browser_hash text NOT NULL,
    nonce        text NOT NULL,
    verifier     text NOT NULL,
    next         text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires_at ON oidc_logins (expires_at);

-- The role memberships that a sign-in's groups claim added: a later sign-in whose claim
-- no longer names the role removes them, and leaves every other membership alone. Gone
-- with the membership.
CREATE TABLE sso_role_memberships (
    role_membership_id text PRIMARY KEY REFERENCES role_memberships (id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE sso_role_memberships;
DROP TABLE oidc_logins;
