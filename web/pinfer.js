// pinfer.js - pinfer in a browser tab: the page's side of the engine worker.
//
//   import { Pinfer } from './pinfer.js';
//   const llm = await Pinfer.load(urlOrFile, { onProgress, nCtx, threads });
//   for await (const piece of llm.generate(prompt, { maxTokens, temperature, topK, topP, seed })) ...
//   llm.stop();      ends the running generation after the current token
//   await llm.unload();
//
// Every message between this module and worker.js:
//
//   page -> worker
//     { type: 'load', id, source, base, nCtx, threads, kernels }
//         source is a URL string (resolved against base) or a File
//     { type: 'generate', id, prompt, options: { maxTokens, temperature, topK, topP, minP,
//                                                repeatPenalty, seed } }
//     { type: 'stop' }        no reply; the running generation ends with reason 'stopped'
//     { type: 'unload', id }
//   worker -> page
//     { type: 'progress', loaded, total }   bytes of the model copied into wasm memory so far
//     { type: 'loaded', id, info }          info: kernels, threads, isolated, n_ctx, n_ctx_train,
//                                           n_vocab, n_embd, n_layers, params, types, name, bytes
//     { type: 'piece', id, text }           generated text, whole UTF-8 characters only
//     { type: 'done', id, stats }           stats: promptTokens, promptMs, tokens, generateMs,
//                                           reason ('limit', 'stopped', 'end of generation',
//                                           'context full'), threads, kernels
//     { type: 'unloaded', id }
//     { type: 'error', id, message }        the request id failed; message is for the user
//
// Defaults: a context of 2048 tokens (nCtx, capped by the model's training
// context). Threads: half of navigator.hardwareConcurrency when the page is
// cross-origin isolated, else 1. Sampling: temperature 0.8, topK 40, topP 0.95,
// minP 0.05. No token limit: maxTokens -1 runs to an end-of-generation token
// or a full context.

export const DEFAULT_CONTEXT = 2048;

export class Pinfer {
  constructor(worker, info) {
    this.worker = worker;
    this.info = info;
    this.nextId = 1;
    this.pending = new Map(); // id -> handler of that request's messages
    worker.onmessage = (event) => this.dispatch(event.data);
    worker.onerror = (event) => this.failAll(event.message || 'the engine worker failed');
  }

  // Loads a model from a URL or a File into a new worker; resolves to a Pinfer once it is ready.
  static load(source, options = {}) {
    const workerUrl = options.workerUrl || new URL('./worker.js', import.meta.url);
    const worker = new Worker(workerUrl);
    const llm = new Pinfer(worker, null);
    return new Promise((resolve, reject) => {
      const id = llm.nextId++;
      llm.pending.set(id, (msg) => {
        if (msg.type === 'loaded') {
          llm.pending.delete(id);
          llm.info = msg.info;
          resolve(llm);
        } else if (msg.type === 'error') {
          llm.pending.delete(id);
          worker.terminate();
          reject(new Error(msg.message));
        }
      });
      llm.onProgress = options.onProgress || null;
      worker.postMessage({
        type: 'load',
        id,
        source,
        base: typeof location !== 'undefined' ? location.href : undefined,
        nCtx: options.nCtx === undefined ? DEFAULT_CONTEXT : options.nCtx,
        threads: options.threads || 0,
        kernels: options.kernels || '',
      });
    });
  }

  dispatch(msg) {
    if (msg.type === 'progress') {
      if (this.onProgress) this.onProgress({ loaded: msg.loaded, total: msg.total, fraction: msg.total ? msg.loaded / msg.total : 0 });
      return;
    }
    const handler = this.pending.get(msg.id);
    if (handler) handler(msg);
  }

  failAll(message) {
    for (const handler of this.pending.values()) handler({ type: 'error', message });
    this.pending.clear();
  }

  // Streams the generated text piece by piece; the generator's return value is the stats object.
  async *generate(prompt, options = {}) {
    if (!this.worker) throw new Error('the model was unloaded');
    const id = this.nextId++;
    const queue = [];
    let notify = null;
    this.pending.set(id, (msg) => {
      queue.push(msg);
      if (notify) {
        notify();
        notify = null;
      }
    });
    this.worker.postMessage({ type: 'generate', id, prompt, options });
    try {
      for (;;) {
        if (queue.length === 0) await new Promise((resolve) => (notify = resolve));
        const msg = queue.shift();
        if (msg.type === 'piece') {
          yield msg.text;
        } else if (msg.type === 'done') {
          this.lastStats = msg.stats;
          return msg.stats;
        } else if (msg.type === 'error') {
          throw new Error(msg.message);
        }
      }
    } finally {
      this.pending.delete(id);
    }
  }

  // Ends the running generation after the token being computed; generate() then finishes normally.
  stop() {
    if (this.worker) this.worker.postMessage({ type: 'stop' });
  }

  // Frees the model and ends the worker.
  async unload() {
    if (!this.worker) return;
    const worker = this.worker;
    const id = this.nextId++;
    await new Promise((resolve) => {
      this.pending.set(id, () => resolve());
      worker.postMessage({ type: 'unload', id });
    });
    this.failAll('the model was unloaded');
    worker.terminate();
    this.worker = null;
  }
}
