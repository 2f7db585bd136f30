#!/usr/bin/env bash
# The per-card baseline of `make bench`'s fleet: one skopeo process per card, the way a fleet is
# scripted with oras or skopeo (`for card in …; do oras push …; done`). skopeo checks every
# blob's digest while it copies; pulled cards are compared with their originals.
#
#   REGISTRY=host:port NAMESPACE=fleet TAG=v1 bench/skopeo-loop.sh push CARDS_DIR LAYOUT
#       each CARDS_DIR/<agent>_agent_card.json, from the OCI layout LAYOUT (one image per card,
#       named <agent>) to REGISTRY/NAMESPACE/<agent>:TAG
#   REGISTRY=host:port NAMESPACE=fleet TAG=v1 bench/skopeo-loop.sh pull-verify CARDS_DIR OUT
#       each REGISTRY/NAMESPACE/<agent>:TAG into OUT/<agent>/, its card compared with CARDS_DIR's
set -euo pipefail

mode=${1:-} cards=${2:-} target=${3:-}
if [[ ! $mode =~ ^(push|pull-verify)$ ]] || [ -z "$target" ] || [ -z "${REGISTRY:-}" ] || [ -z "${NAMESPACE:-}" ] || [ -z "${TAG:-}" ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
if [ "$mode" = pull-verify ]; then mkdir -p "$target"; fi

for card in "$cards"/*_agent_card.json; do
  agent=${card##*/}
  agent=${agent%_agent_card.json}
  if [ "$mode" = push ]; then
    skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$target:$agent" "docker://$REGISTRY/$NAMESPACE/$agent:$TAG"
  else
    skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/$NAMESPACE/$agent:$TAG" "dir:$target/$agent"
    # skopeo's dir: layout names each blob after its digest.
    digest=$(sha256sum "$card")
    cmp "$card" "$target/$agent/${digest%% *}"
  fi
done
