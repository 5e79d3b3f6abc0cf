#!/bin/bash
# intergen is a Python application installed with meson's python module.

configure() {
    set -e
    meson setup build --prefix=/usr --buildtype=release -Dpython=python3
}

build() {
    set -e
    ninja -C build
}

do_install() {
    set -e
    DESTDIR="${DESTDIR}" ninja -C build install
    python3 -m compileall -q -d /usr/lib/python3.13/site-packages \
        "${DESTDIR}/usr/lib/python3.13/site-packages/intergen"
}
