#!/bin/bash
# meson is a pure-Python package: build a wheel, then install it into DESTDIR.

configure() {
    set -e
    python3 -c 'import setuptools, wheel' 2>/dev/null || python3 -m ensurepip --default-pip
}

build() {
    set -e
    pip3 wheel -w dist --no-cache-dir --no-build-isolation --no-deps "${PWD}"
}

do_install() {
    set -e
    pip3 install --root="${DESTDIR}" --no-index --find-links dist --no-deps meson
    install -Dm644 data/shell-completions/bash/meson "${DESTDIR}/usr/share/bash-completion/completions/meson"
}
