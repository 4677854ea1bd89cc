// test_web.mjs - the browser page and its JavaScript API in headless Chromium.
//
//   node tests/web/test_web.mjs   (tests/web/run.sh installs playwright-core first)
//
// Starts web/serve.mjs twice on 127.0.0.1 (with and without the COOP/COEP
// headers) over build/web/ and a models folder of fixtures, and drives
// Debian's Chromium through playwright-core:
//   - load by URL and by file input, greedy generations equal llama.cpp's
//     reference text (stories260K Q3_K_L, and the Llama 3 vocabulary model);
//   - progress events rise to 100%, over several chunks for a 47 MiB model;
//   - a file that is not a GGUF and a model too big for wasm memory each show
//     their message on the page;
//   - Stop ends a generation early and the next one still gives the reference;
//   - threads when the page is cross-origin isolated, one thread when not;
//   - a synthetic 3.2 GiB model (Llama 3.2 3B shape, Q8_0, from build/gen_model)
//     loads past the 2 GiB mark and its greedy tokens equal the native CLI's
//     with the scalar kernels (PINFER_WEB_BIG=0 skips this slow case);
//   - a screenshot of the page after a generation (build/web-screenshot.png).
// Prints a line per failed check and ends with "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createServer } from '../../web/serve.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(process.env.PINFER_SHARED || path.join(repo, '..', 'shared'));
const nodePrefix = path.resolve(process.env.PINFER_WEB_NODE || path.join(repo, 'build', 'web-node'));
const chromiumPath = process.env.PINFER_CHROMIUM || '/usr/bin/chromium';
const work = path.join(repo, 'build', 'web-test');
const STORIES = 'stories260K-32h-Q3_K_L';
const LLAMA3 = 'llama3-tiny-q3kl';
const PAGE_TIMEOUT_MS = 120000;

let passed = 0;
let failed = 0;
function check(ok, name, detail) {
  if (ok) passed++;
  else {
    failed++;
    console.log('FAIL ' + name + (detail ? ': ' + detail : ''));
  }
}

function reference(model, prompt) {
  const file = path.join(shared, 'reference', 'generation', model + '.' + prompt + '.json');
  const ref = JSON.parse(fs.readFileSync(file, 'utf8'));
  const text = fs.readFileSync(path.join(shared, 'reference', 'prompts', prompt + '.txt'), 'utf8');
  return { prompt: text, tokens: ref.greedy_tokens.length, text: ref.greedy_text };
}

// The models folder the server offers: links to two fixtures and a sparse 5 GiB file.
function prepareModels() {
  const dir = path.join(work, 'models');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const name of [STORIES, LLAMA3]) fs.symlinkSync(path.join(shared, 'models', name + '.gguf'), path.join(dir, name + '.gguf'));
  const fd = fs.openSync(path.join(dir, 'huge.gguf'), 'w');
  fs.writeSync(fd, fs.readFileSync(path.join(shared, 'models', STORIES + '.gguf')).subarray(0, 4096));
  fs.ftruncateSync(fd, 5 * 1024 ** 3);
  fs.closeSync(fd);
  return dir;
}

async function startServer(models, isolation) {
  const server = createServer({ root: path.join(repo, 'build', 'web'), models, isolation });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, url: 'http://127.0.0.1:' + server.address().port + '/' };
}

async function openPage(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.on('pageerror', (e) => console.log('page error: ' + e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-state="ready"]');
  return page;
}

async function waitState(page, states) {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state), states);
  return page.evaluate(() => document.body.dataset.state);
}

// Loads a model through the page's URL field; returns the end state.
async function loadByUrl(page, url, settings = {}) {
  for (const [id, value] of Object.entries(settings)) await page.fill('#' + id, String(value));
  await page.fill('#url', url);
  await page.click('#load-url');
  return waitState(page, ['loaded', 'load-error']);
}

// Runs one generation through the page; returns { state, output, stats, error }.
async function generateOnPage(page, prompt, maxTokens, temperature) {
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', String(temperature));
  await page.click('#generate');
  const state = await waitState(page, ['generated', 'generate-error']);
  return page.evaluate((s) => ({
    state: s,
    output: document.getElementById('output').textContent,
    stats: document.getElementById('stats').textContent,
    error: document.getElementById('error').textContent,
  }), state);
}

async function testIsolated(browser, url) {
  const page = await openPage(browser, url);
  const mode = await page.textContent('#mode');
  check(/^Threads on/.test(mode), 'isolated page says threads are on', mode);

  // By URL through the page, two threads, greedy: the reference text.
  const once = reference(STORIES, 'story-once');
  let state = await loadByUrl(page, 'models/' + STORIES + '.gguf', { threads: 2, 'n-ctx': 2048 });
  const info = await page.textContent('#model-info');
  check(state === 'loaded', 'load by URL', await page.textContent('#error'));
  check(/2 threads, kernels wasm-simd128/.test(info), 'isolated load runs 2 threads with SIMD128', info);
  check(/context 2048 of/.test(info), 'context from the settings row', info);
  const progress = await page.textContent('#progress-text');
  check(/\(100%\)$/.test(progress), 'progress bar at 100% after loading', progress);
  let r = await generateOnPage(page, once.prompt, once.tokens, 0);
  check(r.state === 'generated' && r.output === once.text, 'greedy by URL equals the reference',
    JSON.stringify({ got: r.output, want: once.text, error: r.error }));
  check(/tok\/s/.test(r.stats) && /2 threads/.test(r.stats) && /ended: limit/.test(r.stats), 'stats line', r.stats);
  fs.mkdirSync(path.join(repo, 'build'), { recursive: true });
  await page.screenshot({ path: path.join(repo, 'build', 'web-screenshot.png'), fullPage: true });

  // Stop: a long sampled generation ends early, and the next greedy one is the reference again.
  await page.fill('#prompt', once.prompt);
  await page.fill('#max-tokens', '2000');
  await page.fill('#temperature', '0.8');
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('output').textContent.length > 0);
  await page.click('#stop');
  state = await waitState(page, ['generated', 'generate-error']);
  const stopped = await page.textContent('#stats');
  const m = /generate: (\d+) tokens?/.exec(stopped);
  check(state === 'generated' && /ended: stopped/.test(stopped) && m && Number(m[1]) < 2000, 'Stop ends a generation',
    stopped + ' ' + (await page.textContent('#error')));
  const lily = reference(STORIES, 'story-lily');
  r = await generateOnPage(page, lily.prompt, lily.tokens, 0);
  check(r.output === lily.text, 'a generation after Stop equals the reference', JSON.stringify({ got: r.output, want: lily.text }));

  // By file input.
  await page.setInputFiles('#file', path.join(shared, 'models', STORIES + '.gguf'));
  state = await waitState(page, ['loaded', 'load-error']);
  check(state === 'loaded', 'load by file input', await page.textContent('#error'));
  const empty = reference(STORIES, 'empty');
  r = await generateOnPage(page, empty.prompt, empty.tokens, 0);
  check(r.output === empty.text, 'greedy from a file equals the reference (empty prompt)',
    JSON.stringify({ got: r.output, want: empty.text }));

  // A file that is not a GGUF model.
  await page.setInputFiles('#file', { name: 'notes.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('These are my notes, not a model.\n') });
  state = await waitState(page, ['loaded', 'load-error']);
  let error = await page.textContent('#error');
  check(state === 'load-error' && /notes\.gguf: not a GGUF file \(first bytes 54 68 65 73, expected 'GGUF'\)/.test(error),
    'a file that is not a GGUF gets its message', error);

  // An empty file, a context the settings row rejects, and a server that is not there.
  await page.setInputFiles('#file', { name: 'empty.gguf', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
  state = await waitState(page, ['loaded', 'load-error']);
  error = await page.textContent('#error');
  check(state === 'load-error' && /empty\.gguf: the file is empty \(0 bytes\), expected a GGUF model/.test(error),
    'an empty file gets its message', error);
  await page.fill('#n-ctx', '8');
  await page.click('#load-url');
  error = await page.textContent('#error');
  check(/Context must be a whole number of tokens, 16 or more/.test(error), 'a context under 16 is rejected', error);
  await page.fill('#n-ctx', '2048');
  const closed = http.createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedUrl = 'http://127.0.0.1:' + closed.address().port + '/model.gguf';
  await new Promise((resolve) => closed.close(resolve));
  state = await loadByUrl(page, closedUrl);
  error = await page.textContent('#error');
  check(state === 'load-error' && error.startsWith(closedUrl + ': cannot download ('), 'an unreachable server gets its message',
    error);

  // A model too big for wasm memory is refused before the download.
  state = await loadByUrl(page, 'models/huge.gguf');
  error = await page.textContent('#error');
  check(state === 'load-error' && /huge\.gguf: the model has 5120\.0 MiB but this tab's wasm memory can grow by only/.test(error),
    'a model too big for memory gets its message', error);
  state = await loadByUrl(page, 'models/missing.gguf');
  error = await page.textContent('#error');
  check(state === 'load-error' && /missing\.gguf: HTTP 404/.test(error), 'a missing URL gets its message', error);

  // Through the API: progress events rise to 100% over several chunks, and the Llama 3 vocabulary
  // model (its header is about 8 MiB, read in growing parts before the download) gives the reference.
  const santa = reference(LLAMA3, 'seed-santa-cruz');
  const api = await page.evaluate(async ({ model, prompt, tokens }) => {
    const { Pinfer } = await import('./pinfer.js');
    const fractions = [];
    const llm = await Pinfer.load(model, { onProgress: (p) => fractions.push(p.fraction), threads: 2, nCtx: 256 });
    let text = '';
    const pieces = llm.generate(prompt, { maxTokens: tokens, temperature: 0 });
    let step;
    while (!(step = await pieces.next()).done) text += step.value;
    const info = llm.info;
    await llm.unload();
    let afterUnload = '';
    try {
      await llm.generate('x').next();
    } catch (e) {
      afterUnload = e.message;
    }
    return { fractions, text, info, stats: step.value, afterUnload };
  }, { model: 'models/' + LLAMA3 + '.gguf', prompt: santa.prompt, tokens: santa.tokens });
  const f = api.fractions;
  const rising = f.every((x, i) => i === 0 || x >= f[i - 1]);
  check(f.length >= 3 && rising && f[0] === 0 && f[f.length - 1] === 1, 'progress events rise to 100%', JSON.stringify(f));
  check(api.text === santa.text, 'Llama 3 vocabulary model through the API equals the reference',
    JSON.stringify({ got: api.text, want: santa.text }));
  check(api.info.n_ctx === 256 && api.stats.threads === 2, 'API options nCtx and threads', JSON.stringify(api.info));

  // One thread on an isolated page runs the single-threaded build.
  const oneThread = await page.evaluate(async (model) => {
    const { Pinfer } = await import('./pinfer.js');
    const llm = await Pinfer.load(model, { threads: 1 });
    let text = '';
    for await (const piece of llm.generate('Once upon a time', { maxTokens: 48, temperature: 0 })) text += piece;
    await llm.unload();
    return { threads: llm.info.threads, text };
  }, 'models/' + STORIES + '.gguf');
  check(oneThread.threads === 1 && oneThread.text === reference(STORIES, 'story-once').text, 'isolated page with one thread',
    JSON.stringify(oneThread));
  check(/unloaded/.test(api.afterUnload), 'generate after unload rejects', api.afterUnload);
  await page.close();
}

// A model over 2 GiB: the buffer spans wasm addresses past 2^31, which JS reads as negative numbers unless unsigned.
async function testOver2GiB(browser, url, models) {
  const model = path.join(models, 'llama-3b-Q8_0.gguf');
  const vocab = path.join(shared, 'models', LLAMA3 + '.gguf');
  const gen = spawnSync(path.join(repo, 'build', 'gen_model'),
    ['--preset', '3b', '--type', 'Q8_0', '--seed', '1', '--vocab', vocab, '-o', model], { encoding: 'utf8' });
  if (gen.status !== 0) {
    check(false, 'over 2 GiB: write the model', gen.stderr || String(gen.error));
    return;
  }
  const prompt = 'Once upon a time';
  const native = spawnSync(path.join(repo, 'build', 'pinfer'), ['-m', model, '-p', prompt, '-n', '4', '-c', '64',
    '--temp', '0', '--kernels', 'scalar', '--no-display-prompt'], { encoding: 'utf8' });
  const page = await openPage(browser, url);

  // Its full training context needs a KV cache of 14 GiB: rejected from the header, before any download.
  const big = await page.evaluate(async () => {
    const { Pinfer } = await import('./pinfer.js');
    let progressEvents = 0;
    try {
      await Pinfer.load('models/llama-3b-Q8_0.gguf', { nCtx: 131072, onProgress: () => progressEvents++ });
      return { progressEvents, error: '' };
    } catch (e) {
      return { progressEvents, error: e.message };
    }
  });
  check(/a context of 131072 tokens \(\d+\.\d MiB\) need/.test(big.error) && big.progressEvents === 0,
    'over 2 GiB: a context too big is rejected before the download', JSON.stringify(big));

  const r = await page.evaluate(async (text) => {
    const { Pinfer } = await import('./pinfer.js');
    try {
      const llm = await Pinfer.load('models/llama-3b-Q8_0.gguf', { threads: 2, nCtx: 64 });
      let out = '';
      for await (const piece of llm.generate(text, { maxTokens: 4, temperature: 0 })) out += piece;
      const bytes = llm.info.bytes;
      await llm.unload();
      return { out, bytes };
    } catch (e) {
      return { error: e.message };
    }
  }, prompt);
  fs.rmSync(model, { force: true });
  check(r.bytes > 2 ** 31, 'over 2 GiB: the model loads', JSON.stringify(r));
  check(native.status === 0 && r.out === native.stdout, 'over 2 GiB: greedy tokens equal native scalar',
    JSON.stringify({ page: r.out, native: native.stdout, stderr: native.stderr }));
  await page.close();
}

async function testNotIsolated(browser, url) {
  const page = await openPage(browser, url);
  const mode = await page.textContent('#mode');
  check(/^Single thread/.test(mode), 'page without COOP/COEP says single thread', mode);
  const state = await loadByUrl(page, 'models/' + STORIES + '.gguf');
  const info = await page.textContent('#model-info');
  check(state === 'loaded' && /1 thread, kernels wasm-simd128/.test(info), 'not isolated: one thread', info);
  const once = reference(STORIES, 'story-once');
  const r = await generateOnPage(page, once.prompt, once.tokens, 0);
  check(r.output === once.text, 'single-thread greedy equals the reference', JSON.stringify({ got: r.output, want: once.text }));
  await page.close();
}

// Sends a GET with the path exactly as given and resolves to the status code.
function rawGetStatus(baseUrl, rawPath) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: hostname, port, path: rawPath }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
  });
}

// The dev server itself: COOP/COEP headers, ranges, and nothing outside its folders.
async function testServer(isolatedUrl, plainUrl) {
  const model = 'models/' + STORIES + '.gguf';
  const size = fs.statSync(path.join(shared, 'models', STORIES + '.gguf')).size;
  let r = await fetch(isolatedUrl + model, { headers: { Range: 'bytes=0-3' } });
  const body = Buffer.from(await r.arrayBuffer()).toString('latin1');
  check(r.status === 206 && body === 'GGUF' && r.headers.get('content-range') === 'bytes 0-3/' + size,
    'server range request', r.status + ' ' + r.headers.get('content-range') + ' ' + JSON.stringify(body));
  check(r.headers.get('cross-origin-opener-policy') === 'same-origin' &&
    r.headers.get('cross-origin-embedder-policy') === 'require-corp', 'server isolation headers',
  JSON.stringify([...r.headers]));
  r = await fetch(isolatedUrl + model, { headers: { Range: 'bytes=' + size + '-' } });
  check(r.status === 416 && r.headers.get('content-range') === 'bytes */' + size, 'server range past the end',
    r.status + ' ' + r.headers.get('content-range'));
  r = await fetch(isolatedUrl + model, { method: 'HEAD' });
  check(r.status === 200 && r.headers.get('content-length') === String(size), 'server HEAD gives the size',
    r.status + ' ' + r.headers.get('content-length'));
  // Both paths lead to the repository's Makefile (build/web-test/models is three levels down, build/web two).
  // They go out as written: fetch() would resolve the dot segments before sending.
  for (const escape of ['/models/../../../Makefile', '/models/%2e%2e/%2e%2e/%2e%2e/Makefile', '/../../Makefile']) {
    const status = await rawGetStatus(isolatedUrl, escape);
    check(fs.existsSync(path.join(repo, 'Makefile')) && status === 404, 'server stays inside its folders', escape + ': ' + status);
  }
  r = await fetch(plainUrl);
  check(r.status === 200 && r.headers.get('cross-origin-opener-policy') === null, 'server without isolation headers',
    JSON.stringify([...r.headers]));
}

async function main() {
  if (!fs.existsSync(path.join(repo, 'build', 'web', 'pinfer-mt.js'))) {
    console.log('build/web is missing; run make web');
    return false;
  }
  const require = createRequire(nodePrefix + path.sep);
  const { chromium } = require('playwright-core');
  const models = prepareModels();
  const isolated = await startServer(models, true);
  const plain = await startServer(models, false);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    await testServer(isolated.url, plain.url);
    await testIsolated(browser, isolated.url);
    await testNotIsolated(browser, plain.url);
    if (process.env.PINFER_WEB_BIG !== '0') await testOver2GiB(browser, isolated.url, models);
  } finally {
    await browser.close();
    isolated.server.close();
    plain.server.close();
  }
  return true;
}

let ok = false;
try {
  ok = await main();
} catch (e) {
  console.log('FAIL the browser test stopped: ' + (e && e.stack ? e.stack : e));
  failed++;
}
if (!ok && failed === 0) failed++;
console.log(passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
