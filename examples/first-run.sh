#!/usr/bin/env bash
# A first run through the HTTP API: an account, an organization, two folders of CSV files
# as data sources, a pipeline, a run executed by the worker inside `thedata serve`, and the
# rows at the destination. Needs curl and jq.
#
#   ./dev serve                      # in one terminal
#   examples/first-run.sh            # in another (BASE and DATA below can be changed)
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}
DATA=${DATA:-./.thedata/data}       # THEDATA_DATA_ROOT: one folder per organization
EMAIL=${EMAIL:-ada-$RANDOM@example.com}

api() { curl -sS --fail-with-body -H 'content-type: application/json' \
          ${TOKEN:+-H "authorization: Bearer $TOKEN"} "$@"; }

# an account (its access token) and an organization
TOKEN=$(api "$BASE/v1/auth/register" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"correct horse battery\", \"name\": \"Ada\"}" \
  | jq -r .access_token)
ORG=$(api "$BASE/v1/orgs" -d '{"name": "Acme"}' | jq -r .id)

# the organization's folders: a CSV file to read, an empty folder to write
mkdir -p "$DATA/$ORG/in" "$DATA/$ORG/out"
printf 'id,name,amount\n1,apples,1.50\n2,"pears, green",2.25\n' > "$DATA/$ORG/in/orders.csv"

# two data sources and a pipeline between them
IN=$(api "$BASE/v1/orgs/$ORG/data-sources" \
  -d '{"name": "in", "kind": "file", "config": {"path": "in", "format": "csv"}}' | jq -r .id)
OUT=$(api "$BASE/v1/orgs/$ORG/data-sources" \
  -d '{"name": "out", "kind": "file", "config": {"path": "out", "format": "csv"}}' | jq -r .id)
PIPELINE=$(api "$BASE/v1/orgs/$ORG/pipelines" -d "{
  \"name\": \"orders\", \"source_id\": \"$IN\", \"destination_id\": \"$OUT\",
  \"streams\": [{\"name\": \"orders\", \"destination\": \"orders\", \"mode\": \"full_refresh\"}]
}" | jq -r .id)

# a run: queued (202), then claimed and executed by the worker; watch it finish
RUN=$(api -X POST "$BASE/v1/orgs/$ORG/pipelines/$PIPELINE/runs" | jq -r .id)
for _ in $(seq 1 120); do
  STATUS=$(api "$BASE/v1/orgs/$ORG/runs/$RUN" | jq -r .status)
  case $STATUS in succeeded|failed|cancelled) break ;; esac
  sleep 0.5
done
api "$BASE/v1/orgs/$ORG/runs/$RUN" | jq '{status, attempt, stats, error}'
[ "$STATUS" = succeeded ]

# the rows, published in the destination folder (a manifest names the data files)
cat "$DATA/$ORG/out/orders/"*.csv
