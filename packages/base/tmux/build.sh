#!/bin/bash

configure() {
    set -e
    ./configure --prefix=/usr --sysconfdir=/etc --enable-utf8proc=no
}

build() {
    set -e
    make -j"$(nproc)"
}

do_install() {
    set -e
    make DESTDIR="${DESTDIR}" install
    install -Dm644 example_tmux.conf "${DESTDIR}/usr/share/doc/tmux-3.5a/example_tmux.conf"
}
