# Shell functions the set-up scripts share; source it from the project's
# root after defining say (each script prefixes its own messages).

# fetch PKG@VERSION SHA256: the tarball of an npm package in .cache/npm,
# checked against its pinned sha256; prints its path.
fetch() {
  local spec=$1 sum=$2 name=${1%@*} version=${1##*@}
  local base=${name#@}
  local tgz=".cache/npm/${base//\//-}-$version.tgz"
  mkdir -p .cache/npm
  if [ -f "$tgz" ] && echo "$sum  $tgz" | sha256sum -c --quiet 2>/dev/null; then
    echo "$tgz"; return
  fi
  say "downloading $spec (npm)" >&2
  rm -f "$tgz"
  (cd .cache/npm && npm pack "$spec" --silent >/dev/null)
  echo "$sum  $tgz" | sha256sum -c --quiet || { say "checksum mismatch for $tgz" >&2; rm -f "$tgz"; exit 1; }
  echo "$tgz"
}

# npm_ci DIR: npm ci in DIR, exactly as its package-lock.json pins, unless
# node_modules already matches that lock. A folder's .npmrc may turn
# install scripts off.
npm_ci() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || ! cmp -s "$dir/package-lock.json" "$dir/.installed-lock"; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --silent >/dev/null)
    cp "$dir/package-lock.json" "$dir/.installed-lock"
  fi
}
