// Times the study page of bench/dashboard in headless Chromium: from the
// start of navigation until the page marks itself rendered (summary, every
// plot and the trial table drawn: #app[data-rendered=true]). Prints each load
// and the median; exits 1 when the median is 1.5 s or more.
// Usage: node bench/dashboard_render.mjs URL [loads]
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, '..'), 'web', 'frontend', 'package.json'));
const { chromium } = require('playwright-core');

const [url, loads = '5'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
const times = [];
for (let i = 0; i < Number(loads); i++) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const start = Date.now();
  await page.goto(url);
  await page.locator('#app[data-rendered=true]').waitFor({ timeout: 60000 });
  const ms = Date.now() - start;
  const rows = await page.locator('[data-test=trial-row]').count();
  times.push(ms);
  console.log(`  load ${i + 1}: ${ms} ms (${rows} table rows)`);
  await page.close();
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`  median ${median} ms, max ${times[times.length - 1]} ms; page < 1.5 s: ${median < 1500 ? 'yes' : 'NO'}`);
process.exit(median < 1500 ? 0 : 1);
