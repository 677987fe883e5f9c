// Real-editor tests: Mismatch Lab installed from its .vsix into code-server
// (VS Code 1.100.3), driven through Debian's chromium as a user would. Each state is saved as a
// screenshot under test/.artifacts/e2e/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
    afterLineColors,
    afterLineTexts,
    clearNotifications,
    codeLenses,
    describeE2E,
    extensionVsix,
    goToLine,
    lineOf,
    notificationMatching,
    notifications,
    openFile,
    printLogsOnFailure,
    ROOT,
    runCommand,
    screenshot,
    startEditor,
    waitFor,
    type EditorSession,
} from './harness.js';

const FIXTURE = join(ROOT, 'test/e2e/fixtures/tiny');
const SPEC = 'tiny.mismatch';
/** A fresh tiny run takes about a minute on two quiet cores; leave room for a busy machine. */
const RUN_TIMEOUT = 900_000;
// The language server answers an edit within a second on a quiet machine; on a busy CI machine its
// first builds took over 30 s, so the editor's waits are bounded generously (a bound, not a sleep).
const EDITOR_WAIT = 90_000;

/** Undoes edits until the active editor is no longer dirty. */
async function undoAll(page: Page): Promise<void> {
    await page.keyboard.press('Control+1'); // focus the editor (not the Problems panel)
    await page.waitForTimeout(200);
    for (let i = 0; i < 60; i++) {
        if ((await page.locator('.tab.active.dirty').count()) === 0) return;
        await page.keyboard.press('Control+Z');
        await page.waitForTimeout(100);
    }
    throw new Error('the editor stayed dirty after 60 undos');
}

/** Waits until the language server has answered: the CodeLens of the steps are drawn. */
async function waitForLenses(page: Page, want = '▶ Run'): Promise<string[]> {
    return waitFor(
        async () => {
            const l = await codeLenses(page);
            return l.some((x) => x.includes(want)) ? l : undefined;
        },
        180_000,
        `CodeLens "${want}"`,
    );
}

describeE2E('Mismatch Lab in a real editor (code-server + chromium)', () => {
    let s: EditorSession;
    printLogsOnFailure(() => s);
    let specText: string;

    beforeAll(async () => {
        s = await startEditor({ name: 'editor', folder: FIXTURE, copyFolder: true, extensions: [await extensionVsix()] });
        specText = readFileSync(join(s.folder, SPEC), 'utf8');
        await openFile(s.page, SPEC);
        // Close the side bar (the Extensions view opens after an install) to give the editor room.
        await runCommand(s.page, 'View: Close Primary Side Bar').catch(() => undefined);
        await s.page.mouse.move(700, 600);
        await waitForLenses(s.page);
    }, 300_000);
    afterAll(async () => {
        if (s) await screenshot(s.page, 'last-state').catch(() => undefined);
        await s?.stop();
    });

    it(
        'a typo gives a red squiggle with the message',
        async () => {
            const { page } = s;
            const line = lineOf(specText, /finetune smallOnLarge = small on byLarge/);
            const col = specText.split('\n')[line - 1]!.indexOf('byLarge') + 'byLarge'.length + 1;
            await goToLine(page, line, col);
            await page.keyboard.press('Backspace'); // byLarge -> byLarg
            await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: EDITOR_WAIT });
            await page.keyboard.press('Control+Shift+M'); // Problems panel
            const problem = await waitFor(
                async () => {
                    const t = await page
                        .locator('.markers-panel')
                        .innerText()
                        .catch(() => '');
                    return t.includes("'byLarg'") ? t : undefined;
                },
                EDITOR_WAIT,
                'the problem in the Problems panel',
            );
            expect(problem).toMatch(/Unknown label .*'byLarg'\. Did you mean 'byLarge'\?/s);
            await screenshot(page, '01-typo-squiggle');
            await undoAll(page);
            await waitFor(async () => (await page.$$('.monaco-editor .squiggly-error')).length === 0, EDITOR_WAIT, 'the squiggle to go');
        },
        4 * EDITOR_WAIT,
    );

    it(
        'completion offers the right references',
        async () => {
            const { page } = s;
            const line = lineOf(specText, /finetune smallOnSmall = small on bySmall/);
            await goToLine(page, line, specText.split('\n')[line - 1]!.length + 1);
            await page.keyboard.press('Enter');
            await page.keyboard.type('finetune probe = small on ');
            await page.keyboard.press('Control+Space');
            const labels = await waitFor(
                async () => {
                    const rows = await page.$$eval('.suggest-widget .monaco-list-row .label-name', (els) => els.map((e) => (e as HTMLElement).innerText.trim()));
                    return rows.length ? rows : undefined;
                },
                EDITOR_WAIT,
                'completion items',
            );
            await screenshot(page, '02-completion');
            // After `on` a finetune takes label sets: both labels, and no datasets, models or decodings.
            expect(labels).toEqual(expect.arrayContaining(['byLarge', 'bySmall']));
            for (const wrong of ['trivia', 'greedy', 'atlas', 'large']) expect(labels).not.toContain(wrong);
            await page.keyboard.press('Escape');
            await undoAll(page);
            await waitForLenses(page);
        },
        4 * EDITOR_WAIT,
    );

    it('an untouched spec has CodeLens "▶ Run · ▶ Run to here" on every step', async () => {
        const lenses = await waitForLenses(s.page);
        const runs = lenses.filter((l) => /▶ Run\b.*▶ Run to here|^▶ Run$/.test(l) || l.includes('▶ Run to here'));
        expect(runs.length).toBeGreaterThanOrEqual(8);
    });

    let annotated: Map<number, string>;

    it(
        '"Mismatch: Run Experiment" from the palette finishes, with progress and annotations',
        async () => {
            const { page } = s;
            await clearNotifications(page);
            await page.keyboard.press('Control+Home'); // show the whole spec while it runs
            const t0 = Date.now();
            await runCommand(page, 'Mismatch: Run Experiment');
            await notificationMatching(page, /Mismatch: TinyMismatch/, 60_000, 500);
            await waitForLenses(page, '■ Cancel');
            await screenshot(page, '03-running-progress');
            const status = await page
                .locator('.statusbar-item', { hasText: /tok\/s|%|pretrain|model|world|dataset/ })
                .first()
                .innerText()
                .catch(() => '');
            const done = await notificationMatching(page, /TinyMismatch done in|run failed/, RUN_TIMEOUT, 500);
            console.log(`run from the palette: ${((Date.now() - t0) / 1000).toFixed(0)} s; status bar during the run: ${status}`);
            expect(done).toMatch(/TinyMismatch done in/);
            annotated = await waitFor(
                async () => {
                    const m = await afterLineTexts(page);
                    return [...m.values()].some((t) => t.includes('wrong')) ? m : undefined;
                },
                30_000,
                'annotations after the run',
            );
            await clearNotifications(page);
            if (
                await page
                    .locator('.part.panel')
                    .isVisible()
                    .catch(() => false)
            )
                await page.keyboard.press('Control+J'); // hide the panel
            await waitFor(
                async () =>
                    !(await page
                        .locator('.part.panel')
                        .isVisible()
                        .catch(() => false)),
                EDITOR_WAIT,
                'the panel to hide',
            );
            await screenshot(page, '04-annotated');
            // loss, then the training fit after the last epoch (no Known/Unknown labels here: one share); the
            // rest (epochs, time) is cut at the line's width and shown whole in the hover
            expect(annotated.get(lineOf(specText, /finetune smallOnLarge/))).toMatch(/^loss \d+\.\d\d → \d+\.\d\d · fits \d+% \(epoch 1\)( · 1 ep · | ?…|$)/);
            expect(annotated.get(lineOf(specText, /label byLarge/))).toMatch(/^✓ \d+ kept · ∅ \d+ replaced by “I don't know”/);
            expect(annotated.get(lineOf(specText, /model small = pretrain/))).toMatch(/^knows \d+% of \d+ taught · \d+% of \d+ untaught/);
            await waitForLenses(page, '▶ Run');
        },
        RUN_TIMEOUT + 120_000,
    );

    it('the extension host stayed responsive during the run (the log says the longest task)', async () => {
        const { page } = s;
        await runCommand(page, 'Mismatch: Show Log');
        const line = await waitFor(
            async () => {
                // Monaco renders spaces as no-break spaces.
                const t = (
                    await page
                        .locator('.part.panel .view-lines')
                        .allInnerTexts()
                        .catch(() => [] as string[])
                )
                    .join('\n')
                    .replace(/\u00a0/g, ' ');
                return /longest extension-host task (\d+) ms/.exec(t) ?? undefined;
            },
            30_000,
            'the run summary in the Mismatch log',
        );
        await screenshot(page, '04b-log');
        console.log(`palette run: ${line[0]}`);
        // The goal is under 50 ms (a frame's budget; 8–60 ms measured, the most on a busy machine). The
        // bound here catches the extension host blocked by work of its own (a synchronous read or
        // parse of the results takes seconds on the quickstart), not a busy machine's scheduling.
        expect(Number(line[1])).toBeLessThan(250);
        await page.keyboard.press('Control+J'); // hide the panel
    });

    it('the annotations show the same numbers as `mismatch run --json` on the same spec', async () => {
        expect(annotated, 'the run test ran first').toBeDefined();
        const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'run', join(s.folder, SPEC), '--json', '--threads', '2', '--gpu', 'off'], {
            encoding: 'utf8',
            cwd: s.folder,
            timeout: 120_000,
        });
        expect(r.status, r.stderr).toBe(0);
        const json = JSON.parse(r.stdout) as {
            steps: { name: string; cached: boolean }[];
            evaluations: Record<string, { correct: number; wrong: number; abstained: number }>;
            hypotheses: { name: string; verdict: string; p: number | null }[];
        };
        expect(
            json.steps.every((x) => x.cached),
            'the CLI reads what the editor computed',
        ).toBe(true);
        if (
            await s.page
                .locator('.part.panel')
                .isVisible()
                .catch(() => false)
        )
            await s.page.keyboard.press('Control+J');
        await s.page.keyboard.press('Control+1');
        await s.page.keyboard.press('Control+Home');
        // Wait for the editor to have drawn the evaluate line's annotation (scrolling re-renders it).
        // Three arms do not fit beside the line: the text is cut (…) and its hover holds the whole of it.
        const want = Object.entries(json.evaluations).map(([arm, c]) => `${arm}: ✗ ${c.wrong} wrong · ✓ ${c.correct} correct · ∅ ${c.abstained} abstained`);
        const evalLine = lineOf(specText, /^\s*evaluate /);
        annotated = await waitFor(
            async () => {
                const m = await afterLineTexts(s.page);
                const t = m.get(evalLine);
                return t && want.some((w) => t.startsWith(w.slice(0, w.indexOf(':') + 1))) ? m : undefined;
            },
            30_000,
            'the evaluate annotation',
        );
        const evalText = annotated.get(evalLine)!;
        expect(evalText.length).toBeLessThanOrEqual(80);
        await goToLine(s.page, evalLine, 5);
        await s.page.keyboard.press('Control+K');
        await s.page.keyboard.press('Control+I'); // "Show or Focus Hover"
        const evalHover = await waitFor(
            async () => {
                const t = (
                    await s.page
                        .locator('.monaco-hover')
                        .allInnerTexts()
                        .catch(() => [] as string[])
                )
                    .join('\n')
                    .replace(/\u00a0/g, ' ');
                return want.every((w) => t.includes(w)) ? t : undefined;
            },
            EDITOR_WAIT,
            "the evaluate hover with the CLI's numbers",
        );
        if (evalText.endsWith(' …')) expect(evalHover).toContain(evalText.slice(0, -2));
        else expect(want.every((w) => evalText.includes(w))).toBe(true);
        await s.page.keyboard.press('Escape');
        const hypText = annotated.get(lineOf(specText, /^\s*hypothesis /))!;
        const h = json.hypotheses[0]!;
        // "<verdict> · wrong <effect> [interval] · p = … · McNemar": effect first, p second, the test last
        expect(hypText.startsWith(`${h.verdict} · `), hypText).toBe(true);
        expect(hypText).toMatch(/ · p = [\d.e-]+.* · McNemar/);
        const p = Number(/p = ([\d.e-]+)/.exec(hypText)![1]);
        expect(Math.abs(p - (h.p ?? NaN))).toBeLessThanOrEqual(Math.max(0.005, (h.p ?? 0) * 0.05));
        const colors = await afterLineColors(s.page);
        expect(colors.get(lineOf(specText, /^\s*hypothesis /))).not.toBe(colors.get(lineOf(specText, /^\s*evaluate /)));
    });

    it('the hover on an annotated line shows the full table', async () => {
        const { page } = s;
        const line = lineOf(specText, /^\s*evaluate /);
        await page.keyboard.press('Control+1'); // focus the editor (the log test left the panel focused)
        await goToLine(page, line, 5);
        await page.keyboard.press('Control+K');
        await page.keyboard.press('Control+I'); // "Show or Focus Hover"
        const hover = await waitFor(
            async () => {
                const t = (
                    await page
                        .locator('.monaco-hover')
                        .allInnerTexts()
                        .catch(() => [] as string[])
                )
                    .join('\n')
                    .replace(/\u00a0/g, ' ');
                return t.includes('wrong rate') ? t : undefined;
            },
            EDITOR_WAIT,
            'the results hover',
        );
        expect(hover).toMatch(/arm[\s\S]*correct[\s\S]*wrong[\s\S]*abstained[\s\S]*smallOnLarge/);
        await screenshot(page, '05-hover-table');
        await page.keyboard.press('Escape');
    });

    it('the results view opens and shows its plots', async () => {
        const { page } = s;
        await runCommand(page, 'Mismatch: Open Results');
        const frame = await waitFor(
            async () => {
                for (const f of page.frames()) {
                    const n = await f
                        .locator('#plots canvas')
                        .count()
                        .catch(() => 0);
                    if (n >= 3) return f;
                }
                return undefined;
            },
            60_000,
            'the results webview with plots',
        );
        const titles = await frame.$$eval('.plot h3', (els) => els.map((e) => (e as HTMLElement).innerText));
        expect(titles).toEqual(expect.arrayContaining(['Outcomes per arm', 'Risk–coverage', 'Loss curves']));
        expect(await frame.locator('#hypotheses').innerText()).toMatch(/McNemar/);
        // Per-question records, filtered: base model right and a fine-tuned arm wrong.
        const count = await frame.locator('#record-count').innerText();
        expect(count).toMatch(/^\d+ of \d+ questions/);
        await screenshot(page, '06-results-view');
        await runCommand(page, 'View: Close All Editor Groups').catch(() => undefined);
        await openFile(page, SPEC);
    });

    it('"Clean Store" empties the store and cancel works mid-run', async () => {
        const { page } = s;
        await runCommand(page, 'Mismatch: Clean Store');
        const everything = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Everything' });
        await everything.waitFor({ state: 'visible' });
        await everything.click();
        await waitFor(async () => !existsSync(join(s.folder, '.mismatch', 'steps')), 30_000, 'the store to be removed');
        await clearNotifications(page);
        await page.keyboard.press('Control+1');
        await page.keyboard.press('Control+Home');
        await runCommand(page, 'Mismatch: Run Experiment');
        await waitForLenses(page, '■ Cancel');
        // Let it reach a real step (pretraining in a child process), then cancel from the CodeLens.
        await waitFor(
            async () => [...(await afterLineTexts(page)).values()].some((t) => /^⟳ running \d+%/.test(t)) || (await notifications(page)).some((t) => /model (large|small): \d+\/\d+ steps/.test(t)),
            120_000,
            'a pretraining step to be running',
        );
        await screenshot(page, '07-before-cancel');
        await page.locator('.codelens-decoration a', { hasText: '■ Cancel' }).first().click();
        const msg = await notificationMatching(page, /run cancelled/, 60_000, 500);
        expect(msg).toMatch(/finished steps are kept/);
        await waitForLenses(page, '▶ Run');
        await screenshot(page, '08-cancelled');
    }, 300_000);
});

describeE2E('Mismatch Lab in an untrusted workspace', () => {
    let s: EditorSession;
    printLogsOnFailure(() => s);
    beforeAll(async () => {
        s = await startEditor({ name: 'editor-untrusted', folder: FIXTURE, copyFolder: true, extensions: [await extensionVsix()], trusted: false });
        await openFile(s.page, SPEC);
    }, 300_000);
    afterAll(async () => s?.stop());

    it('keeps the language features but cannot run', async () => {
        const { page } = s;
        // Language features: the server answers (CodeLens come from its plan).
        await waitForLenses(page);
        await runCommand(page, 'Mismatch: Run Experiment');
        const msg = await notificationMatching(page, /Restricted Mode/, 30_000, 500);
        expect(msg).toMatch(/running experiments is disabled in Restricted Mode/);
        await screenshot(page, '09-untrusted');
        // The refusal returns before anything is saved or started (client/run.ts): no later write to wait for.
        expect(existsSync(join(s.folder, '.mismatch')), 'nothing ran').toBe(false);
    });
});
