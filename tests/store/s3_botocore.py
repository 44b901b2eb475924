"""Signs the same S3 requests with botocore (Debian python3-botocore) and with tiff-dumper's
S3 backend (s3_sign_dump, which prints what the backend would send), and requires the URLs
and the signed headers, Authorization included, to be equal byte for byte.

usage: s3_botocore.py PATH/TO/s3_sign_dump
"""
import datetime
import subprocess
import sys
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

from tdtest import skip

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError:
    skip("python3-botocore not found")

FIXED = datetime.datetime(2024, 2, 29, 23, 59, 58)  # a leap day, one second to midnight

KEYS = [
    "plain.tif",
    "dir/sub dir/with space.tif",
    "plus+sign/a+b.tif",
    "percent%20literal/100%.tif",
    "unicode/\u00e9t\u00e9/\u5730\u56f3/\U0001f30d.tif",
    "reserved/!$&'()*,;=:@[]#?.tif",
    "tilde~and-dash_underscore.tif",
    "double//slash/./dot/../dotdot.tif",
    "x" * 1000,
    "ends/with/slash/",
]

# (description, query pairs): the ListObjectsV2 shapes the backend uses, plus odd values
QUERIES = [
    [],
    [("list-type", "2"), ("max-keys", "1000"), ("encoding-type", "url"), ("prefix", "")],
    [("list-type", "2"), ("prefix", "dir/sub dir/\u00e9 +%"), ("max-keys", "100"),
     ("encoding-type", "url"),
     ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")],
    [("b", "2"), ("a", "z"), ("a", "y"), ("A", "x")],
]

CREDS = [
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("ASIAEXAMPLETEMP", "sec/ret+with=signs", "FwoGZXIvYXdzEBYaDH//token+/=" * 20),
]

ENDPOINTS = [
    # (endpoint or None, bucket, virtual hosted, region)
    (None, "sentinel-cogs", False, "us-west-2"),
    (None, "sentinel-cogs", True, "us-west-2"),
    ("http://127.0.0.1:9000", "bucket", False, "us-east-1"),
    ("https://minio.example.com:443/base/", "my.bucket", False, "eu-central-1"),
    ("HTTPS://Bucket-Host.Example.COM", "bucket", True, "auto"),
]


def hx(s):
    return "-" if s is None else s.encode("utf-8").hex()


def expected_url(endpoint, bucket, vhost, region, key):
    enc = percent_encode(key, safe="/~") if key is not None else None
    if endpoint is None:
        base = (f"https://{bucket}.s3.{region}.amazonaws.com" if vhost
                else f"https://s3.{region}.amazonaws.com/{bucket}")
    else:
        parts = urlsplit(endpoint)
        netloc = parts.hostname
        if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme.lower()]:
            netloc += f":{parts.port}"
        base = f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"
        if not vhost:
            base += f"/{bucket}"
    if enc is None:
        return base if not base.endswith(".com") and urlsplit(base).path else base + "/"
    return f"{base}/{enc}"


NOW = FIXED  # the time botocore signs at: the case's


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return NOW


def case_time(i):
    """Cases step through 23:59:58, 23:59:59, 00:00:00 and 00:00:01 (1 March): s3_sign_dump
    signs them all with one key cache, as a store does, so its day, region and credential
    changes are checked against botocore too."""
    return FIXED + datetime.timedelta(seconds=i % 4)


class S3Config:
    s3 = {"payload_signing_enabled": False}


def botocore_sign(method, url, query, creds, region, payer):
    headers = {}
    if payer:
        headers["x-amz-request-payer"] = "requester"
    req = AWSRequest(method=method, url=url, headers=headers, params=list(query))
    req.context["payload_signing_enabled"] = False
    req.context["client_config"] = S3Config()
    with mock.patch("botocore.auth.datetime.datetime", FixedDatetime):
        S3SigV4Auth(Credentials(*creds), "s3", region).add_auth(req)
    prepared = req.prepare()
    hdrs = {k.lower(): v for k, v in prepared.headers.items()}
    return prepared.url, hdrs


def main():
    dump = sys.argv[1]
    cases = []
    for endpoint, bucket, vhost, region in ENDPOINTS:
        for key in KEYS + [None]:
            queries = QUERIES if key is None else [[]]
            for query in queries:
                for ci, creds in enumerate(CREDS):
                    for payer in (False, True):
                        if key is not None and ci == 1 and payer and key != KEYS[4]:
                            continue  # keep the run short; every axis is still covered
                        cases.append((endpoint, bucket, vhost, region, key, query, creds, payer))
    epoch = int((FIXED - datetime.datetime(1970, 1, 1)).total_seconds())
    lines = []
    for i, (endpoint, bucket, vhost, region, key, query, creds, payer) in enumerate(cases):
        q = "&".join(f"{hx(n)}={hx(v) if v else ''}" for n, v in query) or "-"
        lines.append("\t".join([hx("GET"), hx(endpoint), hx(bucket), "1" if vhost else "0",
                                hx(key), q, hx(region), hx(creds[0]), hx(creds[1]),
                                hx(creds[2]), "1" if payer else "0",
                                str(epoch + (case_time(i) - FIXED).seconds)]))
    out = subprocess.run([dump], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout
    results, cur = [], None
    for line in out.splitlines():
        kind, _, val = line.partition("\t")
        if kind == "url":
            cur = {"url": val, "hdrs": {}}
        elif kind == "hdr":
            name, _, v = val.partition(": ")
            cur["hdrs"][name.lower()] = v
        elif kind == "error":
            cur = {"error": val}
        elif kind == "end":
            results.append(cur)
    assert len(results) == len(cases), (len(results), len(cases))
    failures = 0
    global NOW
    for i, (case, got) in enumerate(zip(cases, results)):
        endpoint, bucket, vhost, region, key, query, creds, payer = case
        NOW = case_time(i)
        if "error" in got:
            print("FAIL", repr(case)[:200], got["error"])
            failures += 1
            continue
        want_base = expected_url(endpoint, bucket, vhost, region, key)
        url, hdrs = botocore_sign("GET", want_base, query, creds, region, payer)
        problems = []
        gu, wu = urlsplit(got["url"]), urlsplit(url)
        if (gu.scheme, gu.netloc, gu.path) != (wu.scheme, wu.netloc, wu.path):
            problems.append(f"url {got['url']!r} != botocore {url!r}")
        if sorted(parse_qsl(gu.query, keep_blank_values=True)) != sorted(
                parse_qsl(wu.query, keep_blank_values=True)):
            problems.append(f"query {gu.query!r} != botocore {wu.query!r}")
        for name in ("authorization", "x-amz-date", "x-amz-content-sha256",
                     "x-amz-security-token", "x-amz-request-payer"):
            if got["hdrs"].get(name) != hdrs.get(name):
                problems.append(f"{name}: {got['hdrs'].get(name)!r} != botocore {hdrs.get(name)!r}")
        extra = set(got["hdrs"]) - set(hdrs)
        if extra:
            problems.append(f"headers botocore does not send: {sorted(extra)}")
        if problems:
            failures += 1
            print("FAIL", repr((endpoint, bucket, vhost, region, key, query, creds[0],
                                payer))[:300])
            for p in problems:
                print("   ", p[:400])
    print(f"{len(cases)} requests compared with botocore, {failures} different")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
