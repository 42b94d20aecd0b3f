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

# convert_pinned SUBCOMMAND TGZ OUT_DIR FILE=SHA256...: unless every FILE
# in OUT_DIR already has its pinned sha256, runs `bin/facet models
# SUBCOMMAND TGZ OUT_DIR` (the conversions are deterministic) and checks
# the outputs again; prints each output's sha256.
convert_pinned() {
  local sub=$1 tgz=$2 dir=$3; shift 3
  local pins=("$@") files=() p
  for p in "${pins[@]}"; do files+=("${p%%=*}"); done
  pinned() {
    for p in "${pins[@]}"; do
      echo "${p#*=}  $dir/${p%%=*}" | sha256sum -c --quiet >/dev/null 2>&1 || return 1
    done
  }
  if ! pinned; then
    [ -x bin/facet ] || { say "bin/facet not built: run go build -o bin/facet ./cmd/facet first"; exit 1; }
    say "converting ${files[*]} from $tgz"
    bin/facet models "$sub" "$tgz" "$dir" >/dev/null
    if ! pinned; then
      say "converted models do not match their pinned sha256:"
      (cd "$dir" && sha256sum "${files[@]}")
      exit 1
    fi
  fi
  (cd "$dir" && sha256sum "${files[@]}") | while read -r line; do say "$line"; done
}
