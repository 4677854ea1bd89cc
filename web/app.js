// app.js - the page: load a model by URL or from disk, generate, stop.
import { Pinfer, DEFAULT_CONTEXT } from './pinfer.js';

const $ = (id) => document.getElementById(id);
const MiB = 1024 * 1024;

let llm = null;
let busy = false;

const isolated = self.crossOriginIsolated === true;
const suggestedThreads = isolated ? Math.max(1, Math.ceil((navigator.hardwareConcurrency || 1) / 2)) : 1;
$('threads').value = suggestedThreads;
$('threads').disabled = !isolated;
$('n-ctx').value = DEFAULT_CONTEXT;
const maxThreads = navigator.hardwareConcurrency || 1;
$('threads').max = isolated ? maxThreads : 1;
$('mode').textContent = isolated
  ? 'Threads on: the page is cross-origin isolated, so the engine may use up to ' + maxThreads +
    ' threads (set below; the default is half of the ' + maxThreads + ' logical processors).'
  : 'Single thread: the page is not cross-origin isolated (no COOP/COEP headers), so threads are off.';

function showError(message) {
  $('error').textContent = message || '';
}

function setBusy(state) {
  busy = state;
  $('generate').disabled = busy || !llm;
  $('stop').disabled = !busy;
  $('load-url').disabled = busy;
  $('file').disabled = busy;
}

function showProgress({ loaded, total }) {
  const pct = total ? (100 * loaded) / total : 0;
  $('progress').value = total ? loaded / total : 0;
  $('progress-text').textContent =
    (loaded / MiB).toFixed(1) + ' of ' + (total / MiB).toFixed(1) + ' MiB (' + pct.toFixed(0) + '%)';
}

// Context and threads as the settings row has them, or an error message.
function loadSettings() {
  const nCtx = Number($('n-ctx').value);
  const threads = Number($('threads').value);
  if (!Number.isInteger(nCtx) || nCtx < 16) return { error: 'Context must be a whole number of tokens, 16 or more.' };
  if (!Number.isInteger(threads) || threads < 1 || threads > (isolated ? maxThreads : 1)) {
    return { error: 'Threads must be a whole number from 1 to ' + (isolated ? maxThreads : 1) + ' here.' };
  }
  return { nCtx, threads };
}

async function loadModel(source) {
  const settings = loadSettings();
  if (settings.error) {
    showError(settings.error);
    return;
  }
  document.body.dataset.state = 'loading';
  showError('');
  $('settings-note').textContent = '';
  $('output').textContent = '';
  $('stats').textContent = '';
  setBusy(true);
  $('generate').disabled = true;
  try {
    if (llm) {
      await llm.unload();
      llm = null;
    }
    $('model-info').textContent = '';
    $('progress').value = 0;
    $('progress-text').textContent = 'checking the model...';
    llm = await Pinfer.load(source, {
      onProgress: showProgress,
      nCtx: settings.nCtx,
      threads: settings.threads,
    });
    const i = llm.info;
    $('model-info').textContent = i.name + ': ' + (i.bytes / MiB).toFixed(1) + ' MiB, ' + i.n_layers +
      ' layers, n_embd ' + i.n_embd + ', vocabulary ' + i.n_vocab + ', ' + i.types + ' | context ' + i.n_ctx +
      ' of ' + i.n_ctx_train + ' tokens | ' + i.threads + (i.threads === 1 ? ' thread' : ' threads') +
      ', kernels ' + i.kernels;
    document.body.dataset.state = 'loaded';
  } catch (e) {
    llm = null;
    $('progress-text').textContent = 'no model loaded';
    showError(e.message);
    document.body.dataset.state = 'load-error';
  } finally {
    setBusy(false);
  }
}

async function generate() {
  if (!llm || busy) return;
  showError('');
  setBusy(true);
  $('output').textContent = '';
  $('stats').textContent = '';
  document.body.dataset.state = 'generating';
  try {
    const pieces = llm.generate($('prompt').value, {
      maxTokens: Number($('max-tokens').value) || 256,
      temperature: Number($('temperature').value),
    });
    let step;
    while (!(step = await pieces.next()).done) $('output').textContent += step.value;
    const s = step.value;
    $('stats').textContent = 'prompt: ' + count(s.promptTokens, 'token') + ', ' + rate(s.promptTokens, s.promptMs) +
      ' tok/s | generate: ' + count(s.tokens, 'token') + ', ' + rate(s.tokens, s.generateMs) + ' tok/s | ' + s.threads +
      (s.threads === 1 ? ' thread' : ' threads') + ', kernels ' + s.kernels + ' | ended: ' + s.reason;
    document.body.dataset.state = 'generated';
  } catch (e) {
    showError(e.message);
    document.body.dataset.state = 'generate-error';
  } finally {
    setBusy(false);
  }
}

function count(n, noun) {
  return n + ' ' + noun + (n === 1 ? '' : 's');
}

function rate(n, ms) {
  return ms > 0 ? ((n * 1000) / ms).toFixed(1) : '0.0';
}

// Context and threads size the engine when a model loads, so a change needs a new load.
for (const id of ['n-ctx', 'threads']) {
  $(id).addEventListener('change', () => {
    if (llm) $('settings-note').textContent = 'Context and threads apply when a model loads: load it again.';
  });
}
$('load-url').addEventListener('click', () => {
  $('file').value = '';
  loadModel($('url').value.trim());
});
$('file').addEventListener('change', () => {
  const file = $('file').files[0];
  if (file) loadModel(file);
});
$('generate').addEventListener('click', generate);
$('stop').addEventListener('click', () => llm && llm.stop());
document.body.dataset.state = 'ready';
