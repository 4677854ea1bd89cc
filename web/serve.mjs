// serve.mjs - the development server for the pinfer page (make serve).
//
//   node web/serve.mjs [--port 8080] [--root build/web] [--models DIR] [--no-isolation]
//
// Serves the page from --root and model files from --models under /models/,
// on 127.0.0.1 only. Every response carries the COOP/COEP headers that make
// the page cross-origin isolated, which the threaded build needs
// (--no-isolation leaves them out, to try the single-threaded path). Model
// files support HTTP range requests, which the page uses to read a model's
// header before downloading the rest.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.json': 'application/json',
  '.gguf': 'application/octet-stream',
};

// Resolves a URL path inside dir, or null when it would leave it.
function inside(dir, urlPath) {
  const full = path.resolve(dir, '.' + path.posix.normalize('/' + urlPath));
  return full === dir || full.startsWith(dir + path.sep) ? full : null;
}

function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header || '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : 'unsatisfiable';
}

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

// mounts maps URL prefixes that end in '/' (such as '/extra/') to more folders to serve.
export function createServer({ root, models, mounts = {}, isolation = true, log = () => {} }) {
  root = path.resolve(root);
  models = models ? path.resolve(models) : null;
  const mounted = Object.entries(mounts).map(([prefix, dir]) => [prefix, path.resolve(dir)]);
  return http.createServer((req, res) => {
    const headers = { 'Cache-Control': 'no-cache', 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { ...headers, Allow: 'GET, HEAD' }, 'only GET and HEAD\n');
      return;
    }
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    } catch {
      send(res, 400, headers, 'bad URL\n');
      return;
    }
    let file;
    const page = urlPath.endsWith('/') ? urlPath + 'index.html' : urlPath;
    const mount = mounted.find(([prefix]) => urlPath.startsWith(prefix));
    if (mount) {
      file = inside(mount[1], page.slice(mount[0].length - 1));
    } else if (urlPath.startsWith('/models/')) {
      file = models ? inside(models, urlPath.slice('/models'.length)) : null;
    } else {
      file = inside(root, page);
    }
    let stat = null;
    try {
      stat = file ? fs.statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!stat || !stat.isFile()) {
      log(req.method + ' ' + urlPath + ' 404');
      send(res, 404, { ...headers, 'Content-Type': 'text/plain' }, 'not found: ' + urlPath + '\n');
      return;
    }
    headers['Content-Type'] = TYPES[path.extname(file)] || 'application/octet-stream';
    headers['Accept-Ranges'] = 'bytes';
    let start = 0;
    let end = stat.size - 1;
    let status = 200;
    if (req.headers.range) {
      const range = parseRange(req.headers.range, stat.size);
      if (range === 'unsatisfiable') {
        send(res, 416, { ...headers, 'Content-Range': 'bytes */' + stat.size }, '');
        return;
      }
      if (range) {
        ({ start, end } = range);
        status = 206;
        headers['Content-Range'] = 'bytes ' + start + '-' + end + '/' + stat.size;
      }
    }
    headers['Content-Length'] = String(stat.size === 0 ? 0 : end - start + 1);
    log(req.method + ' ' + urlPath + ' ' + status + (status === 206 ? ' ' + headers['Content-Range'] : ''));
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || stat.size === 0) {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
}

function parseArgs(argv) {
  const webDir = path.dirname(fileURLToPath(import.meta.url));
  const o = { port: 8080, root: path.join(webDir, '..', 'build', 'web'), models: null, isolation: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(a + ' needs a value');
      return argv[++i];
    };
    if (a === '--port') o.port = Number(value());
    else if (a === '--root') o.root = value();
    else if (a === '--models') o.models = value();
    else if (a === '--no-isolation') o.isolation = false;
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error('unknown option ' + a + ' (see --help)');
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error('serve: ' + e.message);
    process.exit(1);
  }
  if (o.help) {
    console.log('usage: node web/serve.mjs [--port 8080] [--root build/web] [--models DIR] [--no-isolation]');
    process.exit(0);
  }
  if (!fs.existsSync(path.join(o.root, 'index.html'))) {
    console.error('serve: ' + path.join(o.root, 'index.html') + ' not found; run make web first');
    process.exit(1);
  }
  if (o.models && !fs.existsSync(o.models)) {
    console.error('serve: warning: the models folder ' + path.resolve(o.models) + ' does not exist, so every /models/ request gets 404 (pass an existing folder with --models)');
  }
  const server = createServer({ ...o, log: (line) => console.log(line) });
  server.on('error', (e) => {
    console.error('serve: ' + e.message + (e.code === 'EADDRINUSE' ? ' (use --port to pick another)' : ''));
    process.exit(1);
  });
  server.listen(o.port, '127.0.0.1', () => {
    console.log('pinfer page at http://127.0.0.1:' + server.address().port + '/' +
      (o.isolation ? ' (cross-origin isolated: threads on)' : ' (not isolated: one thread)'));
    console.log('models from ' + (o.models ? path.resolve(o.models) : '(none; use --models DIR)') + ' under /models/');
  });
}
