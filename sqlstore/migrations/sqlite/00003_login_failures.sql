-- +goose Up
-- Failed logins per address and per account, shared by every process on the database, so
-- that several replicas allow no more guesses than one. key is "a:<address>" or
-- "u:<email>"; a window starts with its first failure.
CREATE TABLE login_failures (
    key          text PRIMARY KEY,
    window_start text NOT NULL,
    failures     integer NOT NULL
) STRICT;
CREATE INDEX login_failures_window ON login_failures (window_start);

-- +goose Down
DROP TABLE login_failures;
