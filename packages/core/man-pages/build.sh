#!/bin/bash
# man-pages ships only documentation: no compile step beyond the Makefile's checks.

configure() {
    set -e
    # The crypt(3) pages come from libxcrypt; drop ours so the files do not collide.
    rm -v man3/crypt*
}

build() {
    set -e
    make -R GIT=false -j"$(nproc)" lint-man-mandoc 2>/dev/null || make -R GIT=false check
}

do_install() {
    set -e
    make -R GIT=false prefix=/usr DESTDIR="${DESTDIR}" install
}
