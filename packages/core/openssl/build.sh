#!/bin/bash
# OpenSSL ships a Perl-based ./config instead of autoconf.

configure() {
    set -e
    ./config --prefix=/usr --openssldir=/etc/ssl --libdir=lib shared zlib-dynamic
}

build() {
    set -e
    make -j"$(nproc)"
}

do_install() {
    set -e
    # Skip the static archives; keep the versioned docs directory.
    sed -i '/INSTALL_LIBS/s/libcrypto.a libssl.a//' Makefile
    make DESTDIR="${DESTDIR}" MANSUFFIX=ssl install
    mv -v "${DESTDIR}/usr/share/doc/openssl" "${DESTDIR}/usr/share/doc/openssl-3.5.2"
}
