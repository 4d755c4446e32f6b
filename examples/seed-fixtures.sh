#!/usr/bin/env bash
# Seed a repository with a small collection: containers, RDF, a binary with a checked digest,
# a direct container for membership, and a labelled version.
# Usage: examples/seed-fixtures.sh [REPO]   (default: a new repository in ./seed-repo)
set -euo pipefail
repo="${1:-./seed-repo}"
export FCRCTL_REPO="$repo"
[ -d "$repo/ocfl-root" ] || fcrctl init "$repo"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fcrctl create /books
cat > "$work/moby.ttl" <<'TTL'
@prefix dc: <http://purl.org/dc/elements/1.1/> .
<> dc:title "Moby-Dick" ; dc:creator "Herman Melville" .
TTL
fcrctl create /books/moby --file "$work/moby.ttl"

printf 'Call me Ishmael.\n' > "$work/chapter1.txt"
sum="$(sha256sum "$work/chapter1.txt" | cut -d' ' -f1)"
fcrctl create /books/moby/chapter1 --file "$work/chapter1.txt" --digest "sha256=$sum"

cat > "$work/shelf.ttl" <<'TTL'
@prefix ldp: <http://www.w3.org/ns/ldp#> .
@prefix pcdm: <http://pcdm.org/models#> .
<> ldp:membershipResource <info:fedora/books> ; ldp:hasMemberRelation pcdm:hasMember .
TTL
fcrctl create /books/members --container-type direct --file "$work/shelf.ttl"
fcrctl create /books/members/m1

fcrctl versions create /books/moby --label seeded
fcrctl ls -R --long /books
