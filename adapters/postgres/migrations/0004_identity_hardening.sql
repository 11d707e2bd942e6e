-- An API key acts only under the membership of its creator that it was made in
-- (see domain/api_keys.py): that membership is named by its joined_at, since a
-- removed and re-added member gets a new one.
ALTER TABLE api_keys ADD COLUMN creator_joined_at timestamptz;

-- Keys made before this migration are bound to their creator's membership when
-- it began no later than the key. Those left unbound stop working: their
-- creator is no longer a member or was re-added since, or they were made by
-- another key and have no creator on record (an admin may list and revoke
-- them, and a current admin or owner may make a replacement).
UPDATE api_keys AS k
SET creator_joined_at = m.joined_at
FROM memberships AS m
WHERE m.organization_id = k.organization_id
  AND m.user_id = k.created_by
  AND m.joined_at <= k.created_at;
