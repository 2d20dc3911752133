// Browser tests of the dashboard: Debian's Chromium driven by playwright-core
// against a real `vernier serve` running real trials. Screenshots of each page
// land in $VERNIER_ARTIFACTS (default build/test-artifacts/browser).
//
// Run: node --test tests/browser/dashboard.test.mjs  (ctest: browser_dashboard)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.VERNIER_SOURCE_DIR || resolve(here, '..', '..');
const BINARY_DIR = resolve(process.env.VERNIER_BINARY_DIR || join(SOURCE, 'build'));
const VERNIER = resolve(process.env.VERNIER_BIN || join(BINARY_DIR, 'vernier'));
const ARTIFACTS = process.env.VERNIER_ARTIFACTS || join(BINARY_DIR, 'test-artifacts', 'browser');
const { chromium } = createRequire(join(SOURCE, 'web', 'frontend', 'package.json'))('playwright-core');

const TRAIN_PY = `
import sys, time
x = float(sys.argv[1]); k = sys.argv[2]
print("<script>window.__xss = 5</script> k =", k, flush=True)
value = -(x - 0.3) ** 2
for step in range(1, 5):
    print(f"step={step} score={value * (5 - step):.6f}", flush=True)
    time.sleep(0.25)
print(f"score={value:.9f}")
`;

function studyYaml(name, { description = 'browser test', categories = ['a', 'b'], max = 200, priced = false, gpus = false } = {}) {
  const quote = (text) => `'${text.replaceAll("'", "''")}'`;
  return `name: ${name}
description: ${quote(description)}
objective: {metric: score, goal: maximize}
algorithm: {name: random, seed: 5}
parameters:
  - {name: x, type: double, min: 0, max: 1}
  - {name: k, type: categorical, values: [${categories.map(quote).join(', ')}]}
trials: {max: ${max}, parallel: 2}
worker:
  command: ["/usr/bin/python3", "train.py", "\${params.x}", "\${params.k}"]
${gpus ? '  gpus_per_trial: 1\n  gpus: [0, 1]\n' : ''}${priced ? '  pricing: {instance_hour: 36}\nbudget: {max_cost: 50, currency: EUR}\n' : ''}`;
}

let workspace;
let server;
let grpcAddress;
let dashboard;
let browser;

async function startServer() {
  const child = spawn(VERNIER, ['serve', '--db', join(workspace, 'vernier.db'),
    '--grpc', '127.0.0.1:0', '--http', '127.0.0.1:0'], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk) => { errors += chunk; });
  await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`vernier serve did not start: ${errors}`)), 30000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /gRPC on (\S+?),.*dashboard on (http:\/\/\S+\/)/.exec(output);
      if (match) {
        clearTimeout(timer);
        [, grpcAddress, dashboard] = match;
        done();
      }
    });
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`vernier serve exited ${code}: ${errors}`)));
  });
  return child;
}

function submit(name, options) {
  const file = join(workspace, `${name}.yaml`);
  writeFileSync(file, studyYaml(name, options));
  const result = spawnSync(VERNIER, ['submit', file, '--server', grpcAddress], { cwd: workspace, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

// Plots draw when scrolled into view: pass every screen first, then the
// whole page.
async function shot(page, name) {
  await page.evaluate(async () => {
    const frame = () => new Promise((painted) => requestAnimationFrame(painted));
    do {
      window.scrollBy(0, window.innerHeight);
      for (let i = 0; i < 3; i++) await frame();
    } while (window.scrollY + window.innerHeight < document.body.scrollHeight);
    window.scrollTo(0, 0);
  });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const rowCount = (page) => page.locator('[data-test=trial-row]').count();

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  workspace = mkdtempSync(join(tmpdir(), 'vernier-browser-'));
  writeFileSync(join(workspace, 'train.py'), TRAIN_PY);
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.VERNIER_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox'],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((done) => server.on('exit', done));
  }
  rmSync(workspace, { recursive: true, force: true });
});

test('watch a running study live, open a trial, sort, filter and stop it', async () => {
  submit('live');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // The page must live within its Content-Security-Policy.
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  page.on('dialog', (dialog) => dialog.accept());

  await page.goto(dashboard);
  await page.locator('[data-test=study-row]', { hasText: 'live' }).waitFor();
  await shot(page, 'studies');

  await page.getByRole('link', { name: 'live' }).click();
  await page.locator('#app[data-rendered=true]').waitFor();
  await page.locator('[data-test=trial-row]').first().waitFor();
  // New trials appear without a reload (server-sent events).
  const before = await rowCount(page);
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-test=trial-row]').length > n, before, { timeout: 30000 });
  await page.locator('[data-test=succeeded]').filter({ hasNotText: /^0$/ }).waitFor({ timeout: 30000 });
  await shot(page, 'study');

  // Sort by number, descending: the newest trial comes first.
  await page.locator('[data-test=sort-number]').click();
  await page.locator('th.sorted-desc[data-test=sort-number]').waitFor();
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('[data-test=trial-row] td:first-child')].map((c) => Number(c.textContent));
    return cells.length > 1 && cells.every((n, i) => i === 0 || cells[i - 1] > n);
  });

  // Only SUCCEEDED trials, sorted by objective (best last when ascending).
  await page.locator('[data-test=filter-SUCCEEDED]').check();
  await page.locator('[data-test=sort-objective]').click();
  await page.locator('th.sorted-asc[data-test=sort-objective]').waitFor();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-test=trial-row]')];
    const states = rows.map((r) => r.children[1].textContent);
    const values = rows.map((r) => Number(r.children[2].textContent));
    return rows.length > 0 && states.every((s) => s === 'SUCCEEDED') && values.every((v, i) => i === 0 || values[i - 1] <= v);
  });
  await shot(page, 'study-filtered');

  // The CSV export holds the rows the filter selects.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=csv]').click()]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.match(csv[0], /^number,state,objective,params\.x,params\.k/);
  assert.ok(csv.length > 1 && csv.slice(1).every((line) => line.split(',')[1] === 'SUCCEEDED'), csv.join('\n'));

  // A trial's page: parameters, metrics chart, log.
  await page.locator('[data-test=trial-row] a').first().click();
  await page.locator('[data-test=trial-title]').waitFor();
  assert.match(await page.locator('[data-test=trial-params]').innerText(), /\bx\b/);
  await page.locator('[data-test=log]').filter({ hasText: 'step=' }).waitFor();
  assert.ok(await page.locator('[data-test=full-log]').getAttribute('href'));
  await shot(page, 'trial');

  // Stop the study from its page.
  await page.goBack();
  await page.locator('#app[data-rendered=true]').waitFor();
  await page.locator('[data-test=action]', { hasText: 'Stop study' }).click();
  await page.locator('.state-STOPPED').first().waitFor({ timeout: 30000 });
  await shot(page, 'study-stopped');
  assert.deepEqual(errors, []);
  await page.close();
});

test('cost and GPUs: spend against budget, the cost plot, each trial\'s cost, the timeline by GPU', async () => {
  submit('priced', { priced: true, gpus: true, max: 4 });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(dashboard);
  const row = page.locator('[data-test=study-row]', { hasText: 'priced' });
  await row.waitFor();
  // 36 EUR an hour is a cent a second: spend shows once a trial has run.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-test=study-row]')].filter((r) => r.textContent.includes('priced'));
    const cell = rows[0]?.querySelector('[data-test=study-spend]');
    return cell && /^\s*[0-9.]+ \/ 50 EUR$/.test(cell.textContent) && !/^\s*0 \//.test(cell.textContent);
  }, null, { timeout: 60000 });
  await shot(page, 'studies-cost');

  await page.getByRole('link', { name: 'priced' }).click();
  await page.locator('#app[data-rendered=true]').waitFor();
  await page.locator('[data-test=succeeded]').filter({ hasText: '4' }).waitFor({ timeout: 60000 });
  await page.locator('[data-test=spent]').waitFor();
  assert.ok(Number(await page.locator('[data-test=spent]').innerText()) > 0);
  await page.locator('[data-test=plot-cost][data-drawn=true]').waitFor();
  // The table follows the counts by one refresh: wait for its last trial's cost.
  await page.waitForFunction(() => {
    const costs = [...document.querySelectorAll('[data-test=trial-cost]')].map((cell) => Number(cell.textContent));
    return costs.length === 4 && costs.every((cost) => cost > 0);
  }, null, { timeout: 30000 });
  await page.locator('.plot h3', { hasText: 'Timeline by GPU' }).waitFor();
  await shot(page, 'study-cost');

  await page.locator('[data-test=trial-row] a').first().click();
  await page.locator('[data-test=trial-title]').waitFor();
  assert.match(await page.locator('[data-test=trial-cost]').innerText(), /^[0-9.]+ EUR$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('names and values that are script payloads show as text and run nothing', async () => {
  const payloads = ['<script>window.__xss = 3</script>', '"><img src=x onerror="window.__xss = 4">'];
  const description = '<img src=x onerror="window.__xss = 1"><b>bold?</b>';
  submit('xss', { description, categories: payloads, max: 4 });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.addInitScript(() => {
    window.__xss = 0;
    window.alert = () => { window.__xss = -1; };
  });
  page.on('dialog', (dialog) => dialog.dismiss());

  await page.goto(dashboard);
  await page.locator('[data-test=study-row]', { hasText: 'xss' }).waitFor();
  await page.getByText(description, { exact: true }).waitFor();
  await page.getByRole('link', { name: 'xss' }).click();
  await page.locator('#app[data-rendered=true]').waitFor();
  await page.locator('[data-test=succeeded]').filter({ hasText: '4' }).waitFor({ timeout: 60000 });
  await page.reload();
  await page.locator('#app[data-rendered=true]').waitFor();
  // The spec lists every category; trial rows show the ones drawn.
  await page.getByText(payloads.join(', '), { exact: true }).waitFor();
  const shown = await Promise.all(payloads.map((p) => page.getByText(p, { exact: true }).count()));
  assert.ok(shown.some((n) => n > 0), 'a drawn payload shows as text in the table');
  await shot(page, 'xss-study');
  await page.locator('[data-test=trial-row] a').first().click();
  await page.locator('[data-test=log]').filter({ hasText: '<script>window.__xss = 5</script>' }).waitFor();
  await shot(page, 'xss-trial');
  assert.equal(await page.evaluate(() => window.__xss), 0);
  assert.equal(await page.locator('img[src=x], main script').count(), 0);
  await page.close();
});
