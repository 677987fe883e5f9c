/**
 * A large, valid spec for the language-server benchmark: `groups` copies of the quickstart's
 * experiment (each with its own names), about 20 lines each, inside one experiment block.
 */
export function generateSpec(lines = 2000): string {
    const out: string[] = ['// Generated for bench/lsp: a large valid spec.', 'experiment Large {', '  seed 7', '  seeds 3', ''];
    let i = 0;
    while (out.length < lines - 1) {
        const n = i++;
        out.push(
            `  // group ${n}`,
            `  world atlas${n} { entities 300  relations capital, founder, river }`,
            `  dataset trivia${n} from atlas${n} { split train 60%  split test 40% }`,
            `  model large${n} = pretrain on atlas${n} { layers 4  width 128  knows 75% }`,
            `  model small${n} = pretrain on atlas${n} { layers 2  width 128  knows 40% }`,
            `  decoding greedy${n} { temperature 0  maxTokens 24 }`,
            `  label byLarge${n} = answers of large${n} on trivia${n}.train using greedy${n} { otherwise "I don't know" }`,
            `  label bySmall${n} = answers of small${n} on trivia${n}.train using greedy${n} { otherwise "I don't know" }`,
            `  label shuffled${n} = shuffle bySmall${n} { seed 11 }`,
            `  finetune smallOnLarge${n} = small${n} on byLarge${n} {`,
            `    lora rank 8`,
            `    epochs 3`,
            `    learningRate 1e-3`,
            `  }`,
            `  finetune smallOnSmall${n} = small${n} on bySmall${n} { lora rank 8  epochs 3  learningRate 1e-3 }`,
            `  finetune smallOnShuffled${n} = small${n} on shuffled${n} { lora rank 8  epochs 3  learningRate 1e-3 }`,
            `  evaluate smallOnLarge${n}, smallOnSmall${n}, smallOnShuffled${n}, small${n} on trivia${n}.test using greedy${n} { abstain "I don't know" }`,
            `  hypothesis smallOnLarge${n} hallucinates more than smallOnSmall${n}`,
            `  hypothesis smallOnLarge${n} hallucinates more than smallOnSmall${n} at matched coverage`,
            `  hypothesis smallOnShuffled${n} hallucinates more than smallOnSmall${n} at matched coverage`,
            '',
        );
    }
    out.length = Math.min(out.length, lines - 1);
    // do not cut a multi-line block in half
    while (out.length > 0 && /^ {4}|^ {2}finetune .*\{$/.test(out[out.length - 1])) out.pop();
    while (out.length < lines - 1) out.push('  // padding');
    out.push('}');
    return out.join('\n') + '\n';
}
