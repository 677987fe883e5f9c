// GPU binaries on first use. The .vsix carries node-llama-cpp's CPU build for linux-x64 only (about
// 30 MB); its CUDA and Vulkan builds are about 540 MB and most users never need them. When the
// `mismatch.gpu` setting asks for one that is not installed, say so and offer to install node-llama-cpp's
// optional GPU packages into the extension's folder with npm (in a terminal, so the user sees it).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GpuChoice } from './settings.js';

const PACKAGES: Record<'cuda' | 'vulkan', string> = {
    cuda: '@node-llama-cpp/linux-x64-cuda',
    vulkan: '@node-llama-cpp/linux-x64-vulkan',
};

function installed(extensionPath: string, pkg: string): boolean {
    try {
        createRequire(path.join(extensionPath, 'package.json')).resolve(`${pkg}/package.json`);
        return true;
    } catch {
        return false;
    }
}

/** False when the run should not start (binaries missing for an explicit GPU choice). */
export async function checkGpuBinaries(gpu: GpuChoice, extensionPath: string, log: vscode.LogOutputChannel): Promise<boolean> {
    if (gpu !== 'cuda' && gpu !== 'vulkan') return true;
    if (process.platform !== 'linux' || process.arch !== 'x64') return true; // node-llama-cpp picks its own package elsewhere
    const pkg = PACKAGES[gpu];
    if (installed(extensionPath, pkg)) return true;
    const command = `npm install --no-save --no-audit --no-fund --ignore-scripts ${pkg}@3.21.1`;
    log.warn(`mismatch.gpu is "${gpu}" but ${pkg} is not installed in ${extensionPath}`);
    const choice = await vscode.window.showWarningMessage(
        `Mismatch: the ${gpu.toUpperCase()} binaries of node-llama-cpp are not installed (they are large and not shipped in the extension). Install them now (npm, ${gpu === 'cuda' ? 'about 540 MB' : 'about 80 MB'}), or run on the CPU this time?`,
        { modal: true },
        'Install',
        'Run on CPU',
    );
    if (choice === 'Install') {
        const terminal = vscode.window.createTerminal({ name: `Mismatch: install ${gpu}`, cwd: extensionPath });
        terminal.show();
        terminal.sendText(command);
        void vscode.window.showInformationMessage(`Mismatch: installing ${pkg}; run again when the terminal says it is done.`);
        return false;
    }
    if (choice === 'Run on CPU') {
        await vscode.workspace.getConfiguration('mismatch').update('gpu', 'off', vscode.ConfigurationTarget.Workspace);
        return true;
    }
    return false;
}
