-- +goose Up
-- Failed logins per address and per account, shared by every replica, so that several
-- replicas allow no more guesses than one. key is "a:<address>" or "u:<email>"; a window
-- starts with its first failure.
CREATE TABLE login_failures (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL
);
CREATE INDEX login_failures_window ON login_failures (window_start);

-- +goose Down
DROP TABLE login_failures;
