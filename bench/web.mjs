// web.mjs - pinfer's browser API against wllama in headless Chromium, at 1 and 2 threads.
//
// Called by run.sh after wasi.mjs, on the synthetic 1B Q3_K_L model that
// run.sh wrote. It serves build/web/ (pinfer; PINFER_BENCH_WEB names another
// build), the esm/ folder of @wllama/wllama from $PINFER_BENCH_NODE and the
// model on 127.0.0.1 with the COOP/COEP headers, so every page is
// cross-origin isolated and both engines may start threads. It drives
// Debian's Chromium through playwright-core. For each thread count, each
// engine gets a fresh browser context on the same blank page and loads the
// model by URL with a context of N_CTX tokens. It runs a short warm-up
// request, then one measured request: the same prompt text (PROMPT_TOKENS
// tokens with BOS) and GEN_TOKENS greedy tokens.
//
// Both engines time themselves, and their timings cover the same steps:
//   prompt     the prompt's evaluation in one batch, up to its logits
//   generate   from the first generated token (sampled from the prompt's
//              logits) to the last: GEN_TOKENS - 1 one-token decodes, each
//              followed by a greedy sampling; tok/s counts those decodes
// pinfer: Pinfer.load, llm.generate with temperature 0, and the stats object
// that the generator returns (promptMs also covers tokenizing; generateMs
// also covers the messages from the worker to the page).
// wllama: Wllama.loadModel on a Blob of the fetched file with n_gpu_layers 0
// (CPU only) and n_parallel 1, then createCompletion with temperature 0,
// ignore_eos and cache_prompt false, and the llama-server timings in its
// response (prompt_n, prompt_ms, predicted_n, predicted_ms, cache_n).
//
// A run that does other work (another token count, context or thread count,
// cached prompt tokens), fails, or has no result after RUN_TIMEOUT_MS shows
// as failed, with its reason under the table, and the script exits 1.
// Writes build/bench-web.json and build/bench-web.log (the pages' console)
// and prints a Markdown table with the ratios pinfer / wllama.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { promptText } from "./prompt.mjs";
import { createServer } from "../web/serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const env = process.env;
const cacheDir = path.resolve(root, env.PINFER_BENCH_CACHE ?? "build/bench-models");
const nodePrefix = path.resolve(root, env.PINFER_BENCH_NODE ?? "build/bench-node");
const chromiumPath = env.PINFER_CHROMIUM ?? "/usr/bin/chromium";
const modelName = "llama-1b-Q3_K_L.gguf";
const webDir = path.resolve(root, env.PINFER_BENCH_WEB ?? "build/web");
const wllamaDir = path.join(nodePrefix, "node_modules", "@wllama", "wllama");
const pageDir = path.join(root, "build", "bench-web");

const PROMPT_TOKENS = 32; // with BOS
const GEN_TOKENS = 32;
const N_CTX = 512;
const THREAD_COUNTS = [1, 2];
const WARMUP = { prompt: promptText(7), tokens: 4 };
const RUN_TIMEOUT_MS = 5 * 60 * 1000; // one engine at one thread count: load, warm-up and measurement

function log(line) {
    process.stderr.write(`# bench web: ${line}\n`);
}

function loadAverage() {
    return os.loadavg().map((x) => Number(x.toFixed(2)));
}

// Runs in the page: pinfer through its ES module API.
async function runPinferInPage({ model, threads, nCtx, prompt, genTokens, warmup }) {
    const { Pinfer } = await import("/pinfer.js");
    const t0 = performance.now();
    const llm = await Pinfer.load(model, { threads, nCtx });
    const loadMs = performance.now() - t0;

    async function request(text, maxTokens) {
        const pieces = llm.generate(text, { maxTokens, temperature: 0 });
        const start = performance.now();
        let out = "";
        let step;
        while (!(step = await pieces.next()).done)
            out += step.value;
        return { text: out, stats: step.value, wallMs: performance.now() - start };
    }

    await request(warmup.prompt, warmup.tokens);
    const measured = await request(prompt, genTokens);
    const info = llm.info;
    await llm.unload();
    return {
        loadMs, threads: measured.stats.threads, kernels: measured.stats.kernels, nCtx: info.n_ctx,
        promptTokens: measured.stats.promptTokens, promptMs: measured.stats.promptMs,
        genTokens: measured.stats.tokens, genMs: measured.stats.generateMs, reason: measured.stats.reason,
        text: measured.text, wallMs: measured.wallMs,
    };
}

// Runs in the page: wllama through its ES module, on the CPU.
async function runWllamaInPage({ model, threads, nCtx, prompt, genTokens, warmup }) {
    const { Wllama } = await import("/wllama/index.js");
    const logs = [];
    const keep = (level) => (...args) => logs.push(level + ": " + args.map(String).join(" "));
    const wllama = new Wllama({ default: "/wllama/wasm/wllama.wasm" },
        { logger: { debug: keep("debug"), log: keep("log"), warn: keep("warn"), error: keep("error") } });
    try {
        const t0 = performance.now();
        const response = await fetch(model);
        if (!response.ok)
            throw new Error(model + ": HTTP " + response.status);
        const blob = await response.blob();
        await wllama.loadModel([blob], { n_ctx: nCtx, n_threads: threads, n_gpu_layers: 0, n_parallel: 1 });
        const loadMs = performance.now() - t0;

        async function request(text, maxTokens) {
            const start = performance.now();
            const r = await wllama.createCompletion({
                prompt: text, max_tokens: maxTokens, temperature: 0, ignore_eos: true, cache_prompt: false,
            });
            return { text: r.choices[0].text, timings: r.timings, usage: r.usage, wallMs: performance.now() - start };
        }

        await request(warmup.prompt, warmup.tokens);
        const measured = await request(prompt, genTokens);
        // predicted_ms spans predicted_n - 1 decodes, because the first token comes from the
        // prompt's logits: this build reports predicted_per_token_ms as predicted_ms / (predicted_n - 1).
        const t = measured.timings || {};
        return {
            loadMs, threads: wllama.getNumThreads(), multithread: wllama.isMultithread(),
            nCtx: wllama.getLoadedContextInfo().n_ctx, nBatch: wllama.getLoadedContextInfo().n_batch,
            libllama: Wllama.getLibllamaVersion(),
            promptTokens: t.prompt_n, promptMs: t.prompt_ms, cachedTokens: t.cache_n,
            genTokens: t.predicted_n, genMs: t.predicted_ms, genMsPerDecode: t.predicted_per_token_ms,
            text: measured.text, wallMs: measured.wallMs, logs,
        };
    } catch (e) {
        e.message += "\nwllama log:\n" + logs.slice(-40).join("\n");
        throw e;
    } finally {
        await wllama.exit();
    }
}

// Writes the blank page that both engines run in, under /bench/.
function writeBenchPage() {
    fs.mkdirSync(pageDir, { recursive: true });
    fs.writeFileSync(path.join(pageDir, "index.html"),
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>pinfer web bench</title>\n<p>pinfer web bench</p>\n");
}

async function startServer() {
    const server = createServer({
        root: webDir, models: cacheDir, isolation: true,
        mounts: { "/wllama/": path.join(wllamaDir, "esm"), "/bench/": pageDir },
    });
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    return { server, base: `http://127.0.0.1:${server.address().port}/` };
}

// Runs one engine at one thread count in a fresh browser context and returns its measurement.
// It returns { error } instead when the engine failed, timed out or did other work than requested.
async function runEngine(browser, base, engine, threads, logLines) {
    const label = `${engine}, ${threads} thread${threads > 1 ? "s" : ""}`;
    const context = await browser.newContext();
    const offsite = [];
    context.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(base) && !url.startsWith("blob:") && !url.startsWith("data:"))
            offsite.push(url);
    });
    const page = await context.newPage();
    page.on("console", (message) => logLines.push(`${label}: console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => logLines.push(`${label}: page error: ${error.message}`));
    page.on("crash", () => logLines.push(`${label}: the page crashed`));
    let timer;
    try {
        await page.goto(base + "bench/");
        if (!(await page.evaluate(() => self.crossOriginIsolated)))
            throw new Error(`the page ${base}bench/ is not cross-origin isolated; check the COOP/COEP headers`);
        const args = {
            model: "/models/" + modelName, threads, nCtx: N_CTX,
            prompt: promptText(PROMPT_TOKENS - 1), genTokens: GEN_TOKENS, warmup: WARMUP,
        };
        log(`${label}: load, warm-up, prompt ${PROMPT_TOKENS} + generate ${GEN_TOKENS}`);
        const timeout = new Promise((resolve, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${RUN_TIMEOUT_MS / 1000} s ` +
                "(load, warm-up and the measured request); the pages' console is in build/bench-web.log")),
            RUN_TIMEOUT_MS);
        });
        const evaluation = page.evaluate(engine === "pinfer" ? runPinferInPage : runWllamaInPage, args);
        evaluation.catch(() => {}); // closing the context after a time-out rejects it with no one waiting
        const result = await Promise.race([evaluation, timeout]);
        for (const line of result.logs ?? [])
            logLines.push(`${label}: ${line}`);
        delete result.logs;
        if (offsite.length)
            throw new Error(`requested addresses other than ${base}: ${offsite.join(", ")}`);
        const run = { engine, requestedThreads: threads, ...result };
        const problems = checkRun(run);
        if (problems.length)
            throw new Error(problems.join("; "));
        return run;
    } catch (e) {
        const message = e.message.split("\n")[0];
        log(`${label} failed: ${message}`);
        logLines.push(`${label}: failed: ${e.message}`);
        return { engine, requestedThreads: threads, error: message };
    } finally {
        clearTimeout(timer);
        await context.close();
    }
}

// Lists how a measurement differs from the work that the table claims.
function checkRun(run) {
    const problems = [];
    if (run.threads !== run.requestedThreads)
        problems.push(`ran ${run.threads} threads, expected ${run.requestedThreads}`);
    if (run.promptTokens !== PROMPT_TOKENS)
        problems.push(`evaluated ${run.promptTokens} prompt tokens, expected ${PROMPT_TOKENS}`);
    if (run.genTokens !== GEN_TOKENS)
        problems.push(`generated ${run.genTokens} tokens, expected ${GEN_TOKENS}`);
    if (run.nCtx !== N_CTX)
        problems.push(`has a context of ${run.nCtx} tokens, expected ${N_CTX}`);
    if (run.cachedTokens)
        problems.push(`reused ${run.cachedTokens} cached prompt tokens, expected 0`);
    const perDecodeMs = run.genMs / (run.genTokens - 1);
    if (run.genMsPerDecode !== undefined && Math.abs(run.genMsPerDecode - perDecodeMs) > 0.01 * perDecodeMs) {
        problems.push(`reports ${run.genMsPerDecode} ms per generated token, expected ${perDecodeMs} ms ` +
            `(generate ms over ${run.genTokens - 1} decodes), so its timings cover other steps than assumed`);
    }
    if (!(run.promptMs > 0 && run.genMs > 0))
        problems.push(`reported no timings (prompt ${run.promptMs} ms, generate ${run.genMs} ms)`);
    return problems;
}

function readVersion(dir) {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
}

async function main() {
    for (const [file, hint] of [
        [path.join(webDir, "pinfer-mt.js"), "run make web"],
        [path.join(cacheDir, modelName), "run make bench, which writes it"],
        [path.join(wllamaDir, "esm", "index.js"), "run bench/run.sh, which installs @wllama/wllama"],
        [path.join(nodePrefix, "node_modules", "playwright-core", "package.json"),
            "run bench/run.sh, which installs playwright-core"],
        [chromiumPath, "Debian: apt-get install chromium, or set PINFER_CHROMIUM"],
    ]) {
        if (!fs.existsSync(file))
            throw new Error(`${file} not found; ${hint}`);
    }
    const require = createRequire(nodePrefix + path.sep);
    const { chromium } = require("playwright-core");

    writeBenchPage();
    const { server, base } = await startServer();
    const loadStart = loadAverage();
    const started = performance.now();
    // The host resolver rule makes every host but 127.0.0.1 fail to resolve, so no engine reaches the network.
    const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
    });
    const chromiumVersion = browser.version();
    const logLines = [];
    const runs = [];
    try {
        for (const threads of THREAD_COUNTS) {
            for (const engine of ["pinfer", "wllama"])
                runs.push(await runEngine(browser, base, engine, threads, logLines));
        }
    } finally {
        fs.writeFileSync(path.join(root, "build", "bench-web.log"), logLines.join("\n") + "\n");
        await browser.close();
        server.close();
    }

    const report = {
        date: new Date().toISOString(),
        load_average_start: loadStart,
        load_average_end: loadAverage(),
        seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
        model: modelName,
        chromium: chromiumVersion,
        wllama: readVersion(wllamaDir),
        libllama: runs.find((r) => r.libllama)?.libllama ?? null,
        n_ctx: N_CTX,
        prompt_tokens: PROMPT_TOKENS,
        gen_tokens: GEN_TOKENS,
        runs: runs.map((r) => r.error ? r : {
            ...r,
            prompt_tok_s: r.promptTokens / (r.promptMs / 1000),
            gen_tok_s: (r.genTokens - 1) / (r.genMs / 1000),
        }),
    };
    fs.writeFileSync(path.join(root, "build", "bench-web.json"), JSON.stringify(report, null, 2) + "\n");
    printTable(report);
    return report.runs.every((r) => !r.error);
}

function printTable(report) {
    const fmt = (v, digits) => (v === undefined ? "failed" : v.toFixed(digits));
    const ratio = (a, b) => (a === undefined || b === undefined ? "-" : (a / b).toFixed(3));
    const kernels = report.runs.find((r) => r.engine === "pinfer" && r.kernels)?.kernels ?? "?";
    const lines = [
        "",
        `**${report.model}, pinfer (${path.relative(root, webDir) || "."}, ${kernels}) vs wllama ${report.wllama} ` +
            `(llama.cpp ${report.libllama ?? "?"}), Chromium ${report.chromium}, context ${report.n_ctx}**`,
        "",
        "| | pinfer | wllama | pinfer / wllama |",
        "| --- | ---: | ---: | ---: |",
    ];
    for (const threads of THREAD_COUNTS) {
        const p = report.runs.find((r) => r.engine === "pinfer" && r.requestedThreads === threads);
        const w = report.runs.find((r) => r.engine === "wllama" && r.requestedThreads === threads);
        const t = `${threads} thread${threads > 1 ? "s" : ""}`;
        lines.push(
            `| prompt ${report.prompt_tokens}, ${t}, tok/s | ${fmt(p.prompt_tok_s, 2)} | ${fmt(w.prompt_tok_s, 2)} | ` +
                `${ratio(p.prompt_tok_s, w.prompt_tok_s)} |`,
            `| generate ${report.gen_tokens}, ${t}, tok/s | ${fmt(p.gen_tok_s, 2)} | ${fmt(w.gen_tok_s, 2)} | ` +
                `${ratio(p.gen_tok_s, w.gen_tok_s)} |`,
            `| load, ${t}, ms | ${fmt(p.loadMs, 0)} | ${fmt(w.loadMs, 0)} | ${ratio(p.loadMs, w.loadMs)} |`);
    }
    const texts = THREAD_COUNTS.map((threads) => {
        const [p, w] = ["pinfer", "wllama"].map((e) => report.runs.find((r) => r.engine === e && r.requestedThreads === threads));
        let same = "not compared";
        if (p.text !== undefined && w.text !== undefined)
            same = p.text === w.text ? "identical" : "different";
        return `${same} at ${threads} thread${threads > 1 ? "s" : ""}`;
    });
    lines.push(
        "",
        `Each engine ran in a fresh cross-origin isolated page: it loaded the model by URL from 127.0.0.1, ` +
            `ran a warm-up request, then the same ${report.prompt_tokens}-token prompt (with BOS) and ` +
            `${report.gen_tokens} greedy tokens, timed by the engine itself. Prompt tok/s is the prompt's tokens ` +
            `over its batch evaluation. Generate tok/s is the ${report.gen_tokens - 1} one-token decodes over the ` +
            `time from the first generated token to the last. Load is fetching the file and loading it into the ` +
            `engine, on the page's clock. The generated text of pinfer and wllama is ${texts.join(", ")}. ` +
            `Load average ${report.load_average_start.join(" ")} at the start, ` +
            `${report.load_average_end.join(" ")} at the end; ${report.seconds} s in all.`);
    for (const r of report.runs.filter((x) => x.error))
        lines.push("", `${r.engine} at ${r.requestedThreads} thread${r.requestedThreads > 1 ? "s" : ""} failed: ${r.error}`);
    console.log(lines.join("\n"));
}

main().then((ok) => process.exit(ok ? 0 : 1), (e) => {
    process.stderr.write(`bench web: ${e.message}\n`);
    process.exit(1);
});
