"""A relying API's view of twofa's access tokens, with PyJWT alone.

Knows nothing of twofa but its base URL: reads discovery and the JWKS it names
(served under the base URL), verifies the token it is given as any relying API
would (RS256 only, issuer, audience, expiry), and checks that tokens twofa did
not sign are refused: another key under the same kid, alg none, HS256 keyed
with the public key, an expired one, another audience.

Usage: verify_with_pyjwt.py BASE_URL ACCESS_TOKEN SIGNING_KEY_PKCS8_BASE64
Prints the verified claims as JSON; exits non-zero on the first broken promise.
"""

import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.request

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(token, key, issuer, what):
    try:
        jwt.decode(token, key, algorithms=["RS256"], audience="twofa", issuer=issuer)
    except jwt.PyJWTError:
        return
    sys.exit(f"accepted {what}")


def main():
    base, token, pkcs8 = sys.argv[1:4]
    status, headers, discovery = get(f"{base}/.well-known/openid-configuration")
    assert status == 200, status
    issuer = discovery["issuer"]
    assert issuer == base, (issuer, base)
    assert discovery["jwks_uri"] == f"{issuer}/.well-known/jwks.json", discovery
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "max-age" in headers.get("cache-control", ""), headers
    status, headers, jwks = get(discovery["jwks_uri"])
    assert status == 200 and "max-age" in headers.get("cache-control", ""), headers
    for k in jwks["keys"]:
        assert set(k) == {"kty", "use", "alg", "kid", "n", "e"}, k  # no private part

    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience="twofa",
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud", "jti"]},
    )
    kid = jwt.get_unverified_header(token)["kid"]
    public = signing_key.key

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})
    refused(forged, public, issuer, "a token signed by another key under the signing key's kid")

    none = f"{b64(json.dumps({'alg': 'none', 'typ': 'at+jwt', 'kid': kid}).encode())}.{token.split('.')[1]}."
    refused(none, public, issuer, "alg none")

    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    body = token.split(".")[1]
    tag = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    refused(f"{head}.{body}.{b64(tag)}", public, issuer, "HS256 keyed with the public key")

    ours = serialization.load_der_private_key(base64.b64decode(pkcs8), password=None)
    now = int(time.time())
    expired = dict(claims, iat=now - 3600, nbf=now - 3600, exp=now - 60)
    refused(jwt.encode(expired, ours, algorithm="RS256", headers={"kid": kid}), public, issuer, "an expired token")
    elsewhere = dict(claims, aud="billing")
    refused(jwt.encode(elsewhere, ours, algorithm="RS256", headers={"kid": kid}), public, issuer, "another audience")
    stranger = dict(claims, iss="https://evil.example.com")
    refused(jwt.encode(stranger, ours, algorithm="RS256", headers={"kid": kid}), public, issuer, "another issuer")

    print(json.dumps(claims))


if __name__ == "__main__":
    main()
