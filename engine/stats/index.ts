/**
 * Small exact statistics for paired comparisons, written here (DESIGN.md: small and exact, tested
 * against hand-computed cases) because the npm statistics packages either approximate McNemar with
 * chi-square or pull large dependency trees.
 *
 * Conventions: arm A is the arm the hypothesis names first ("A hallucinates more than B");
 * b = questions A got wrong and B did not, c = questions B got wrong and A did not.
 */

// ---------------------------------------------------------------------------------------------
// Special functions

const LANCZOS = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7; ~15 significant digits). */
export function logGamma(x: number): number {
    if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
    x -= 1;
    let a = LANCZOS[0];
    const t = x + 7.5;
    for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

export function logChoose(n: number, k: number): number {
    return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

function logSumExp(values: number[]): number {
    const m = Math.max(...values);
    if (m === -Infinity) return -Infinity;
    let s = 0;
    for (const v of values) s += Math.exp(v - m);
    return m + Math.log(s);
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed in log space (exact up to floating point). */
export function binomialCdf(k: number, n: number, p = 0.5): number {
    if (k < 0) return 0;
    if (k >= n) return 1;
    const terms: number[] = [];
    for (let i = 0; i <= k; i++) terms.push(logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p));
    return Math.min(1, Math.exp(logSumExp(terms)));
}

/** P(X ≥ k) for X ~ Binomial(n, p). */
export function binomialSf(k: number, n: number, p = 0.5): number {
    if (k <= 0) return 1;
    if (k > n) return 0;
    const terms: number[] = [];
    for (let i = k; i <= n; i++) terms.push(logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log1p(-p));
    return Math.min(1, Math.exp(logSumExp(terms)));
}

/** Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
export function incompleteBeta(x: number, a: number, b: number): number {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const lbeta = logGamma(a + b) - logGamma(a) - logGamma(b);
    const front = Math.exp(Math.log(x) * a + Math.log1p(-x) * b + lbeta);
    if (x < (a + 1) / (a + b + 2)) return (front * betaCf(x, a, b)) / a;
    return 1 - (front * betaCf(1 - x, b, a)) / b;
}

function betaCf(x: number, a: number, b: number): number {
    const tiny = 1e-300;
    let c = 1;
    let d = 1 - ((a + b) * x) / (a + 1);
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    let h = d;
    for (let m = 1; m <= 300; m++) {
        const m2 = 2 * m;
        let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
        d = 1 + aa * d;
        if (Math.abs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (Math.abs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
        d = 1 + aa * d;
        if (Math.abs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (Math.abs(c) < tiny) c = tiny;
        d = 1 / d;
        const del = d * c;
        h *= del;
        if (Math.abs(del - 1) < 1e-15) break;
    }
    return h;
}

/** P(T > t) for Student's t with `df` degrees of freedom. */
export function studentTSf(t: number, df: number): number {
    const x = df / (df + t * t);
    const tail = 0.5 * incompleteBeta(x, df / 2, 0.5);
    return t >= 0 ? tail : 1 - tail;
}

// ---------------------------------------------------------------------------------------------
// Tests

export type Alternative = 'two-sided' | 'greater' | 'less';

export interface McNemarResult {
    b: number;
    c: number;
    /** p-value for the requested alternative. */
    p: number;
    pTwoSided: number;
    /** 'greater': H1 says b > c (A wrong more often than B). */
    alternative: Alternative;
    /** Smallest p this many discordant pairs could ever give (power check for the verdict). */
    minAchievableP: number;
}

/**
 * Exact (binomial) McNemar test on the discordant pairs: under H0, b ~ Binomial(b + c, 1/2).
 * Two-sided p = min(1, 2·P(X ≤ min(b, c))); one-sided 'greater' p = P(X ≥ b); 'less' p = P(X ≤ b).
 */
export function mcnemarExact(b: number, c: number, alternative: Alternative = 'two-sided'): McNemarResult {
    if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) throw new Error(`McNemar needs non-negative integer counts, got b=${b}, c=${c}`);
    const n = b + c;
    const pTwoSided = n === 0 ? 1 : Math.min(1, 2 * binomialCdf(Math.min(b, c), n));
    let p: number;
    if (alternative === 'two-sided') p = pTwoSided;
    else if (alternative === 'greater') p = n === 0 ? 1 : binomialSf(b, n);
    else p = n === 0 ? 1 : binomialCdf(b, n);
    const minAchievableP = n === 0 ? 1 : alternative === 'two-sided' ? Math.min(1, 2 * Math.pow(0.5, n)) : Math.pow(0.5, n);
    return { b, c, p, pTwoSided, alternative, minAchievableP };
}

export interface PairedTResult {
    t: number;
    df: number;
    p: number;
    mean: number;
    n: number;
}

/** Paired t test on differences d (H1 for 'greater': mean d > 0). */
export function pairedT(differences: number[], alternative: Alternative = 'two-sided'): PairedTResult {
    const n = differences.length;
    if (n < 2) return { t: NaN, df: n - 1, p: 1, mean: n ? differences[0] : NaN, n };
    const mean = differences.reduce((s, d) => s + d, 0) / n;
    const variance = differences.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1);
    const se = Math.sqrt(variance / n);
    const df = n - 1;
    // Equal differences leave rounding-level variance ((.1 + .1 + .1) / 3 ≠ .1 in floating point):
    // count a spread below 1e-12 of the largest difference as none.
    const scale = Math.max(...differences.map(Math.abs));
    if (se === 0 || Math.sqrt(variance) <= 1e-12 * scale) {
        // All differences equal: no variance to scale by, so the t statistic is undefined (±∞ is a
        // limit, not evidence: three identical differences are one comparison seen three times).
        // p is NaN; callers use an exact test (signFlipTest) or say why there is none.
        return { t: NaN, df, p: NaN, mean, n };
    }
    const t = mean / se;
    let p: number;
    if (alternative === 'greater') p = studentTSf(t, df);
    else if (alternative === 'less') p = 1 - studentTSf(t, df);
    else p = Math.min(1, 2 * studentTSf(Math.abs(t), df));
    return { t, df, p, mean, n };
}

export interface WilcoxonResult {
    /** Sum of the ranks of the positive differences. */
    wPlus: number;
    n: number;
    p: number;
    exact: boolean;
}

/**
 * Wilcoxon signed-rank test. Zeros are dropped, tied |d| get average ranks; the exact null
 * distribution of W+ is computed by dynamic programming over the (doubled, hence integer) ranks
 * for n ≤ 50, a normal approximation with continuity correction above.
 */
export function wilcoxonSignedRank(differences: number[], alternative: Alternative = 'two-sided'): WilcoxonResult {
    const d = differences.filter((x) => x !== 0);
    const n = d.length;
    if (n === 0) return { wPlus: 0, n: 0, p: 1, exact: true };
    const order = d.map((v, i) => ({ a: Math.abs(v), i })).sort((x, y) => x.a - y.a);
    const ranks2 = new Array<number>(n); // doubled ranks (integers even with ties)
    for (let i = 0; i < n;) {
        let j = i;
        while (j + 1 < n && order[j + 1].a === order[i].a) j++;
        const r2 = i + 1 + (j + 1); // 2 × average rank of positions i..j (1-based)
        for (let k = i; k <= j; k++) ranks2[order[k].i] = r2;
        i = j + 1;
    }
    let w2 = 0;
    for (let i = 0; i < n; i++) if (d[i] > 0) w2 += ranks2[i];
    const total2 = ranks2.reduce((s, r) => s + r, 0);
    if (n <= 50) {
        // counts[s] = number of sign assignments whose positive doubled-rank sum is s.
        let counts = new Float64Array(total2 + 1);
        counts[0] = 1;
        for (const r of ranks2) {
            const next = new Float64Array(total2 + 1);
            for (let s = 0; s <= total2; s++)
                if (counts[s]) {
                    next[s] += counts[s];
                    next[s + r] += counts[s];
                }
            counts = next;
        }
        const all = Math.pow(2, n);
        let ge = 0;
        let le = 0;
        for (let s = 0; s <= total2; s++) {
            if (s >= w2) ge += counts[s];
            if (s <= w2) le += counts[s];
        }
        const pg = ge / all;
        const pl = le / all;
        const p = alternative === 'greater' ? pg : alternative === 'less' ? pl : Math.min(1, 2 * Math.min(pg, pl));
        return { wPlus: w2 / 2, n, p, exact: true };
    }
    const w = w2 / 2;
    const mean = (n * (n + 1)) / 4;
    const sd = Math.sqrt(ranks2.reduce((s, r) => s + (r / 2) ** 2, 0) / 4);
    const zg = (w - mean - 0.5) / sd;
    const zl = (w - mean + 0.5) / sd;
    const pg = 1 - normalCdf(zg);
    const pl = normalCdf(zl);
    const p = alternative === 'greater' ? pg : alternative === 'less' ? pl : Math.min(1, 2 * Math.min(pg, pl));
    return { wPlus: w, n, p, exact: false };
}

export function normalCdf(z: number): number {
    // Φ(z) = 1/2 · erfc(-z/√2); erfc from the regularised incomplete gamma would be overkill:
    // use the incomplete beta identity is awkward, so a high-precision erf series/continued fraction.
    return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
    // Numerical Recipes erfcc (Chebyshev), fractional error < 1.2e-7.
    const z = Math.abs(x);
    const t = 1 / (1 + 0.5 * z);
    const r =
        t *
        Math.exp(
            -z * z -
                1.26551223 +
                t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
        );
    return x >= 0 ? r : 2 - r;
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Percentile bootstrap 95% CI of mean(xa) - mean(xb) over paired items (same index = same question). */
export function bootstrapPairedDiffCI(xa: number[], xb: number[], options: { seed?: number; resamples?: number; level?: number } = {}): [number, number] {
    if (xa.length !== xb.length) throw new Error('bootstrap: paired samples of different lengths');
    const n = xa.length;
    if (n === 0) return [NaN, NaN];
    const B = options.resamples ?? 2000;
    const level = options.level ?? 0.95;
    const rand = rng(options.seed ?? 1);
    const diffs = new Float64Array(B);
    for (let r = 0; r < B; r++) {
        let s = 0;
        for (let i = 0; i < n; i++) {
            const j = Math.floor(rand() * n);
            s += xa[j] - xb[j];
        }
        diffs[r] = s / n;
    }
    diffs.sort();
    const lo = quantileSorted(diffs, (1 - level) / 2);
    const hi = quantileSorted(diffs, 1 - (1 - level) / 2);
    return [lo, hi];
}

function quantileSorted(sorted: Float64Array, q: number): number {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// ---------------------------------------------------------------------------------------------
// Selective prediction

export interface Scored {
    id: string;
    /** 'empty' (an empty or unparseable answer) is, like an abstention, not an answer. */
    outcome: 'correct' | 'wrong' | 'abstained' | 'empty';
    confidence: number | null;
}

/** Answered records ordered most confident first; ties broken by id so the order is deterministic. */
export function byConfidence<T extends Scored>(records: T[]): T[] {
    return records
        .filter((r) => r.outcome === 'correct' || r.outcome === 'wrong')
        .slice()
        .sort((x, y) => (y.confidence ?? -Infinity) - (x.confidence ?? -Infinity) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/**
 * Risk–coverage curve: keep the k most confident answers (k = 1..answered), abstain on the rest;
 * coverage = k / total questions, risk = wrong among the k kept / k. Returns [] when any answered
 * record lacks a confidence. AURC here is the mean risk over those k (the area under the curve
 * divided by the coverage it spans, so arms that answer different shares stay comparable).
 */
export function riskCoverage(records: Scored[]): { points: { coverage: number; risk: number }[]; aurc: number | null } {
    const answered = byConfidence(records);
    if (answered.length === 0 || answered.some((r) => r.confidence === null || !Number.isFinite(r.confidence))) return { points: [], aurc: null };
    const total = records.length;
    const points: { coverage: number; risk: number }[] = [];
    let wrong = 0;
    let sum = 0;
    answered.forEach((r, i) => {
        if (r.outcome === 'wrong') wrong++;
        const risk = wrong / (i + 1);
        sum += risk;
        points.push({ coverage: (i + 1) / total, risk });
    });
    return { points, aurc: sum / answered.length };
}

/** Turns the least confident answers into abstentions so that exactly `keep` remain answered. */
export function abstainLeastConfident<T extends Scored>(records: T[], keep: number): T[] {
    const answered = byConfidence(records);
    const drop = new Set(answered.slice(keep).map((r) => r.id));
    return records.map((r) => (drop.has(r.id) ? { ...r, outcome: 'abstained' as const } : r));
}

export interface MatchedCoverage<T> {
    a: T[];
    b: T[];
    /** Answered share of the questions after matching. */
    coverage: number;
    answered: number;
    /** Which arm gave answers up (null when they already matched). */
    reduced: 'a' | 'b' | null;
    /** Number of answers turned into abstentions. */
    dropped: number;
}

/**
 * Matched coverage: the arm that answers more questions turns its least confident answers into
 * abstentions until both arms answer the same number. Throws when that arm has no confidences.
 */
export function matchCoverage<T extends Scored>(a: T[], b: T[]): MatchedCoverage<T> {
    if (a.length !== b.length) throw new Error('matched coverage needs both arms on the same questions');
    const na = a.filter((r) => r.outcome === 'correct' || r.outcome === 'wrong').length;
    const nb = b.filter((r) => r.outcome === 'correct' || r.outcome === 'wrong').length;
    const total = a.length;
    if (na === nb) return { a, b, coverage: total ? na / total : 0, answered: na, reduced: null, dropped: 0 };
    const [more, keep] = na > nb ? ([a, nb] as const) : ([b, na] as const);
    if (more.some((r) => (r.outcome === 'correct' || r.outcome === 'wrong') && (r.confidence === null || !Number.isFinite(r.confidence))))
        throw new Error(`matched coverage needs confidences (token log-probabilities) for arm ${na > nb ? 'A' : 'B'}`);
    const reduced = abstainLeastConfident(more, keep);
    return {
        a: na > nb ? reduced : a,
        b: na > nb ? b : reduced,
        coverage: total ? keep / total : 0,
        answered: keep,
        reduced: na > nb ? 'a' : 'b',
        dropped: Math.abs(na - nb),
    };
}

/** Discordant pair counts on wrong vs not wrong, records paired by question id. */
export function discordant(a: Scored[], b: Scored[]): { b: number; c: number; n: number } {
    const bMap = new Map(b.map((r) => [r.id, r]));
    let nb = 0;
    let nc = 0;
    for (const ra of a) {
        const rb = bMap.get(ra.id);
        if (!rb) throw new Error(`question ${ra.id} is missing from the second arm`);
        const wa = ra.outcome === 'wrong';
        const wb = rb.outcome === 'wrong';
        if (wa && !wb) nb++;
        else if (!wa && wb) nc++;
    }
    return { b: nb, c: nc, n: a.length };
}

// ---------------------------------------------------------------------------------------------
// Verdict

export type Verdict = 'holds' | 'does not hold' | 'inconclusive';

/**
 * The verdict of a directional hypothesis from its one-sided p-value:
 * - holds: p < α in the stated direction;
 * - inconclusive: the data could not have reached α whatever it said (too few discordant pairs:
 *   the smallest achievable p is ≥ α), or the test could not run;
 * - does not hold: the test had the power to reach α and did not.
 */
export function verdictOf(p: number, alpha: number, minAchievableP: number): Verdict {
    if (!Number.isFinite(p)) return 'inconclusive';
    if (p < alpha) return 'holds';
    if (minAchievableP >= alpha) return 'inconclusive';
    return 'does not hold';
}

// ---------------------------------------------------------------------------------------------
// Replicates and families

/** The q-quantile of Student's t with `df` degrees of freedom (bisection on studentTSf, |error| < 1e-12). */
export function studentTQuantile(q: number, df: number): number {
    if (!(q > 0 && q < 1) || !(df > 0)) return NaN;
    if (q === 0.5) return 0;
    if (q < 0.5) return -studentTQuantile(1 - q, df);
    const tail = 1 - q;
    let lo = 0;
    let hi = 1;
    while (studentTSf(hi, df) > tail) hi *= 2;
    for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, hi); i++) {
        const mid = (lo + hi) / 2;
        if (studentTSf(mid, df) > tail) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2;
}

/** Mean of `xs` with its two-sided t interval (sd / √n, n − 1 degrees of freedom). NaN bounds below 2 values. */
export function tInterval(xs: number[], level = 0.95): { mean: number; ci: [number, number]; sd: number; n: number } {
    const n = xs.length;
    const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
    if (n < 2) return { mean, ci: [NaN, NaN], sd: NaN, n };
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
    const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
    return { mean, ci: [mean - half, mean + half], sd, n };
}

export interface SignFlipResult {
    /** Sum of the values (the test statistic; the mean carries the same information). */
    statistic: number;
    /** Values that enter the test (all of them; zeros cannot change sign and add nothing). */
    units: number;
    /** Non-zero values: the ones whose sign is flipped. */
    informative: number;
    p: number;
    alternative: Alternative;
    /** 'exact': the full sign-flip distribution (enumerated, or by dynamic programming over integer
     * values); 'monte-carlo': `resamples` seeded random sign flips, p = (1 + hits) / (1 + resamples). */
    method: 'exact' | 'monte-carlo';
    resamples?: number;
    /** Smallest p this test could give with these units, whatever their signs. */
    minAchievableP: number;
}

/**
 * Sign-flip permutation test of "the values are symmetric around 0" (a paired permutation test):
 * under H0 every value's sign is + or − with probability 1/2, independently. 'greater' p =
 * P(S* ≥ S), 'less' p = P(S* ≤ S), two-sided p = P(|S*| ≥ |S|), S = Σ values.
 * Exact when the values are integers (dynamic programming over the sum, any n within a size limit)
 * or when there are at most `exactLimit` non-zero values (enumeration); otherwise Monte Carlo with
 * `resamples` seeded draws. All equal non-zero values give 2^-n (one-sided), never 0.
 */
export function signFlipTest(values: number[], alternative: Alternative = 'two-sided', options: { seed?: number; resamples?: number; exactLimit?: number } = {}): SignFlipResult {
    if (values.some((v) => !Number.isFinite(v))) throw new Error('sign-flip test: values must be finite numbers');
    const nz = values.filter((v) => v !== 0);
    const n = nz.length;
    const statistic = values.reduce((s, v) => s + v, 0);
    const base = { statistic, units: values.length, informative: n, alternative };
    if (n === 0) return { ...base, p: 1, method: 'exact', minAchievableP: 1 };
    const a = nz.map(Math.abs);
    const total = a.reduce((s, v) => s + v, 0);
    const minAchievableOne = Math.pow(0.5, n);
    const tol = 1e-9 * Math.max(1, total);
    const fromTails = (ge: number, le: number): number => {
        // ge = P(S* ≥ S), le = P(S* ≤ S); by symmetry P(|S*| ≥ |S|) = 2·min(ge, le) capped at 1.
        if (alternative === 'greater') return Math.min(1, ge);
        if (alternative === 'less') return Math.min(1, le);
        return Math.min(1, 2 * Math.min(ge, le));
    };
    const minAchievableP = alternative === 'two-sided' ? Math.min(1, 2 * minAchievableOne) : minAchievableOne;
    const integers = a.every((v) => Number.isInteger(v));
    if (integers && n * total <= 5e7) {
        // W = sum of the |values| that get a + sign; S* = 2W − total. prob[w] = P(W = w).
        let prob = new Float64Array(total + 1);
        prob[0] = 1;
        let reach = 0;
        for (const v of a) {
            const next = new Float64Array(total + 1);
            for (let w = 0; w <= reach; w++) {
                const pw = prob[w];
                if (!pw) continue;
                next[w] += pw / 2;
                next[w + v] += pw / 2;
            }
            reach += v;
            prob = next;
        }
        // S* ≥ S ⇔ W ≥ (S + total)/2; S is an integer of the same parity as total.
        const wObs = Math.round((Math.round(statistic) + total) / 2);
        let ge = 0;
        let le = 0;
        for (let w = 0; w <= total; w++) {
            if (w >= wObs) ge += prob[w];
            if (w <= wObs) le += prob[w];
        }
        return { ...base, p: fromTails(ge, le), method: 'exact', minAchievableP };
    }
    const limit = options.exactLimit ?? 20;
    if (n <= limit) {
        let ge = 0;
        let le = 0;
        const all = 2 ** n;
        for (let mask = 0; mask < all; mask++) {
            let s = 0;
            for (let i = 0; i < n; i++) s += mask & (1 << i) ? a[i] : -a[i];
            if (s >= statistic - tol) ge++;
            if (s <= statistic + tol) le++;
        }
        return { ...base, p: fromTails(ge / all, le / all), method: 'exact', minAchievableP };
    }
    const B = options.resamples ?? 10_000;
    const rand = rng(options.seed ?? 1);
    let ge = 0;
    let le = 0;
    for (let r = 0; r < B; r++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += rand() < 0.5 ? a[i] : -a[i];
        if (s >= statistic - tol) ge++;
        if (s <= statistic + tol) le++;
    }
    const p = fromTails((1 + ge) / (1 + B), (1 + le) / (1 + B));
    return { ...base, p, method: 'monte-carlo', resamples: B, minAchievableP: Math.max(minAchievableP, (alternative === 'two-sided' ? 2 : 1) / (1 + B)) };
}

/**
 * Holm's step-down adjustment of a family of p-values (Holm 1979): sort ascending,
 * p̃(i) = max_{j ≤ i} min(1, (m − j + 1)·p(j)). NaN p-values (tests that could not run) count as 1:
 * an unknown member can only raise the others' adjusted p, never lower it. `size` (≥ the number of
 * p-values) counts members that have no p yet, also as 1.
 */
export function holm(ps: number[], size = ps.length): number[] {
    const m = Math.max(size, ps.length);
    const order = ps.map((p, i) => ({ p: Number.isFinite(p) ? p : 1, i })).sort((x, y) => x.p - y.p || x.i - y.i);
    const out = new Array<number>(ps.length);
    let running = 0;
    order.forEach(({ p, i }, j) => {
        running = Math.max(running, Math.min(1, (m - j) * p));
        out[i] = running;
    });
    return out;
}
