// Bundles the dashboard: src/main.ts (and ECharts) into app.js, beside
// index.html and app.css, in $VERNIER_FRONTEND_OUT (default ./dist).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const out = process.env.VERNIER_FRONTEND_OUT || 'dist';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outfile: join(out, 'app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync('src/index.html', join(out, 'index.html'));
copyFileSync('src/app.css', join(out, 'app.css'));
