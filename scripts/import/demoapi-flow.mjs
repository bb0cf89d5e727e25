// What the browser does on the demo API, for har-capture.mjs (puppeteer)
// and har-playwright.mjs: functions run in the page with page.evaluate.

// An API client: X-API-Key, JSON bodies, every method, a token from a
// login used as a bearer, a miss.
export async function apiClient() {
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
}

// A form login: a urlencoded POST, a 303 to the dashboard, the sid
// cookie. The caller waits for the navigation.
export function formLogin() {
  const f = document.createElement('form');
  f.method = 'POST';
  f.action = '/web/login';
  for (const [n, v] of [['username', 'carol'], ['password', 'demo-password-carol']]) {
    const i = document.createElement('input');
    i.name = n; i.value = v; f.appendChild(i);
  }
  document.body.appendChild(f);
  f.submit();
}

// With the sid cookie.
export async function preferences() {
  await (await fetch('/web/preferences')).text();
  await (await fetch('/web/preferences', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ theme: 'dark' }) })).text();
}
