"""The control database's schema, as numbered plain SQL files applied in order.

Name a file ``NNNN_what_it_does.sql`` with the next free number. Each runs in
its own transaction (so no ``CREATE INDEX CONCURRENTLY``) and is recorded with
a checksum: never edit a file once it has been applied anywhere; add a new one.
"""
