/**
 * README screenshot: a spec that was run (its run store `.mismatch/` beside it holds the results),
 * opened in a real VS Code (code-server 4.100.3 + Debian chromium, `bash test/e2e/setup.sh`) with
 * the packaged extension, once its annotations are drawn.
 *
 *   npm run screenshot -- [spec] [out.png] [--font-size N] [--width W] [--height H]
 *   defaults: examples/quickstart.mismatch docs/screenshot.png, font 12, 1900x1000; the window
 *   grows (up to 3200x2000) until the whole spec and every annotation fit, then loses the empty
 *   space below the spec.
 *
 * The spec's folder (with its store) is copied to a temp folder first, so nothing in the repo
 * changes but the PNG. Run the spec with the CLI first (`npm start` for the quickstart): the
 * script only reads results, it never runs a step. Reuses the real-editor test harness.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterLineTexts, codeLenses, e2eSetup, screenshot, extensionVsix, openFile, runCommand, startEditor, waitFor, type EditorSession } from '../test/e2e/harness.js';

interface Options {
    spec: string;
    out: string;
    fontSize: number;
    width: number;
    height: number;
}

function parseArgs(argv: string[]): Options {
    // npm runs scripts in the package root; resolve the user's paths against where npm was called.
    const cwd = process.env.INIT_CWD ?? process.cwd();
    const positional: string[] = [];
    const o = { fontSize: 12, width: 1900, height: 1000 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const num = (name: string) => {
            const v = Number(argv[++i]);
            if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer, got '${argv[i] ?? ''}'`);
            return v;
        };
        if (a === '--font-size') o.fontSize = num(a);
        else if (a === '--width') o.width = num(a);
        else if (a === '--height') o.height = num(a);
        else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
        else positional.push(a);
    }
    if (positional.length > 2) throw new Error(`expected at most [spec] [out.png], got ${positional.join(' ')}`);
    return {
        ...o,
        spec: resolve(cwd, positional[0] ?? 'examples/quickstart.mismatch'),
        out: resolve(cwd, positional[1] ?? 'docs/screenshot.png'),
    };
}

const MAX_WIDTH = 3200;
const MAX_HEIGHT = 2000;

/**
 * The last line number on screen, how far (px) the widest line with its annotation runs past the
 * editor's right edge, the line height, and the empty editor height (px) below the last line.
 */
async function measure(page: Page): Promise<{ lastLine: number; overflow: number; lineHeight: number; spare: number }> {
    return page.evaluate(() => {
        const editor = document.querySelector('.monaco-editor .view-lines')?.closest('.monaco-editor') as HTMLElement | null;
        if (!editor) return { lastLine: 0, overflow: 0, lineHeight: 18, spare: 0 };
        const numbers = Array.from(editor.querySelectorAll('.margin-view-overlays .line-numbers')).map((n) => Number((n as HTMLElement).innerText.trim()) || 0);
        const lines = Array.from(editor.querySelectorAll('.view-lines .view-line'));
        const right = Math.max(0, ...lines.map((l) => (l.firstElementChild as HTMLElement | null)?.getBoundingClientRect().right ?? 0));
        // The vertical scrollbar (14 px) sits over the right edge of the text area.
        const overflow = Math.ceil(right - (editor.getBoundingClientRect().right - 14));
        const lineHeight = lines[0] ? Math.round(lines[0].getBoundingClientRect().height) : 18;
        const bottom = Math.max(0, ...lines.map((l) => l.getBoundingClientRect().bottom));
        const spare = Math.floor(editor.getBoundingClientRect().bottom - bottom);
        return { lastLine: Math.max(0, ...numbers), overflow, lineHeight, spare };
    });
}

/** 1-based numbers of the lines that start with the given statement keyword. */
function linesOf(text: string, keyword: string): number[] {
    const re = new RegExp(`^\\s*${keyword}\\b`);
    return text.split('\n').flatMap((l, i) => (re.test(l) ? [i + 1] : []));
}

async function main(): Promise<void> {
    const o = parseArgs(process.argv.slice(2));
    if (!existsSync(o.spec)) throw new Error(`${o.spec}: no such spec`);
    const store = join(dirname(o.spec), '.mismatch');
    if (!existsSync(store)) throw new Error(`${o.spec}: no run store at ${store}; run the spec first (mismatch run ${o.spec})`);
    const setup = e2eSetup();
    if (!setup.ready) throw new Error(setup.reason);

    const text = readFileSync(o.spec, 'utf8');
    const lineCount = text.split('\n').length; // as the editor numbers them (a final newline opens a line)
    const wanted = [...linesOf(text, 'evaluate'), ...linesOf(text, 'hypothesis')];
    if (!wanted.length) throw new Error(`${o.spec}: no evaluate or hypothesis statement to show results on`);

    let s: EditorSession | undefined;
    try {
        s = await startEditor({
            name: 'screenshot',
            folder: dirname(o.spec),
            copyFolder: true,
            extensions: [await extensionVsix()],
            settings: {
                'editor.fontSize': o.fontSize,
                'editor.wordWrap': 'off',
                'editor.stickyScroll.enabled': false,
                'editor.scrollbar.horizontal': 'hidden',
                'editor.renderLineHighlight': 'none',
                'editor.cursorBlinking': 'solid',
                'breadcrumbs.enabled': false,
                'workbench.activityBar.location': 'hidden',
                'workbench.layoutControl.enabled': false,
            },
        });
        const { page } = s;
        await page.setViewportSize({ width: o.width, height: o.height });
        await openFile(page, basename(o.spec));
        // The Extensions view opens after an install: close both side bars and the panel.
        await runCommand(page, 'View: Close Primary Side Bar').catch(() => undefined);
        await runCommand(page, 'View: Close Secondary Side Bar').catch(() => undefined);
        await page.keyboard.press('Escape');
        if (
            await page
                .locator('.part.panel')
                .isVisible()
                .catch(() => false)
        )
            await page.keyboard.press('Control+J');

        // Results come from the store through the engine's readResults; the language server's plan
        // comes first (CodeLens), then the after-line texts.
        await waitFor(async () => (await codeLenses(page)).some((l) => l.includes('▶ Run')), 180_000, 'the CodeLens of the steps');
        await page.keyboard.press('Control+1');
        await page.keyboard.press('Control+Home');
        const shown = await waitFor(
            async () => {
                const m = await afterLineTexts(page);
                return wanted.every((n) => m.get(n) && !/^⟳/.test(m.get(n)!)) ? m : undefined;
            },
            180_000,
            `annotations on lines ${wanted.join(', ')} (did the run of ${basename(o.spec)} finish?)`,
        );

        await runCommand(page, 'Notifications: Clear All Notifications').catch(() => undefined);
        await page.keyboard.press('Control+1');
        await page.keyboard.press('Control+Home');
        await page.mouse.move(o.width - 5, o.height - 5); // no hover
        await page.waitForTimeout(800);

        // Fit: grow the window (up to MAX_*) until the whole spec is on screen and no annotation runs
        // past the right edge (after-line texts do not wrap: they are CSS ::after content).
        let fit = await measure(page);
        for (let i = 0; i < 6 && (fit.lastLine < lineCount || fit.overflow > 0); i++) {
            const size = page.viewportSize()!;
            const width = Math.min(MAX_WIDTH, size.width + Math.max(0, fit.overflow) + (fit.overflow > 0 ? 24 : 0));
            const height = Math.min(MAX_HEIGHT, size.height + (fit.lastLine < lineCount ? (lineCount - fit.lastLine + 1) * fit.lineHeight : 0));
            if (width === size.width && height === size.height) break;
            await page.setViewportSize({ width, height });
            await page.waitForTimeout(800);
            fit = await measure(page);
        }
        if (fit.lastLine >= lineCount && fit.spare > 2 * fit.lineHeight) {
            // No empty editor below the spec: trim the window to the last line plus a little.
            const size = page.viewportSize()!;
            await page.setViewportSize({ width: size.width, height: size.height - (fit.spare - 2 * fit.lineHeight) });
            await page.waitForTimeout(800);
            fit = await measure(page);
        }
        mkdirSync(dirname(o.out), { recursive: true });
        await page.screenshot({ path: o.out });

        const size = page.viewportSize()!;
        for (const [line, t] of [...shown].sort((a, b) => a[0] - b[0])) console.log(`${String(line).padStart(3)}: ${t}`);
        console.log(`saved ${o.out} (${size.width}x${size.height}, font ${o.fontSize}; lines 1-${fit.lastLine} of ${lineCount} visible)`);
        if (fit.lastLine < lineCount) console.warn(`warning: only lines 1-${fit.lastLine} of ${lineCount} fit: try --height or a smaller --font-size`);
        if (fit.overflow > 0) console.warn('warning: some lines are wider than the editor: try --width or a smaller --font-size');
    } catch (e) {
        if (s) console.error(`the editor's state is in ${await screenshot(s.page, 'screenshot-failed').catch(() => '(no screenshot)')}`);
        throw e;
    } finally {
        await s?.stop();
    }
}

main().catch((e: unknown) => {
    console.error(`screenshot: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
});
