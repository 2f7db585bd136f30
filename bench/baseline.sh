#!/usr/bin/env bash
# The floor for "one process per step" tooling: Phase 3's HTTP work in bash, one curl process per
# request, checking every status code and digest, stopping at the first error. `make bench` times
# it against our scripts in the same run.
#
#   bench/baseline.sh push|list|manifest|pull|verify|copy
#       one walkthrough step, with the Makefile's variables: REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR
#   bench/baseline.sh loop-push DIR NAMESPACE
#   bench/baseline.sh loop-pull-verify DIR NAMESPACE OUT
#       every DIR/<agent>_agent_card.json, one card at a time (the spec's `for agent in …; do oras push …; done`),
#       to and from REGISTRY/NAMESPACE/<agent>:TAG
set -euo pipefail

REGISTRY=${REGISTRY:-localhost:5000}
AGENTS=${AGENTS:-plan,build,test}
TAG=${TAG:-v1}
TO_TAG=${TO_TAG:-v2}
CARDS_DIR=${CARDS_DIR:-fixtures/agent_cards}
OUT_DIR=${OUT_DIR:-tmp/registry-verify}

BASE="http://$REGISTRY"
MANIFEST_TYPE=application/vnd.oci.image.manifest.v1+json
ACCEPT="application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, $MANIFEST_TYPE, application/vnd.oci.image.index.v1+json, application/vnd.oci.artifact.manifest.v1+json"
EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{}' >"$work/empty"

fail() {
  echo "baseline: $*" >&2
  exit 1
}

# Results go through files and `read`, not $(…), so each request costs one curl process and no
# subshell: the floor should not pay for overhead a careful script avoids.
export TZ=UTC
body="$work/body"

# request METHOD URL "EXPECTED STATUSES" [curl options…]: sets $status; the body goes to $body,
# the headers to $work/headers.
request() {
  local method=$1 url=$2 expected=$3
  shift 3
  local how=(-X "$method")
  [ "$method" = HEAD ] && how=(--head)
  curl -sS "${how[@]}" -o "$body" -D "$work/headers" -w '%{http_code}\n' "$@" "$url" >"$work/status" ||
    fail "$method $url: curl failed"
  read -r status <"$work/status"
  [[ " $expected " == *" $status "* ]] || fail "$method $url: HTTP $status (expected $expected): $(head -c 300 "$body")"
}

# header NAME (lower case): sets $value to that header of the last answer, or to nothing.
header() {
  local line name
  value=
  while IFS= read -r line; do
    name=${line%%:*}
    if [ "${name,,}" = "$1" ]; then
      value=${line#*:}
      value=${value# }
      value=${value%$'\r'}
      return
    fi
  done <"$work/headers"
}

# show FILE: prints it, as the steps print what they fetched.
show() {
  local text
  read -r -d '' text <"$1" || true
  printf '%s\n' "$text"
}

# sha256 FILE: sets $digest.
sha256() {
  sha256sum "$1" >"$work/sum"
  local hex _
  read -r hex _ <"$work/sum"
  digest="sha256:$hex"
}

# upload_blob REPOSITORY DIGEST FILE: HEAD, and when missing POST then PUT the whole body.
upload_blob() {
  request HEAD "$BASE/v2/$1/blobs/$2" "200 404"
  [ "$status" = 200 ] && return
  request POST "$BASE/v2/$1/blobs/uploads/" 202
  header location
  [ -n "$value" ] || fail "POST $1 upload: no Location"
  [[ "$value" == /* ]] && value="$BASE$value"
  [[ "$value" == *\?* ]] && value+="&digest=$2" || value+="?digest=$2"
  request PUT "$value" 201 -H "Content-Type: application/octet-stream" --data-binary "@$3"
}

# push_card REPOSITORY TAG FILE: what `oras push --artifact-type … REF FILE:application/json` sends.
push_card() {
  local repository=$1 tag=$2 file=$3 title=${3##*/} created layer_digest layer_size
  sha256 "$file"
  layer_digest=$digest
  stat -c %s "$file" >"$work/size"
  read -r layer_size <"$work/size"
  printf -v created '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"$MANIFEST_TYPE\",\"artifactType\":\"application/a2a-agent-card+json\",\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"$EMPTY_DIGEST\",\"size\":2,\"data\":\"e30=\"},\"layers\":[{\"mediaType\":\"application/json\",\"digest\":\"$layer_digest\",\"size\":$layer_size,\"annotations\":{\"org.opencontainers.image.title\":\"$title\"}}],\"annotations\":{\"org.opencontainers.image.created\":\"$created\"}}" >"$work/manifest.json"
  sha256 "$work/manifest.json"
  request HEAD "$BASE/v2/$repository/manifests/$digest" "200 404" -H "Accept: $ACCEPT"
  if [ "$status" = 404 ]; then
    upload_blob "$repository" "$EMPTY_DIGEST" "$work/empty"
    upload_blob "$repository" "$layer_digest" "$file"
  fi
  request PUT "$BASE/v2/$repository/manifests/$tag" 201 -H "Content-Type: $MANIFEST_TYPE" --data-binary "@$work/manifest.json"
  header docker-content-digest
  [ "$value" = "$digest" ] || fail "$repository:$tag stored as ${value:-nothing}, not $digest"
  echo "Pushed $REGISTRY/$repository:$tag Digest: $digest"
}

# list_pages PATH: GETs every page, following Link rel="next", and prints each.
list_pages() {
  local next=$1
  while [ -n "$next" ]; do
    request GET "$BASE$next" 200
    show "$body"
    header link
    next=
    if [[ "$value" =~ \<([^>]+)\>.*rel=\"?next ]]; then next=${BASH_REMATCH[1]}; fi
  done
}

# pull_card REPOSITORY TAG OUT: the manifest, then its titled layer straight into OUT, checked
# for size and digest (a failed one is removed); sets $title.
pull_card() {
  local repository=$1 tag=$2 out=$3 manifest layer_digest layer_size
  request GET "$BASE/v2/$repository/manifests/$tag" 200 -H "Accept: $ACCEPT"
  read -r -d '' manifest <"$body" || true
  [[ "$manifest" =~ \"layers\":\[\{\"mediaType\":\"[^\"]*\",\"digest\":\"(sha256:[a-f0-9]{64})\",\"size\":([0-9]+),\"annotations\":\{\"org.opencontainers.image.title\":\"([A-Za-z0-9._-]+)\" ]] ||
    fail "$repository:$tag: no titled layer in the manifest"
  layer_digest=${BASH_REMATCH[1]} layer_size=${BASH_REMATCH[2]} title=${BASH_REMATCH[3]}
  body="$out/$title"
  request GET "$BASE/v2/$repository/blobs/$layer_digest" 200 -L -w '%{http_code}\n%{size_download}\n'
  body="$work/body"
  sha256 "$out/$title"
  local _ size
  { read -r _; read -r size; } <"$work/status"
  if [ "$digest" != "$layer_digest" ] || [ "$size" != "$layer_size" ]; then
    rm -f "$out/$title"
    fail "$repository:$tag: blob $layer_digest failed verification"
  fi
}

# verify_card REPOSITORY TAG OUT ORIGINAL: pull, then compare byte for byte.
verify_card() {
  pull_card "$1" "$2" "$3"
  cmp -s "$4" "$3/$title" || fail "$1:$2 differs from $4"
}

IFS=, read -r -a agents <<<"$AGENTS"

case ${1:-} in
push)
  for agent in "${agents[@]}"; do push_card "agents/$agent" "$TAG" "$CARDS_DIR/${agent}_agent_card.json"; done
  ;;
list)
  list_pages /v2/_catalog
  for agent in "${agents[@]}"; do list_pages "/v2/agents/$agent/tags/list"; done
  ;;
manifest)
  for agent in "${agents[@]}"; do
    request GET "$BASE/v2/agents/$agent/manifests/$TAG" 200 -H "Accept: $ACCEPT"
    show "$body"
    request HEAD "$BASE/v2/agents/$agent/manifests/$TAG" 200 -H "Accept: $ACCEPT"
    header docker-content-digest
    echo "$value"
  done
  ;;
pull | verify)
  mkdir -p "$OUT_DIR"
  for agent in "${agents[@]}"; do
    if [ "$1" = pull ]; then
      pull_card "agents/$agent" "$TAG" "$OUT_DIR"
    else
      verify_card "agents/$agent" "$TAG" "$OUT_DIR" "$CARDS_DIR/${agent}_agent_card.json"
    fi
    echo "Pulled $REGISTRY/agents/$agent:$TAG"
  done
  ;;
copy)
  for agent in "${agents[@]}"; do
    repository="agents/$agent"
    body="$work/manifest.json"
    request GET "$BASE/v2/$repository/manifests/$TAG" 200 -H "Accept: $ACCEPT"
    body="$work/body"
    request PUT "$BASE/v2/$repository/manifests/$TO_TAG" 201 -H "Content-Type: $MANIFEST_TYPE" --data-binary "@$work/manifest.json"
    request HEAD "$BASE/v2/$repository/manifests/$TAG" 200 -H "Accept: $ACCEPT"
    header docker-content-digest
    source=$value
    request HEAD "$BASE/v2/$repository/manifests/$TO_TAG" 200 -H "Accept: $ACCEPT"
    header docker-content-digest
    [ -n "$source" ] && [ "$value" = "$source" ] || fail "$repository: $TAG is ${source:-unknown} but $TO_TAG is ${value:-unknown}"
    echo "$repository: $TAG and $TO_TAG both resolve to $source"
  done
  ;;
loop-push)
  for file in "$2"/*_agent_card.json; do
    agent=${file##*/}
    push_card "$3/${agent%_agent_card.json}" "$TAG" "$file"
  done
  ;;
loop-pull-verify)
  mkdir -p "$4"
  for file in "$2"/*_agent_card.json; do
    agent=${file##*/}
    verify_card "$3/${agent%_agent_card.json}" "$TAG" "$4" "$file"
  done
  ;;
*)
  sed -n '2,12p' "$0" >&2
  exit 2
  ;;
esac
