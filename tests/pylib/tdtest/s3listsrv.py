"""A loopback S3 server that only lists: ListObjectsV2 (prefix, delimiter, max-keys,
continuation-token, encoding-type=url) over a synthetic, in-memory key set, with a fixed
delay per LIST page (the latency chain of a real bucket) and optional failures per prefix.
Anonymous requests (the store's skip_signature). Used by bench/list and
tests/pipeline/list_fanout.py.

    srv = ListServer(keys, delay_s=0.05, fail_prefixes={"a/b/"})
    ... s3://bucket with endpoint=srv.endpoint allow_http=true skip_signature=true ...
    srv.stop()
"""
import bisect
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


def synthetic_tree(n_top=10, n_mid=100, n_keys=100, root="tiles"):
    """n_top * n_mid leaf prefixes of n_keys keys each: root/TT/MMM/imgKKKK.tif."""
    return [f"{root}/{t:02d}/{m:03d}/img{k:04d}.tif"
            for t in range(n_top) for m in range(n_mid) for k in range(n_keys)]


def sentinel_tree(n_zones=10, bands="CDEF", squares=("CV", "CW", "DV", "DW", "EV"),
                  years=(2021, 2022), months=6, products=2, root="tiles"):
    """A Sentinel-2 style deep tree with few keys per leaf folder:
    root/ZONE/BAND/SQ/YEAR/MONTH/S2B_MSIL2A_..._N/B01.tif ... (13 bands per product)."""
    bnames = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
              "B11", "B12"]
    return [f"{root}/{z}/{b}/{sq}/{y}/{m}/S2B_MSIL2A_{y}{m:02d}{p + 1:02d}T183919_N0400_R027_"
            f"T{z:02d}{b}{sq}_{p}/{bn}.tif"
            for z in range(1, n_zones + 1) for b in bands for sq in squares for y in years
            for m in range(1, months + 1) for p in range(products) for bn in bnames]


def flat_tree(n_keys=100000, root="flat"):
    """One folder of n_keys keys: nothing to split on."""
    return [f"{root}/img{k:06d}.tif" for k in range(n_keys)]


class ListServer:
    def __init__(self, keys, delay_s=0.0, fail_prefixes=(), max_keys=1000):
        self.keys = sorted(keys)
        self.delay_s = delay_s
        self.fail_prefixes = set(fail_prefixes)
        self.max_keys = max_keys
        self.lock = threading.Lock()
        self.pages = 0
        self.in_flight = 0
        self.max_in_flight = 0
        # rendered pages by query: a repeated run costs the server no CPU, so that on a busy
        # machine the bench measures the client and the delay, not Python making XML
        self.cache = {}
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: with Nagle each page would wait for the
            # client's delayed ACK (40 ms), a latency the bench does not ask for
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_GET(self):
                srv._handle(self)

        class S(ThreadingHTTPServer):
            request_queue_size = 512  # the default 5 drops SYNs of parallel connects

        self.httpd = S(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def options(self):
        return {"endpoint": self.endpoint, "allow_http": "true", "skip_signature": "true",
                "region": "us-east-1"}

    def _send(self, h, code, body):
        b = body.encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(b)))
        h.end_headers()
        h.wfile.write(b)

    def _page(self, prefix, delim, max_keys, token):
        keys = self.keys
        i = bisect.bisect_left(keys, prefix)
        if token:
            i = max(i, bisect.bisect_right(keys, token))
            if delim and token.endswith(delim):
                i = max(i, bisect.bisect_left(keys, token[:-1] + chr(ord(delim) + 1)))
        contents, prefixes, last = [], [], None
        while i < len(keys) and keys[i].startswith(prefix):
            if len(contents) + len(prefixes) >= max_keys:
                return contents, prefixes, last
            k = keys[i]
            j = k.find(delim, len(prefix)) if delim else -1
            if j >= 0:
                cp = k[:j + 1]
                prefixes.append(cp)
                last = cp
                i = bisect.bisect_left(keys, cp[:-1] + chr(ord(delim) + 1))
            else:
                contents.append(k)
                last = k
                i += 1
        return contents, prefixes, None

    def _handle(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        with self.lock:
            self.pages += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            prefix = q.get("prefix", "")
            if prefix in self.fail_prefixes:
                self._send(h, 403, "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"
                           "<Message>listing this prefix is denied (test)</Message></Error>")
                return
            ck = (u.path, tuple(sorted(q.items())))
            body = self.cache.get(ck)
            if body is not None:
                self._send(h, 200, body)
                return
            delim = q.get("delimiter", "")
            mk = min(int(q.get("max-keys", "1000")), self.max_keys)
            token = q.get("continuation-token")
            contents, prefixes, nxt = self._page(prefix, delim, mk, token)
            enc = q.get("encoding-type") == "url"

            def e(s):
                return escape(urllib.parse.quote(s, safe="/") if enc else s)
            out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                   "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                   f"<Name>b</Name><Prefix>{e(prefix)}</Prefix>",
                   f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>",
                   f"<MaxKeys>{mk}</MaxKeys>"]
            if delim:
                out.append(f"<Delimiter>{e(delim)}</Delimiter>")
            if enc:
                out.append("<EncodingType>url</EncodingType>")
            out.append(f"<IsTruncated>{'true' if nxt else 'false'}</IsTruncated>")
            if nxt:
                out.append(f"<NextContinuationToken>{escape(nxt)}</NextContinuationToken>")
            for k in contents:
                out.append(f"<Contents><Key>{e(k)}</Key>"
                           "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                           f"<ETag>\"{len(k):032x}\"</ETag><Size>{1000 + len(k)}</Size>"
                           "<StorageClass>STANDARD</StorageClass></Contents>")
            for p in prefixes:
                out.append(f"<CommonPrefixes><Prefix>{e(p)}</Prefix></CommonPrefixes>")
            out.append("</ListBucketResult>")
            body = "".join(out)
            self.cache[ck] = body
            self._send(h, 200, body)
        finally:
            with self.lock:
                self.in_flight -= 1
