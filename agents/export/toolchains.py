"""Cross compilers and qemu: build the generated C policies, run them on test vectors, size them.

Targets (see docs/export.md for the processors behind them):

- ``host``: the machine's own gcc;
- qemu-user targets, linked statically and run on the test vectors: ``armhf`` (ARMv7-A hard
  float), ``aarch64``, ``ppc750`` (PowerPC 750, the RAD750 core, big-endian), ``leon3`` (SPARC V8
  LEON3, the GR712RC core, big-endian);
- bare-metal compile-only targets, sized with ``size``: ``cortex-m4f``, ``cortex-m7``, ``cortex-r5f``
  and ``cortex-m3`` (no FPU: the int8 variant's target).

Install the toolchains on Debian with ``bash .ci/install_toolchains.sh``. The test harness that
:func:`compile_and_run` generates reads the test-vector CSV, calls the policy on every row and
prints the status and the bit pattern of every action component, so a run on any target can
be compared bit for bit with the host and with the numpy mirrors.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The warning flags the generated policy files must compile cleanly with.
STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-pedantic")
#: Optimization and floating-point flags for every build (no FMA contraction: same bits everywhere).
BUILD_FLAGS = ("-O2", "-ffp-contract=off")
#: Seconds a harness may run under qemu before it is considered hung.
RUN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Target:
    """A compiler (plus qemu runner) for one processor family."""

    name: str
    description: str
    cc: str
    cflags: tuple[str, ...]
    runner: tuple[str, ...] = ()   # qemu command prefix; empty for the host
    bare_metal: bool = False       # compile and size only
    size_tool: str = "size"
    nm_tool: str = "nm"

    @property
    def kind(self) -> str:
        if self.bare_metal:
            return "bare-metal"
        return "qemu" if self.runner else "host"


_ARM_NONE = dict(cc="arm-none-eabi-gcc", bare_metal=True, size_tool="arm-none-eabi-size", nm_tool="arm-none-eabi-nm")

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("host", "host gcc (development machine)", "gcc", ()),
    Target("armhf", "ARMv7-A hard-float Linux (Cortex-A class)", "arm-linux-gnueabihf-gcc", ("-static",),
           ("qemu-arm-static",), size_tool="arm-linux-gnueabihf-size", nm_tool="arm-linux-gnueabihf-nm"),
    Target("aarch64", "ARMv8-A 64-bit Linux (e.g. Zynq UltraScale+ APU)", "aarch64-linux-gnu-gcc", ("-static",),
           ("qemu-aarch64-static",), size_tool="aarch64-linux-gnu-size", nm_tool="aarch64-linux-gnu-nm"),
    Target("ppc750", "PowerPC 750, big-endian (RAD750 core)", "powerpc-linux-gnu-gcc", ("-mcpu=750", "-static"),
           ("qemu-ppc-static", "-cpu", "750"), size_tool="powerpc-linux-gnu-size", nm_tool="powerpc-linux-gnu-nm"),
    Target("leon3", "SPARC V8 LEON3, big-endian (GR712RC core)", "sparc64-linux-gnu-gcc",
           ("-m32", "-mcpu=leon3", "-static"), ("qemu-sparc32plus-static",),
           size_tool="sparc64-linux-gnu-size", nm_tool="sparc64-linux-gnu-nm"),
    Target("cortex-m4f", "Cortex-M4F, single-precision FPU (e.g. Vorago VA416xx)",
           cflags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), **_ARM_NONE),
    Target("cortex-m7", "Cortex-M7, double-precision FPU (e.g. SAMV71Q21RT, SAMRH71)",
           cflags=("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"), **_ARM_NONE),
    Target("cortex-r5f", "Cortex-R5F, VFPv3-D16 (e.g. Zynq UltraScale+ RPU)",
           cflags=("-mcpu=cortex-r5", "-mthumb", "-mfloat-abi=hard", "-mfpu=vfpv3-d16"), **_ARM_NONE),
    Target("cortex-m3", "Cortex-M3, no FPU (the int8 variant's kind of processor)",
           cflags=("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"), **_ARM_NONE),
)}

QEMU_TARGETS = tuple(name for name, t in TARGETS.items() if t.runner)
BARE_METAL_TARGETS = tuple(name for name, t in TARGETS.items() if t.bare_metal)


@dataclass(frozen=True)
class Variant:
    """One generated C policy: its files and entry point."""

    name: str
    header: str
    source: str
    function: str
    n_obs: str
    n_act: str


VARIANTS = {
    "float": Variant("float", "policy.h", "policy.c", "lunar_policy_act", "LUNAR_POLICY_N_OBS", "LUNAR_POLICY_N_ACT"),
    "q8": Variant(
        "q8", "policy_q8.h", "policy_q8.c", "lunar_policy_q8_act", "LUNAR_POLICY_Q8_N_OBS", "LUNAR_POLICY_Q8_N_ACT"
    ),
}


def ci_mode() -> bool:
    """True when the environment variable CI is "true": a missing toolchain is then an error."""
    return os.environ.get("CI", "").strip().lower() == "true"


def _missing_tools(target: Target) -> list[str]:
    tools = [target.cc, target.size_tool]
    if target.runner:
        tools.append(target.runner[0])
    return [tool for tool in tools if shutil.which(tool) is None]


def availability(name: str) -> tuple[bool, str]:
    """(usable, reason): whether the target's compiler, size tool and runner are installed."""
    target = get_target(name)
    missing = _missing_tools(target)
    if missing:
        return False, f"{', '.join(missing)} not installed (run: bash .ci/install_toolchains.sh)"
    return True, "installed"


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    return TARGETS[name]


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def describe_toolchains() -> list[dict]:
    """One dict per target: name, kind, description, available, reason, compiler and runner versions."""
    rows = []
    for name, target in TARGETS.items():
        ok, reason = availability(name)
        row = {"target": name, "kind": target.kind, "description": target.description, "available": ok,
               "reason": reason, "compiler": target.cc, "cflags": " ".join(target.cflags)}
        if ok:
            row["compiler_version"] = _first_line([target.cc, "--version"])
            if target.runner:
                row["runner"] = " ".join(target.runner)
                row["runner_version"] = _first_line([target.runner[0], "--version"])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- harness
def harness_source(variant: Variant, max_line_chars: int) -> str:
    """A C99 test harness: reads the vectors CSV (argv[1]) and prints ``status hex...`` per row,
    then two lines ``N status hex...`` for calls with a NULL obs and with a NULL act."""
    return f"""/* Test harness for {variant.source} (generated by agents/export/toolchains.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "{variant.header}"

#define HARNESS_LINE_CHARS {max_line_chars}

static void print_result(const char *prefix, int status, const float act[{variant.n_act}])
{{
    uint32_t i;
    (void)printf("%s%d", prefix, status);
    for (i = 0U; i < {variant.n_act}; i++) {{
        uint32_t bits;
        (void)memcpy(&bits, &act[i], sizeof bits);
        (void)printf(" %08lx", (unsigned long)bits);
    }}
    (void)printf("\\n");
}}

/* Parse "kind,status,obs_0,...": skip two fields, read {variant.n_obs} floats. Returns 0 on success. */
static int parse_row(char *line, float obs[{variant.n_obs}])
{{
    char *p = line;
    uint32_t i;
    for (i = 0U; i < 2U; i++) {{
        p = strchr(p, ',');
        if (p == NULL) {{
            return 1;
        }}
        p++;
    }}
    for (i = 0U; i < {variant.n_obs}; i++) {{
        char *end;
        obs[i] = strtof(p, &end);
        if (end == p) {{
            return 1;
        }}
        p = (*end == ',') ? end + 1 : end;
    }}
    return 0;
}}

int main(int argc, char **argv)
{{
    static char line[HARNESS_LINE_CHARS];
    float obs[{variant.n_obs}];
    float act[{variant.n_act}];
    FILE *f;
    int rows = 0;
    if (argc != 2) {{
        (void)fprintf(stderr, "usage: %s VECTORS.csv\\n", argv[0]);
        return 2;
    }}
    f = fopen(argv[1], "r");
    if (f == NULL) {{
        (void)fprintf(stderr, "cannot open %s\\n", argv[1]);
        return 2;
    }}
    while (fgets(line, (int)sizeof line, f) != NULL) {{
        if ((line[0] == '#') || (line[0] == '\\n') || (strncmp(line, "kind,", 5) == 0)) {{
            continue;
        }}
        if (parse_row(line, obs) != 0) {{
            (void)fprintf(stderr, "bad row %d\\n", rows);
            (void)fclose(f);
            return 3;
        }}
        print_result("", {variant.function}(obs, act), act);
        rows++;
    }}
    (void)fclose(f);
    (void)memset(act, 0, sizeof act);
    print_result("N ", {variant.function}(NULL, act), act);
    print_result("N ", {variant.function}(obs, NULL), act);
    return 0;
}}
"""


@dataclass
class RunResult:
    """Outputs of the C policy on one target: status (n,), actions (n, act_dim) float32 and their bits."""

    target: str
    variant: str
    status: np.ndarray
    actions: np.ndarray
    bits: np.ndarray
    null_obs_status: int
    null_obs_action: np.ndarray
    null_act_status: int


def _run(cmd: list[str], cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:g} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return proc


def _parse_line(fields: list[str]) -> tuple[int, np.ndarray]:
    status = int(fields[0])
    bits = np.array([int(h, 16) for h in fields[1:]], dtype=np.uint32)
    return status, bits


def parse_harness_output(text: str, target: str, variant: str) -> RunResult:
    rows, nulls = [], []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "N":
            nulls.append(_parse_line(fields[1:]))
        else:
            rows.append(_parse_line(fields))
    if len(nulls) != 2:
        raise RuntimeError(f"harness output on {target} lacks the NULL-pointer checks")
    status = np.array([s for s, _ in rows], dtype=np.int64)
    bits = np.array([b for _, b in rows], dtype=np.uint32)
    return RunResult(target, variant, status, bits.view(np.float32), bits, nulls[0][0],
                     nulls[0][1].view(np.float32), nulls[1][0])


def _check_files(c_dir: Path, variant: Variant) -> None:
    for name in (variant.header, variant.source):
        if not (c_dir / name).is_file():
            raise ValueError(f"{c_dir / name}: missing; export the {variant.name} C policy first")


def compile_and_run(c_dir: str | Path, target: str, vectors_csv: str | Path, variant: str = "float",
                    extra_flags: tuple[str, ...] = (), work_dir: str | Path | None = None) -> RunResult:
    """Build the ``variant`` C policy in ``c_dir`` with the harness for ``target``, run it on the CSV."""
    tgt = get_target(target)
    if tgt.bare_metal:
        raise ValueError(f"target {target} is bare-metal: it can be compiled and sized (build_size), not run")
    ok, reason = availability(target)
    if not ok:
        raise RuntimeError(f"target {target}: {reason}")
    var = VARIANTS[variant]
    c_dir, vectors_csv = Path(c_dir).resolve(), Path(vectors_csv).resolve()
    _check_files(c_dir, var)
    max_line = max((len(line) for line in vectors_csv.read_text().splitlines()), default=0) + 64
    with tempfile.TemporaryDirectory(prefix=f"lunar-{target}-", dir=work_dir) as tmp:
        tmp = Path(tmp)
        (tmp / "harness.c").write_text(harness_source(var, max_line))
        exe = tmp / "harness"
        cmd = [tgt.cc, *tgt.cflags, *BUILD_FLAGS, "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion",
               *extra_flags, f"-I{c_dir}", str(c_dir / var.source), str(tmp / "harness.c"), "-o", str(exe), "-lm"]
        _run(cmd, tmp)
        proc = _run([*tgt.runner, str(exe), str(vectors_csv)], tmp, timeout=RUN_TIMEOUT_S)
    return parse_harness_output(proc.stdout, target, variant)


# ----------------------------------------------------------------------------- object builds and sizes
@dataclass(frozen=True)
class SizeReport:
    """Bytes of one compiled policy object: code (.text), data (.rodata + .data + .bss) and the
    stack of the deepest call (entry function + network + layer + leaf frames, from -fstack-usage)."""

    target: str
    variant: str
    code_bytes: int
    data_bytes: int
    stack_bytes: int
    sections: dict


_CODE = re.compile(r"^\.text")
_DATA = re.compile(r"^\.(rodata|data|bss|sdata|sbss|srodata)")


def compile_object(c_dir: str | Path, target: str, variant: str = "float", out_dir: str | Path | None = None,
                   extra_flags: tuple[str, ...] = (), strict: bool = True) -> Path:
    """Compile the policy source alone (-c) for ``target``; returns the object path."""
    tgt = get_target(target)
    ok, reason = availability(target)
    if not ok:
        raise RuntimeError(f"target {target}: {reason}")
    var = VARIANTS[variant]
    c_dir = Path(c_dir).resolve()
    _check_files(c_dir, var)
    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"lunar-obj-{target}-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = out_dir / f"{Path(var.source).stem}-{target}.o"
    flags = STRICT_FLAGS if strict else ("-std=c99",)
    _run([tgt.cc, *tgt.cflags, *BUILD_FLAGS, *flags, *extra_flags, f"-I{c_dir}", "-c", str(c_dir / var.source),
          "-o", str(obj)], out_dir)
    return obj


def section_sizes(obj: str | Path, target: str) -> dict[str, int]:
    """Section name -> bytes, from ``size -A``."""
    proc = _run([get_target(target).size_tool, "-A", str(obj)], Path(obj).parent)
    sizes = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def stack_bytes(su_file: str | Path) -> int:
    """Upper bound of the stack a call takes, from gcc's -fstack-usage file.

    The generated call tree is entry (lunar_policy_*) -> lp_network -> lp_layer_k -> leaf helper,
    each level possibly inlined away; the bound adds the largest frame of each level.
    """
    frames: dict[str, int] = {}
    for line in Path(su_file).read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].isdigit():
            frames[parts[0].rsplit(":", 1)[-1].split(".")[0]] = int(parts[1])
    levels = [r"^lunar_policy", r"^lp_network$", r"^lp_layer_\d+$"]
    total, rest = 0, dict(frames)
    for pattern in levels:
        level = [n for n in rest if re.match(pattern, n)]
        total += max((rest.pop(n) for n in level), default=0)
    return total + max(rest.values(), default=0)


def build_size(c_dir: str | Path, target: str, variant: str = "float", extra_flags: tuple[str, ...] = ()) -> SizeReport:
    """Compile for ``target`` and report code, data and stack bytes (unwinding tables and notes excluded)."""
    with tempfile.TemporaryDirectory(prefix=f"lunar-size-{target}-") as tmp:
        obj = compile_object(c_dir, target, variant, tmp, (*extra_flags, "-fstack-usage"))
        sections = section_sizes(obj, target)
        stack = stack_bytes(obj.with_suffix(".su"))
    code = sum(n for name, n in sections.items() if _CODE.match(name))
    data = sum(n for name, n in sections.items() if _DATA.match(name))
    return SizeReport(target, variant, code, data, stack, sections)


def symbols(obj: str | Path, target: str) -> list[tuple[str, str]]:
    """(type letter, name) for every symbol of an object, from ``nm``."""
    proc = _run([get_target(target).nm_tool, str(obj)], Path(obj).parent)
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[-2], parts[-1]))
    return out


def relocations(obj: str | Path, target: str) -> dict[str, list[str]]:
    """Section name -> symbols it references (``objdump -r``): which functions call which helpers
    (compile with -ffunction-sections to get one section per function)."""
    tool = get_target(target).nm_tool[:-2] + "objdump"
    proc = _run([tool, "-r", str(obj)], Path(obj).parent)
    out: dict[str, list[str]] = {}
    section = None
    for line in proc.stdout.splitlines():
        match = re.match(r"RELOCATION RECORDS FOR \[(.+)\]:", line)
        if match:
            section = match.group(1)
            out[section] = []
        elif section is not None and line.strip() and not line.startswith("OFFSET"):
            out[section].append(line.split()[-1])
    return out


# ----------------------------------------------------------------------------- cppcheck
@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    severity: str
    id: str
    message: str


# Reports about the checker run itself, not about the code.
_NOT_FINDINGS = {"checkersReport", "unmatchedSuppression"}


def misra_addon_available() -> bool:
    """Whether cppcheck is installed with its MISRA C:2012 add-on (and a Python to run it)."""
    if shutil.which("cppcheck") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="lunar-cppcheck-") as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("int probe(void);\nint probe(void)\n{\n    return 0;\n}\n")
        proc = subprocess.run(["cppcheck", "--addon=misra", "--quiet", str(probe)], cwd=tmp,
                              capture_output=True, text=True, timeout=120)
    text = proc.stdout + proc.stderr
    return proc.returncode == 0 and "Did not find addon" not in text and "Bailing out" not in text


def run_cppcheck(c_dir: str | Path, variant: str = "float", misra: bool = True) -> list[Finding]:
    """cppcheck (all checks, C99, with the MISRA C:2012 add-on when ``misra``) on the policy source."""
    if shutil.which("cppcheck") is None:
        raise RuntimeError("cppcheck not installed (run: bash .ci/install_toolchains.sh)")
    var = VARIANTS[variant]
    c_dir = Path(c_dir).resolve()
    _check_files(c_dir, var)
    template = "{file}|{line}|{severity}|{id}|{message}"
    cmd = ["cppcheck", "--std=c99", "--enable=all", "--inconclusive", "--quiet", "--error-exitcode=0",
           "--suppress=missingIncludeSystem", f"--template={template}",
           f"-I{c_dir}", str(c_dir / var.source)]
    if misra:
        cmd.insert(1, "--addon=misra")
    with tempfile.TemporaryDirectory(prefix="lunar-cppcheck-") as tmp:
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or "Did not find addon" in proc.stdout + proc.stderr or "Bailing out" in proc.stderr:
        raise RuntimeError(f"cppcheck failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    findings = []
    for line in (proc.stderr + proc.stdout).splitlines():
        parts = line.split("|", 4)
        if len(parts) == 5 and parts[1].isdigit() and parts[3] not in _NOT_FINDINGS:
            findings.append(Finding(Path(parts[0]).name, int(parts[1]), parts[2], parts[3], parts[4]))
    return findings
