#!/usr/bin/python3
"""Sorts the self time of a perf.data recorded with call graphs into a few buckets that say
where tiff-dumper's CPU goes (libcurl has no symbols on Debian, so its frames are grouped by
what called it or what it called).

    perf_summary.py PERF_DATA   -> a markdown table on stdout"""
import re, subprocess, sys
from collections import defaultdict

out = subprocess.run(
    ["perf", "report", "-i", sys.argv[1], "--no-children", "--stdio", "--sort", "symbol",
     "-g", "folded,0,caller,count"],
    capture_output=True, text=True).stdout

# first matching rule wins; a rule is (bucket, regex over the folded stack)
rules = [
    ("Parquet writer thread: row encoding, compression, writes, and its wake-ups", r"writer_main"),
    ("hand-off to the writer thread, once per loop turn (mutex + condvar wake)", r"td_writer_flush|td_writer_push|uv_cond_signal|lll_lock_wake|__lll_lock_wait"),
    ("TIFF parsing", r"tiff_parser|parse_ifd|data_offsets_min|tiff_"),
    ("building the row (table/Parquet column values, main thread)", r"td_table|put_value|set_leaf|pq_"),
    ("per-request handle work (curl_multi_add/remove_handle, setopt, header lists; curl_easy_reset only after non-GETs)",
     r"curl_multi_remove_handle|curl_multi_add_handle|curl_easy_reset|curl_slist|easy_release|curl_easy_setopt"),
    ("sending requests: send() and the kernel's loopback TCP path", r"__x64_sys_sendto|__libc_send"),
    ("reading responses: recv() and copies", r"__x64_sys_recvfrom|__libc_recv"),
    ("libcurl's zero-timeout poll() calls (connection liveness before reuse, readiness after sending)",
     r"__poll|__x64_sys_poll|do_sys_poll"),
    ("epoll_ctl / uv_poll_init: sockets (re)registered by curl's socket callback", r"epoll_ctl|uv_poll_init|uv_poll_start|uv_poll_stop|curl_socket_cb"),
    ("copying response bytes into the header buffer (on_write)", r"on_write"),
    ("response header callback (on_header)", r"on_header"),
    ("epoll_wait / idle wake-ups", r"epoll_wait"),
    ("curl timers (on_curl_timer → curl_multi_socket_action)", r"on_curl_timer"),
    ("key list reading and queueing", r"keysrc|gz|td_keysrc"),
    ("malloc / free", r"malloc|_int_free|cfree|calloc|realloc|unlink_chunk|malloc_consolidate"),
    ("libcurl's own code (HTTP state machine, header parsing, connection cache)", r"curl_multi_socket_action|check_multi_info|0x7"),
]
buckets = defaultdict(float)
total = 0.0
for line in out.splitlines():
    m = re.match(r"^\s*([0-9]+) (.*)$", line)
    if not m:
        continue
    n, stack = int(m.group(1)), m.group(2)
    total += n
    for name, rx in rules:
        if re.search(rx, stack):
            buckets[name] += n
            break
    else:
        buckets["other (kernel scheduling, libuv, start-up)"] += n
if not total:
    print("no samples")
    sys.exit(0)
print("| where | share of tiff-dumper's CPU samples |")
print("|---|---:|")
for name, n in sorted(buckets.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {100 * n / total:.1f}% |")
