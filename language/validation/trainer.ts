/**
 * Fine-tunes handed to an external trainer (`trainer trl|axolotl`). Code: external-trainer (no
 * `hfModel` for the trainer to load, `full` mode (only LoRA adapters come back and are converted),
 * a non-integer `alpha` for Axolotl (its `lora_alpha` is an integer), `dropout` on the embedded
 * trainer (it has no LoRA dropout, so the value would be silently ignored)).
 */
import type { ValidationAcceptor } from 'langium';
import { isFlag, type Finetune } from '../generated/ast.js';
import { propertiesOf, readProperty } from '../properties.js';
import { Codes } from './codes.js';
import { report } from './util.js';

export function checkTrainer(ft: Finetune, accept: ValidationAcceptor): void {
    const props = propertiesOf(ft.body);
    const prop = (key: string) => props.find((p) => p.key === key);
    const trainer = readProperty('finetune', props, 'trainer');
    const external = trainer === 'trl' || trainer === 'axolotl';
    // on the property when it is written, else on the step's name
    const flag = (key: string, message: string) => {
        const p = prop(key);
        if (p) report(accept, 'error', Codes.externalTrainer, message, { node: p, property: 'key' });
        else report(accept, 'error', Codes.externalTrainer, message, { node: ft, property: 'name' });
    };
    if (!external) {
        const d = readProperty('finetune', props, 'dropout');
        if (typeof d === 'number' && d > 0) flag('dropout', 'The embedded trainer has no LoRA dropout; remove `dropout` or hand the fine-tune to `trainer trl` or `trainer axolotl`.');
        if (prop('hfModel')) flag('hfModel', '`hfModel` names the base model for an external trainer; add `trainer trl` or `trainer axolotl`, or remove it.');
        return;
    }
    if (!prop('hfModel')) {
        flag('trainer', `\`trainer ${trainer}\` needs the base model as the trainer loads it: add \`hfModel "<Hugging Face id or path>"\` (the weights of this model's GGUF).`);
    }
    if ((ft.body?.items ?? []).some((i) => isFlag(i) && i.flag === 'full')) {
        flag('trainer', `\`trainer ${trainer}\` trains LoRA adapters only (the adapter comes back and is converted to GGUF); remove \`full\`.`);
    }
    const alpha = readProperty('finetune', props, 'alpha');
    if (trainer === 'axolotl' && typeof alpha === 'number' && !Number.isInteger(alpha)) {
        flag('alpha', `Axolotl's \`lora_alpha\` is a whole number; \`alpha ${alpha}\` cannot be exported.`);
    }
}
