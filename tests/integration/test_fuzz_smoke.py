"""A short libFuzzer run of each fuzz target (tests/fuzz), failing on any crash.

The targets are built in build-fuzz (VOLT_FUZZ_BUILD overrides), as `make fuzz`
does: configured with clang and -Dfuzz=true if needed, then brought up to date.
Skipped, with the reason, where clang or its libFuzzer runtime is missing.
`make fuzz` runs the same targets for longer. As `make fuzz` does, every
directory of tests/fuzz/corpus names a target. None needs /dev/kvm: the device
targets plug their device into an environment of plain eventfds.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUZZ_BUILD = Path(os.environ.get("VOLT_FUZZ_BUILD", REPO / "build-fuzz")).resolve()
TARGETS = sorted(p.name for p in (REPO / "tests" / "fuzz" / "corpus").iterdir() if p.is_dir())
SECONDS = int(os.environ.get("VOLT_FUZZ_SMOKE_SECONDS", "10"))


def _libfuzzer_missing(clang, tmp):
    """Why clang cannot build a libFuzzer program, or None when it can."""
    src = tmp / "probe.c"
    src.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                   " { return d && n ? 0 : 0; }\n")
    proc = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", str(src),
                           "-o", str(tmp / "probe")], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    err = proc.stderr.strip().splitlines()
    return ("clang cannot link -fsanitize=fuzzer (install libclang-rt-dev): " +
            (err[-1] if err else f"exit {proc.returncode}"))


@pytest.fixture(scope="session")
def fuzz_bins(tmp_path_factory):
    bins = {t: FUZZ_BUILD / "tests" / "fuzz" / f"fuzz_{t}" for t in TARGETS}
    meson, ninja, clang = shutil.which("meson"), shutil.which("ninja"), shutil.which("clang")
    configured = (FUZZ_BUILD / "build.ninja").exists()
    if not configured or not all(b.exists() for b in bins.values()):
        if not clang:
            pytest.skip("clang is not installed: the fuzz targets need clang and libFuzzer "
                        "(scripts/install-deps.sh installs them)")
        why = _libfuzzer_missing(clang, tmp_path_factory.mktemp("probe"))
        if why:
            pytest.skip(why)
        if not meson or not ninja:
            pytest.skip("meson or ninja is missing")
    if configured:
        # Turns the option on in a build dir set up without it (a no-op otherwise).
        cmd = [meson, "configure", str(FUZZ_BUILD), "-Dfuzz=true"]
        env = None
    else:
        cmd = [meson, "setup", str(FUZZ_BUILD), "-Dfuzz=true"]
        env = dict(os.environ, CC="clang")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    targets = [str(b.relative_to(FUZZ_BUILD)) for b in bins.values()]
    proc = subprocess.run([ninja, "-C", str(FUZZ_BUILD), *targets], capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, f"building the fuzz targets failed:\n{proc.stdout[-6000:]}"
    return bins


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_smoke(fuzz_bins, target, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "tests" / "fuzz" / "corpus" / target, corpus)
    seeds = len(list(corpus.iterdir()))
    assert seeds > 0, f"no seeds in tests/fuzz/corpus/{target}"
    cmd = [str(fuzz_bins[target]), f"-max_total_time={SECONDS}", "-timeout=10",
           "-rss_limit_mb=2048", "-print_final_stats=1",
           f"-artifact_prefix={tmp_path}/", str(corpus)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 120)
    out = proc.stdout + proc.stderr
    crashes = sorted(p.name for kind in ("crash", "timeout", "leak", "oom")
                     for p in tmp_path.glob(f"{kind}-*"))
    assert proc.returncode == 0 and not crashes, (
        f"fuzz_{target} failed (exit {proc.returncode}, artifacts {crashes} in {tmp_path}; "
        f"reproduce with {fuzz_bins[target]} <artifact>):\n{out[-8000:]}")
    assert "Done" in out, out[-4000:]
