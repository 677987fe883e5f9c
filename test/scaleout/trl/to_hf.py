# A GGUF llama -> a Hugging Face checkpoint folder (weights and tokenizer), through transformers'
# own GGUF loader (it undoes convert_hf_to_gguf's q/k permutation). Usage: to_hf.py model.gguf outdir
import os, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

gguf, out = os.path.abspath(sys.argv[1]), sys.argv[2]
d, f = os.path.dirname(gguf), os.path.basename(gguf)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
tok.add_bos_token = True  # llama.cpp prepends BOS to this vocabulary; the GGUF loader leaves it off
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
# a GGUF-loaded model refuses save_pretrained: copy its weights into a plain one
plain = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in m.config.to_dict().items() if k != "quantization_config"}))
plain.load_state_dict(m.state_dict(), strict=True)
plain.save_pretrained(out)
tok.save_pretrained(out)
