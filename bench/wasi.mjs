// wasi.mjs - pinfer.wasm under wasmtime against the native pinfer, one thread each.
//
// Called by run.sh after bench.mjs, on the synthetic 1B Q3_K_L model that
// run.sh wrote. Every engine evaluates the same 32-token prompt and generates
// 32 tokens greedily: the native pinfer with its default kernel table and
// with --kernels avx2 and scalar (where the CPU has them), build/pinfer.wasm
// (wasm-simd128) and build/pinfer-relaxed.wasm (wasm-relaxed-simd) under
// wasmtime. The script reads each run's "# prompt:" statistics line, writes
// build/bench-wasi.json with the load average before and after, and prints
// Markdown tables of tok/s and of the wasm / native ratios.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { promptText } from "./prompt.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = path.resolve(root, process.env.PINFER_BENCH_CACHE ?? "build/bench-models");
const model = path.join(cacheDir, "llama-1b-Q3_K_L.gguf");
const N_PROMPT = 32;
const N_GEN = 32;

function log(line) {
    process.stderr.write(`# bench wasi: ${line}\n`);
}

// Runs one engine and returns its kernel table and its prompt and generation
// rates from the stats line, or null when it rejects the kernel table.
function run(label, command, args) {
    log(`${label}: prompt ${N_PROMPT} + generate ${N_GEN}, 1 thread`);
    const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: 30 * 60 * 1000 });
    if (r.error)
        throw new Error(`${label} failed to start: ${r.error.message}`);
    if (r.status !== 0 && /--kernels \S+: unknown, or not supported/.test(r.stderr)) {
        log(`${label}: skipped, ${r.stderr.trim()}`);
        return null;
    }
    if (r.status !== 0)
        throw new Error(`${label} exited with status ${r.status}:\n${r.stderr}`);
    const stats = /# prompt: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok\/s\) \| generate: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok\/s\)/
        .exec(r.stderr);
    const kernels = /kernels (\S+),/.exec(r.stderr);
    if (!stats)
        throw new Error(`${label} printed no prompt statistics:\n${r.stderr}`);
    // The rates come from the token counts and milliseconds, which carry more digits than the printed tok/s.
    return {
        label,
        kernels: kernels ? kernels[1] : null,
        prompt_tokens: Number(stats[1]), prompt_tok_s: (1000 * Number(stats[1])) / Number(stats[2]),
        gen_tokens: Number(stats[4]), gen_tok_s: (1000 * Number(stats[4])) / Number(stats[5]),
    };
}

const flags = ["-m", model, "-p", promptText(N_PROMPT - 1), "-n", String(N_GEN), "-t", "1", "-s", "1",
    "--temp", "0", "--no-display-prompt"];
const nativeBin = path.join(root, "build", "pinfer");
const wasmtime = (module) =>
    ["python3", [path.join(root, "wasi", "run_wasmtime.py"), "--dir", cacheDir, path.join(root, "build", module), ...flags]];

const loadBefore = os.loadavg();
const native = run("native", nativeBin, flags);
const wasm = [run("pinfer.wasm", ...wasmtime("pinfer.wasm"))];
if (fs.existsSync(path.join(root, "build", "pinfer-relaxed.wasm")))
    wasm.push(run("pinfer-relaxed.wasm", ...wasmtime("pinfer-relaxed.wasm")));
else
    log("build/pinfer-relaxed.wasm is missing (make wasi builds it); its row is left out");
const nativeOthers = ["avx2", "scalar"]
    .filter((name) => name !== native.kernels)
    .map((name) => run(`native --kernels ${name}`, nativeBin, [...flags, "--kernels", name]))
    .filter((r) => r !== null);
const loadAfter = os.loadavg();

const report = {
    date: new Date().toISOString(), model: path.basename(model), threads: 1,
    load_average_before: loadBefore, load_average_after: loadAfter, native, native_others: nativeOthers, wasm,
};
fs.writeFileSync(path.join(root, "build", "bench-wasi.json"), JSON.stringify(report, null, 2) + "\n");

const fmt = (v, digits) => v.toFixed(digits);
const natives = [native, ...nativeOthers];
const lines = [
    "",
    `**${path.basename(model)}, native pinfer and pinfer.wasm under wasmtime, 1 thread** ` +
        `(load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadAfter[0], 2)} after)`,
    "",
    `| | prompt ${native.prompt_tokens}, tok/s | generate ${native.gen_tokens}, tok/s |`,
    "| --- | ---: | ---: |",
    ...natives.map((r, i) => `| native, ${r.kernels}${i === 0 ? " (default)" : ""} | ${fmt(r.prompt_tok_s, 2)} | ` +
        `${fmt(r.gen_tok_s, 2)} |`),
    ...wasm.map((r) => `| ${r.label}, ${r.kernels} | ${fmt(r.prompt_tok_s, 2)} | ${fmt(r.gen_tok_s, 2)} |`),
    "",
    "wasm / native, generation (prompt in brackets):",
    "",
    `| | ${natives.map((r) => `native ${r.kernels}`).join(" | ")} |`,
    `| --- | ${natives.map(() => "---:").join(" | ")} |`,
    ...wasm.map((w) => `| ${w.label}, ${w.kernels} | ` +
        natives.map((n) => `${fmt(w.gen_tok_s / n.gen_tok_s, 3)} (${fmt(w.prompt_tok_s / n.prompt_tok_s, 3)})`)
            .join(" | ") + " |"),
];
console.log(lines.join("\n"));
