#!/bin/bash
# podman is a Go program; build tags drop the btrfs and devicemapper graph drivers.

configure() {
    set -e
    export GOPATH="${PWD}/.gopath" GOCACHE="${PWD}/.gocache" GOFLAGS="-mod=vendor -trimpath"
    export BUILDTAGS="seccomp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper"
}

build() {
    set -e
    make -j"$(nproc)" BUILDTAGS="${BUILDTAGS}" PREFIX=/usr binaries
}

do_install() {
    set -e
    make DESTDIR="${DESTDIR}" PREFIX=/usr install.bin install.systemd
}
