-- Found by the query-plan test on a seeded database (tests/integration/test_query_plans.py):
-- the sign-in counters' purge found each batch by a whole-table scan, and deleting a user
-- would scan every API key for the ones it created.
CREATE INDEX login_attempts_by_window ON login_attempts (window_started_at);
CREATE INDEX api_keys_by_creator ON api_keys (created_by);
