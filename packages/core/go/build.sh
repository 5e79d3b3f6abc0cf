#!/bin/bash
# Go builds with make.bash from src/, bootstrapped by a prebuilt Go (>= 1.22.6)
# unpacked at /opt/go-bootstrap by the orchestrator before this phase.

configure() {
    set -e
    export GOROOT_BOOTSTRAP=/opt/go-bootstrap
    test -x "${GOROOT_BOOTSTRAP}/bin/go"
    export GOROOT_FINAL=/usr/lib/go GOCACHE="${PWD}/.gocache"
}

build() {
    set -e
    cd src
    bash make.bash -v
}

do_install() {
    set -e
    install -d "${DESTDIR}/usr/lib/go" "${DESTDIR}/usr/bin"
    cp -a bin pkg src lib misc api VERSION go.env "${DESTDIR}/usr/lib/go/"
    ln -sf ../lib/go/bin/go    "${DESTDIR}/usr/bin/go"
    ln -sf ../lib/go/bin/gofmt "${DESTDIR}/usr/bin/gofmt"
}
