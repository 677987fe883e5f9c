// Locating installed packages (node-llama-cpp's package.json exports hide package.json from require).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = typeof import.meta === 'object' && typeof import.meta.url === 'string' ? fileURLToPath(import.meta.url) : __filename;
const req = createRequire(here);

/** A package's folder: resolved from here, or found in a node_modules above this file or the cwd. */
export function findPackageDir(pkg: string): string | undefined {
    try {
        return dirname(req.resolve(`${pkg}/package.json`));
    } catch {
        /* exports may hide package.json */
    }
    for (const start of [dirname(here), process.cwd()]) {
        let d = start;
        for (;;) {
            const c = join(d, 'node_modules', pkg);
            if (existsSync(join(c, 'package.json'))) return c;
            const up = dirname(d);
            if (up === d) break;
            d = up;
        }
    }
    return undefined;
}
