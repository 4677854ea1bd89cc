#!/usr/bin/env node
// Runs a WASI command module with Node's node:wasi (WASI preview 1).
//
// Usage: node wasi/run_node.mjs [--dir HOST[::GUEST]] [--env NAME=VALUE]... MODULE.wasm [ARG]...
//
// Flags before the module follow the wasmtime CLI: --dir preopens the host
// directory HOST as GUEST (HOST when GUEST is omitted), and --env sets one
// environment variable (the module gets no others). The module gets its file
// name as argv[0], then ARG...; stdio is this process's own. The exit
// status is the module's. Node prints an ExperimentalWarning for node:wasi;
// this script silences that one warning so stderr carries only the module's
// lines.
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import process from 'node:process';
import v8 from 'node:v8';

// NOTE: Node 20.20.2 (V8 11.3) crashes with SIGSEGV, or "Fatal error ...
// unreachable code" in MarkCompactCollector::ProcessEphemerons, when a module
// grows its memory while incremental marking runs: memory.grow reports
// external memory pressure, which finalizes marking. Loading the models with
// the 128256-token Llama 3 vocabulary crashed in most runs; with incremental
// marking off, none did.
v8.setFlagsFromString('--no-incremental-marking');

// Node 20 (V8 11.3) has relaxed SIMD behind --experimental-wasm-relaxed-simd,
// which build/pinfer-relaxed.wasm needs; V8 11.4 and later turn it on by
// default. The flag is set only when this module, one function with one
// i8x16.relaxed_swizzle, fails to validate, so that a later Node is never
// passed a flag it may have dropped.
const RELAXED_SIMD_PROBE = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, 0x2b, 0x01, 0x29, 0x00, // code section: one body of 41 bytes, no locals
    0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
    0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
    0xfd, 0x80, 0x02, // i8x16.relaxed_swizzle
    0x0b, // end
]);
if (!WebAssembly.validate(RELAXED_SIMD_PROBE))
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const USAGE = 'usage: node run_node.mjs [--dir HOST[::GUEST]] [--env NAME=VALUE]... MODULE.wasm [ARG]...';

function parseArgs(argv) {
    const preopens = {};
    const env = {};
    let i = 0;
    while (i < argv.length && argv[i].startsWith('--')) {
        const eq = argv[i].indexOf('=');
        const flag = eq < 0 ? argv[i] : argv[i].slice(0, eq);
        let value = eq < 0 ? undefined : argv[i].slice(eq + 1);
        if (flag !== '--dir' && flag !== '--env')
            throw new Error(`unknown option '${argv[i]}'\n${USAGE}`);
        if (value === undefined) {
            if (i + 1 >= argv.length)
                throw new Error(`option ${flag} needs a value\n${USAGE}`);
            value = argv[++i];
        }
        i++;
        if (flag === '--dir') {
            const [host, guest] = value.split('::');
            if (!fs.statSync(host, { throwIfNoEntry: false })?.isDirectory())
                throw new Error(`--dir ${host}: no such directory`);
            preopens[guest || host] = host;
        } else {
            const sep = value.indexOf('=');
            if (sep <= 0)
                throw new Error(`invalid --env '${value}': expected NAME=VALUE`);
            env[value.slice(0, sep)] = value.slice(sep + 1);
        }
    }
    if (i >= argv.length)
        throw new Error(USAGE);
    return { preopens, env, modulePath: argv[i], args: argv.slice(i + 1) };
}

const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
    if (type === 'ExperimentalWarning' && String(warning).includes('WASI'))
        return;
    emitWarning.call(process, warning, ...rest);
};

async function main() {
    let parsed;
    try {
        parsed = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`run_node.mjs: ${e.message}`);
        return 2;
    }
    const { WASI } = await import('node:wasi');
    const wasi = new WASI({
        version: 'preview1',
        args: [basename(parsed.modulePath), ...parsed.args],
        env: parsed.env,
        preopens: parsed.preopens,
        returnOnExit: true,
    });
    let bytes;
    try {
        bytes = await readFile(parsed.modulePath);
    } catch (e) {
        console.error(`run_node.mjs: cannot read the module ${parsed.modulePath}: ${e.message}`);
        return 2;
    }
    const module = await WebAssembly.compile(bytes);
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    return wasi.start(instance) ?? 0;
}

process.exitCode = await main();
