-- Clients (an account from one address, hashed) the right password came from recently: a
-- distributed guessing storm that closes an account to new clients leaves these open.

CREATE TABLE known_clients (
    key text PRIMARY KEY,
    until timestamptz NOT NULL
);
