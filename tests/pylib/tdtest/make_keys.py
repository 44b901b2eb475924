"""Builds a folder of N keys as hard links of a few small corpus TIFFs (no extra disk
space), spread over subfolders of 1,000 so that listing crosses directories."""
import os

def pick_sources(corpus, n=5):
    """Small valid TIFFs from expected.jsonl (no error, under 64 KiB), first n by path."""
    import json
    out = []
    for line in open(os.path.join(corpus, "expected.jsonl")):
        e = json.loads(line)
        if e["error"] is None and not e["warnings"] and e["size"] < 65536:
            out.append(os.path.join(corpus, e["path"]))
        if len(out) == n:
            break
    return out


def make_keys(corpus, root, n, per_dir=1000):
    # copies beside the key folder first: hard links cannot cross file systems
    import shutil
    copies = root.rstrip("/") + ".src"
    os.makedirs(copies, exist_ok=True)
    srcs = []
    for i, s in enumerate(pick_sources(corpus)):
        dst = os.path.join(copies, f"{i}.tif")
        shutil.copyfile(s, dst)
        srcs.append(dst)
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        d = os.path.join(root, f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        os.link(srcs[i % len(srcs)], os.path.join(d, f"k{i:07d}.tif"))
    return srcs
