// Browser test of `logsieve report`: opens a generated report in Debian's
// headless Chromium (playwright-core, no browser download) and checks what a
// person would see. Run by scripts/test-report.sh, which builds the report
// and sets:
//   REPORT_HTML   the page
//   REPORT_MODEL  the model it describes (read with `logsieve inspect --json`)
//   REPORT_BIN    the logsieve binary
//   REPORT_KS     how many k the model's sweep fitted
//   REPORT_SHOT   where to save the screenshot
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { chromium } = require('playwright-core');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this test through scripts/test-report.sh`);
  return v;
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test('the report renders every chart, offline, without errors', async () => {
  const html = path.resolve(env('REPORT_HTML'));
  const shot = path.resolve(env('REPORT_SHOT'));
  const ks = Number(env('REPORT_KS'));
  const inspected = JSON.parse(execFileSync(env('REPORT_BIN'), ['inspect', env('REPORT_MODEL'), '--json']));
  const fitted = inspected.model.fitted;
  const nClusters = fitted.clusters.length;
  const sweep = fitted.training.sweep;
  assert.ok(sweep, 'the model has no sweep: train it with --n-clusters A..B');

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'logsieve-report-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 900 },
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
    page.on('request', (r) => {
      const u = r.url();
      if (u !== 'file://' + html && !u.startsWith('data:') && !u.startsWith('about:')) {
        problems.push(`the page loaded something: ${u}`);
      }
    });
    const response = await page.goto('file://' + html, { waitUntil: 'load' });
    assert.ok(response === null || response.ok(), 'the page did not load');

    // Every chart is drawn: an SVG with marks and a size on screen.
    for (const id of ['sizes-chart', 'pca-chart', 'score-chart', 'sweep-chart']) {
      const chart = page.locator(`svg#${id}`);
      assert.equal(await chart.count(), 1, `#${id} is missing`);
      const marks = await chart.locator('rect, circle, path, polyline, line').count();
      assert.ok(marks > 0, `#${id} is empty`);
      const box = await chart.boundingBox();
      assert.ok(box && box.width > 100 && box.height > 100, `#${id} has no size on screen: ${JSON.stringify(box)}`);
    }

    // Cluster sizes: one training bar (and one scored bar) per cluster.
    const bars = await page.locator('#sizes-chart rect.bar.train').count();
    assert.equal(bars, nClusters, `${bars} training bars for ${nClusters} clusters`);
    assert.equal(await page.locator('#sizes-chart rect.bar.scored').count(), nClusters);
    assert.equal(Number(await page.locator('#sizes-chart').getAttribute('data-bars')), nClusters);

    // Projection: as many points as the page says it drew, and the centroids.
    const said = Number((await page.locator('#pca-drawn').innerText()).replace(/[^0-9]/g, ''));
    const points = await page.locator('#pca-chart circle.pt').count();
    assert.ok(points > 0, 'no point drawn');
    assert.equal(points, said, `the page says it drew ${said} points, the chart has ${points}`);
    assert.equal(Number(await page.locator('#pca-chart').getAttribute('data-points')), points);
    assert.equal(await page.locator('#pca-chart .centroid').count(), nClusters, 'one centroid per cluster');
    const anomalies = await page.locator('#pca-chart circle.pt.anomaly').count();
    assert.ok(anomalies > 0, 'no anomaly marked in the projection');

    // The legend hides and shows a cluster.
    const c0 = await page.locator('#pca-chart circle.pt[data-c="0"]').count();
    assert.ok(c0 > 0, 'cluster 0 has no point');
    await page.locator('#pca-legend button[data-c="0"]').click();
    assert.equal(await page.locator('#pca-chart circle.pt[data-c="0"]:visible').count(), 0, 'cluster 0 still shown');
    await page.locator('#pca-legend button[data-c="0"]').click();
    assert.equal(await page.locator('#pca-chart circle.pt[data-c="0"]:visible').count(), c0, 'cluster 0 not back');

    // Scores: a histogram with one threshold line per cluster.
    assert.ok((await page.locator('#score-chart g.bin').count()) > 0, 'the histogram has no bar');
    assert.equal(await page.locator('#score-chart g.threshold').count(), nClusters);

    // The sweep: one point per k, the elbow marked once, where the model says.
    assert.equal(await page.locator('#sweep-chart circle.k-point').count(), ks, `expected ${ks} k points`);
    assert.equal(await page.locator('#sweep-chart circle.s-point').count(), ks, `expected ${ks} silhouette points`);
    const elbow = page.locator('#sweep-chart circle.k-point.elbow');
    assert.equal(await elbow.count(), 1, 'the elbow is not marked exactly once');
    assert.equal(Number(await elbow.getAttribute('data-k')), sweep.elbow, 'the elbow is not the model\'s');
    assert.equal(nClusters, sweep.chosen, 'the model is not the k its sweep chose');

    // The anomalies table has rows, each with its reasons.
    const rows = await page.locator('#anomalies-table tbody tr').count();
    assert.ok(rows > 0, 'the anomalies table is empty');
    assert.ok((await page.locator('#anomalies-table tbody tr .badge').count()) >= rows, 'a row has no reason');

    // The model summary names the model.
    assert.match(await page.locator('#model-summary').innerText(), new RegExp(inspected.id));

    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    assert.deepEqual(problems, [], 'the page had problems');
    console.log(`checked ${html}: ${bars} bars, ${points} points (${anomalies} anomalies), ${ks} k, ${rows} anomaly rows; screenshot ${shot}`);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
});
