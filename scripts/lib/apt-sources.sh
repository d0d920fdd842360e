# shellcheck shell=bash
# Reading apt's sources in both formats Debian uses: the classic one-line `sources.list` (what the Debian
# installer and debootstrap write) and deb822 `*.sources` files (what Debian's cloud and container images
# ship). Every function takes apt's configuration directory (normally /etc/apt) so that the tests can point
# it at fixtures; none of them needs root or fails when a file is missing.

# The one-line and deb822 source files under APT_DIR, one per line (only those that exist).
apt_source_files() {
  local apt_dir=$1 f
  for f in "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done
  return 0
}

# Prints "URI SUITE" for every enabled suite in the sources under APT_DIR, one pair per line.
apt_suites() {
  local apt_dir=$1 f
  while IFS= read -r f; do
    case "$f" in
      *.sources) awk '
          # deb822: stanzas separated by blank lines; "Field: value", continued on lines that start with
          # a space (as a long Suites or an inline Signed-By key does); "Enabled: no" switches a stanza off.
          function flush() {
            if (f["types"] ~ /(^| )deb( |$)/ && tolower(f["enabled"]) != "no") {
              n = split(f["uris"], u, " "); m = split(f["suites"], s, " ")
              for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
            }
            split("", f); key = ""
          }
          /^#/ { next }
          /^[ \t]*$/ { flush(); next }
          /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }
          { key = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v); f[key] = v }
          END { flush() }' "$f" ;;
      *) awk '
          # One-line format: deb [options] URI SUITE COMPONENT...; options may hold spaces inside brackets.
          $1 == "deb" { line = $0; sub(/^deb[ \t]+/, "", line)
                        if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)
                        split(line, w, /[ \t]+/); if (w[1] != "" && w[2] != "") print w[1], w[2] }' "$f" ;;
    esac
  done < <(apt_source_files "$apt_dir")
}

# True when SUITE (e.g. bookworm-backports) is enabled in the sources under APT_DIR.
apt_has_suite() {
  apt_suites "$1" | awk -v s="$2" '$2 == s { found = 1 } END { exit !found }'
}

# The mirror that serves SUITE's base distribution (e.g. bookworm), so that backports come from the same
# place; Debian's main mirror when none is configured.
apt_debian_mirror() {
  local uri
  uri=$(apt_suites "$1" | awk -v s="$2" '$2 == s { print $1; exit }')
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# A deb822 stanza that enables SUITE from MIRROR (signed by Debian's archive keyring when it is installed).
apt_suite_stanza() {
  local mirror=$1 suite=$2 keyring=${3:-/usr/share/keyrings/debian-archive-keyring.gpg}
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$mirror" "$suite"
  if [ -f "$keyring" ]; then printf 'Signed-By: %s\n' "$keyring"; fi
}
