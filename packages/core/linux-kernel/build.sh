#!/bin/bash
# Built by the kernel phase (after base), not by a static list.

configure() {
    set -e
    make mrproper
    cp "${RECIPE_DIR}/config-x86_64" .config 2>/dev/null || make defconfig
    make olddefconfig
}

build() {
    set -e
    make -j"$(nproc)"
}

do_install() {
    set -e
    local kver
    kver="$(make -s kernelrelease)"
    make INSTALL_MOD_PATH="${DESTDIR}/usr" INSTALL_MOD_STRIP=1 modules_install
    install -Dm644 arch/x86/boot/bzImage "${DESTDIR}/usr/lib/modules/${kver}/vmlinuz"
    install -Dm644 System.map "${DESTDIR}/usr/lib/modules/${kver}/System.map"
    install -Dm644 .config "${DESTDIR}/usr/lib/modules/${kver}/config"
    rm -f "${DESTDIR}/usr/lib/modules/${kver}/build"
}
