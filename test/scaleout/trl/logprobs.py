# log-softmax of every position of every text, for the base and for base + PEFT adapter, in torch.
# Usage: logprobs.py hf_dir adapter_dir texts.json out.json
import json, sys, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

hf, adapter, texts, out = sys.argv[1:5]
tok = AutoTokenizer.from_pretrained(hf)
load = lambda: AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
res = {}
for name, model in (("base", load()), ("adapter", PeftModel.from_pretrained(load(), adapter).eval())):
    rows = []
    for t in json.load(open(texts)):
        ids = tok(t).input_ids
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        rows.append({"ids": ids, "lp": lp.tolist()})
    res[name] = rows
json.dump(res, open(out, "w"))
