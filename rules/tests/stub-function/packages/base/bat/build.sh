#!/bin/bash
configure() {
  ./configure --prefix=/usr
}
build() {
  :
}
do_install() {
  make DESTDIR="$DESTDIR" install
}
