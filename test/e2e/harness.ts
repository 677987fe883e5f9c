/**
 * Real-editor harness (DESIGN.md, "Testing"): code-server 4.100.3 (VS Code 1.100.3) from
 * `.e2e/code-server` (installed by `test/e2e/setup.sh`), Debian chromium driven by playwright-core.
 * Each session gets its own temp folder holding code-server's user-data and extensions dirs, its
 * XDG dirs and TMPDIR, and chromium's profile; `stop()` removes it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync, cpSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterEach, describe, it } from 'vitest';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CODE_SERVER = join(ROOT, '.e2e/code-server/node_modules/.bin/code-server');
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test/.artifacts/e2e');
const VSIX = join(ROOT, '.e2e/mismatch-lab.vsix');

/** Whether the real-editor tools are installed, and if not, why. */
export function e2eSetup(): { ready: boolean; reason: string } {
    const missing: string[] = [];
    if (!existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER})`);
    if (!existsSync(CHROMIUM)) missing.push(`chromium (${CHROMIUM})`);
    return missing.length ? { ready: false, reason: `real-editor tests need ${missing.join(' and ')}: run \`bash test/e2e/setup.sh\`` } : { ready: true, reason: '' };
}

/**
 * `describe` for real-editor suites. Without the setup: in CI (CI=true) the suite fails loudly with
 * the reason; locally it is skipped and the reason is printed.
 */
export function describeE2E(name: string, body: () => void): void {
    const setup = e2eSetup();
    if (setup.ready) {
        describe(name, body);
    } else if (process.env.CI === 'true' || process.env.CI === '1') {
        describe(name, () => {
            it('has its real-editor setup (code-server, chromium)', () => {
                throw new Error(setup.reason);
            });
        });
    } else {
        console.warn(`[e2e] skipping "${name}": ${setup.reason}`);
        describe.skip(name, body);
    }
}

function newestMtime(path: string): number {
    if (!existsSync(path)) return 0;
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    let newest = st.mtimeMs;
    for (const entry of readdirSync(path)) {
        if (entry === 'node_modules' || entry === 'generated' || entry.startsWith('.')) continue;
        newest = Math.max(newest, newestMtime(join(path, entry)));
    }
    return newest;
}

async function withLock<T>(lock: string, fn: () => Promise<T> | T): Promise<T> {
    const deadline = Date.now() + 300_000;
    for (;;) {
        try {
            mkdirSync(lock);
            break;
        } catch {
            // A lock older than 5 minutes was left by a killed process.
            if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }
    try {
        return await fn();
    } finally {
        rmSync(lock, { recursive: true, force: true });
    }
}

/**
 * The extension under test as a .vsix: `MISMATCH_E2E_VSIX` when set (e.g. the artifact of
 * `npm run package`), else built from the working tree (esbuild + the packaging script) when any
 * source is newer than the last build. Concurrent test files share one build through a lock.
 */
export async function extensionVsix(): Promise<string> {
    if (process.env.MISMATCH_E2E_VSIX) return resolve(process.env.MISMATCH_E2E_VSIX);
    mkdirSync(dirname(VSIX), { recursive: true });
    return withLock(join(ROOT, '.e2e/vsix.lock'), () => {
        const sources = ['client', 'server', 'language', 'engine', 'syntaxes', 'package.json', 'esbuild.mjs', 'language-configuration.json'];
        const newest = Math.max(...sources.map((s) => newestMtime(join(ROOT, s))));
        if (existsSync(VSIX) && statSync(VSIX).mtimeMs > newest) return VSIX;
        const steps: [string, string[]][] = [
            [process.execPath, [join(ROOT, 'node_modules/langium-cli/bin/cli.js'), 'generate']],
            [process.execPath, [join(ROOT, 'esbuild.mjs')]],
            [process.execPath, [join(ROOT, 'client/package/stage.mjs'), '--out', VSIX]],
        ];
        for (const [cmd, args] of steps) {
            if (args[0]?.includes('langium-cli') && (!existsSync(join(ROOT, 'langium-config.json')) || !existsSync(args[0]))) continue;
            const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
            if (r.status !== 0) throw new Error(`building the .vsix failed at ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
        }
        return VSIX;
    });
}

/** The test-runner extension (installed beside ours only in tests), packed as a .vsix. */
export async function runnerExtensionVsix(): Promise<string> {
    const src = join(ROOT, 'test/e2e/runner-extension');
    const out = join(ROOT, '.e2e/mismatch-test-runner.vsix');
    return withLock(join(ROOT, '.e2e/runner.lock'), () => {
        if (existsSync(out) && statSync(out).mtimeMs > newestMtime(src)) return out;
        const vsce = join(ROOT, 'node_modules/@vscode/vsce/vsce');
        const r = spawnSync(process.execPath, [vsce, 'package', '--out', out, '--skip-license', '--allow-missing-repository', '--no-dependencies'], { cwd: src, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`packing the test-runner extension failed:\n${r.stdout}\n${r.stderr}`);
        return out;
    });
}

/** The extension-host suite (test/exthost) bundled as CommonJS for the runner extension to require. */
export async function exthostSuiteBundle(): Promise<string> {
    const out = join(ROOT, '.e2e/exthost/suite.cjs');
    const esbuild = await import('esbuild');
    await esbuild.build({
        entryPoints: [join(ROOT, 'test/exthost/index.ts')],
        outfile: out,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        external: ['vscode', 'mocha'],
        sourcemap: 'inline',
        logLevel: 'error',
    });
    return out;
}

async function freePort(): Promise<number> {
    return new Promise((resolvePort, reject) => {
        const srv = createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const addr = srv.address();
            const port = typeof addr === 'object' && addr ? addr.port : 0;
            srv.close(() => resolvePort(port));
        });
    });
}

export interface EditorOptions {
    /** Folder opened in the editor (copied first when `copyFolder` is set). */
    folder: string;
    /** Copy `folder` into the session's temp dir so tests can write (store, edits). */
    copyFolder?: boolean;
    /** Extensions to install: .vsix files or extension folders. */
    extensions: string[];
    /** User settings (merged over the harness defaults). */
    settings?: Record<string, unknown>;
    /** Workspace trust: true (default) disables the trust feature, so the folder is trusted. */
    trusted?: boolean;
    /** Extra environment for code-server (and so its extension host). */
    env?: Record<string, string>;
    /**
     * Where `stop()` keeps code-server's logs: test/.artifacts/e2e/logs/<name>/ (the extension
     * host's, and the "Mismatch" output with the language server's message trace), so a failed wait
     * can be read afterwards. Each session of a run needs its own name.
     */
    name: string;
}

export interface EditorSession {
    url: string;
    folder: string;
    dir: string;
    page: Page;
    context: BrowserContext;
    log: () => string;
    /** The last `lines` lines of the "Mismatch" output (with the language server's message trace) and of the extension host's log. */
    logTail: (lines?: number) => string;
    stop: () => Promise<void>;
}

const DEFAULT_SETTINGS: Record<string, unknown> = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'window.restoreWindows': 'none',
    'files.hotExit': 'off',
    'files.autoSave': 'off',
    'editor.minimap.enabled': false,
    'editor.hover.delay': 200,
    'git.enabled': false,
    'security.workspace.trust.enabled': false,
    'mismatch.threads': 2,
    'mismatch.gpu': 'off',
    // The language server's messages (names and timings) in the "Mismatch" output, kept with the logs.
    'mismatch.trace.server': 'messages',
};

function codeServerEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    env.XDG_CONFIG_HOME = join(dir, 'xdg-config');
    env.XDG_DATA_HOME = join(dir, 'xdg-data');
    env.XDG_CACHE_HOME = join(dir, 'xdg-cache');
    env.TMPDIR = join(dir, 't');
    // vitest sets these; the extension host must not believe it runs inside vitest.
    delete env.VITEST;
    delete env.VITEST_WORKER_ID;
    delete env.VITEST_POOL_ID;
    delete env.NODE_OPTIONS;
    return env;
}

/** Starts code-server with the given extensions and opens the folder in a headless chromium. */
export async function startEditor(options: EditorOptions): Promise<EditorSession> {
    // A short path: code-server puts IPC sockets in TMPDIR, and socket paths are limited to 107 bytes.
    const dir = mkdtempSync('/tmp/mle2e-');
    const userData = join(dir, 'u');
    const extensionsDir = join(dir, 'e');
    for (const d of [userData, extensionsDir, join(dir, 't'), join(dir, 'xdg-config'), join(dir, 'xdg-data'), join(dir, 'b')]) mkdirSync(d, { recursive: true });
    mkdirSync(join(userData, 'User'), { recursive: true });
    const settings = { ...DEFAULT_SETTINGS, ...options.settings };
    if (options.trusted === false) {
        settings['security.workspace.trust.enabled'] = true;
        settings['security.workspace.trust.startupPrompt'] = 'never';
        settings['security.workspace.trust.banner'] = 'always';
    }
    writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));

    let folder = options.folder;
    if (options.copyFolder) {
        folder = join(dir, 'w');
        cpSync(options.folder, folder, { recursive: true });
    }
    const env = codeServerEnv(dir, options.env);
    for (const ext of options.extensions) {
        const r = spawnSync(CODE_SERVER, ['--install-extension', ext, '--extensions-dir', extensionsDir, '--user-data-dir', userData, '--force'], {
            env,
            encoding: 'utf8',
            timeout: 120_000,
        });
        if (r.status !== 0) throw new Error(`installing ${ext} failed:\n${r.stdout}\n${r.stderr}`);
    }

    const port = await freePort();
    let logText = '';
    const server: ChildProcess = spawn(
        CODE_SERVER,
        [
            '--bind-addr',
            `127.0.0.1:${port}`,
            '--auth',
            'none',
            '--disable-telemetry',
            '--disable-update-check',
            '--disable-getting-started-override',
            '--user-data-dir',
            userData,
            '--extensions-dir',
            extensionsDir,
            folder,
        ],
        { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((resolveExit) => server.once('exit', () => resolveExit()));
    const ready = new Promise<void>((resolveReady, reject) => {
        const timer = setTimeout(() => reject(new Error(`code-server did not start in 60 s:\n${logText}`)), 60_000);
        const onData = (chunk: Buffer) => {
            logText += chunk.toString();
            if (logText.includes('HTTP server listening')) {
                clearTimeout(timer);
                resolveReady();
            }
        };
        server.stdout?.on('data', onData);
        server.stderr?.on('data', onData);
        server.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`code-server exited (${code}):\n${logText}`));
        });
    });
    const killServer = () => {
        if (server.pid && server.exitCode === null) {
            try {
                process.kill(-server.pid, 'SIGTERM');
            } catch {
                /* already gone */
            }
        }
    };
    try {
        await ready;
    } catch (e) {
        killServer();
        throw e;
    }

    const url = `http://127.0.0.1:${port}`;
    const context = await chromium.launchPersistentContext(join(dir, 'b'), {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1800, height: 950 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    await page.goto(`${url}/?folder=${encodeURIComponent(folder)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });

    return {
        url,
        folder,
        dir,
        page,
        context,
        log: () => logText,
        logTail: (lines = 60) => tailLogs(join(userData, 'logs'), lines),
        stop: async () => {
            await context.close().catch(() => undefined);
            killServer();
            // Remove its folders once code-server has exited (it writes there until then), bounded.
            if (server.exitCode === null && server.signalCode === null) await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
            keepLogs(join(userData, 'logs'), options.name);
            if (!process.env.MISMATCH_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** Files named `name` anywhere under `dir`. */
function findFiles(dir: string, name: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? findFiles(join(dir, e.name), name) : e.name === name ? [join(dir, e.name)] : []));
}

function tailLogs(logs: string, lines: number): string {
    return ['Mismatch.log', 'remoteexthost.log']
        .flatMap((name) => findFiles(logs, name))
        .map((f) => `--- ${f} (last ${lines} lines)\n${readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`)
        .join('\n');
}

/**
 * After each failed test of a suite, prints the session's log tails (the language server's message
 * trace shows whether an edit reached it and what it answered): CI keeps the console, not the files.
 */
export function printLogsOnFailure(session: () => EditorSession | undefined): void {
    afterEach((ctx) => {
        const s = session();
        if (s && ctx.task.result?.state === 'fail') console.log(`[e2e] "${ctx.task.name}" failed; the editor's logs:\n${s.logTail()}`);
    });
}

/** Copies a session's code-server logs to test/.artifacts/e2e/logs/<name>/, replacing the last run's. */
function keepLogs(logs: string, name: string): void {
    const to = join(ARTIFACTS, 'logs', name);
    try {
        rmSync(to, { recursive: true, force: true });
        if (existsSync(logs)) cpSync(logs, to, { recursive: true });
    } catch (e) {
        console.warn(`[e2e] could not keep the logs of ${name}: ${String(e)}`);
    }
}

/** Saves a screenshot to test/.artifacts/e2e/<name>.png (waiting for notifications to finish fading in). */
export async function screenshot(page: Page, name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const toasts = await page.$$('.notification-toast');
    if (toasts.length) await page.waitForSelector('.notification-fade-in-done', { timeout: 5_000 }).catch(() => undefined);
    const file = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file });
    return file;
}

/** Opens a workspace file with Quick Open (Ctrl+P) and waits until its editor has focus. */
export async function openFile(page: Page, relativePath: string): Promise<void> {
    const base = relativePath.split('/').pop()!;
    await page
        .locator('.monaco-workbench')
        .click({ position: { x: 5, y: 300 } })
        .catch(() => undefined);
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(relativePath);
    await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${base}"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`.tab.active[aria-label*="${base}"]`);
    await page.waitForSelector('.monaco-editor .view-lines .view-line');
}

/** Runs a command from the palette (F1) by its full title, e.g. "Mismatch: Run Experiment". */
export async function runCommand(page: Page, title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
}

/** The texts of the notifications on screen. */
export async function notifications(page: Page): Promise<string[]> {
    return page.$$eval('.notification-toast', (els) => els.map((e) => (e as HTMLElement).innerText));
}

/** The CodeLens texts of the visible editor. */
export async function codeLenses(page: Page): Promise<string[]> {
    return page.$$eval('.monaco-editor .codelens-decoration', (els) => els.map((e) => (e as HTMLElement).innerText.trim()));
}

/**
 * After-line decorations of the visible editor, keyed by 1-based line number as shown by the
 * line-number gutter: the text (every `::after` of the line joined) and the color of the first.
 * They live in `::after` pseudo-elements of spans whose class names change between runs, so read
 * the computed style of every span of every line.
 */
async function afterLineDecorations(page: Page): Promise<Map<number, { text: string; color: string }>> {
    const entries = await page.evaluate(() => {
        const editor = document.querySelector('.monaco-editor .view-lines')?.closest('.monaco-editor');
        if (!editor) return [] as [number, { text: string; color: string }][];
        const top = (el: Element) => Math.round((el as HTMLElement).getBoundingClientRect().top);
        const numbers = new Map<number, number>();
        for (const n of Array.from(editor.querySelectorAll('.margin-view-overlays .line-numbers'))) {
            const v = Number((n as HTMLElement).innerText.trim());
            if (v) numbers.set(top(n), v);
        }
        const out: [number, { text: string; color: string }][] = [];
        for (const line of Array.from(editor.querySelectorAll('.view-lines .view-line'))) {
            const texts: string[] = [];
            let color = '';
            for (const span of Array.from(line.querySelectorAll('span'))) {
                const style = getComputedStyle(span, '::after');
                if (style.content && style.content !== 'none' && style.content !== 'normal') {
                    texts.push(JSON.parse(style.content));
                    color ||= style.color;
                }
            }
            const number = numbers.get(top(line));
            if (texts.length && number) out.push([number, { text: texts.join(''), color }]);
        }
        return out;
    });
    return new Map(entries);
}

/** After-line decoration texts of the visible editor, keyed by 1-based line number. */
export async function afterLineTexts(page: Page): Promise<Map<number, string>> {
    return new Map([...(await afterLineDecorations(page))].map(([line, d]) => [line, d.text]));
}

/** Colors of after-line decorations, keyed like `afterLineTexts` (for stale/verdict colors). */
export async function afterLineColors(page: Page): Promise<Map<number, string>> {
    return new Map([...(await afterLineDecorations(page))].map(([line, d]) => [line, d.color]));
}

/** Moves the cursor to a 1-based line/column with "Go to Line" (Ctrl+G). */
export async function goToLine(page: Page, line: number, column = 1): Promise<void> {
    await page.keyboard.press('Control+G');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${line}:${column}`);
    await page.keyboard.press('Enter');
    await page.waitForTimeout(150);
}

/** Polls `probe` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(probe: () => Promise<T | undefined | false | null>, timeoutMs: number, what: string, intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await probe();
            if (v) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/** The first notification whose text matches `re`, polled every `intervalMs` for up to `timeoutMs`. */
export async function notificationMatching(page: Page, re: RegExp, timeoutMs: number, intervalMs = 250): Promise<string> {
    return waitFor(async () => (await notifications(page)).find((t) => re.test(t)), timeoutMs, `a notification matching ${re}`, intervalMs);
}

/** Closes every notification, and waits (bounded) until none is on screen. */
export async function clearNotifications(page: Page): Promise<void> {
    await runCommand(page, 'Notifications: Clear All Notifications');
    await waitFor(async () => (await page.$$('.notification-toast')).length === 0, 10_000, 'the notifications to close');
}

/** The 1-based number of the first line of `text` that matches `re`. */
export function lineOf(text: string, re: RegExp): number {
    const i = text.split('\n').findIndex((l) => re.test(l));
    if (i < 0) throw new Error(`no line matches ${re}`);
    return i + 1;
}

export function readJson<T>(file: string): T {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
}
