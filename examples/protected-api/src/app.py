"""The example relying API: routes behind API Gateway's JWT authorizer, which has
already checked the twofa access token (RS256 signature against twofa's JWKS, iss,
aud, exp, nbf) before this function runs. The function only reads the claims the
authorizer passes on in the HTTP API payload 2.0 event.
"""

import json
import os
import time

# How recent the sign-in must be for GET /sensitive, like twofa's own step-up
# (STEP_UP_MAX_AGE_SECONDS there). A refreshed access token keeps its session's
# acr and auth_time, so acr alone would say "two factors, some time in the last
# 30 days".
STEP_UP_MAX_AGE_SECONDS = int(os.environ.get("STEP_UP_MAX_AGE_SECONDS", "600"))


def claim_list(value):
    """A list claim as a Python list. API Gateway passes every claim as a string
    and writes an array as its items between brackets, space-separated: the
    token's "amr": ["pwd", "otp"] arrives as "[pwd otp]". A real list (a caller
    that decoded the token itself) is taken as it is."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.split()


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
    }


def refuse(status, code, message):
    return answer(status, {"error": code, "message": message})


def caller(claims):
    return {
        "sub": claims.get("sub"),
        # Absent for a host user (no tenant): null in the answer.
        "tenant": claims.get("tenant"),
        "amr": claim_list(claims.get("amr")),
        "acr": claims.get("acr"),
    }


def recent(auth_time, now):
    # auth_time arrives as a string of seconds, like every claim.
    try:
        signed_in_at = int(auth_time)
    except (TypeError, ValueError):
        return False
    return 0 <= now - signed_in_at <= STEP_UP_MAX_AGE_SECONDS


def route(event, now):
    """The answer to one event at time `now` (seconds), so tests need no clock."""
    claims = (
        ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    ).get("claims")
    # Fail closed: without the authorizer's claims (a route deployed without
    # the authorizer) nobody is signed in.
    if not claims or not claims.get("sub"):
        return refuse(401, "unauthorized", "Sign in with twofa first.")

    key = event.get("routeKey")
    if key == "GET /whoami":
        return answer(200, caller(claims))
    if key == "GET /sensitive":
        if claims.get("acr") != "aal2" or not recent(claims.get("auth_time"), now):
            return refuse(
                403,
                "step_up_required",
                "Sign in again with your second factor to open this.",
            )
        return answer(200, {"secret": "only for a fresh two-factor sign-in", **caller(claims)})
    return refuse(404, "not_found", "No such route.")


def handler(event, context):
    return route(event, int(time.time()))
