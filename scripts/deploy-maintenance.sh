#!/bin/sh
# A deploy pipeline's maintenance window over HTTP (curl and jq, no Python):
# enable maintenance with the event-processor restriction, wait until no webhook call is in
# flight, migrate, lift, and wait for the drain.
#   PORTAL_URL=https://gateway.example.com PORTAL_TOKEN=gpat_... MIGRATE='./migrate.sh' \
#     scripts/deploy-maintenance.sh
# The token needs maintenance:read and maintenance:write, and its user must be a bypass user
# (BYPASS_ROLE and BYPASS_GROUP): a token is never a way around maintenance.
set -eu
: "${PORTAL_URL:?set PORTAL_URL}" "${PORTAL_TOKEN:?set PORTAL_TOKEN}"
BYPASS_ROLE=${BYPASS_ROLE:-Administrator}
BYPASS_GROUP=${BYPASS_GROUP:-Administrators}
MESSAGE=${MESSAGE:-"The gateway is being upgraded; back in a few minutes."}
MIGRATE=${MIGRATE:-"echo placeholder: run the migration here"}
API="$PORTAL_URL/api/v1/maintenance"

api() {  # api METHOD URL [curl options...]: fail on any 4xx/5xx, printing its JSON error
  method=$1 url=$2
  shift 2
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $PORTAL_TOKEN" \
    -H "Content-Type: application/json" "$@" "$url"
}

version=$(api GET "$API" | jq -r .version)
enable=$(jq -n --arg m "$MESSAGE" --arg r "$BYPASS_ROLE" --arg g "$BYPASS_GROUP" \
  '{enabled: true, restrict_event_processor: true, message: $m,
    bypass_roles: [$r], bypass_groups: [$g]}')
# If-Match: refused (412) if someone changed the state since we read it
api PATCH "$API" -H "If-Match: \"$version\"" -d "$enable" | jq -c '{processing, effect}'

state=$(api GET "$API?wait=paused&timeout=120")
if [ "$(printf '%s' "$state" | jq -r .processing)" != paused ]; then
  echo "Not quiet after 120 s: $(printf '%s' "$state" | jq -c '{processing, in_flight}')" >&2
  exit 1
fi
echo "quiet-at $(date +%s.%N)"

sh -c "$MIGRATE"

echo "lift-at $(date +%s.%N)"
api PATCH "$API" -d '{"enabled": false}' | jq -c '{enabled, processing}'

# the drain: held events are processed again; wait until no call is in flight any more
for _ in $(seq 1 600); do
  state=$(api GET "$API")
  if [ "$(printf '%s' "$state" | jq -r '.processing == "running" and .in_flight == 0')" = true ]; then
    echo "drained"
    exit 0
  fi
  sleep 0.2
done
echo "The drain did not finish in 120 s: $(printf '%s' "$state" | jq -c '{in_flight}')" >&2
exit 1
