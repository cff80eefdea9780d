// Runs scripts inside real Chromium pages through playwright-core (driven by tests/browser.py).
//
// stdin: {"executable": "/usr/bin/chromium", "args": [...], "timeout_ms": 30000,
//         "pages": [{"url": "http://app.example/", "html": "<!doctype html>…" | null, "script": "return 1 + 1"}]}
// Each page is opened in its own browser context. With "html" the page's own URL is answered by Playwright
// (no server needed, and any origin can be played); every other request, WebSocket handshakes included, goes
// to the network for real. "script" is the body of an async function run in the page; what it returns must be
// JSON. stdout: [{"ok": true, "value": …, "requests": […]} | {"ok": false, "error": "…", "requests": […]}, …] in
// page order; "requests" lists the URL of every request the page's context made (blocked and failed ones too), in
// the order they were made.
"use strict";

const { chromium } = require("playwright-core");

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function runPage(browser, page, timeoutMs) {
  const context = await browser.newContext();
  const requests = [];
  context.on("request", (request) => requests.push(request.url()));
  try {
    const tab = await context.newPage();
    tab.setDefaultTimeout(timeoutMs);
    if (page.html !== null && page.html !== undefined) {
      await tab.route(page.url, (route) => route.fulfill({ status: 200, contentType: "text/html", body: page.html }));
    }
    await tab.goto(page.url);
    // a string is evaluated as an expression (through the DevTools protocol, so a page's CSP does not refuse it)
    const value = await tab.evaluate(`(async () => { ${page.script}
})()`);
    return { ok: true, value: value === undefined ? null : value, requests };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error), requests };
  } finally {
    await context.close();
  }
}

(async () => {
  const job = await readStdin();
  const browser = await chromium.launch({ executablePath: job.executable, args: job.args, headless: true });
  try {
    const results = [];
    for (const page of job.pages) results.push(await runPage(browser, page, job.timeout_ms || 30000));
    process.stdout.write(JSON.stringify(results));
  } finally {
    await browser.close();
  }
})().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
