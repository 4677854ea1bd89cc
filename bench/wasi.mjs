// wasi.mjs - pinfer.wasm under wasmtime against the native pinfer, one thread each.
//
// Called by run.sh after bench.mjs, on the synthetic 1B Q3_K_L model that
// run.sh wrote. Both engines evaluate the same 32-token prompt and generate
// 32 tokens greedily. The script reads each engine's "# prompt:" statistics
// line, writes build/bench-wasi.json and prints a Markdown table of prompt
// and generation tok/s with the wasm / native ratios.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
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

// Runs one engine and returns its prompt and generation rates from the stats line.
function run(label, command, args) {
    log(`${label}: prompt ${N_PROMPT} + generate ${N_GEN}, 1 thread`);
    const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: 30 * 60 * 1000 });
    if (r.error)
        throw new Error(`${label} failed to start: ${r.error.message}`);
    if (r.status !== 0)
        throw new Error(`${label} exited with status ${r.status}:\n${r.stderr}`);
    const stats = /# prompt: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok\/s\) \| generate: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok\/s\)/
        .exec(r.stderr);
    const kernels = /kernels (\S+),/.exec(r.stderr);
    if (!stats)
        throw new Error(`${label} printed no prompt statistics:\n${r.stderr}`);
    return {
        kernels: kernels ? kernels[1] : null,
        prompt_tokens: Number(stats[1]), prompt_tok_s: Number(stats[3]),
        gen_tokens: Number(stats[4]), gen_tok_s: Number(stats[6]),
    };
}

const flags = ["-m", model, "-p", promptText(N_PROMPT - 1), "-n", String(N_GEN), "-t", "1", "-s", "1",
    "--temp", "0", "--no-display-prompt"];
const native = run("native", path.join(root, "build", "pinfer"), flags);
const wasm = run("wasmtime", "python3",
    [path.join(root, "wasi", "run_wasmtime.py"), "--dir", cacheDir, path.join(root, "build", "pinfer.wasm"), ...flags]);

const report = { date: new Date().toISOString(), model: path.basename(model), threads: 1, native, wasm };
fs.writeFileSync(path.join(root, "build", "bench-wasi.json"), JSON.stringify(report, null, 2) + "\n");

const fmt = (v, digits) => v.toFixed(digits);
console.log([
    "",
    `**${path.basename(model)}, pinfer.wasm under wasmtime vs native pinfer, 1 thread**`,
    "",
    `| | native (${native.kernels}) | wasm (${wasm.kernels}) | wasm / native |`,
    "| --- | ---: | ---: | ---: |",
    `| prompt ${native.prompt_tokens}, tok/s | ${fmt(native.prompt_tok_s, 2)} | ${fmt(wasm.prompt_tok_s, 2)} | ` +
        `${fmt(wasm.prompt_tok_s / native.prompt_tok_s, 3)} |`,
    `| generate ${native.gen_tokens}, tok/s | ${fmt(native.gen_tok_s, 2)} | ${fmt(wasm.gen_tok_s, 2)} | ` +
        `${fmt(wasm.gen_tok_s / native.gen_tok_s, 3)} |`,
].join("\n"));
