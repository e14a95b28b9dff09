"""The example function's answers to HTTP API payload 2.0 events whose claims are
what API Gateway's JWT authorizer passes on, without AWS:
python3 -m unittest discover -s examples/protected-api (lint.sh runs it)."""

import copy
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src"))

import app  # noqa: E402

with open(os.path.join(HERE, "events", "whoami.json")) as f:
    TENANT_USER = json.load(f)

SIGNED_IN_AT = int(TENANT_USER["requestContext"]["authorizer"]["jwt"]["claims"]["auth_time"])


def event(route="GET /whoami", **claims):
    """The event file's request on `route`, its claims changed by `claims`
    (a value of None removes the claim)."""
    e = copy.deepcopy(TENANT_USER)
    e["routeKey"] = e["requestContext"]["routeKey"] = route
    given = e["requestContext"]["authorizer"]["jwt"]["claims"]
    for name, value in claims.items():
        if value is None:
            given.pop(name, None)
        else:
            given[name] = value
    return e


def call(e, now=SIGNED_IN_AT + 5):
    answer = app.route(e, now)
    return answer["statusCode"], json.loads(answer["body"])


class WhoAmI(unittest.TestCase):
    def test_a_tenant_user_gets_their_sub_tenant_and_amr_from_the_bracketed_string(self):
        status, body = call(event())
        self.assertEqual(status, 200)
        self.assertEqual(
            body,
            {
                "sub": "0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e",
                "tenant": "acme",
                "amr": ["pwd", "otp"],
                "acr": "aal2",
            },
        )

    def test_a_host_user_has_no_tenant_claim_and_gets_null(self):
        status, body = call(event(tenant=None, amr="[pwd]", acr="aal1"))
        self.assertEqual(status, 200)
        self.assertIsNone(body["tenant"])
        self.assertEqual(body["amr"], ["pwd"])

    def test_amr_as_a_real_list_or_a_lone_value_reads_the_same(self):
        for given, expected in [
            (["pwd", "sms", "mfa"], ["pwd", "sms", "mfa"]),
            ("[pwd sms mfa]", ["pwd", "sms", "mfa"]),
            ("[]", []),
            ("pwd", ["pwd"]),
        ]:
            with self.subTest(amr=given):
                self.assertEqual(call(event(amr=given))[1]["amr"], expected)

    def test_an_event_without_the_authorizers_claims_is_refused(self):
        e = event()
        del e["requestContext"]["authorizer"]
        self.assertEqual(call(e), (401, {"error": "unauthorized", "message": "Sign in with twofa first."}))


class StepUp(unittest.TestCase):
    def test_a_recent_two_factor_sign_in_opens_the_sensitive_route(self):
        status, body = call(event("GET /sensitive"))
        self.assertEqual(status, 200)
        self.assertEqual(body["sub"], "0b6f6c1e-8d0a-4b7e-9c1e-2f3a4b5c6d7e")

    def test_a_password_only_sign_in_must_step_up(self):
        status, body = call(event("GET /sensitive", acr="aal1", amr="[pwd]"))
        self.assertEqual((status, body["error"]), (403, "step_up_required"))

    def test_a_two_factor_sign_in_older_than_the_step_up_age_must_step_up(self):
        too_late = SIGNED_IN_AT + app.STEP_UP_MAX_AGE_SECONDS + 1
        status, body = call(event("GET /sensitive"), now=too_late)
        self.assertEqual((status, body["error"]), (403, "step_up_required"))
        self.assertEqual(call(event("GET /sensitive"), now=too_late - 1)[0], 200)

    def test_a_missing_or_unreadable_auth_time_must_step_up(self):
        for auth_time in [None, "soon", ""]:
            with self.subTest(auth_time=auth_time):
                self.assertEqual(call(event("GET /sensitive", auth_time=auth_time))[0], 403)


if __name__ == "__main__":
    unittest.main()
