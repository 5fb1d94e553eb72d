#!/usr/bin/env bash
# A C++ compiler that gives every source a precompiled header: tools/setup_env.sh builds
# mmcv's ops with CXX set to this script. The header (MMHG_PCH_INCLUDE, default
# <torch/types.h>, which every mmcv source includes first and which takes most of each
# source's compile time) is precompiled once, on the first compile, with that compile's
# own flags; each compile then starts with `-include` of it, which GCC replaces by the
# precompiled form. Where the header does not precompile, the sources compile without it;
# where GCC finds the precompiled form does not match a compile's flags, it reads the
# header as text. Either way the objects are what the plain compiler makes.
#
# Environment:
#   MMHG_PCH_DIR      where the header and its precompiled form go (required)
#   MMHG_REAL_CXX     the compiler to run (default c++)
#   MMHG_PCH_INCLUDE  the header to precompile, as #include names it (default <torch/types.h>)
real=${MMHG_REAL_CXX:-c++}
[[ $(command -v "$real") -ef $0 ]] && real=c++   # never call itself
include=${MMHG_PCH_INCLUDE:-<torch/types.h>}
pch=${MMHG_PCH_DIR:?MMHG_PCH_DIR must name a directory}/mmhg_pch.h

# The header takes the compile's flags, less the source, the outputs and dependency files.
compile=0 skip=0 flags=()
for a in "$@"; do
    if ((skip)); then skip=0; continue; fi
    case $a in
        -c) compile=1 ;;
        -o | -MF | -MT | -MQ) skip=1 ;;
        -MMD | -MD | *.cpp | *.cc | *.cxx | *.c) ;;
        *) flags+=("$a") ;;
    esac
done
((compile)) || exec "$real" "$@"

(
    flock 9
    if [[ ! -f $pch.gch && ! -f $pch.failed ]]; then
        echo "#include $include" >"$pch"
        if "$real" "${flags[@]}" -x c++-header "$pch" -o "$pch.gch.tmp"; then
            mv "$pch.gch.tmp" "$pch.gch"
        else
            echo "pch_cxx: $include did not precompile; compiling without it" >&2
            touch "$pch.failed"
        fi
    fi
) 9>"$pch.lock"
[[ -f $pch.gch ]] && exec "$real" -include "$pch" "$@"
exec "$real" "$@"
