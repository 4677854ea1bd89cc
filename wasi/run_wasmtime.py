#!/usr/bin/env python3
"""Run a WASI command module with wasmtime's engine, through its Python API.

Usage: run_wasmtime.py [--dir HOST[::GUEST]] [--env NAME=VALUE]... MODULE.wasm [ARG]...

Flags before the module follow the wasmtime CLI: --dir preopens the host
directory HOST as GUEST (HOST when GUEST is omitted), and --env sets one
environment variable (the module gets no others). The module gets its file
name as argv[0], then ARG...; stdin, stdout and stderr are this process's own. The exit status is the module's (proc_exit or 0 when
_start returns); a trap prints wasmtime's message and exits with 134.

Install the engine with `pip install wasmtime`.
"""
import os
import sys

import wasmtime


USAGE = "usage: run_wasmtime.py [--dir HOST[::GUEST]] [--env NAME=VALUE]... MODULE.wasm [ARG]..."


def parse_args(argv):
    dirs = []
    env = []
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        flag, has_inline, value = argv[i].partition("=")
        if flag not in ("--dir", "--env"):
            raise SystemExit(f"run_wasmtime.py: unknown option '{argv[i]}'\n{USAGE}")
        if not has_inline:
            if i + 1 >= len(argv):
                raise SystemExit(f"run_wasmtime.py: option {flag} needs a value\n{USAGE}")
            value = argv[i + 1]
            i += 1
        i += 1
        if flag == "--dir":
            host, _, guest = value.partition("::")
            if not os.path.isdir(host):
                raise SystemExit(f"run_wasmtime.py: --dir {host}: no such directory")
            dirs.append((host, guest or host))
        else:
            name, has_value, text = value.partition("=")
            if not name or not has_value:
                raise SystemExit(f"run_wasmtime.py: invalid --env '{value}': expected NAME=VALUE")
            env.append((name, text))
    if i >= len(argv):
        raise SystemExit(USAGE)
    return dirs, env, argv[i], argv[i + 1:]


def run(dirs, env, module_path, args):
    config = wasmtime.Config()
    config.cache = True  # compiled code is kept in wasmtime's cache directory, so later runs skip Cranelift
    # wasmtime's default level, set here so that timings never depend on the package's default.
    config.cranelift_opt_level = "speed"
    # wasmtime 51 enables relaxed SIMD by default too, and build/pinfer-relaxed.wasm needs it.
    config.wasm_relaxed_simd = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    try:
        module = wasmtime.Module.from_file(engine, module_path)
    except OSError as e:
        print(f"run_wasmtime.py: cannot read the module {module_path}: {e.strerror}", file=sys.stderr)
        return 2

    wasi = wasmtime.WasiConfig()
    wasi.argv = [module_path.rsplit("/", 1)[-1]] + args
    wasi.env = env
    for host, guest in dirs:
        wasi.preopen_dir(host, guest, fs_mutable=False)
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)

    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    except wasmtime.Trap as e:
        sys.stdout.flush()
        print(f"run_wasmtime.py: {module_path} trapped: {e.message}", file=sys.stderr)
        return 134
    return 0


def main():
    dirs, env, module_path, args = parse_args(sys.argv[1:])
    sys.exit(run(dirs, env, module_path, args))


if __name__ == "__main__":
    main()
