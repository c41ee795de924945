// relscope/web/sw.js — the service worker that keeps the app usable with the network gone.
//
// Sections: cache policy | install/activate | fetch | messages from the page
//
// Network first, cache as fallback: while the server answers, every same-origin GET is fetched as usual
// (a rebuilt app is never hidden behind a stale copy) and its response is stored; when the network is
// gone the stored copy answers. Requests that went out before this worker controlled the page (the first
// visit) are stored when the page sends their URLs ('store'); the page waits for the reply before it
// calls itself ready, so after load nothing more is fetched. Nothing here contacts another origin.

// ---- cache policy ------------------------------------------------------------------------------------
const CACHE = 'relscope-app-v1';

function cacheable(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  return url.origin === self.location.origin;
}

// ---- install/activate --------------------------------------------------------------------------------
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

// ---- fetch ---------------------------------------------------------------------------------------------
self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (!cacheable(request)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
      return response;
    } catch (err) {
      const stored = await cache.match(request, { ignoreSearch: true });
      if (stored) return stored;
      throw err;
    }
  })());
});

// ---- messages from the page ------------------------------------------------------------------------
// {type: 'store', urls: [...]}: store the same-origin URLs not yet stored; replies {type: 'stored', count,
// missing} on the message's port.
self.addEventListener('message', (event) => {
  const msg = event.data || {};
  if (msg.type !== 'store' || !Array.isArray(msg.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    let count = 0;
    const missing = [];
    for (const url of msg.urls) {
      const request = new Request(url);
      if (!cacheable(request)) continue;
      if (await cache.match(request)) { count++; continue; }
      try {
        const response = await fetch(request, { cache: 'force-cache' });   // usually the browser's own copy
        if (response.ok) { await cache.put(request, response); count++; } else missing.push(url);
      } catch {
        missing.push(url);
      }
    }
    event.ports[0]?.postMessage({ type: 'stored', count, missing });
  })());
});
