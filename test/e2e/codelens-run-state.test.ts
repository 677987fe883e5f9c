// Real-editor check of the CodeLens run state: after a run ends, finished or cancelled from the
// CodeLens, every step's lens reads "▶ Run · ▶ Run to here" again and none "■ Cancel". VS Code's
// CodeLens controller cancels a pending refresh when the editor's text loses focus, so focus leaves
// the editor (into the terminal) right after the extension host sent the run's last notification,
// while the refresh asked for at the end of the run still waits out its debounce; the lenses are read
// with focus still away (a refresh that is never redone leaves "■ Cancel" there until focus comes
// back), then again after focus came back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
    clearNotifications,
    describeE2E,
    extensionVsix,
    lineOf,
    notificationMatching,
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
/** How long the lenses may take to show the run state after it changed (a bound, not a sleep). */
const LENS_SETTLE = 15_000;
const RUN_ROW = /^▶ Run \| ▶ Run to here$/;
const CANCEL_ROW = /^■ Cancel$/;

/** The CodeLens rows of the spec's editor (in the editor part, not the panel), top to bottom, spaces normalised. */
async function lensRows(page: Page): Promise<string[]> {
    return page.$$eval('.part.editor .monaco-editor .codelens-decoration', (els) =>
        els
            .map((e) => ({ top: e.getBoundingClientRect().top, text: (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim() }))
            .sort((a, b) => a.top - b.top)
            .map((r) => r.text),
    );
}

/** Where to click a lens link: its text, the 1-based line it stands above, and its centre. */
async function lensLinks(page: Page): Promise<{ text: string; line: number; x: number; y: number }[]> {
    return page.evaluate(() =>
        Array.from(document.querySelectorAll('.part.editor .monaco-editor .codelens-decoration a')).map((a) => {
            const numbers = Array.from(a.closest('.monaco-editor')?.querySelectorAll('.margin-view-overlays .line-numbers') ?? [])
                .map((n) => ({ line: Number((n as HTMLElement).innerText.trim()), top: n.getBoundingClientRect().top }))
                .filter((n) => n.line > 0)
                .sort((x, y) => x.top - y.top);
            const r = a.getBoundingClientRect();
            // A lens is a view zone right above its line: the first line below the link's middle.
            const below = numbers.find((n) => n.top >= r.top + r.height / 2);
            return { text: (a as HTMLElement).innerText.replace(/\s+/g, ' ').trim(), line: below?.line ?? 0, x: r.left + r.width / 2, y: r.top + r.height / 2 };
        }),
    );
}

/** Clicks the lens link `text` above `line` with the mouse, as a user does. */
async function clickLens(page: Page, line: number, text: string): Promise<void> {
    const link = await waitFor(async () => (await lensLinks(page)).find((l) => l.line === line && l.text === text), LENS_SETTLE, `lens "${text}" above line ${line}`);
    await page.mouse.click(link.x, link.y);
}

/**
 * Installed before the workbench loads: hands the text of every message the extension host sends the
 * workbench (over code-server's WebSocket), in order, to `window.__onHostMessage` when one is set.
 */
function watchHostMessages(): void {
    const w = window as unknown as { __onHostMessage?: (text: string) => void };
    const decoder = new TextDecoder();
    class Watched extends WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
            super(url, protocols);
            // The workbench reads its messages as Blobs: read them in order, as it does.
            let read = Promise.resolve();
            this.addEventListener('message', (e: MessageEvent) => {
                if (!w.__onHostMessage) return;
                const d: unknown = e.data;
                const text =
                    typeof d === 'string'
                        ? Promise.resolve(d)
                        : d instanceof Blob
                          ? d.arrayBuffer().then((b) => decoder.decode(b))
                          : d instanceof ArrayBuffer
                            ? Promise.resolve(decoder.decode(d))
                            : Promise.resolve('');
                read = read.then(() => text).then((t) => w.__onHostMessage?.(t));
            });
        }
    }
    window.WebSocket = Watched;
}

/**
 * Moves focus from the editor into the terminal 20 ms after the extension host sent the notification
 * matching `pattern`: the extension asks for its CodeLens refresh at the end of a run just before
 * that notification, so focus leaves within that refresh's debounce (250 ms at least), the case
 * VS Code cancels. (Watching the notification's DOM is too late: the workbench draws it a few hundred
 * milliseconds after the message.) `focusMoved` tells whether it happened.
 */
async function focusTerminalAfterMessage(page: Page, pattern: RegExp): Promise<void> {
    await page.evaluate((source) => {
        const re = new RegExp(source);
        const w = window as unknown as { __onHostMessage?: (text: string) => void; __focusMoved?: boolean };
        w.__focusMoved = false;
        w.__onHostMessage = (text) => {
            if (!re.test(text)) return;
            w.__onHostMessage = undefined;
            setTimeout(() => {
                document.querySelector<HTMLElement>('.part.panel .xterm-helper-textarea')?.focus();
                w.__focusMoved = document.activeElement?.closest('.part.panel') !== null;
            }, 30);
        };
    }, pattern.source);
}

async function focusMoved(page: Page): Promise<boolean> {
    return page.evaluate(() => (window as unknown as { __focusMoved?: boolean }).__focusMoved === true);
}

async function focusIsInPanel(page: Page): Promise<boolean> {
    return page.evaluate(() => document.activeElement?.closest('.part.panel') !== null && document.querySelector('.part.editor .monaco-editor.focused') === null);
}

/** Waits (bounded) until `count` lens rows all read "▶ Run | ▶ Run to here"; fails with the rows seen last. */
async function expectAllRun(page: Page, count: number, what: string): Promise<void> {
    let rows: string[] = [];
    await waitFor(
        async () => {
            rows = await lensRows(page);
            return rows.length === count && rows.every((r) => RUN_ROW.test(r));
        },
        LENS_SETTLE,
        what,
    ).catch(() => undefined);
    expect(rows, what).toEqual(Array.from({ length: count }, () => expect.stringMatching(RUN_ROW)));
}

describeE2E('CodeLens after a run (code-server + chromium)', () => {
    let s: EditorSession;
    printLogsOnFailure(() => s);
    let specText: string;
    /** Lens rows of the untouched spec: one per step. */
    let steps: number;

    beforeAll(async () => {
        s = await startEditor({
            name: 'codelens',
            folder: FIXTURE,
            copyFolder: true,
            extensions: [await extensionVsix()],
            // The terminal beside the editor, so that the editor keeps its height and shows every lens.
            settings: { 'mismatch.threads': 1, 'mismatch.gpu': 'off', 'workbench.panel.defaultLocation': 'right' },
        });
        specText = readFileSync(join(s.folder, SPEC), 'utf8');
        const { page } = s;
        // The message watcher goes in before the workbench's own scripts: load the workbench again.
        await s.context.addInitScript(watchHostMessages);
        await page.reload();
        await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
        await openFile(page, SPEC);
        await runCommand(page, 'View: Close Primary Side Bar').catch(() => undefined);
        await runCommand(page, 'Terminal: Create New Terminal');
        await page.waitForSelector('.part.panel .xterm-helper-textarea', { state: 'attached', timeout: 60_000 });
        await page.keyboard.press('Control+1');
        const rows = await waitFor(
            async () => {
                const r = await lensRows(page);
                return r.length > 0 && r.every((x) => RUN_ROW.test(x)) ? r : undefined;
            },
            180_000,
            'the CodeLens of every step',
        );
        steps = rows.length;
        // world, dataset, 2 models, 2 labels, 2 fine-tunes, evaluate, hypothesis
        expect(steps).toBeGreaterThanOrEqual(10);
        const links = await lensLinks(page);
        expect(new Set(links.filter((l) => l.text === '▶ Run').map((l) => l.line)).size, JSON.stringify(links)).toBe(steps);
    }, 300_000);
    afterAll(async () => {
        if (s) await screenshot(s.page, 'codelens-last-state').catch(() => undefined);
        await s?.stop();
    });

    it('a short step run from its "▶ Run" lens leaves "▶ Run · ▶ Run to here" on every step, with focus in the editor and with focus moved away as it ends', async () => {
        const { page } = s;
        await clearNotifications(page);
        await page.keyboard.press('Control+1');
        await clickLens(page, lineOf(specText, /^\s*world atlas/), '▶ Run');
        expect(await notificationMatching(page, /TinyMismatch done in|run failed/, 120_000, 100)).toMatch(/TinyMismatch done in/);
        await expectAllRun(page, steps, 'lenses after a run with focus in the editor');

        // The dataset needs the world (now in the store): a run of a second or so. Focus goes to the
        // terminal as soon as "done" shows, and stays there while the lenses are read.
        await clearNotifications(page);
        await page.keyboard.press('Control+1');
        await focusTerminalAfterMessage(page, /TinyMismatch done in|run failed/);
        await clickLens(page, lineOf(specText, /^\s*dataset trivia/), '▶ Run');
        const done = await notificationMatching(page, /TinyMismatch done in|run failed/, 120_000, 100);
        expect(done).toMatch(/TinyMismatch done in/);
        await waitFor(() => focusMoved(page), 5_000, 'focus to move into the terminal');
        await expectAllRun(page, steps, 'lenses after a run, focus in the terminal since it ended');
        expect(await focusIsInPanel(page), 'focus stayed in the terminal while the lenses were read').toBe(true);
        await screenshot(page, 'codelens-after-run-focus-in-terminal');
        console.log(`short run: ${done.split('\n').find((l) => l.includes('done in'))}`);

        await page.keyboard.press('Control+1');
        await page.waitForSelector('.part.editor .monaco-editor.focused');
        await expectAllRun(page, steps, 'lenses after focus came back to the editor');
    }, 300_000);

    it('"■ Cancel" clicked during a longer run brings every lens back to "▶ Run · ▶ Run to here", focus moved away as it ends', async () => {
        const { page } = s;
        await clearNotifications(page);
        await page.keyboard.press('Control+1');
        // The evaluation needs both models pretrained, labelled and fine-tuned: about a minute.
        await clickLens(page, lineOf(specText, /^\s*evaluate /), '▶ Run');
        let rows: string[] = [];
        await waitFor(
            async () => {
                rows = await lensRows(page);
                return rows.length === steps && rows.every((r) => CANCEL_ROW.test(r));
            },
            60_000,
            '"■ Cancel" on every step while the spec runs',
        ).catch(() => undefined);
        expect(rows, 'lenses while running').toEqual(Array.from({ length: steps }, () => expect.stringMatching(CANCEL_ROW)));
        // Let it reach a real step (pretraining in a child process) before cancelling.
        await notificationMatching(page, /model (large|small): \d+\/\d+ steps/, 120_000, 100);
        await page.keyboard.press('Control+1');
        await focusTerminalAfterMessage(page, /run cancelled; finished|TinyMismatch done in|run failed/);
        await clickLens(page, lineOf(specText, /^\s*hypothesis /), '■ Cancel');
        expect(await notificationMatching(page, /run cancelled|done in|run failed/, 60_000, 100)).toMatch(/run cancelled; finished steps are kept/);
        await waitFor(() => focusMoved(page), 5_000, 'focus to move into the terminal');
        await expectAllRun(page, steps, 'lenses after the cancelled run, focus in the terminal since it ended');
        expect(await focusIsInPanel(page), 'focus stayed in the terminal while the lenses were read').toBe(true);

        await page.keyboard.press('Control+1');
        await page.waitForSelector('.part.editor .monaco-editor.focused');
        await expectAllRun(page, steps, 'lenses after focus came back to the editor');
    }, 300_000);
});
