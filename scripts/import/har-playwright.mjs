// Browses the demo API with headless Chromium driven by Playwright, which
// writes the HAR itself (recordHar): a second real exporter beside
// chrome-har, for har's and record's tests. Usage:
//
//   node har-playwright.mjs BASE_URL OUT.har
import { chromium } from 'playwright-core';
import { apiClient, formLogin, preferences } from './demoapi-flow.mjs';

const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--no-proxy-server'] });
try {
  const context = await browser.newContext({ recordHar: { path: out, content: 'embed' } });
  const page = await context.newPage();
  await page.goto(base + '/health');
  await page.evaluate(apiClient);
  const navigated = page.waitForURL('**/web/dashboard');
  await page.evaluate(formLogin);
  await navigated;
  await page.evaluate(preferences);
  await context.close(); // writes the HAR
} finally {
  await browser.close();
}
