#!/bin/bash
# Vendor binary repack. The recipe is pending_acquisition: the .deb is not on the
# mirror until redistribution is cleared, so configure() refuses to run without it.

SPOTIFY_DEB="/sources/spotify-client_1.2.63.394.g126b0d89_amd64.deb"

configure() {
    set -e
    if [ ! -f "${SPOTIFY_DEB}" ]; then
        echo "spotify: ${SPOTIFY_DEB} not staged (pending acquisition)" >&2
        return 1
    fi
    ar x "${SPOTIFY_DEB}" data.tar.gz
}

build() {
    set -e
    mkdir -p unpacked
    tar -xzf data.tar.gz -C unpacked
}

do_install() {
    set -e
    install -d "${DESTDIR}/usr/lib" "${DESTDIR}/usr/bin"
    cp -a unpacked/usr/share/spotify "${DESTDIR}/usr/lib/spotify"
    ln -sf ../lib/spotify/spotify "${DESTDIR}/usr/bin/spotify"
    install -Dm644 unpacked/usr/share/spotify/spotify.desktop \
        "${DESTDIR}/usr/share/applications/spotify.desktop"
}
