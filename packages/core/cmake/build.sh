#!/bin/bash
# CMake bootstraps with its own script and links against system libraries.

configure() {
    set -e
    sed -i '/"lib64"/s/64//' Modules/GNUInstallDirs.cmake
    ./bootstrap --prefix=/usr --system-libs --mandir=/share/man \
                --no-system-jsoncpp --no-system-cppdap --no-system-librhash \
                --no-system-libarchive --no-system-nghttp2 \
                --docdir=/share/doc/cmake-4.1.0 --parallel="$(nproc)"
}

build() {
    set -e
    make -j"$(nproc)"
}

do_install() {
    set -e
    make DESTDIR="${DESTDIR}" install
}
