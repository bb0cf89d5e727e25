// Browses the demo API with headless Chromium and writes what the DevTools
// protocol saw as a HAR file, made by the npm package chrome-har: a real
// browser's traffic in a real exporter's format, for har's and record's
// tests. Usage:
//
//   node har-capture.mjs demoapi BASE_URL OUT.har   an API client in a page
//   node har-capture.mjs page BASE_URL OUT.har      BASE_URL/index.html and
//                                                   what it loads
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';
import { harFromMessages } from 'chrome-har';

const [mode, base, out] = process.argv.slice(2);
const events = [
  'Page.loadEventFired', 'Page.domContentEventFired', 'Page.frameStartedLoading',
  'Page.frameAttached', 'Page.frameScheduledNavigation', 'Page.frameRequestedNavigation',
  'Page.navigatedWithinDocument',
  'Network.requestWillBeSent', 'Network.requestServedFromCache', 'Network.dataReceived',
  'Network.responseReceived', 'Network.resourceChangedPriority', 'Network.loadingFinished',
  'Network.loadingFailed', 'Network.requestWillBeSentExtraInfo', 'Network.responseReceivedExtraInfo',
];

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // A self-signed certificate on loopback: HTTP/2 needs TLS.
  args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server', '--disable-background-networking', '--ignore-certificate-errors'],
});
try {
  const page = await browser.newPage();
  const cdp = await page.createCDPSession();
  const messages = [];
  const bodies = [];
  const responses = new Map();
  for (const method of events) {
    cdp.on(method, (params) => {
      messages.push({ method, params });
      if (method === 'Network.responseReceived') responses.set(params.requestId, params);
      if (method === 'Network.loadingFinished') {
        // chrome-har takes bodies from response.body, which the library
        // user fills from Network.getResponseBody.
        bodies.push(cdp.send('Network.getResponseBody', { requestId: params.requestId }).then((b) => {
          const r = responses.get(params.requestId);
          if (!r) return;
          r.response.body = b.body;
          if (b.base64Encoded) r.response.encoding = 'base64';
        }, () => {}));
      }
    });
  }
  await cdp.send('Page.enable');
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });

  if (mode === 'page') {
    await page.goto(base + '/index.html', { waitUntil: 'networkidle0' });
  } else {
    await demoapi(page);
  }
  await new Promise((r) => setTimeout(r, 300));
  await Promise.all(bodies);
  const har = harFromMessages(messages, { includeTextFromResponseBody: true });
  fs.writeFileSync(out, JSON.stringify(har, null, 2) + '\n');
} finally {
  await browser.close();
}

async function demoapi(page) {
  await page.goto(base + '/health');
  // An API client in the page: X-API-Key, JSON bodies, every method, a
  // token from a login used as a bearer, a miss.
  await page.evaluate(async () => {
    const key = { 'X-API-Key': 'demo-key-alice' };
    const json = { ...key, 'Content-Type': 'application/json' };
    await (await fetch('/api/v1/tasks?limit=5', { headers: key })).text();
    const made = await (await fetch('/api/v1/tasks', { method: 'POST', headers: json, body: JSON.stringify({ title: 'from chromium', priority: 2 }) })).json();
    await (await fetch('/api/v1/tasks/' + made.id, { headers: key })).text();
    await (await fetch('/api/v1/tasks/' + made.id, { method: 'PATCH', headers: json, body: JSON.stringify({ done: true }) })).text();
    await (await fetch('/api/v1/tasks/' + made.id, { method: 'DELETE', headers: key })).text();
    await (await fetch('/api/v1/search?q=report&limit=3', { headers: key })).text();
    const login = await (await fetch('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: 'demo-password-bob' }) })).json();
    await (await fetch('/api/v1/projects', { headers: { Authorization: 'Bearer ' + login.access_token } })).text();
    await (await fetch('/api/v1/nowhere', { headers: key })).text();
  });
  // A form login: a urlencoded POST, a 303 to the dashboard, the sid cookie.
  const navigated = page.waitForNavigation();
  await page.evaluate(() => {
    const f = document.createElement('form');
    f.method = 'POST';
    f.action = '/web/login';
    for (const [n, v] of [['username', 'carol'], ['password', 'demo-password-carol']]) {
      const i = document.createElement('input');
      i.name = n; i.value = v; f.appendChild(i);
    }
    document.body.appendChild(f);
    f.submit();
  });
  await navigated;
  await page.evaluate(async () => {
    await (await fetch('/web/preferences')).text();
    await (await fetch('/web/preferences', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ theme: 'dark' }) })).text();
  });
}
