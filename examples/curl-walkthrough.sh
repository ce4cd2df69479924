#!/usr/bin/env bash
# Posts the example payloads to a running Switchboard and shows the inbox.
# SWITCHBOARD_URL (default http://127.0.0.1:8080) and TOKEN (the webhook
# token, if the service has one) can be set in the environment.
set -euo pipefail

url="${SWITCHBOARD_URL:-http://127.0.0.1:8080}"
token="${TOKEN:-}"
here="$(cd "$(dirname "$0")" && pwd)"
auth=()
[ -n "${SWITCHBOARD_ADMIN_TOKEN:-}" ] && auth=(-H "Authorization: Bearer ${SWITCHBOARD_ADMIN_TOKEN}")

hook() { # hook QUERY CURL-ARGS...
  local query="$1"; shift
  echo "> $*" >&2
  curl -sS "$@" "${url}/webhooks/ringostat?token=${token}&${query}"
  echo
}

echo "== JSON bodies (after-call events)"
echo "   (webhooks-2.0 and after-call carry the same call id, so the second is a duplicate)"
for payload in calls-list-record classic-webhook webhooks-2.0 after-call user-named; do
  hook "event=after_call" -H 'Content-Type: application/json' --data-binary "@${here}/payloads/${payload}.json"
done

echo "== the same delivery again: a duplicate, nothing new stored"
hook "event=after_call" -H 'Content-Type: application/json' --data-binary "@${here}/payloads/after-call.json"

echo "== a form body, and a GET with the payload in the query string"
hook "event=pickup" -H 'Content-Type: application/x-www-form-urlencoded' --data "@${here}/payloads/after-call.form"
hook "event=after_call&$(cat "${here}/payloads/after-call.query")" -G

echo "== a broken body: 422, kept as rejected"
hook "event=after_call" -H 'Content-Type: application/json' --data-binary '{"uniqueid": "broken"'

echo "== the inbox"
curl -sS "${auth[@]}" "${url}/api/events?limit=10"; echo
curl -sS "${auth[@]}" "${url}/api/events/1"; echo
curl -sS "${auth[@]}" "${url}/api/rejected"; echo
curl -sS "${url}/readyz"; echo
