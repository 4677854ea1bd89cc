// bench.mjs - runs pinfer and llama.cpp on the same models and compares them.
//
// Called by run.sh after it has written the models and installed
// node-llama-cpp. For each model it runs llama.cpp, then pinfer, one process
// at a time with the same thread count, each under /usr/bin/time -v for its
// peak RSS. It measures prompt processing of 32 and 256 tokens, generation
// of 64 tokens and load time, writes build/bench.json and prints a Markdown
// table for BENCH.md.
//
// pinfer runs first on a small probe. A measurement whose estimated time is
// above PINFER_BENCH_RUN_SECONDS (default 90) runs with fewer tokens, or is
// skipped, and the table notes it. Slow kernels thus cannot push the bench far
// past its time budget. PINFER_BENCH_FULL=1 turns this off.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { promptText } from "./prompt.mjs";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, "..");
const env = process.env;
const cacheDir = path.resolve(root, env.PINFER_BENCH_CACHE ?? "build/bench-models");
const nodePrefix = path.resolve(root, env.PINFER_BENCH_NODE ?? "build/bench-node");
const threads = Number(env.PINFER_BENCH_THREADS ?? 2);
const runSeconds = Number(env.PINFER_BENCH_RUN_SECONDS ?? 90);
const full = env.PINFER_BENCH_FULL === "1";
const pinfer = path.join(root, "build", "pinfer");
const models = (env.PINFER_BENCH_MODELS ?? "llama-8b-Q3_K_L,llama-1b-Q3_K_L").split(",");

const PROMPT_SHORT = 32;
const PROMPT_LONG = 256;
const N_GEN = 64;
const PROBE_PROMPT = 8;
const PROBE_GEN = 2;

function log(line) {
    process.stderr.write(`# bench: ${line}\n`);
}

// Runs a command under /usr/bin/time -v. Returns its stdout, stderr, peak RSS in KiB and wall seconds.
function runMeasured(command, args) {
    const t0 = performance.now();
    const result = spawnSync("/usr/bin/time", ["-v", command, ...args], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
        timeout: 30 * 60 * 1000,
    });
    const wallS = (performance.now() - t0) / 1000;
    if (result.error)
        throw new Error(`${command} failed to start: ${result.error.message}`);
    if (result.status !== 0)
        throw new Error(`${command} ${args.slice(0, 2).join(" ")} exited with status ${result.status}:\n${result.stderr}`);
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
    return { stdout: result.stdout, stderr: result.stderr, peakRssKiB: rss ? Number(rss[1]) : null, wallS };
}

function runPinfer(model, nPrompt, nGen) {
    const args = ["-m", model, "-p", promptText(nPrompt - 1), "-n", String(nGen), "-c", String(nPrompt + nGen + 16),
        "-t", String(threads), "-s", "1", "--temp", "0", "--no-display-prompt"];
    const r = runMeasured(pinfer, args);
    const prompt = /# prompt: (\d+) tokens in ([\d.]+) ms/.exec(r.stderr);
    const gen = /generate: (\d+) tokens in ([\d.]+) ms/.exec(r.stderr);
    const load = /load: ([\d.]+) ms/.exec(r.stderr);
    const kernels = /kernels (\S+),/.exec(r.stderr);
    if (!prompt || !gen || !load)
        throw new Error(`pinfer printed no prompt, generate or load statistics:\n${r.stderr}`);
    if (Number(prompt[1]) !== nPrompt)
        throw new Error(`pinfer evaluated ${prompt[1]} prompt tokens, expected ${nPrompt}`);
    return {
        load_ms: Number(load[1]), prompt_tokens: Number(prompt[1]), prompt_ms: Number(prompt[2]),
        gen_tokens: Number(gen[1]), gen_ms: Number(gen[2]), peak_rss_kib: r.peakRssKiB, wall_s: r.wallS,
        kernels: kernels ? kernels[1] : null,
    };
}

function runLlamaCpp(model, nPrompt, nGen) {
    const args = [path.join(benchDir, "llamacpp_run.mjs"), nodePrefix, model, String(threads), String(nPrompt), String(nGen)];
    const r = runMeasured(process.execPath, args);
    return { ...JSON.parse(r.stdout.trim().split("\n").pop()), peak_rss_kib: r.peakRssKiB, wall_s: r.wallS };
}

const rate = (tokens, ms) => (ms > 0 ? (tokens * 1000) / ms : null);

// One engine's figures on one model, from its runs.
function summarize(runs) {
    const short = runs.short;
    const long = runs.long;
    return {
        pp_short: short ? { tokens: short.prompt_tokens, tok_s: rate(short.prompt_tokens, short.prompt_ms) } : null,
        pp_long: long ? { tokens: long.prompt_tokens, tok_s: rate(long.prompt_tokens, long.prompt_ms) } : null,
        tg: short && short.gen_tokens > 0 ? { tokens: short.gen_tokens, tok_s: rate(short.gen_tokens, short.gen_ms) } : null,
        load_ms: short ? short.load_ms : null,
        peak_rss_mib: Math.max(...Object.values(runs).filter(Boolean).map((r) => r.peak_rss_kib)) / 1024,
    };
}

function benchLlamaCpp(model) {
    log(`llama.cpp: ${path.basename(model)}, prompt ${PROMPT_SHORT} + generate ${N_GEN}`);
    const short = runLlamaCpp(model, PROMPT_SHORT, N_GEN);
    log(`llama.cpp: ${path.basename(model)}, prompt ${PROMPT_LONG}`);
    const long = runLlamaCpp(model, PROMPT_LONG, 0);
    return { runs: { short, long }, notes: [] };
}

// Runs pinfer at full size when the rates from the probe show that a run fits in runSeconds, else smaller.
function benchPinfer(model) {
    const notes = [];
    if (full) {
        log(`pinfer: ${path.basename(model)}, full size`);
        return { runs: { short: runPinfer(model, PROMPT_SHORT, N_GEN), long: runPinfer(model, PROMPT_LONG, 1) }, notes };
    }

    log(`pinfer: ${path.basename(model)}, probe: prompt ${PROBE_PROMPT} + generate ${PROBE_GEN}`);
    const probe = runPinfer(model, PROBE_PROMPT, PROBE_GEN);
    const ppRate = rate(probe.prompt_tokens, probe.prompt_ms);
    const tgRate = rate(probe.gen_tokens, probe.gen_ms);
    const shortFits = PROMPT_SHORT / ppRate <= runSeconds;
    const nGen = Math.min(N_GEN, Math.floor(runSeconds * tgRate));

    let short = probe;
    if (shortFits || nGen > 2 * PROBE_GEN) {
        const nPrompt = shortFits ? PROMPT_SHORT : PROBE_PROMPT;
        const n = Math.max(nGen, PROBE_GEN);
        log(`pinfer: ${path.basename(model)}, prompt ${nPrompt} + generate ${n}`);
        short = runPinfer(model, nPrompt, n);
    }
    if (short.prompt_tokens !== PROMPT_SHORT || short.gen_tokens < N_GEN)
        notes.push(`pinfer ran prompt ${short.prompt_tokens} + generate ${short.gen_tokens} tokens, ` +
            `because ${PROMPT_SHORT} + ${N_GEN} was estimated at ` +
            `${(PROMPT_SHORT / ppRate + N_GEN / tgRate).toFixed(0)} s (limit ${runSeconds} s a run)`);

    let long = null;
    const longEstimate = PROMPT_LONG / ppRate;
    if (longEstimate <= runSeconds) {
        log(`pinfer: ${path.basename(model)}, prompt ${PROMPT_LONG}`);
        long = runPinfer(model, PROMPT_LONG, 1);
    } else {
        notes.push(`pinfer skipped the ${PROMPT_LONG}-token prompt, estimated at ${longEstimate.toFixed(0)} s`);
    }
    return { runs: { probe, short, long }, notes };
}

function measureBandwidth() {
    const r = spawnSync(path.join(root, "build", "membw"), [String(threads), "1024", "5"], { encoding: "utf8" });
    if (r.status !== 0)
        throw new Error(`build/membw failed: ${r.stderr}`);
    const lines = r.stdout.trim().split("\n");
    const m = /read (\d+) threads: ([\d.]+) GB\/s/.exec(lines[lines.length - 1]);
    return { threads: Number(m[1]), read_gb_s: Number(m[2]), output: lines };
}

const fmt = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(digits));
const ratio = (a, b) => (a && b ? a / b : null);

function tableRows(entry) {
    const p = entry.pinfer.summary;
    const l = entry.llama_cpp.summary;
    const tokens = (x) => (x ? ` (${x.tokens})` : "");
    const rows = [
        [`prompt ${PROMPT_SHORT}, tok/s`, p.pp_short, l.pp_short, true],
        [`prompt ${PROMPT_LONG}, tok/s`, p.pp_long, l.pp_long, true],
        [`generate ${N_GEN}, tok/s`, p.tg, l.tg, true],
    ].map(([label, a, b]) => [label, fmt(a?.tok_s, 2) + (a && a.tokens !== b?.tokens ? tokens(a) : ""),
        fmt(b?.tok_s, 2), fmt(ratio(a?.tok_s, b?.tok_s), 3)]);
    rows.push(["load, ms", fmt(p.load_ms), fmt(l.load_ms), fmt(ratio(p.load_ms, l.load_ms), 3)]);
    rows.push(["peak RSS, MiB", fmt(p.peak_rss_mib, 0), fmt(l.peak_rss_mib, 0), fmt(ratio(p.peak_rss_mib, l.peak_rss_mib), 3)]);
    rows.push(["generation x model bytes / read bandwidth", fmt(entry.pinfer.bandwidth_share * 100) + " %",
        fmt(entry.llama_cpp.bandwidth_share * 100) + " %", ""]);
    return rows;
}

function cpuName() {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    return m ? m[1] : os.cpus()[0]?.model ?? "unknown";
}

const t0 = performance.now();
const report = {
    date: new Date().toISOString(),
    cpu: cpuName(),
    cores: os.cpus().length,
    threads,
    run_seconds_limit: full ? null : runSeconds,
    load_average_start: os.loadavg(),
    bandwidth: measureBandwidth(),
    models: [],
};
log(`read bandwidth with ${threads} threads: ${report.bandwidth.read_gb_s} GB/s`);

for (const name of models) {
    const file = path.join(cacheDir, `${name}.gguf`);
    const bytes = fs.statSync(file).size;
    // Warm the page cache so that both engines load from memory, not from disk.
    spawnSync("cat", [file], { stdio: ["ignore", "ignore", "inherit"] });
    const entry = { model: name, file_bytes: bytes };
    for (const [engine, run] of [["llama_cpp", benchLlamaCpp], ["pinfer", benchPinfer]]) {
        const result = run(file);
        const summary = summarize(result.runs);
        entry[engine] = {
            ...result,
            summary,
            bandwidth_share: summary.tg ? (summary.tg.tok_s * bytes) / (report.bandwidth.read_gb_s * 1e9) : null,
        };
    }
    report.models.push(entry);
}
report.load_average_end = os.loadavg();
report.total_seconds = (performance.now() - t0) / 1000;
report.pinfer_kernels = report.models[0]?.pinfer.runs.short?.kernels ?? null;
report.llama_cpp_release = report.models[0]?.llama_cpp.runs.short?.llama_cpp_release ?? null;

fs.writeFileSync(path.join(root, "build", "bench.json"), JSON.stringify(report, null, 2) + "\n");

const out = [];
out.push(`${report.date.slice(0, 10)}, ${report.cpu}, ${report.cores} cores, ${threads} threads, ` +
    `read bandwidth ${report.bandwidth.read_gb_s} GB/s (build/membw, ${threads} threads), ` +
    `pinfer kernels ${report.pinfer_kernels}, load average ${report.load_average_start.map((x) => x.toFixed(1)).join(" ")} at start`);
for (const entry of report.models) {
    out.push("");
    out.push(`**${entry.model}.gguf** (${(entry.file_bytes / 2 ** 30).toFixed(2)} GiB)`);
    out.push("");
    out.push("| | pinfer | llama.cpp | pinfer / llama.cpp |");
    out.push("| --- | ---: | ---: | ---: |");
    for (const row of tableRows(entry))
        out.push(`| ${row.join(" | ")} |`);
    for (const note of [...entry.pinfer.notes, ...entry.llama_cpp.notes])
        out.push(`\nNote: ${note}.`);
}
out.push("");
out.push(`Total ${report.total_seconds.toFixed(0)} s; build/bench.json has every run.`);
console.log(out.join("\n"));
