#!/usr/bin/env bash
# Checks the documentation of an installed tree of the pgsql-ra package (issue 15):
#
#   bash scripts/check-installed-docs.sh ROOT     (ROOT: the package unpacked, dpkg-deb -x)
#
# * no gzipped Markdown: the guides link to each other ([runbook](runbook.md)), and
#   dh_compress would break those links (debian/rules keeps .md uncompressed);
# * every relative link of every installed .md ([text](target), [id]: target; URLs and
#   #anchors aside, a #fragment ignored) names a file or directory inside ROOT;
# * /usr/share/doc/pgsql-ra/THIRD-PARTY-LICENSES is there, uncompressed, and the copyright
#   file names it.
# Prints what it checked; exits 1 naming every problem.
set -euo pipefail
root=${1:?usage: check-installed-docs.sh ROOT}
doc=$root/usr/share/doc/pgsql-ra
bad=0
problem() { echo "$*" >&2; bad=1; }

while IFS= read -r -d '' gz; do
  problem "compressed Markdown in the package: ${gz#"$root"}"
done < <(find "$root" -name '*.md.gz' -print0)
[ -f "$doc/THIRD-PARTY-LICENSES" ] || problem "no ${doc#"$root"}/THIRD-PARTY-LICENSES (uncompressed)"
grep -qs /usr/share/doc/pgsql-ra/THIRD-PARTY-LICENSES "$doc/copyright" ||
  problem "${doc#"$root"}/copyright does not name /usr/share/doc/pgsql-ra/THIRD-PARTY-LICENSES"

mds=0 links=0
while IFS= read -r -d '' md; do
  mds=$((mds + 1))
  while IFS= read -r target; do
    case $target in
      http:* | https:* | mailto:* | ftp:* | '#'* | '') continue ;;
    esac
    links=$((links + 1))
    path=${target%%#*}
    case $path in
      /*) resolved=$root$path ;;
      *) resolved=$(dirname "$md")/$path ;;
    esac
    [ -e "$resolved" ] || problem "broken link in ${md#"$root"}: $target"
  done < <({ grep -oE '\]\([^)[:space:]]+' "$md" | sed 's/^](//; s/^<//; s/>$//'
             grep -oE '^ {0,3}\[[^]]+\]: +[^[:space:]]+' "$md" | sed -E 's/^[^]]*\]: +//'; } || true)
done < <(find "$root" -name '*.md' -print0)
echo "$mds Markdown files, $links relative links checked"
[ "$mds" -gt 0 ] || problem "no Markdown file under $root"
[ "$bad" -eq 0 ] || { echo "installed docs: FAILED" >&2; exit 1; }
echo "installed docs: ok"
