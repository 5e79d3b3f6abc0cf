#!/bin/bash

configure() {
    set -e
    ./configure --prefix=/usr --enable-shared --with-system-expat \
                --enable-optimizations --without-static-libpython
}

build() {
    set -e
    make -j"$(nproc)"
}

do_install() {
    set -e
    make DESTDIR="${DESTDIR}" install
    # pip must not nag about being run as root inside the build chroot.
    install -Dm644 /dev/stdin "${DESTDIR}/etc/pip.conf" <<CONF
[global]
root-user-action = ignore
disable-pip-version-check = true
CONF
}
