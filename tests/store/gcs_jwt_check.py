"""Checks the RS256 JWT of tiff-dumper's GCS service-account flow against OpenSSL's own
command line: a throwaway RSA key is made with `openssl genrsa`, put in a service-account
JSON key file, and the signature gcs_jwt_tool produces must equal, byte for byte,
`openssl dgst -sha256 -sign key.pem` over the same signing input (RSASSA-PKCS1-v1_5 is
deterministic) and verify with the public key. The header and claims are checked too.

usage: gcs_jwt_check.py GCS_JWT_TOOL"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main():
    tool = sys.argv[1]
    failures = 0
    checks = 0

    def check(cond, what):
        nonlocal failures, checks
        checks += 1
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures += 1

    with tempfile.TemporaryDirectory(prefix="td-jwt-") as tmp:
        for bits in (2048, 3072):
            pem = os.path.join(tmp, f"key{bits}.pem")
            subprocess.run(["openssl", "genrsa", "-out", pem, str(bits)], check=True,
                           capture_output=True)
            pub = os.path.join(tmp, f"pub{bits}.pem")
            subprocess.run(["openssl", "rsa", "-in", pem, "-pubout", "-out", pub], check=True,
                           capture_output=True)
            # service-account files carry PKCS#8 ("BEGIN PRIVATE KEY"); genrsa may write
            # either form depending on the OpenSSL version: convert to be sure
            pk8 = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem],
                                 check=True, capture_output=True).stdout.decode()
            keyfile = os.path.join(tmp, f"sa{bits}.json")
            with open(keyfile, "w") as f:
                json.dump({"type": "service_account", "project_id": "demo",
                           "private_key_id": "kid-\"quoted\"", "private_key": pk8,
                           "client_email": "td@demo.iam.gserviceaccount.com",
                           "token_uri": "http://127.0.0.1:1/token"}, f)
            now = 1700000000
            out = subprocess.run([tool, keyfile, str(now)], check=True,
                                 capture_output=True).stdout.decode().splitlines()
            signing_input, jwt, body = out[0], out[1], out[2]
            h, c, s = jwt.split(".")
            check(f"{h}.{c}" == signing_input, f"{bits}: JWT starts with the signing input")
            header = json.loads(b64url_decode(h))
            claims = json.loads(b64url_decode(c))
            check(header == {"alg": "RS256", "typ": "JWT", "kid": "kid-\"quoted\""},
                  f"{bits}: header {header}")
            check(claims == {"iss": "td@demo.iam.gserviceaccount.com",
                             "scope": "https://www.googleapis.com/auth/devstorage.read_only",
                             "aud": "http://127.0.0.1:1/token", "iat": now,
                             "exp": now + 3600}, f"{bits}: claims {claims}")
            inp = os.path.join(tmp, "input")
            with open(inp, "w") as f:
                f.write(signing_input)
            ref = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem, inp],
                                 check=True, capture_output=True).stdout
            check(b64url_decode(s) == ref, f"{bits}: signature equals openssl dgst -sign")
            sig = os.path.join(tmp, "sig")
            with open(sig, "wb") as f:
                f.write(b64url_decode(s))
            v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig,
                                inp], capture_output=True)
            check(v.returncode == 0, f"{bits}: signature verifies with the public key")
            q = urllib.parse.parse_qs(body)
            check(q == {"grant_type": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                        "assertion": [jwt]}, f"{bits}: token request body")
            check("=" not in jwt and "+" not in jwt and "/" not in jwt,
                  f"{bits}: base64url without padding")
    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
