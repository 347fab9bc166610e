#!/usr/bin/env bash
# ctest script: installs the build into a scratch prefix and builds two programs against it
# with pkg-config alone, as a Makefile would: python-free-examples/c_api_example.c with the
# C compiler, python-free-examples/main_example.cpp with the C++ compiler; then runs both
# (no GPU needed: both use host tensors, the CPU backend, when no device is there).
# Usage: check_pkg_config.sh BUILD_DIR SOURCE_DIR WORK_DIR CMAKE CC CXX VERSION LIBDIR STATIC [EXTRA_FLAGS]
#   LIBDIR is CMAKE_INSTALL_LIBDIR (relative to the prefix, or absolute).
#   STATIC=1 for a static attnkit (links with `pkg-config --static`); EXTRA_FLAGS go to both
#   compile-and-link lines (the sanitizer flags of an ATTNKIT_SANITIZE build).
# Exits 77 (ctest: skipped) when pkg-config is not installed.
set -euo pipefail
build_dir=$1 source_dir=$2 work_dir=$3 cmake=$4 cc=$5 cxx=$6 version=$7 install_libdir=$8 static=$9
extra=${10:-}

if ! command -v pkg-config >/dev/null 2>&1; then
  echo "install_pkg_config: SKIPPED: pkg-config is not installed (Debian: apt-get install pkg-config)"
  exit 77
fi

step() {  # step WHAT COMMAND...: runs it quietly, prints its output only on failure
  local what=$1 log
  shift
  if ! log=$("$@" 2>&1); then
    printf '%s failed:\n  %s\n%s\n' "$what" "$*" "$log" >&2
    exit 1
  fi
  echo "-- $what: ok"
}

rm -rf "$work_dir"
mkdir -p "$work_dir"
prefix=$work_dir/prefix
step "install" "$cmake" --install "$build_dir" --prefix "$prefix"

case $install_libdir in
  /*) pc=$install_libdir/pkgconfig/attnkit.pc ;;
  *) pc=$prefix/$install_libdir/pkgconfig/attnkit.pc ;;
esac
if [ ! -f "$pc" ]; then
  echo "the install step left no $pc" >&2
  exit 1
fi
echo "-- $pc:"
sed 's/^/     /' "$pc"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

step "pkg-config --validate attnkit" pkg-config --validate attnkit
got=$(pkg-config --modversion attnkit)
if [ "$got" != "$version" ]; then
  echo "pkg-config --modversion attnkit: '$got', expected '$version'" >&2
  exit 1
fi
libdir=$(pkg-config --variable=libdir attnkit)
if ! ls "$libdir"/libattnkit.* >/dev/null 2>&1; then
  echo "pkg-config --variable=libdir attnkit: no libattnkit in '$libdir'" >&2
  exit 1
fi
static_flag=
[ "$static" = 1 ] && static_flag=--static
# Word splitting is wanted below: these are flag lists, as $(pkg-config ...) in a Makefile.
cflags=$(pkg-config --cflags attnkit)
libs=$(pkg-config $static_flag --libs attnkit)
echo "-- pkg-config --cflags attnkit: $cflags"
echo "-- pkg-config $static_flag${static_flag:+ }--libs attnkit: $libs"
rpath=-Wl,-rpath,$libdir

# shellcheck disable=SC2086
step "C compile and link" "$cc" -std=c99 -Wall -Wextra -pedantic $extra $cflags \
  "$source_dir/python-free-examples/c_api_example.c" -o "$work_dir/c_api_example" $libs -lm "$rpath"
# shellcheck disable=SC2086
step "C++ compile and link" "$cxx" -std=c++17 -Wall -Wextra $extra $cflags \
  "$source_dir/python-free-examples/main_example.cpp" -o "$work_dir/main_example" $libs "$rpath"
run() {  # run WHAT PROGRAM: as step, and shows the program's last line
  local what=$1 log
  if ! log=$("$2" 2>&1); then
    printf '%s failed:\n%s\n' "$what" "$log" >&2
    exit 1
  fi
  echo "-- $what: ok ($(printf '%s\n' "$log" | tail -n 1))"
}
run "run C program" "$work_dir/c_api_example"
run "run C++ program" "$work_dir/main_example"
echo "install_pkg_config: ok"
