#!/usr/bin/env bash
# cli_package: `cpack -G DEB` makes a Debian package with the right dependencies, and the
# package, installed, gives a working tool, man page and shell completions.
#   package_test.sh BUILD_DIR CORPUS_FILE VERSION
# As root (CI) the package is really installed with `dpkg -i` and removed afterwards; as
# another user it is unpacked with `dpkg-deb -x` and every dependency must be installed.
set -euo pipefail
build=$1 corpus=$2 version=$3
work=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg -r tiff-dumper >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "cli_package: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$work"/pkg/tiff-dumper_"$version"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no tiff-dumper_${version}_*.deb in $work/pkg"

# Dependencies come from dpkg-shlibdeps: one per library the binary links.
depends=$(dpkg-deb -f "$deb" Depends)
for p in libc6 libcurl4 libuv1 libyaml-0-2 libexpat1 libzstd1 libsnappy1v5 libssl3 zlib1g libproj25 proj-data; do
  [[ ", $depends," == *", $p "* || ", $depends," == *", $p,"* ]] ||
    fail "Depends lacks $p: $depends"
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/tiff-dumper ./usr/share/man/man1/tiff-dumper.1.gz \
         ./usr/share/bash-completion/completions/tiff-dumper \
         ./usr/share/zsh/vendor-completions/_tiff-dumper ./usr/share/doc/tiff-dumper/README.md; do
  grep -q " $f\$" <<<"$contents" || fail "package lacks $f"
done

if [ "$(id -u)" = 0 ]; then
  dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
  installed=1
  root=""
else
  for p in $(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/|.*//; s/ //g'); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      fail "dependency $p of the package is not installed"
  done
  root=$work/root
  dpkg-deb -x "$deb" "$root"
fi
exe=$root/usr/bin/tiff-dumper

out=$("$exe" --version) || fail "--version failed"
grep -q "^tiff-dumper $version\$" <<<"$out" || fail "--version: $out"
grep -q "^  libcurl " <<<"$out" || fail "--version does not name libcurl: $out"
out=$("$exe" info "$corpus") || fail "info $corpus failed"
grep -q "byte_order *II" <<<"$out" || fail "info output: $out"

# The man page renders without warnings.
man_out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/tiff-dumper.1.gz" 2>&1 >/dev/null) ||
  fail "man failed: $man_out"
[ -z "$man_out" ] || fail "man page warnings: $man_out"
zcat "$root/usr/share/man/man1/tiff-dumper.1.gz" | grep -q "tiff-dumper $version" ||
  fail "man page does not carry version $version"

# bash completion: commands ("he" is headers and help), then the options of headers.
bash_out=$(bash -c '
  source "$1"
  COMP_WORDS=(tiff-dumper hea); COMP_CWORD=1; _tiff_dumper; echo "${COMPREPLY[*]}"
  COMP_WORDS=(tiff-dumper headers --q); COMP_CWORD=2; _tiff_dumper; echo "${COMPREPLY[*]}"
  COMP_WORDS=(tiff-dumper info --j); COMP_CWORD=2; _tiff_dumper; echo "${COMPREPLY[*]}"
' _ "$root/usr/share/bash-completion/completions/tiff-dumper")
[ "$bash_out" = $'headers\n--quiet\n--json' ] || fail "bash completion gave: $bash_out"

# zsh completion: the function loads and compinit binds it to the command.
zsh_out=$(zsh -f -c '
  fpath=("$1" $fpath); autoload -U compinit; compinit -u -D; print -r -- ${_comps[tiff-dumper]}
' _ "$root/usr/share/zsh/vendor-completions") || fail "zsh compinit failed"
[ "$zsh_out" = "_tiff-dumper" ] || fail "zsh completion not bound: '$zsh_out'"
echo "cli_package: $(basename "$deb") installs and works (Depends: $depends)"
