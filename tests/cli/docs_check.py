#!/usr/bin/env python3
"""The user-facing texts agree with each other and with the tool.

usage: docs_check.py TIFF_DUMPER SOURCE_DIR

1. Every relative link `](path)` / `](path#anchor)` in README.md and docs/*.md names a file
   that exists, and every `#anchor` matches a heading of the target (GitHub's slugs).
2. Every command the tool dispatches is in its top-level --help, the README's Usage block,
   the man page's SYNOPSIS and both shell completions.
3. Every option a command's --help lists is in the man page and in that command's part of
   the bash and zsh completions (a flag added to one place and not the others is the usual
   way these texts go stale).
4. `tiff-dumper help CMD` is `tiff-dumper CMD --help`, exit 0; a mistyped command gets
   exit 2 and the closest command's name.
"""
import os
import re
import subprocess
import sys

tool, src = sys.argv[1], sys.argv[2]
COMMANDS = ["headers", "finish", "info", "report"]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def read(p):
    with open(os.path.join(src, p), encoding="utf-8") as f:
        return f.read()


# ---- 1. links and anchors ------------------------------------------------------------
def slugs(md):
    """GitHub's heading anchors: lower case, punctuation but '-' and '_' dropped, spaces
    to '-', a repeated slug gets -1, -2, ..."""
    out, seen, fence = set(), {}, False
    for line in md.splitlines():
        if line.startswith("```"):
            fence = not fence
            continue
        m = None if fence else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = re.sub(r"[^\w\- ]", "", m.group(2).lower()).replace(" ", "-")
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


docs = ["README.md"] + sorted(
    "docs/" + f for f in os.listdir(os.path.join(src, "docs")) if f.endswith(".md"))
nlinks = 0
for doc in docs:
    text = read(doc)
    body = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    for target in re.findall(r"\]\(([^)\s]+)\)", body):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        nlinks += 1
        path, _, anchor = target.partition("#")
        base = os.path.dirname(doc)
        full = os.path.normpath(os.path.join(src, base, path)) if path else os.path.join(src, doc)
        if not os.path.exists(full):
            fail(f"{doc}: link ({target}): {os.path.relpath(full, src)} does not exist")
            continue
        if anchor:
            if not full.endswith(".md"):
                fail(f"{doc}: link ({target}): an anchor into a file that is not Markdown")
            elif anchor not in slugs(open(full, encoding="utf-8").read()):
                fail(f"{doc}: link ({target}): no heading gives #{anchor} in "
                     f"{os.path.relpath(full, src)}")
print(f"{nlinks} relative links checked in {len(docs)} files")


# ---- 2. commands everywhere ------------------------------------------------------------
def run(*args):
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


man = read("docs/man/tiff-dumper.1")
man_plain = man.replace("\\-", "-").replace("\\fR", "").replace("\\fP", "").replace(
    "\\fI", "").replace("\\fB", "")
bash = read("completions/tiff-dumper.bash")
zsh = read("completions/_tiff-dumper")
readme = read("README.md")
usage_block = re.search(r"## Usage\n\n```\n(.*?)```", readme, re.S).group(1)
rc, top, _ = run("--help")
if rc != 0:
    fail(f"--help exits {rc}")
synopsis = man_plain.split(".SH SYNOPSIS", 1)[1].split(".SH DESCRIPTION", 1)[0]
for c in COMMANDS:
    if not re.search(rf"^\s+{c}\b", top, re.M):
        fail(f"top-level --help does not list the command '{c}'")
    if f"tiff-dumper {c}" not in usage_block:
        fail(f"README's Usage block does not show 'tiff-dumper {c}'")
    if f"tiff-dumper {c}" not in synopsis:
        fail(f"man page SYNOPSIS does not show 'tiff-dumper {c}'")
    if not re.search(rf"^\s+{c}\)", bash, re.M) or c not in bash.split("\n")[8]:
        fail(f"bash completion does not complete the command '{c}'")
    if f"_tiff_dumper_{c}()" not in zsh or f'{c}\\:"' not in zsh:
        fail(f"zsh completion does not complete the command '{c}'")
    # 4. help CMD
    rc1, h1, _ = run("help", c)
    rc2, h2, _ = run(c, "--help")
    if rc2 != 0:
        fail(f"'{c} --help' exits {rc2}")
    if rc1 != 0 or h1 != h2:
        fail(f"'tiff-dumper help {c}' is not '{c} --help' (exit {rc1})")


rc, _, err = run("headres", "c.yaml", "out")
if rc != 2 or "did you mean 'headers'" not in err:
    fail(f"a mistyped command: exit {rc}, {err!r}")

# ---- 3. every option of every command everywhere -------------------------------------
def section(text, start, end):
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start))
    return text[i:j if j > 0 else len(text)]


def help_flags(h):
    """Options of a --help text: the flags at the start of its option lines, each with
    True when it is a short form that has a long one beside it."""
    flags = {}
    for line in h.splitlines():
        m = re.match(r"^\s{2}(-[\w-]+)(?:, (--[\w-]+))?", line)
        if m:
            flags[m.group(1)] = bool(m.group(2))
            if m.group(2):
                flags[m.group(2)] = False
    return flags


for c in COMMANDS:
    _, h, _ = run(c, "--help")
    flags = help_flags(h)
    if not flags:
        fail(f"'{c} --help' lists no options")
    bash_part = section(bash, f"    {c})", ";;\n    ")
    zsh_part = section(zsh, f"_tiff_dumper_{c}()", "\n}\n")
    for f, has_long in sorted(flags.items()):
        if f"{f} " not in man_plain and f"{f}\n" not in man_plain and f"{f}," not in man_plain:
            fail(f"man page does not document '{c} {f}'")
        # bash offers the long forms (a short one only when it has no long one)
        if not has_long and not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", bash_part):
            fail(f"bash completion of '{c}' does not offer {f}")
        if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", zsh_part):
            fail(f"zsh completion of '{c}' does not offer {f}")

if failures:
    print(f"{len(failures)} problem(s)")
    sys.exit(1)
print("docs, man page, completions and --help agree")
