/**
 * Deterministic pseudo-random numbers for the synthetic world and the taught-fact draws.
 *
 * Hand-written rather than a package: the world must be bit-identical for a given seed on every
 * platform and Node version for as long as the store keeps results, so we pin the algorithm here
 * (sfc32 seeded through a 32-bit FNV-1a/murmur-style mix of a string), a dozen lines with no
 * dependency to drift.
 */

/** 32-bit hash of a string (FNV-1a followed by a murmur3 finaliser). */
export function hash32(text: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        h ^= text.charCodeAt(i);
        h = Math.imul(h, 0x01000193);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
}

export interface Rng {
    /** Uniform in [0, 1). */
    next(): number;
    /** Uniform integer in [0, n). */
    int(n: number): number;
    pick<T>(items: readonly T[]): T;
    shuffle<T>(items: T[]): T[];
}

/** sfc32 generator seeded from a string key (e.g. `world:7:names`). */
export function makeRng(key: string): Rng {
    let a = hash32(key + '#a');
    let b = hash32(key + '#b');
    let c = hash32(key + '#c');
    let d = hash32(key + '#d') | 1;
    const next = (): number => {
        a >>>= 0;
        b >>>= 0;
        c >>>= 0;
        d >>>= 0;
        let t = (a + b) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        d = (d + 1) | 0;
        t = (t + d) | 0;
        c = (c + t) | 0;
        return (t >>> 0) / 4294967296;
    };
    for (let i = 0; i < 12; i++) next();
    const rng: Rng = {
        next,
        int: (n) => Math.floor(next() * n),
        pick: (items) => items[Math.floor(next() * items.length)],
        shuffle: (items) => {
            for (let i = items.length - 1; i > 0; i--) {
                const j = Math.floor(next() * (i + 1));
                [items[i], items[j]] = [items[j], items[i]];
            }
            return items;
        },
    };
    return rng;
}

/** A uniform number in [0, 1) that depends only on the key (for per-fact choices). */
export function unitHash(key: string): number {
    return hash32(key) / 4294967296;
}
