# TRL's and PEFT's own parsers on an exported trl_config.json: SFTConfig (transformers'
# TrainingArguments validation included), LoraConfig, and the learning-rate scheduler it names.
import json, sys, torch
from peft import LoraConfig
from transformers import get_scheduler
from trl import SFTConfig

cfg = json.load(open(sys.argv[1]))
sft = dict(cfg["sft"], output_dir=sys.argv[2], use_cpu=True, bf16=False)
args = SFTConfig(**sft)
lora = LoraConfig(**cfg["lora"])
opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=args.learning_rate)
sched = get_scheduler(args.lr_scheduler_type, opt, num_warmup_steps=args.warmup_steps, num_training_steps=100, scheduler_specific_kwargs=args.lr_scheduler_kwargs or {})
lrs = []
for _ in range(100):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step(); sched.step()
print(json.dumps({"lr_scheduler_type": getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type), "eval_strategy": getattr(args.eval_strategy, "value", args.eval_strategy), "load_best_model_at_end": args.load_best_model_at_end,
                  "completion_only_loss": args.completion_only_loss, "r": lora.r, "lora_alpha": lora.lora_alpha, "target_modules": sorted(lora.target_modules),
                  "lr_first": lrs[0], "lr_peak": max(lrs), "lr_last": lrs[-1]}))
