#!/bin/bash
# ninja bootstraps itself with a Python script; there is no configure step upstream.

configure() {
    set -e
    # Honour NINJAJOBS so the orchestrator can cap parallelism.
    sed -i '/int Guess/a \
  int   j = 0;\
  char* jobs = getenv( "NINJAJOBS" );\
  if ( jobs != NULL ) j = atoi( jobs );\
  if ( j > 0 ) return j;\
' src/ninja.cc
}

build() {
    set -e
    python3 configure.py --bootstrap --verbose
}

do_install() {
    set -e
    install -Dm755 ninja "${DESTDIR}/usr/bin/ninja"
    install -Dm644 misc/bash-completion "${DESTDIR}/usr/share/bash-completion/completions/ninja"
}
