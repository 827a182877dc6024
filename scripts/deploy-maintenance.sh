#!/bin/sh
# A deploy pipeline's maintenance window over HTTP (curl and jq, no Python):
# enable maintenance with the event-processor restriction, wait until no webhook call is in
# flight, migrate, lift, and wait for the drain.
#   PORTAL_URL=https://gateway.example.com PORTAL_TOKEN=gpat_... MIGRATE='./migrate.sh' \
#     scripts/deploy-maintenance.sh
# The token needs maintenance:read, maintenance:write and events:read, and its user must be a
# bypass user (BYPASS_ROLE and BYPASS_GROUP): a token is never a way around maintenance.
# The drain is done when no event of the clients the token's user sees is queued (an event
# stays queued until its last delivery is recorded) and no webhook call is in flight.
set -eu
: "${PORTAL_URL:?set PORTAL_URL}" "${PORTAL_TOKEN:?set PORTAL_TOKEN}"
BYPASS_ROLE=${BYPASS_ROLE:-Administrator}
BYPASS_GROUP=${BYPASS_GROUP:-Administrators}
MESSAGE=${MESSAGE:-"The gateway is being upgraded; back in a few minutes."}
MIGRATE=${MIGRATE:-"echo placeholder: run the migration here"}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
API="$PORTAL_URL/api/v1/maintenance"
QUEUED="$PORTAL_URL/api/v1/events?status=queued&limit=1"

api() {  # api METHOD URL [curl options...]: fail on any 4xx/5xx, printing its JSON error
  method=$1 url=$2
  shift 2
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $PORTAL_TOKEN" \
    -H "Content-Type: application/json" "$@" "$url"
}

# fail before any change if the token lacks a scope (the error names it)
page=$(api GET "$QUEUED") || { printf '%s\n' "$page" >&2; exit 1; }
state=$(api GET "$API") || { printf '%s\n' "$state" >&2; exit 1; }
version=$(printf '%s' "$state" | jq -r .version)
enable=$(jq -n --arg m "$MESSAGE" --arg r "$BYPASS_ROLE" --arg g "$BYPASS_GROUP" \
  '{enabled: true, restrict_event_processor: true, message: $m,
    bypass_roles: [$r], bypass_groups: [$g]}')
# If-Match: refused (412) if someone changed the state since we read it; an assignment, not a
# pipe, so that a refusal stops the script (POSIX sh has no pipefail)
changed=$(api PATCH "$API" -H "If-Match: \"$version\"" -d "$enable") ||
  { printf '%s\n' "$changed" >&2; exit 1; }
printf '%s' "$changed" | jq -c '{processing, effect}'

state=$(api GET "$API?wait=paused&timeout=120")
if [ "$(printf '%s' "$state" | jq -r .processing)" != paused ]; then
  echo "Not quiet after 120 s: $(printf '%s' "$state" | jq -c '{processing, in_flight}')" >&2
  exit 1
fi
echo "quiet-at $(date +%s.%N)"

sh -c "$MIGRATE"

echo "lift-at $(date +%s.%N)"
lifted=$(api PATCH "$API" -d '{"enabled": false}') || { printf '%s\n' "$lifted" >&2; exit 1; }
printf '%s' "$lifted" | jq -c '{enabled, processing}'

# the drain: the held events are processed now; wait until none is queued and no call is in
# flight (an endpoint paused by its circuit breaker keeps its events queued: resume it)
end=$(($(date +%s) + DRAIN_TIMEOUT))
while :; do
  page=$(api GET "$QUEUED")  # an assignment: set -e stops on an error answer
  queued=$(printf '%s' "$page" | jq -e '.events | length')
  state=$(api GET "$API")
  if [ "$queued" = 0 ] &&
    [ "$(printf '%s' "$state" | jq -r '.processing == "running" and .in_flight == 0')" = true ]; then
    echo "drained at $(date +%s.%N)"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$end" ]; then
    echo "The drain did not finish in $DRAIN_TIMEOUT s: events still queued" \
      "$(printf '%s' "$page" | jq -c '[.events[] | {id, client}]'), $(printf '%s' "$state" |
        jq -c '{processing, in_flight}')" >&2
    exit 1
  fi
  sleep 0.5
done
