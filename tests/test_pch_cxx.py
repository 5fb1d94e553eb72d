"""tools/misc/pch_cxx.sh, the compiler wrapper that builds mmcv's ops with a
precompiled header: same objects as the plain compiler, the header
precompiled once and used, and a plain compile wherever it cannot help."""
import os
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

WRAPPER = Path(__file__).resolve().parents[1] / 'tools' / 'misc' / 'pch_cxx.sh'

HEADER = """#ifndef BIG_H
#define BIG_H
#include <map>
#include <string>
#include <vector>
template <typename T> T total(const std::vector<T>& v) {
  T s{};
  for (const T& x : v) s += x;
  return s;
}
#endif
"""
SOURCE = """#include "big.h"
int count_{name}(const std::map<std::string, std::vector<int>>& m) {{
  int n = 0;
  for (const auto& kv : m) n += total(kv.second);
  return n;
}}
"""


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    (tmp_path / 'inc').mkdir()
    (tmp_path / 'inc' / 'big.h').write_text(HEADER)
    for name in 'ab':
        (tmp_path / f'{name}.cpp').write_text(SOURCE.format(name=name))
    (tmp_path / 'pch').mkdir()
    return tmp_path


def run(args: List[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, 'MMHG_PCH_DIR': str(cwd / 'pch'),
            'MMHG_PCH_INCLUDE': '"big.h"', **env}
    return subprocess.run(args, cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120)


def compile_args(src: str, obj: str, *extra: str) -> List[str]:
    return ['-O2', '-fPIC', '-std=c++17', '-Iinc', *extra, '-c', src,
            '-o', obj]


def test_objects_equal_the_plain_compilers_and_the_header_is_used(sources):
    plain = run(['c++', *compile_args('a.cpp', 'plain.o')], sources)
    assert plain.returncode == 0, plain.stderr
    first = run([str(WRAPPER), *compile_args('a.cpp', 'a.o')], sources)
    assert first.returncode == 0, first.stderr
    gch = sources / 'pch' / 'mmhg_pch.h.gch'
    assert gch.is_file()
    built = gch.stat().st_mtime_ns
    # -H lists what a compile reads; '!' marks a valid precompiled header.
    second = run([str(WRAPPER), *compile_args('b.cpp', 'b.o', '-H')], sources)
    assert second.returncode == 0, second.stderr
    assert f'! {gch}' in second.stderr
    assert gch.stat().st_mtime_ns == built          # precompiled once
    assert (sources / 'a.o').read_bytes() == (sources / 'plain.o').read_bytes()


def test_other_invocations_pass_through(sources):
    ours = run([str(WRAPPER), '--version'], sources)
    theirs = run(['c++', '--version'], sources)
    assert ours.returncode == 0 and ours.stdout == theirs.stdout
    assert not list((sources / 'pch').glob('*.gch'))


@pytest.mark.parametrize('env', [
    dict(MMHG_PCH_INCLUDE='<no_such_header.h>'),   # does not precompile
    dict(MMHG_REAL_CXX=str(WRAPPER)),             # would call itself
])
def test_a_compile_succeeds_where_the_header_cannot_help(sources, env: Dict):
    proc = run([str(WRAPPER), *compile_args('a.cpp', 'a.o')], sources, **env)
    assert proc.returncode == 0, proc.stderr
    assert (sources / 'a.o').is_file()
    if 'MMHG_PCH_INCLUDE' in env:
        assert 'did not precompile' in proc.stderr
        assert (sources / 'pch' / 'mmhg_pch.h.failed').is_file()
