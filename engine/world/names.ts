/**
 * Fictional names built from syllables. The inventory avoids common English spellings (no "th"
 * endings of real words, unusual clusters such as "kv", "zh", "yr", doubled vowels) and every name
 * is checked against the words of the question templates and a list of real places and words the
 * generator could plausibly produce, so a name never collides with anything a model or a reader
 * already knows.
 */
import type { Rng } from './rng.js';

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'dr', 'kv', 'zh', 'sk', 'tr', 'vr', 'gh', 'ql', 'th', 'y', 'h'];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'ae', 'ei', 'ou', 'y', 'io', 'ua'];
const CODAS = ['', '', '', 'n', 'r', 'l', 'k', 's', 'm', 'x', 'rn', 'lv', 'sk'];

/** Real words and places the syllables could spell (lower-case); a generated name never equals one. */
// A word list reads best packed, so the formatter leaves it alone.
// prettier-ignore
export const REAL_NAMES = new Set(
    [
        'paris', 'roma', 'rome', 'lima', 'sudan', 'oman', 'mali', 'peru', 'chad', 'kenya', 'nile', 'volga', 'don',
        'ural', 'niger', 'congo', 'tigris', 'indus', 'ganges', 'rhine', 'seine', 'loire', 'tiber', 'doha', 'sana',
        'baku', 'kiev', 'riga', 'oslo', 'bern', 'minsk', 'sofia', 'malta', 'samoa', 'tonga', 'nauru', 'palau',
        'tuvalu', 'fiji', 'laos', 'nepal', 'bhutan', 'yemen', 'gabon', 'benin', 'togo', 'ghana', 'kabul', 'dubai',
        'tokyo', 'kyoto', 'osaka', 'dakar', 'rabat', 'tunis', 'cairo', 'accra', 'lagos', 'male', 'suva', 'apia',
        'honiara', 'hanoi', 'manila', 'delhi', 'lhasa', 'lusaka', 'harare', 'maseru', 'moroni', 'kigali', 'juba',
        'vaduz', 'monaco', 'san', 'marino', 'sidon', 'tyre', 'troy', 'sparta', 'rhodes', 'delos', 'naxos', 'kos',
        'samos', 'lesbos', 'mars', 'venus', 'luna', 'sol', 'terra', 'gaia', 'zeus', 'hera', 'thor', 'odin', 'loki',
        'freya', 'isis', 'osiris', 'ra', 'set', 'amun', 'anubis', 'horus', 'mara', 'maya', 'inca', 'aztec', 'olmec',
        'toledo', 'leon', 'bilbao', 'porto', 'braga', 'faro', 'bari', 'pisa', 'siena', 'parma', 'padua', 'genoa',
        'turin', 'milan', 'lyon', 'nice', 'nantes', 'lille', 'metz', 'nancy', 'dijon', 'tours', 'rouen', 'reims',
        'kazan', 'samara', 'perm', 'omsk', 'tomsk', 'kursk', 'orel', 'tula', 'vyborg', 'narva', 'tartu', 'kaunas',
        'vilnius', 'lodz', 'gdansk', 'brno', 'graz', 'linz', 'bonn', 'kiel', 'ulm', 'essen', 'mainz', 'trier',
        'dresden', 'leipzig', 'halle', 'gera', 'suhl', 'hamm', 'soest', 'mons', 'namur', 'liege', 'ghent', 'delft',
        'gouda', 'edam', 'breda', 'assen', 'zwolle', 'ede', 'bath', 'york', 'derby', 'leeds', 'hull', 'ely',
        'dover', 'kent', 'essex', 'devon', 'mona', 'lisa', 'anna', 'maria', 'elena', 'ivan', 'boris', 'olga',
        'vera', 'nina', 'lena', 'dora', 'nora', 'kara', 'lara', 'sara', 'tara', 'zara', 'rosa', 'rita', 'mina',
        'dina', 'tina', 'gina', 'lina', 'sima', 'rima', 'nadia', 'lydia', 'sonia', 'tanya', 'dasha', 'masha',
        'sasha', 'pasha', 'misha', 'yuri', 'igor', 'oleg', 'gleb', 'lev', 'kira', 'mila', 'vika', 'zoya', 'raya',
        'alma', 'ilse', 'ines', 'ida', 'ada', 'eva', 'ava', 'ela', 'uma', 'yara', 'zola', 'vida', 'lola', 'nala',
        'simba', 'kala', 'bali', 'java', 'timor', 'sulu', 'kobe', 'nara', 'ise', 'izu', 'aso', 'fuji', 'ural',
        'sinai', 'zion', 'moab', 'edom', 'ur', 'uruk', 'kish', 'susa', 'tarsus', 'smyrna', 'lydia', 'caria',
    ],
);

function syllable(rng: Rng, withCoda: boolean): string {
    return rng.pick(ONSETS) + rng.pick(NUCLEI) + (withCoda ? rng.pick(CODAS) : '');
}

function capitalise(s: string): string {
    return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One fictional word of `minSyllables..maxSyllables` syllables plus an optional suffix. */
export function fictionalWord(rng: Rng, minSyllables: number, maxSyllables: number, suffixes: readonly string[] = ['']): string {
    const n = minSyllables + rng.int(maxSyllables - minSyllables + 1);
    let w = '';
    for (let i = 0; i < n; i++) w += syllable(rng, i === n - 1 || rng.next() < 0.3);
    w += rng.pick(suffixes);
    // Collapse triple letters that syllable joins can make ("aaa"), which read as typos.
    w = w.replace(/(.)\1\1+/g, '$1$1');
    return capitalise(w);
}

/**
 * Whether `name` may be used: 4 to 14 letters, not a real name, not in `used` (lower-case names
 * already given out, plus every word of the question templates).
 */
export function acceptableName(name: string, used: ReadonlySet<string>): boolean {
    const lower = name.toLowerCase();
    if (!/^[a-z]{4,14}$/.test(lower)) return false;
    return !REAL_NAMES.has(lower) && !used.has(lower);
}
