#!/usr/bin/env bash
# Installs textgrad into a temporary prefix, moves the prefix elsewhere, and builds and runs a
# consumer project against it with find_package and with pkg-config. The consumer must find
# the data of the moved install (not of the original prefix, which no longer exists).
#   run_packaging_test.sh SOURCE_DIR BUILD_DIR WORK_DIR static|shared [cmake args]
# The cmake args go to the consumer's configuration and to the shared build.
set -euo pipefail
src=$1 build=$2 work=$3 kind=$4
shift 4
cmake_args=("$@")
# The shared build (if any) is kept between runs, so a second run only relinks.
rm -rf "$work/prefix" "$work/moved" "$work/find_package" "$work/pkg_config"
mkdir -p "$work"

if [[ $kind == shared ]]; then
  # A second, minimal build of the library alone as a shared object.
  cmake -S "$src" -B "$work/build" -G Ninja -DTEXTGRAD_SHARED=ON -DTEXTGRAD_BUILD_TESTS=OFF \
    -DTEXTGRAD_BUILD_BENCH=OFF -DTEXTGRAD_BUILD_EXAMPLES=OFF -DTEXTGRAD_BUILD_PYTHON=OFF "$@" >/dev/null
  cmake --build "$work/build" --target textgrad >/dev/null
  build=$work/build
fi
cmake --install "$build" --prefix "$work/prefix" --component textgrad >/dev/null
test -f "$work/prefix/share/textgrad/prices.json"
mv "$work/prefix" "$work/moved"
prefix=$(realpath "$work/moved")

check() {  # check NAME [cmake args]: configure, build, install into the prefix and run
  local name=$1
  shift
  cmake -S "$src/tests/packaging/consumer" -B "$work/$name" -G Ninja --no-warn-unused-cli \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" "${cmake_args[@]}" "$@" >/dev/null
  cmake --build "$work/$name" >/dev/null
  cmake --install "$work/$name" >/dev/null
  # Run from the moved prefix's bin/: a static library finds the data relative to the program,
  # a shared one relative to itself.
  local out
  out=$(env -u TEXTGRAD_DATA_DIR "$prefix/bin/consumer")
  echo "$name: $out"
  [[ $out == *"calls=3"* && $out == *"train=50"* && $out == *"data=$prefix/share/textgrad"* ]]
}

check find_package
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" check pkg_config -DUSE_PKG_CONFIG=ON
if [[ $kind == shared ]]; then
  # The shared library finds its data from its own location, whatever program loads it.
  out=$(env -u TEXTGRAD_DATA_DIR "$work/find_package/consumer")
  [[ $out == *"data=$prefix/share/textgrad"* ]]
fi
echo "packaging ($kind): ok"
