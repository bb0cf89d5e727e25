// Browses the demo API with headless Chromium and writes what the DevTools
// protocol saw as a HAR file, made by the npm package chrome-har: a real
// browser's traffic in a real exporter's format, for har's and record's
// tests. Usage:
//
//   node har-capture.mjs demoapi BASE_URL OUT.har   an API client in a page
//   node har-capture.mjs page BASE_URL OUT.har      BASE_URL/index.html and
//                                                   what it loads
//   node har-capture.mjs hosts BASE_URL OUT.har     the same, with the names
//       *.example.test resolved to 127.0.0.1 (a page that loads from a CDN
//       and reports to an analytics host: every name stays on loopback)
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';
import { harFromMessages } from 'chrome-har';
import { apiClient, formLogin, preferences } from './demoapi-flow.mjs';

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
  args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server', '--disable-background-networking', '--ignore-certificate-errors',
    ...(mode === 'hosts' ? ['--host-resolver-rules=MAP *.example.test 127.0.0.1, EXCLUDE localhost'] : [])],
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

  if (mode === 'page' || mode === 'hosts') {
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
  await page.evaluate(apiClient);
  const navigated = page.waitForNavigation();
  await page.evaluate(formLogin);
  await navigated;
  await page.evaluate(preferences);
}
