// `mismatch report --html` opens on the answer: rendered by headless Debian chromium at a laptop's
// width (1280 × 800), the verdicts lie within the first screen, unnamed steps read as their text, the
// per-replicate tables are collapsed. The first screen is saved to
// test/.artifacts/report/first-screen.png for a person to look at.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { runCommand } from '../../cli/run.js';
import { reportCommand } from '../../cli/report.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl, captureIo } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = resolve(__dirname, '..', '.artifacts', 'report');

// Unnamed evaluate and hypothesis steps, two replicates (intervals across them).
const SPEC = `experiment ReportShot {
  seed 3
  seeds 2
  dataset qa from "data/qa.jsonl" { question "question"  answers "answer"  split train 12  split test 12 }
  model teacher = gguf "models/teacher.gguf"
  model student = gguf "models/student.gguf"
  decoding greedy { temperature 0  maxTokens 4 }
  label byTeacher = answers of teacher on qa.train using greedy { otherwise "I don't know" }
  label byStudent = answers of student on qa.train using greedy { otherwise "I don't know" }
  finetune onTeacher = student on byTeacher { lora rank 2  epochs 1  learningRate 1e-3 }
  finetune onStudent = student on byStudent { lora rank 2  epochs 1  learningRate 1e-3 }
  evaluate onTeacher, onStudent, student on qa.test using greedy { abstain "I don't know" }
  hypothesis onTeacher hallucinates more than onStudent
  hypothesis onTeacher hallucinates more than onStudent at matched coverage
}
`;

const skip = existsSync(CHROMIUM) ? false : `needs Debian chromium at ${CHROMIUM} (apt-get install chromium)`;

describe.skipIf(!!skip)(`the HTML report's first screen${skip ? ` (skipped: ${skip})` : ''}`, () => {
    it('shows the verdicts in words within the first 1280 × 800 viewport, per-replicate tables collapsed', async () => {
        const dir = tempDir('mm-report-shot-');
        mkdirSync(join(dir, 'models'));
        mkdirSync(join(dir, 'data'));
        makeTinyModel(join(dir, 'models'), 1, 'teacher');
        makeTinyModel(join(dir, 'models'), 2, 'student');
        writeFileSync(join(dir, 'data', 'qa.jsonl'), readFileSync(writeQuestionsJsonl(dir)));
        const file = join(dir, 'r.mismatch');
        writeFileSync(file, SPEC);
        const run = captureIo();
        expect(await runCommand(file, { json: true, threads: 1, gpu: 'off' }, run.io), run.text()).toBe(0);
        const verdicts = (JSON.parse(run.text().slice(0, run.text().lastIndexOf('}') + 1)) as { hypotheses: { verdict: string }[] }).hypotheses.map((h) => h.verdict);
        expect(verdicts).toHaveLength(2);
        const html = join(dir, 'report.html');
        const rep = captureIo();
        expect(await reportCommand(file, { html }, rep.io), rep.text()).toBe(0);

        mkdirSync(ARTIFACTS, { recursive: true });
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
        try {
            const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
            const errors: string[] = [];
            page.on('pageerror', (e) => errors.push(String(e)));
            await page.goto(pathToFileURL(html).href);
            // Every plot drawn by vega-embed (an <svg> in each plot container).
            await page.waitForFunction(() => Array.from(document.querySelectorAll('.plot')).every((p) => p.querySelector('svg')), undefined, { timeout: 60_000 });
            expect(errors).toEqual([]);
            await page.screenshot({ path: join(ARTIFACTS, 'first-screen.png') });

            // The verdicts: the hypotheses in the words of the spec, inside the first screen.
            const claims = page.locator('#verdicts .claim');
            expect(await claims.count()).toBe(2);
            const texts = await claims.allInnerTexts();
            expect(texts[0]).toMatch(new RegExp(`${verdicts[0]}\\s+onTeacher hallucinates more than onStudent$`, 'i'));
            expect(texts[1]).toMatch(/onTeacher hallucinates more than onStudent at matched coverage$/);
            for (let i = 0; i < 2; i++) {
                const box = (await claims.nth(i).boundingBox())!;
                expect(box.y).toBeGreaterThanOrEqual(0);
                expect(box.y + box.height).toBeLessThanOrEqual(800);
                expect(box.x + box.width).toBeLessThanOrEqual(1280);
            }
            // The effect with its interval and p are on the first screen too.
            const numbers = (await page.locator('#verdicts .numbers').first().boundingBox())!;
            expect(numbers.y + numbers.height).toBeLessThanOrEqual(800);
            // Nothing wider than the laptop's screen: no horizontal scrolling of the page.
            expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
            // Generated ids never reach the reader.
            expect(await page.evaluate(() => document.body.innerText)).not.toMatch(/(hypothesis|evaluate)@\d/);
            // The per-replicate table is there, collapsed; the plot of outcomes per arm comes before it.
            const perReplicate = page.locator('details', { has: page.locator('h2', { hasText: /^Outcomes$/ }) });
            expect(await perReplicate.count()).toBe(1);
            expect(await perReplicate.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
            const order = await page.evaluate(() => {
                const y = (sel: string) => document.querySelector(sel)!.getBoundingClientRect().top;
                return { verdicts: y('#verdicts'), arms: y('#plot-arm-intervals'), details: y('details') };
            });
            expect(order.verdicts).toBeLessThan(order.arms);
            expect(order.arms).toBeLessThan(order.details);
        } finally {
            await browser.close();
        }
    }, 300_000);
});
