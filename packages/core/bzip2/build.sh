#!/bin/bash
# bzip2 has no configure script; the shared library comes from Makefile-libbz2_so.

configure() {
    set -e
    patch -Np1 -i "${RECIPE_DIR}/patches/bzip2-1.0.8-install_docs-1.patch"
    # Relative symlinks, and man pages under /usr/share/man.
    sed -i 's@\(ln -s -f \)$(PREFIX)/bin/@\1@' Makefile
    sed -i "s@(PREFIX)/man@(PREFIX)/share/man@g" Makefile
}

build() {
    set -e
    make -f Makefile-libbz2_so
    make clean
    make -j"$(nproc)"
}

do_install() {
    set -e
    make PREFIX="${DESTDIR}/usr" install
    install -Dm755 libbz2.so.1.0.8 "${DESTDIR}/usr/lib/libbz2.so.1.0.8"
    ln -sf libbz2.so.1.0.8 "${DESTDIR}/usr/lib/libbz2.so"
    install -m755 bzip2-shared "${DESTDIR}/usr/bin/bzip2"
    for i in bzcat bunzip2; do
        ln -sf bzip2 "${DESTDIR}/usr/bin/$i"
    done
    rm -f "${DESTDIR}/usr/lib/libbz2.a"
}
