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
$('mode').textContent = isolated
  ? 'Threaded: the page is cross-origin isolated, so the engine runs on up to ' +
    (navigator.hardwareConcurrency || 1) + ' threads.'
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

async function loadModel(source) {
  document.body.dataset.state = 'loading';
  showError('');
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
      nCtx: Number($('n-ctx').value) || DEFAULT_CONTEXT,
      threads: Number($('threads').value) || 1,
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
    $('stats').textContent = 'prompt: ' + s.promptTokens + ' tokens, ' + rate(s.promptTokens, s.promptMs) +
      ' tok/s | generate: ' + s.tokens + ' tokens, ' + rate(s.tokens, s.generateMs) + ' tok/s | ' + s.threads +
      (s.threads === 1 ? ' thread' : ' threads') + ', kernels ' + s.kernels + ' | ended: ' + s.reason;
    document.body.dataset.state = 'generated';
  } catch (e) {
    showError(e.message);
    document.body.dataset.state = 'generate-error';
  } finally {
    setBusy(false);
  }
}

function rate(n, ms) {
  return ms > 0 ? ((n * 1000) / ms).toFixed(1) : '0.0';
}

$('load-url').addEventListener('click', () => loadModel($('url').value.trim()));
$('file').addEventListener('change', () => {
  const file = $('file').files[0];
  if (file) loadModel(file);
});
$('generate').addEventListener('click', generate);
$('stop').addEventListener('click', () => llm && llm.stop());
document.body.dataset.state = 'ready';
