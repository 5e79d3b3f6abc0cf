#!/bin/bash
# llama.cpp: CPU backend by default; GPU backends are enabled per-hardware by intergen.

configure() {
    set -e
    cmake -B build -G Ninja \
        -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=ON \
        -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF
}

build() {
    set -e
    cmake --build build -j"$(nproc)"
}

do_install() {
    set -e
    DESTDIR="${DESTDIR}" cmake --install build
}
