#!/bin/bash
# intergenos-base-layout: this package is intentionally a metapackage.
# It has no upstream source (source: []); it only writes the release identity
# and filesystem-layout config files that later phases and pkm read.

configure() {
    set -e
    IGOS_RELEASE_ID="${IGOS_RELEASE_ID:-1.0-dev}"
    IGOS_BUILD_ID="${IGOS_BUILD_ID:-v1.0-dev1}"
    export IGOS_RELEASE_ID IGOS_BUILD_ID
    mkdir -p staging
}

build() {
    set -e
    cat > staging/release.conf <<CONF
# InterGenOS release identity (written by intergenos-base-layout)
NAME="InterGenOS"
ID=intergenos
VERSION_ID="${IGOS_RELEASE_ID}"
BUILD_ID="${IGOS_BUILD_ID}"
HOME_URL="https://github.com/InterGenJLU/intergenos"
CONF
    cat > staging/layout.conf <<CONF
# Merged-/usr layout: these top-level paths are symlinks into /usr.
usr_merge=true
bin=/usr/bin
sbin=/usr/sbin
lib=/usr/lib
lib64=/usr/lib
CONF
}

do_install() {
    set -e
    install -Dm644 staging/release.conf "${DESTDIR}/etc/intergenos/release.conf"
    install -Dm644 staging/layout.conf  "${DESTDIR}/etc/intergenos/layout.conf"
}
