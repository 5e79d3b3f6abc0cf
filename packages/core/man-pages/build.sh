#!/bin/bash
# man-pages ships only documentation: no compile step beyond the Makefile's checks.

configure() {
    set -e
    # The crypt(3) pages come from libxcrypt; drop ours so the files do not collide.
    rm -v man3/crypt*
}

build() {
    set -e
    # Nothing compiles; "all" only validates the page sources against the Makefile rules.
    make -R GIT=false prefix=/usr all
}

do_install() {
    set -e
    make -R GIT=false prefix=/usr DESTDIR="${DESTDIR}" install
}
