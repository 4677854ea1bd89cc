// worker.js - the worker that owns the pinfer engine (a classic worker).
//
// The page never touches wasm memory: it talks to this worker only through
// the messages listed in pinfer.js. On "load" the worker starts the threaded
// build (pinfer-mt.js, Emscripten pthreads) when the page is cross-origin
// isolated and more than one thread is wanted, and the single-threaded one
// (pinfer-st.js) otherwise. It checks
// the model from its first bytes, then streams the file into one buffer in
// wasm memory chunk by chunk, so no JS ArrayBuffer ever contains the whole
// model. Generation runs one token per engine call and yields to the event
// loop between tokens, so that a "stop" message is handled.
'use strict';

const MiB = 1024 * 1024;
const FIRST_PEEK_BYTES = 1 * MiB; // doubled until the header fits: a Llama 3 header is 8 MiB, mostly vocabulary
const MAX_PEEK_BYTES = 256 * MiB;
const PROGRESS_EVERY_MS = 100;

let M = null; // the Emscripten module
let loaded = null; // the info object of the loaded model (see 'loaded' in pinfer.js)
let generating = false;
let stopRequested = false;

function post(msg) {
  self.postMessage(msg);
}

// Returns a view of all of wasm memory at its current size, which grows while the model is copied in.
function heap() {
  return M.wasmMemory ? new Uint8Array(M.wasmMemory.buffer) : M.HEAPU8;
}

// Decodes the NUL-terminated text at ptr. Bytes that are not valid UTF-8 (a token may carry
// them) become U+FFFD. The bytes are copied first, because TextDecoder rejects views of
// shared memory.
const decoder = new TextDecoder('utf-8');
function textAt(ptr) {
  const bytes = heap();
  let end = ptr >>> 0;
  while (bytes[end] !== 0) end++;
  return decoder.decode(bytes.slice(ptr >>> 0, end));
}

function engineMessage() {
  return M.UTF8ToString(M._pf_message());
}

// Calls fn with a NUL-terminated copy of text in wasm memory.
function withCString(text, fn) {
  const n = M.lengthBytesUTF8(text) + 1;
  const p = M._malloc(n);
  if (!p) throw new Error('out of wasm memory for a string of ' + n + ' bytes');
  try {
    M.stringToUTF8(text, p, n);
    return fn(p);
  } finally {
    M._free(p);
  }
}

// Yields to the event loop without delay (nested setTimeout calls wait at least 4 ms).
const channel = new MessageChannel();
let wake = null;
channel.port1.onmessage = () => {
  const w = wake;
  wake = null;
  if (w) w();
};
function yieldToEvents() {
  return new Promise((resolve) => {
    wake = resolve;
    channel.port2.postMessage(0);
  });
}

// Creates the engine; Pinfer.load starts a new worker for each model, so this runs once per worker.
async function startEngine(threads) {
  // One thread needs no pthreads; the threaded build would also wait forever for an empty pool to load.
  const want = threads > 1 ? 'pinfer-mt' : 'pinfer-st';
  if (M) throw new Error('this worker has already loaded a model; start a new worker');
  const base = new URL('./', self.location.href).href;
  importScripts(base + want + '.js');
  M = await self.createPinfer({
    poolSize: threads - 1, // read by the threaded build's PTHREAD_POOL_SIZE
    locateFile: (file) => base + file,
    mainScriptUrlOrBlob: base + want + '.js',
    print: (text) => console.log(text),
    printErr: (text) => console.warn(text),
  });
}

// Fetches url; a network failure becomes an error that names the URL and what to check.
async function download(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new Error(url + ': cannot download (' + e.message + '); check that the server is running and that ' +
      'it allows this page to fetch from it (CORS)');
  }
}

// Reads the first n bytes of the source; returns them with the size of the whole file.
async function readPrefix(source, n) {
  if (typeof source !== 'string') {
    const buf = await source.slice(0, n).arrayBuffer();
    return { bytes: new Uint8Array(buf), total: source.size };
  }
  const response = await download(source, { headers: { Range: 'bytes=0-' + (n - 1) } });
  if (!response.ok) throw new Error(source + ': HTTP ' + response.status + ' ' + response.statusText);
  let total;
  if (response.status === 206) {
    const range = response.headers.get('Content-Range') || '';
    const m = /\/(\d+)$/.exec(range);
    if (!m) throw new Error(source + ': the server sent a range without the file size (Content-Range: ' + range + ')');
    total = Number(m[1]);
  } else {
    total = Number(response.headers.get('Content-Length'));
  }
  // A server that ignores Range sends the whole file: read only what is needed and cancel the rest.
  const reader = response.body.getReader();
  const bytes = new Uint8Array(Math.min(n, total || n));
  let got = 0;
  while (got < bytes.length) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, bytes.length - got);
    bytes.set(value.subarray(0, take), got);
    got += take;
  }
  reader.cancel().catch(() => {});
  return { bytes: bytes.subarray(0, got), total };
}

function mib(bytes) {
  return (bytes / MiB).toFixed(1);
}

// Checks the model from its first bytes (a GGUF file, a supported architecture, small enough); returns the file size.
async function checkModel(source, name, nCtx, threads) {
  let n = FIRST_PEEK_BYTES;
  for (;;) {
    const { bytes, total } = await readPrefix(source, n);
    if (total === 0 && (typeof source !== 'string' || bytes.length === 0)) {
      throw new Error(name + ': the file is empty (0 bytes), expected a GGUF model');
    }
    if (!(total > 0)) {
      throw new Error(name + ': the size of the file is unknown (no Content-Length); pinfer needs it to ' +
        'allocate the model buffer before downloading');
    }
    const room = M._pf_memory_room();
    if (total > room) {
      throw new Error(name + ': the model has ' + mib(total) + ' MiB but this tab\'s wasm memory can grow by only ' +
        mib(room) + ' MiB more (4 GiB in all, less what pinfer uses); choose a smaller quantization or a smaller model');
    }
    const p = M._malloc(Math.max(bytes.length, 1));
    if (!p) throw new Error('out of wasm memory for the first ' + mib(bytes.length) + ' MiB of the model');
    heap().set(bytes, p >>> 0);
    const status = withCString(name, (cname) => M._pf_peek(p, bytes.length, total, cname, nCtx, threads));
    M._free(p);
    if (status === 0) return total;
    if (status < 0) throw new Error(engineMessage());
    if (bytes.length >= total || n >= MAX_PEEK_BYTES) {
      throw new Error(name + ': the GGUF header goes on past its first ' + mib(bytes.length) +
        ' MiB, expected the metadata to end sooner (corrupt file?)');
    }
    n *= 2;
  }
}

// Copies the whole file into the buffer at ptr and reports progress; resolves when all total bytes are in.
async function streamInto(source, name, ptr, total, onProgress) {
  let stream;
  if (typeof source === 'string') {
    const response = await download(source);
    if (!response.ok) throw new Error(source + ': HTTP ' + response.status + ' ' + response.statusText);
    const length = Number(response.headers.get('Content-Length'));
    if (length && length !== total) {
      throw new Error(name + ': the download has ' + length + ' bytes but the file had ' + total +
        ' a moment ago (did it change on the server?)');
    }
    stream = response.body;
  } else {
    stream = source.stream();
  }
  const reader = stream.getReader();
  let done = 0;
  let lastReport = 0;
  let reported = -1;
  const report = () => {
    if (done === reported) return;
    reported = done;
    onProgress(done, total);
  };
  report();
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    const value = chunk.value;
    if (done + value.length > total) {
      reader.cancel().catch(() => {});
      throw new Error(name + ': the download is longer than the ' + total + ' bytes announced (did the file change on the server?)');
    }
    heap().set(value, ptr + done);
    done += value.length;
    const now = performance.now();
    if (now - lastReport >= PROGRESS_EVERY_MS) {
      lastReport = now;
      report();
    }
  }
  if (done !== total) {
    throw new Error(name + ': the download ended at byte ' + done + ' of ' + total + ' (connection lost?)');
  }
  report();
}

function sourceName(source) {
  if (typeof source !== 'string') return source.name || 'model.gguf';
  const path = new URL(source, self.location.href).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || 'model.gguf';
}

async function load(msg) {
  if (loaded) unload();
  const isolated = self.crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, msg.threads | 0 || defaultThreads()) : 1;
  await startEngine(threads);

  const source = typeof msg.source === 'string' ? new URL(msg.source, msg.base || self.location.href).href : msg.source;
  const name = sourceName(source);
  const nCtx = msg.nCtx | 0;
  const total = await checkModel(source, name, nCtx, threads);

  const ptr = M._pf_alloc(total) >>> 0;
  if (!ptr) throw new Error(name + ': ' + engineMessage());
  // The buffer is never freed (see pf_alloc in engine.c): Pinfer ends this worker when a load fails.
  await streamInto(source, name, ptr, total, (done, all) => post({ type: 'progress', loaded: done, total: all }));
  const status = withCString(name, (cname) =>
    withCString(msg.kernels || '', (ckernels) => M._pf_open(ptr, total, cname, nCtx, threads, ckernels)));
  if (status !== 0) {
    const message = engineMessage();
    M._pf_close();
    throw new Error(message);
  }
  const info = JSON.parse(M.UTF8ToString(M._pf_info()));
  info.isolated = isolated;
  info.name = name;
  info.bytes = total;
  loaded = info;
  return info;
}

function defaultThreads() {
  // Browsers report logical processors only, so half of them is a guess at the physical cores.
  return Math.max(1, Math.ceil((navigator.hardwareConcurrency || 1) / 2));
}

async function generate(msg) {
  if (!loaded) throw new Error('no model is loaded; load one first');
  if (generating) throw new Error('a generation is already running; stop it first');
  const o = msg.options || {};
  const maxTokens = o.maxTokens === undefined ? -1 : o.maxTokens | 0;
  const temperature = o.temperature === undefined ? 0.8 : Number(o.temperature);
  const seed = o.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(o.seed);
  generating = true;
  stopRequested = false;
  try {
    const t0 = performance.now();
    const nPrompt = withCString(String(msg.prompt), (cprompt) =>
      M._pf_start(cprompt, temperature, o.topK === undefined ? 40 : o.topK | 0, o.topP === undefined ? 0.95 : Number(o.topP),
        o.minP === undefined ? 0.05 : Number(o.minP), o.repeatPenalty === undefined ? 1.0 : Number(o.repeatPenalty), seed));
    if (nPrompt < 0) throw new Error(engineMessage());
    const promptMs = performance.now() - t0;
    const t1 = performance.now();
    let n = 0;
    let reason = 'limit';
    while (maxTokens < 0 || n < maxTokens) {
      const status = M._pf_next();
      const text = textAt(M._pf_text());
      if (status < 0) throw new Error(engineMessage());
      if (text) post({ type: 'piece', id: msg.id, text });
      if (status === 0) {
        reason = engineMessage() ? 'context full' : 'end of generation';
        break;
      }
      n++;
      await yieldToEvents();
      if (stopRequested) {
        reason = 'stopped';
        break;
      }
    }
    if (reason === 'limit' || reason === 'stopped') {
      const rest = textAt(M._pf_finish());
      if (rest) post({ type: 'piece', id: msg.id, text: rest });
    }
    const genMs = performance.now() - t1;
    return { promptTokens: nPrompt, promptMs, tokens: n, generateMs: genMs, reason,
      threads: loaded.threads, kernels: loaded.kernels };
  } finally {
    generating = false;
  }
}

function unload() {
  if (M && loaded) M._pf_close();
  loaded = null;
}

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === 'stop') {
    stopRequested = true;
    return;
  }
  try {
    if (msg.type === 'load') {
      post({ type: 'loaded', id: msg.id, info: await load(msg) });
    } else if (msg.type === 'generate') {
      post({ type: 'done', id: msg.id, stats: await generate(msg) });
    } else if (msg.type === 'unload') {
      unload();
      post({ type: 'unloaded', id: msg.id });
    } else {
      throw new Error('unknown message type ' + JSON.stringify(msg.type));
    }
  } catch (e) {
    const message = e && e.message ? e.message : String(e);
    console.warn('pinfer worker: ' + msg.type + ' request ' + msg.id + ' failed: ' + message);
    post({ type: 'error', id: msg.id, message });
  }
};
