#!/usr/bin/env bash
# The bash + curl baseline of `make bench`: each walkthrough step as the shortest script that
# makes the same checks as ours (every digest the registry announces is compared with the bytes,
# every pulled card with its original) with the fewest requests the OCI distribution API allows.
# One curl process per request, as such scripts are written. It does not validate the cards
# against the agent card schema, which our push and verify do.
#
#   bench/baseline.sh push|list|manifest|pull|verify|copy
#   with the Makefile's variables: REGISTRY AGENTS TAG TO_TAG CARDS_DIR OUT_DIR
set -euo pipefail

REGISTRY=${REGISTRY:-localhost:5000}
AGENTS=${AGENTS:-plan,build,test}
TAG=${TAG:-v1}
TO_TAG=${TO_TAG:-v2}
CARDS_DIR=${CARDS_DIR:-fixtures/agent_cards}
OUT_DIR=${OUT_DIR:-tmp/registry-verify}

BASE=http://$REGISTRY
MANIFEST_TYPE=application/vnd.oci.image.manifest.v1+json
EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
IFS=, read -r -a agents <<<"$AGENTS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "baseline: $*" >&2
  exit 1
}

# sha256 FILE: sets $digest.
sha256() {
  digest=$(sha256sum "$1")
  digest=sha256:${digest%% *}
}

# upload REPOSITORY DIGEST FILE [FROM]: a blob in two requests, POST then PUT of the whole
# body; with FROM, one POST that mounts the blob FROM already holds (201), else as without.
upload() {
  local answer
  answer=$(curl -fsS -X POST -o /dev/null -w '%{http_code} %header{location}' "$BASE/v2/$1/blobs/uploads/${4:+?mount=$2&from=$4}")
  [ "${answer%% *}" = 201 ] && return
  local location=${answer#* }
  [[ $location == /* ]] && location=$BASE$location
  [[ $location == *\?* ]] && location+="&digest=$2" || location+="?digest=$2"
  curl -fsS -X PUT -H "Content-Type: application/octet-stream" --data-binary "@$3" "$location"
}

# fetch_manifest AGENT: GETs AGENT's manifest at TAG into $work/manifest, checked against the
# digest the registry announces; sets $digest.
fetch_manifest() {
  local announced
  announced=$(curl -fsS -H "Accept: $MANIFEST_TYPE" -o "$work/manifest" -w '%header{docker-content-digest}' "$BASE/v2/agents/$1/manifests/$TAG")
  sha256 "$work/manifest"
  [ "$digest" = "$announced" ] || fail "agents/$1:$TAG is $digest, but the registry says $announced"
}

# pull AGENT: its card into OUT_DIR/<title>, checked for digest and size; sets $title.
pull() {
  fetch_manifest "$1"
  [[ $(<"$work/manifest") =~ \"layers\":\[\{[^}]*\"digest\":\"(sha256:[a-f0-9]{64})\",\"size\":([0-9]+),\"annotations\":\{\"org.opencontainers.image.title\":\"([A-Za-z0-9._-]+)\" ]] ||
    fail "agents/$1:$TAG: no titled layer in its manifest"
  local layer=${BASH_REMATCH[1]} size=${BASH_REMATCH[2]} got
  title=${BASH_REMATCH[3]}
  got=$(curl -fsS -L -o "$OUT_DIR/$title" -w '%{size_download}' "$BASE/v2/agents/$1/blobs/$layer")
  sha256 "$OUT_DIR/$title"
  if [ "$digest" != "$layer" ] || [ "$got" != "$size" ]; then
    rm -f "$OUT_DIR/$title"
    fail "agents/$1:$TAG: its card is not the blob $layer"
  fi
  echo "Pulled $REGISTRY/agents/$1:$TAG"
}

# pages PATH: GETs every page of a list, following `Link: <next>; rel="next"`.
pages() {
  local next=$1 line
  while [ -n "$next" ]; do
    curl -fsS -D "$work/headers" "$BASE$next"
    echo
    next=
    while IFS= read -r line; do
      if [[ $line =~ ^[Ll]ink:\ *\<([^>]+)\>.*rel=\"?next ]]; then next=${BASH_REMATCH[1]}; fi
    done <"$work/headers"
  done
}

case ${1:-} in
push)
  export TZ=UTC
  printf -v created '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '{}' >"$work/empty"
  first=
  for agent in "${agents[@]}"; do
    file=$CARDS_DIR/${agent}_agent_card.json
    sha256 "$file"
    layer=$digest
    size=$(stat -c %s "$file")
    # The empty config: uploaded into the first repository, mounted from there into the others.
    upload "agents/$agent" "$EMPTY_DIGEST" "$work/empty" "$first"
    first=${first:-agents/$agent}
    upload "agents/$agent" "$layer" "$file"
    # The manifest oras writes, byte for byte; the registry must store it under its digest.
    printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/a2a-agent-card+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2,"data":"e30="},"layers":[{"mediaType":"application/json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.title":"%s"}}],"annotations":{"org.opencontainers.image.created":"%s"}}' \
      "$MANIFEST_TYPE" "$EMPTY_DIGEST" "$layer" "$size" "${agent}_agent_card.json" "$created" >"$work/manifest"
    sha256 "$work/manifest"
    stored=$(curl -fsS -X PUT -H "Content-Type: $MANIFEST_TYPE" --data-binary "@$work/manifest" -o /dev/null -w '%header{docker-content-digest}' "$BASE/v2/agents/$agent/manifests/$TAG")
    [ "$stored" = "$digest" ] || fail "agents/$agent:$TAG stored as ${stored:-nothing}, not $digest"
    echo "Pushed $REGISTRY/agents/$agent:$TAG Digest: $digest"
  done
  ;;
list)
  pages "/v2/_catalog?n=1000"
  for agent in "${agents[@]}"; do pages "/v2/agents/$agent/tags/list"; done
  ;;
manifest)
  # One GET each: the body is the manifest, its Docker-Content-Digest header the digest.
  for agent in "${agents[@]}"; do
    fetch_manifest "$agent"
    cat "$work/manifest"
    echo
    echo "$digest"
  done
  ;;
pull)
  mkdir -p "$OUT_DIR"
  for agent in "${agents[@]}"; do pull "$agent"; done
  ;;
verify)
  mkdir -p "$OUT_DIR"
  for agent in "${agents[@]}"; do
    pull "$agent"
    cmp "$CARDS_DIR/${agent}_agent_card.json" "$OUT_DIR/$title" || fail "agents/$agent:$TAG differs from its original"
    echo "$agent agent: Content verified"
  done
  ;;
copy)
  # Within one repository the blobs are there already: GET the manifest, PUT it under TO_TAG,
  # and the digest the registry stored it under must be the source's.
  for agent in "${agents[@]}"; do
    fetch_manifest "$agent"
    stored=$(curl -fsS -X PUT -H "Content-Type: $MANIFEST_TYPE" --data-binary "@$work/manifest" -o /dev/null -w '%header{docker-content-digest}' "$BASE/v2/agents/$agent/manifests/$TO_TAG")
    [ "$stored" = "$digest" ] || fail "agents/$agent: $TAG is $digest but $TO_TAG is ${stored:-unknown}"
    echo "agents/$agent: $TAG and $TO_TAG both resolve to $digest"
  done
  ;;
*)
  sed -n '2,9p' "$0" >&2
  exit 2
  ;;
esac
