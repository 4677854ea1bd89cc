// llamacpp_run.mjs - times llama.cpp (through node-llama-cpp) on one model, for bench.mjs.
//
// Usage: node llamacpp_run.mjs NODE_PREFIX MODEL THREADS PROMPT_TOKENS N_GEN
//
// NODE_PREFIX is the folder where run.sh installed node-llama-cpp. The
// prompt is BOS plus PROMPT_TOKENS - 1 tokens of a fixed text. The run
// evaluates the prompt (timed until the first token is sampled), then
// N_GEN one-token decodes, greedy, without stopping at end of generation.
// It prints one JSON object on stdout: load_ms, prompt_tokens, prompt_ms,
// gen_tokens, gen_ms and the llama.cpp release of the bindings.
import path from "node:path";
import { pathToFileURL } from "node:url";

import { promptText } from "./prompt.mjs";

const [prefix, modelPath, threadsArg, promptArg, genArg] = process.argv.slice(2);
if (!genArg) {
    console.error("usage: node llamacpp_run.mjs NODE_PREFIX MODEL THREADS PROMPT_TOKENS N_GEN");
    process.exit(1);
}
const threads = Number(threadsArg);
const nPrompt = Number(promptArg);
const nGen = Number(genArg);

const entry = path.join(path.resolve(prefix), "node_modules", "node-llama-cpp", "dist", "index.js");
const { getLlama } = await import(pathToFileURL(entry).href);

// build: "never" uses the prebuilt binary of @node-llama-cpp/linux-x64 and fails
// instead of trying to download llama.cpp's source and compile it.
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

const tLoad = performance.now();
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const loadMs = performance.now() - tLoad;

const context = await model.createContext({
    contextSize: nPrompt + nGen + 16,
    batchSize: Math.max(512, nPrompt),
    threads,
});
const sequence = context.getSequence();

// pinfer gets the same text, so both engines evaluate the same tokens.
const textTokens = model.tokenize(promptText(nPrompt - 1), false);
if (textTokens.length !== nPrompt - 1) {
    console.error(`llamacpp_run: the prompt text has ${textTokens.length} tokens, expected ${nPrompt - 1}`);
    process.exit(1);
}
const prompt = [model.tokens.bos, ...textTokens];

let promptMs = 0;
let genTokens = 0;
const tPrompt = performance.now();
let tGen = 0;
for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    void token;
    if (tGen === 0) {
        tGen = performance.now();
        promptMs = tGen - tPrompt;
        if (nGen === 0)
            break;
        continue;
    }
    genTokens++;
    if (genTokens >= nGen)
        break;
}
const genMs = nGen > 0 ? performance.now() - tGen : 0;

console.log(
    JSON.stringify({
        load_ms: loadMs,
        prompt_tokens: prompt.length,
        prompt_ms: promptMs,
        gen_tokens: genTokens,
        gen_ms: genMs,
        llama_cpp_release: llama.llamaCppRelease ?? null,
    }),
);
await context.dispose();
await model.dispose();
await llama.dispose();
